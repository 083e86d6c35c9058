package graph

import (
	"fmt"

	"github.com/glmflow/glmflow/pipelines/layout"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/stages/glm4v"
)

// Options tune FromLayout.
type Options struct {
	// Count, if set, gives each compute node's parameter and trainable-parameter counts. Nodes
	// with no trainable parameter get no edge to the optimizer, and a rank without any gets
	// no optimizer node. nil: counts stay 0 and every compute node feeds its rank's optimizer.
	Count func(n *Node) (params, trainable int64)
}

// NodeName is the name FromLayout gives a compute node: "vision", "embed", "head", or
// "decoder[from:to)".
func NodeName(k Kind, from, to int) string {
	if k == Decoder {
		return fmt.Sprintf("decoder[%d:%d)", from, to)
	}
	return string(k)
}

// BatchName and OptimizerName name rank r's data and optimizer nodes.
func BatchName(r int) string     { return fmt.Sprintf("batch r%d", r) }
func OptimizerName(r int) string { return fmt.Sprintf("optimizer r%d", r) }

// stageNodes lists the compute nodes of each stage of l for the model cfg, without edges:
// V → vision, E → embed, each run of t → one decoder node over those layers, L → head (the
// chunks pipelines/run executes). The layout must be valid for the model.
func stageNodes(l *layout.Layout, cfg *glm4v.Config) ([][]*Node, error) {
	m := layout.Model{DecoderLayers: cfg.Text.NumHiddenLayers, VisionUnits: 1}
	if err := l.Validate(m); err != nil {
		return nil, fmt.Errorf("graph: layout %q for a model of %d decoder layers and a vision tower: %w", l.String(), m.DecoderLayers, err)
	}
	out := make([][]*Node, l.NumStages())
	layer := 0
	for j, units := range l.Stages {
		base := Node{Rank: l.Rank(j), Chunk: l.Chunk(j), Stage: j}
		for i := 0; i < len(units); i++ {
			n := base
			switch units[i] {
			case layout.Vision:
				n.Kind = Vision
				n.In, n.Out = VisionPorts(cfg)
			case layout.Embedding:
				n.Kind = Embed
				n.In, n.Out = EmbedPorts(cfg)
				n.Optional = []string{"image_embeds", "image_grid_thw"}
			case layout.Decoder:
				k := i
				for k < len(units) && units[k] == layout.Decoder {
					k++
				}
				n.Kind, n.From, n.To = Decoder, layer, layer+k-i
				layer += k - i
				i = k - 1
				n.In, n.Out = DecoderPorts(cfg), DecoderPorts(cfg)
			case layout.Loss:
				n.Kind = Head
				n.In, n.Out = HeadPorts(cfg)
				n.Loss = []string{"loss"}
			default:
				return nil, fmt.Errorf("graph: stage %d: unit %v has no glm4v stage", j, units[i])
			}
			n.Name = NodeName(n.Kind, n.From, n.To)
			out[j] = append(out[j], &n)
		}
	}
	return out, nil
}

type wire struct {
	from, fromPort, to, toPort string
}

// FromLayout builds and checks the GLM-4.5V training graph of layout l for model cfg: the
// compute nodes of every stage, a data node per rank holding the batch tensors that rank
// reads, and an optimizer node per rank, wired as pipelines/run wires chunks (package doc).
// Any problem Check finds is returned.
func FromLayout(l *layout.Layout, cfg *glm4v.Config, o Options) (*Graph, error) {
	nodes, err := stageNodes(l, cfg)
	if err != nil {
		return nil, err
	}
	batch := BatchPorts(cfg)
	type src struct{ node, port string }
	var wires []wire
	batchUse := make([]map[string]bool, l.PP)
	for r := range batchUse {
		batchUse[r] = map[string]bool{}
	}
	var msg map[string]src // the previous stage's outputs
	for j, st := range nodes {
		r := l.Rank(j)
		env := map[string]src{}
		for _, p := range batch {
			env[p.Name] = src{BatchName(r), p.Name}
		}
		for n, s := range msg {
			env[n] = s
		}
		for _, n := range st {
			for _, p := range n.In {
				s, ok := env[p.Name]
				if !ok {
					continue // reported by Check as a dangling input unless optional
				}
				if s.node == BatchName(r) {
					batchUse[r][p.Name] = true
				}
				wires = append(wires, wire{s.node, s.port, n.Name, p.Name})
			}
			for _, p := range n.Out {
				env[p.Name] = src{n.Name, p.Name}
			}
		}
		msg = map[string]src{}
		if len(st) > 0 {
			last := st[len(st)-1]
			for _, p := range last.Out {
				msg[p.Name] = src{last.Name, p.Name}
			}
		}
	}

	g := New(l.PP, l.VP)
	for r := range l.PP {
		var ports []stages.Port
		for _, p := range batch {
			if batchUse[r][p.Name] {
				ports = append(ports, p)
			}
		}
		if len(ports) > 0 {
			if err := g.AddNode(&Node{Name: BatchName(r), Kind: Data, Rank: r, Chunk: -1, Stage: -1, Out: ports}); err != nil {
				return nil, err
			}
		}
	}
	trainable := make([]int64, l.PP)
	for _, st := range nodes {
		for _, n := range st {
			if o.Count != nil {
				n.Params, n.Trainable = o.Count(n)
			}
			trainable[n.Rank] += n.Trainable
			if err := g.AddNode(n); err != nil {
				return nil, err
			}
		}
	}
	for r := range l.PP {
		if o.Count != nil && trainable[r] == 0 {
			continue
		}
		opt := &Node{Name: OptimizerName(r), Kind: Optimizer, Rank: r, Chunk: -1, Stage: -1, Params: trainable[r], Trainable: trainable[r]}
		if err := g.AddNode(opt); err != nil {
			return nil, err
		}
	}
	for _, w := range wires {
		if err := g.Connect(w.from, w.fromPort, w.to, w.toPort); err != nil {
			return nil, err
		}
	}
	for _, st := range nodes {
		for _, n := range st {
			if o.Count == nil || n.Trainable > 0 {
				if err := g.ConnectParams(n.Name, OptimizerName(n.Rank)); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := g.Check(); err != nil {
		return nil, err
	}
	return g, nil
}
