package plan

import (
	"fmt"
	"slices"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/pipelines/graph"
	"github.com/glmflow/glmflow/pipelines/run"
	"github.com/glmflow/glmflow/pipelines/schedule"
	"github.com/glmflow/glmflow/pipelines/spec"
	"github.com/glmflow/glmflow/pipelines/transport"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/stages/glm4v"
	"github.com/glmflow/glmflow/stages/optim"
)

// RankPlan is what one pipeline rank runs: its chunks with their stages built over
// parameters loaded for this rank only, its optimizer settings and its schedule actions.
type RankPlan struct {
	Plan    *Plan
	Rank    int
	Backend kernels.Backend
	// Chunks are the rank's model chunks by local index (pipeline stage c·PP + Rank).
	Chunks []*run.Chunk
	// Params is the rank's own parameter tree: only the tensors of its stages hold values.
	Params  *glm4v.Params
	Optim   optim.Config
	Actions []schedule.Action // Schedule.Ranks[Rank]
}

// BuildRank plans the spec and builds rank's part of it on backend be (New, then
// Plan.BuildRank).
func BuildRank(s *spec.Spec, rank int, be kernels.Backend) (*RankPlan, error) {
	p, err := New(s)
	if err != nil {
		return nil, err
	}
	return p.BuildRank(rank, be)
}

// OptimConfig is the spec's AdamW and learning-rate schedule.
func OptimConfig(s *spec.Spec) optim.Config {
	return optim.Config{
		Beta1: s.Optimizer.Beta1, Beta2: s.Optimizer.Beta2, Eps: s.Optimizer.Eps,
		WeightDecay: s.Optimizer.WeightDecay, ClipGrad: s.Optimizer.ClipGrad,
		LR: optim.LRSchedule{
			MaxLR: s.Optimizer.LR, MinLR: s.Optimizer.MinLR,
			Warmup: s.LRSchedule.WarmupIters, DecayIters: s.LRSchedule.DecayIters, Decay: s.LRSchedule.Decay,
		},
	}
}

// BuildRank loads rank's tensors from the model directory (only those of its stages: the
// glm4v selectors of its vision, embed, decoder ranges and head) and builds its chunks with
// the spec's precision, recompute and freeze flags. Each built stage's ports are checked
// against the DAG's node.
//
// PEFT adapters (peft.scheme lora or dora) are stages of their own that this build does not
// have: such a spec is planned (DryRun) but BuildRank refuses it.
func (p *Plan) BuildRank(rank int, be kernels.Backend) (*RankPlan, error) {
	s := p.Spec
	if rank < 0 || rank >= s.Parallel.PP {
		return nil, fmt.Errorf("plan: rank %d outside [0, %d)", rank, s.Parallel.PP)
	}
	if be == nil {
		return nil, fmt.Errorf("plan: rank %d: no backend", rank)
	}
	if p.Training.Rank > 0 {
		return nil, fmt.Errorf("plan: peft.scheme %q: the adapter stages are not in this build; only full fine-tuning (peft.scheme none, with the freeze_* flags) can run", s.PEFT.Scheme)
	}
	oc := OptimConfig(s)
	if err := oc.Validate(); err != nil {
		return nil, fmt.Errorf("plan: optimizer: %w", err)
	}
	tree, err := glm4v.NewParams(p.Config)
	if err != nil {
		return nil, err
	}
	var sels []glm4v.Selector
	for _, j := range p.Layout.RankStages(rank) {
		for _, n := range p.Graph.StageNodes(j) {
			sels = append(sels, selector(n, &p.Config))
		}
	}
	if len(sels) > 0 {
		if err := glm4v.Load(p.ModelDir, tree, glm4v.Any(sels...)); err != nil {
			return nil, fmt.Errorf("plan: rank %d: %w", rank, err)
		}
	}
	rp := &RankPlan{Plan: p, Rank: rank, Backend: be, Params: tree, Optim: oc, Actions: p.Schedule.Ranks[rank]}
	sc := glm4v.StageConfig{Params: tree, Backend: be, Frozen: p.Training.FreezeLanguage, Precision: s.Model.Precision}
	for _, j := range p.Layout.RankStages(rank) {
		ch := &run.Chunk{Stage: j}
		for _, n := range p.Graph.StageNodes(j) {
			st, err := p.buildStage(n, sc)
			if err != nil {
				return nil, fmt.Errorf("plan: rank %d stage %d node %s: %w", rank, j, n.Name, err)
			}
			in, out := st.Ports()
			if !samePorts(in, n.In) || !samePorts(out, n.Out) {
				return nil, fmt.Errorf("plan: rank %d stage %d: %s stage has ports in %v out %v, the DAG node %s has in %v out %v",
					rank, j, st.Kind(), in, out, n.Name, n.In, n.Out)
			}
			ch.Stages = append(ch.Stages, st)
		}
		rp.Chunks = append(rp.Chunks, ch)
	}
	return rp, nil
}

// selector picks the tensors of a node's stage.
func selector(n *graph.Node, cfg *glm4v.Config) glm4v.Selector {
	switch n.Kind {
	case graph.Vision:
		return glm4v.SelectVision()
	case graph.Embed:
		return glm4v.SelectEmbed()
	case graph.Decoder:
		return glm4v.SelectLayers(n.From, n.To)
	case graph.Head:
		if cfg.TieWordEmbeddings {
			return glm4v.Any(glm4v.SelectHead(), glm4v.SelectEmbed())
		}
		return glm4v.SelectHead()
	}
	return func(string) bool { return false }
}

func (p *Plan) buildStage(n *graph.Node, sc glm4v.StageConfig) (stages.Stage, error) {
	rec := p.Spec.Model.Recompute
	switch n.Kind {
	case graph.Vision:
		v, err := glm4v.NewVisionStage(glm4v.VisionStageConfig{Backend: sc.Backend, Params: sc.Params, Precision: sc.Precision, Recompute: rec})
		if err != nil {
			return nil, err
		}
		// The freeze flags cover parts of the tower (megatron-bridge.md 1.6): those parameters
		// leave the optimizer; the stage still computes the gradients the others need.
		for _, prm := range v.Params() {
			if !trainableBase(prm.Name, p.Training) {
				prm.Trainable = false
			}
		}
		return v, nil
	case graph.Embed:
		return glm4v.NewEmbed(glm4v.EmbedConfig{StageConfig: sc})
	case graph.Decoder:
		return glm4v.NewDecoder(glm4v.DecoderConfig{StageConfig: sc, From: n.From, To: n.To, Recompute: rec})
	case graph.Head:
		return glm4v.NewHead(glm4v.HeadConfig{StageConfig: sc, Recompute: rec})
	}
	return nil, fmt.Errorf("no stage for a %s node", n.Kind)
}

func samePorts(a, b []stages.Port) bool {
	return slices.EqualFunc(a, b, func(x, y stages.Port) bool {
		return x.Name == y.Name && x.DType == y.DType && x.Grad == y.Grad && slices.Equal(x.Shape, y.Shape)
	})
}

// StageParams returns the parameters of the rank's chunks, in chunk and stage order.
func (rp *RankPlan) StageParams() []*stages.Param {
	var ps []*stages.Param
	for _, c := range rp.Chunks {
		ps = append(ps, c.Params()...)
	}
	return ps
}

// Worker returns the executor of this rank over transport tr, with an AdamW over the
// rank's trainable parameters.
func (rp *RankPlan) Worker(tr transport.Transport) (*run.Worker, error) {
	o, err := optim.New(rp.Backend, rp.StageParams(), rp.Optim)
	if err != nil {
		return nil, fmt.Errorf("plan: rank %d: %w", rp.Rank, err)
	}
	w := &run.Worker{Rank: rp.Rank, P: rp.Plan.Schedule.P, V: rp.Plan.Schedule.V, Chunks: rp.Chunks,
		Actions: rp.Actions, Transport: tr, Optimizer: o}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	return w, nil
}
