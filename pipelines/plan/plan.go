package plan

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/glmflow/glmflow/pipelines/graph"
	"github.com/glmflow/glmflow/pipelines/hfhub"
	"github.com/glmflow/glmflow/pipelines/layout"
	"github.com/glmflow/glmflow/pipelines/schedule"
	"github.com/glmflow/glmflow/pipelines/spec"
	"github.com/glmflow/glmflow/stages/glm4v"
)

// Plan is a spec resolved against its model: the model's config and parameter tree (names
// and shapes, no values), the cost of every unit, the layout (given or balanced), the
// schedule and the checked DAG. Building it reads config.json only.
type Plan struct {
	Spec      *spec.Spec
	ModelDir  string // the resolved model directory (a local path or an HF cache snapshot)
	Config    glm4v.Config
	Params    *glm4v.Params // names, shapes, dtypes; every value nil
	Training  Training
	Precision Precision
	Shape     Shape
	// Units are the per-unit costs in model order: V, E, t0 … t(L−1), L.
	Units []UnitCost
	// Layout places the units on stages; AutoLayout reports that it was balanced because the
	// spec's parallel.layout is empty.
	Layout     *layout.Layout
	AutoLayout bool
	M          int // micro-batches per step and pipeline
	Schedule   schedule.Schedule
	Graph      *graph.Graph
}

// New resolves the spec's model offline (a directory, or a hub id in the local HF cache via
// hfhub; only config.json is needed), reads its config, computes the unit costs, takes or
// balances the layout, builds the schedule and the DAG, and checks them.
func New(s *spec.Spec) (*Plan, error) {
	if s == nil {
		return nil, fmt.Errorf("plan: no spec")
	}
	dir, err := ResolveModel(s.Model.Path, s.Model.Revision)
	if err != nil {
		return nil, err
	}
	cfg, err := glm4v.LoadConfig(filepath.Join(dir, glm4v.ConfigName))
	if err != nil {
		return nil, fmt.Errorf("plan: model.path %q: %w", s.Model.Path, err)
	}
	tr, err := trainingOf(s)
	if err != nil {
		return nil, err
	}
	p := &Plan{Spec: s, ModelDir: dir, Config: cfg, Training: tr, Precision: PrecisionOf(s.Model.Precision)}
	if p.Params, err = glm4v.NewParams(cfg); err != nil {
		return nil, fmt.Errorf("plan: %s: %w", dir, err)
	}
	p.Shape = defaultShape(s, &cfg)
	if p.Units, err = Units(p.Params, p.Shape, tr, p.Precision, s.Model.Recompute); err != nil {
		return nil, err
	}
	pp, vp := s.Parallel.PP, s.Parallel.VirtualStages
	if s.Parallel.Layout != "" {
		if p.Layout, err = layout.Parse(s.Parallel.Layout, pp); err != nil {
			return nil, fmt.Errorf("plan: parallel.layout: %w", err)
		}
		if p.Layout.VP != vp {
			return nil, fmt.Errorf("plan: parallel.layout %q has %d virtual stages, parallel.virtual_stages is %d", s.Parallel.Layout, p.Layout.VP, vp)
		}
	} else {
		uc := make([]layout.UnitCost, len(p.Units))
		for i, u := range p.Units {
			uc[i] = layout.UnitCost{Kind: u.Kind, Time: float64(u.FLOPs.Total()), Mem: float64(u.Static() + u.Act)}
		}
		if p.Layout, err = layout.Balance(uc, pp, vp, 0); err != nil {
			return nil, fmt.Errorf("plan: automatic layout for pp %d × %d virtual stages: %w", pp, vp, err)
		}
		p.AutoLayout = true
	}
	if p.Graph, err = graph.FromLayout(p.Layout, &cfg, graph.Options{Count: p.countNode}); err != nil {
		return nil, fmt.Errorf("plan: parallel.layout %q: %w", p.Layout.String(), err)
	}
	p.M = s.NumMicroBatches()
	if p.Schedule, err = schedule.New(s.Parallel.Schedule, pp, p.M, vp); err != nil {
		return nil, fmt.Errorf("plan: parallel.schedule: %w", err)
	}
	return p, nil
}

// ResolveModel returns the model directory for model.path: an existing directory as is, else
// the snapshot of the hub id in the local HF cache (HF_HUB_CACHE, HF_HOME, …) holding
// config.json. It never touches the network.
func ResolveModel(path, revision string) (string, error) {
	c, err := hfhub.FromEnv()
	if err != nil {
		return "", fmt.Errorf("plan: model.path %q: %w", path, err)
	}
	c.Offline = true
	if revision == "" {
		revision = "main"
	}
	dir, err := hfhub.ResolveModel(context.Background(), c, path, revision, glm4v.ConfigName)
	if err != nil {
		return "", fmt.Errorf("plan: model.path %q (revision %s): %w", path, revision, err)
	}
	return dir, nil
}

// defaultShape is the micro-batch the plan costs: micro_batch_size sequences of seq_length
// tokens, one image per sequence at the vision tower's native size (image_size², i.e.
// (image_size/patch_size)² patches; 576 for GLM-4.5V), a target at every position but each
// sequence's last.
func defaultShape(s *spec.Spec, cfg *glm4v.Config) Shape {
	B, S := s.Train.MicroBatchSize, s.Data.SeqLength
	g := cfg.Vision.GridSize()
	return Shape{B: B, S: S, Images: B, ImagePatches: g * g, LossRows: B * max(S-1, 0)}
}

// trainingOf reads the PEFT and freeze fields of the spec.
func trainingOf(s *spec.Spec) (Training, error) {
	tr := Training{
		FreezeVision:     s.PEFT.FreezeVisionModel,
		FreezeProjection: s.PEFT.FreezeVisionProjection,
		FreezeLanguage:   s.PEFT.FreezeLanguageModel,
		ExpertParallel:   max(s.Parallel.EP, 1),
	}
	switch s.PEFT.Scheme {
	case spec.PEFTNone, "":
		return tr, nil
	case spec.PEFTLoRA, spec.PEFTDoRA:
	default:
		return tr, fmt.Errorf("plan: peft.scheme %q: want none, lora or dora", s.PEFT.Scheme)
	}
	tr.Rank, tr.DoRA = s.PEFT.Rank, s.PEFT.Scheme == spec.PEFTDoRA
	if tr.Rank < 1 {
		return tr, fmt.Errorf("plan: peft.rank %d: want ≥ 1", tr.Rank)
	}
	for _, m := range s.PEFT.TargetModules {
		t := &tr.Targets
		switch m {
		case "linear_qkv":
			t.QKV = true
		case "q_proj":
			t.Q = true
		case "k_proj":
			t.K = true
		case "v_proj":
			t.V = true
		case "linear_proj", "o_proj":
			t.O = true
		case "linear_fc1":
			t.FC1 = true
		case "gate_proj":
			t.Gate = true
		case "up_proj":
			t.Up = true
		case "linear_fc2", "down_proj":
			t.FC2 = true
		default:
			return tr, fmt.Errorf("plan: peft.target_modules: unknown module %q", m)
		}
	}
	return tr, nil
}

// unitRange returns the unit indices of a graph node.
func (p *Plan) unitRange(n *graph.Node) (from, to int) {
	L := p.Config.Text.NumHiddenLayers
	switch n.Kind {
	case graph.Vision:
		return 0, 1
	case graph.Embed:
		return 1, 2
	case graph.Decoder:
		return 2 + n.From, 2 + n.To
	case graph.Head:
		return L + 2, L + 3
	}
	return 0, 0
}

func (p *Plan) countNode(n *graph.Node) (params, trainable int64) {
	from, to := p.unitRange(n)
	for _, u := range p.Units[from:to] {
		params += u.Params
		trainable += u.Trainable
	}
	return params, trainable
}

// StageUnits returns the units of pipeline stage j, summed: counts, FLOPs and bytes (Kind
// and Layer are those of its first unit).
func (p *Plan) StageUnits(j int) UnitCost {
	var sum UnitCost
	for i, n := range p.Graph.StageNodes(j) {
		from, to := p.unitRange(n)
		for k, u := range p.Units[from:to] {
			if i == 0 && k == 0 {
				sum.Kind, sum.Layer = u.Kind, u.Layer
			}
			sum.Tensors += u.Tensors
			sum.Params += u.Params
			sum.Adapters += u.Adapters
			sum.Trainable += u.Trainable
			sum.FLOPs = sum.FLOPs.Add(u.FLOPs)
			sum.Weights += u.Weights
			sum.Grads += u.Grads
			sum.Optim += u.Optim
			sum.Act += u.Act
		}
	}
	return sum
}

// Costs are the schedule costs of the plan: per stage F, B and W in FLOPs (the cost model's
// time: proportional to the FLOPs of each stage).
func (p *Plan) Costs() schedule.Costs {
	S := p.Layout.NumStages()
	c := schedule.Costs{F: make([]float64, S), B: make([]float64, S), W: make([]float64, S)}
	for j := range S {
		u := p.StageUnits(j)
		c.F[j], c.B[j], c.W[j] = float64(u.FLOPs.F), float64(u.FLOPs.B), float64(u.FLOPs.W)
	}
	return c
}
