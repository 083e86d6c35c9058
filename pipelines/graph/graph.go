package graph

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/glmflow/glmflow/stages"
)

// Kind is what a node does.
type Kind string

// The node kinds.
const (
	Data      Kind = "data"      // the micro-batch tensors a rank reads (no inputs)
	Vision    Kind = "vision"    // glm4v.vision
	Embed     Kind = "embed"     // glm4v.embed
	Decoder   Kind = "decoder"   // glm4v.decoder over layers [From, To)
	Head      Kind = "head"      // glm4v.head: final norm, lm_head, loss
	Optimizer Kind = "optimizer" // AdamW over one rank's trainable parameters
)

// Node is one vertex of the DAG.
type Node struct {
	Name  string // unique, e.g. "decoder[0:5)", "batch r0"
	Kind  Kind
	Rank  int // pipeline rank
	Chunk int // virtual stage on the rank; −1 for data and optimizer nodes
	Stage int // global pipeline stage (Chunk·PP + Rank); −1 for data and optimizer nodes
	// From, To are the decoder layers [From, To) of a Decoder node.
	From, To int
	In, Out  []stages.Port
	// Optional names the inputs that may stay unconnected (image inputs of the embedding,
	// absent from a text-only batch).
	Optional []string
	// Loss names the outputs that are losses: their gradient is seeded (1), not received.
	Loss []string
	// Params and Trainable count the node's parameters (filled by the caller; 0 if unknown).
	Params, Trainable int64
}

// compute reports whether the node belongs to a pipeline stage.
func (n *Node) compute() bool { return n.Kind != Data && n.Kind != Optimizer }

func (n *Node) where() string {
	if n.compute() {
		return fmt.Sprintf("node %q (stage %d, rank %d)", n.Name, n.Stage, n.Rank)
	}
	return fmt.Sprintf("node %q (rank %d)", n.Name, n.Rank)
}

func port(ps []stages.Port, name string) (stages.Port, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p, true
		}
	}
	return stages.Port{}, false
}

func has(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

// EdgeKind tells activation edges from parameter-gradient edges.
type EdgeKind uint8

const (
	// Activation carries an output port's tensor to an input port (and, when both ports have
	// Grad, its gradient back).
	Activation EdgeKind = iota
	// ParamGrads carries a node's accumulated parameter gradients to its rank's optimizer.
	ParamGrads
)

// Edge joins two nodes. FromPort and ToPort are empty for ParamGrads edges.
type Edge struct {
	Kind             EdgeKind
	From, To         string
	FromPort, ToPort string
	// Grad: a gradient flows back along the edge (both ports have Grad).
	Grad bool
}

// Graph is a training DAG over PP ranks with VP virtual stages each.
type Graph struct {
	PP, VP int
	Nodes  []*Node // in the order added (model order for FromLayout)
	Edges  []Edge  // in the order added
	index  map[string]int
	errs   []error // problems found while connecting, reported by Check
}

// New returns an empty graph for pp ranks and vp virtual stages per rank.
func New(pp, vp int) *Graph { return &Graph{PP: pp, VP: vp, index: map[string]int{}} }

// Node returns the node called name, or nil.
func (g *Graph) Node(name string) *Node {
	if i, ok := g.index[name]; ok {
		return g.Nodes[i]
	}
	return nil
}

// AddNode adds n. Its name must be new and its rank, chunk and stage consistent with the
// graph's PP and VP.
func (g *Graph) AddNode(n *Node) error {
	switch {
	case n == nil || n.Name == "":
		return errors.New("graph: node without a name")
	case g.Node(n.Name) != nil:
		return fmt.Errorf("graph: two nodes named %q", n.Name)
	case n.Rank < 0 || n.Rank >= g.PP:
		return fmt.Errorf("graph: %s: rank outside [0, %d)", n.where(), g.PP)
	case n.compute() && (n.Chunk < 0 || n.Chunk >= g.VP || n.Stage != n.Chunk*g.PP+n.Rank):
		return fmt.Errorf("graph: %s: chunk %d is not a virtual stage of %d, or stage ≠ chunk·%d + rank", n.where(), n.Chunk, g.VP, g.PP)
	case !n.compute() && (n.Chunk != -1 || n.Stage != -1):
		return fmt.Errorf("graph: %s: %s nodes have chunk and stage −1", n.where(), n.Kind)
	}
	for _, o := range n.Optional {
		if _, ok := port(n.In, o); !ok {
			return fmt.Errorf("graph: %s: optional input %q is not an input port", n.where(), o)
		}
	}
	for _, l := range n.Loss {
		if _, ok := port(n.Out, l); !ok {
			return fmt.Errorf("graph: %s: loss output %q is not an output port", n.where(), l)
		}
	}
	g.index[n.Name] = len(g.Nodes)
	g.Nodes = append(g.Nodes, n)
	return nil
}

// Connect adds an activation edge from output fromPort of node from to input toPort of node
// to. A missing node is an error at once; port problems (missing port, incompatible ports,
// an input fed twice) are recorded and reported by Check together with the rest.
func (g *Graph) Connect(from, fromPort, to, toPort string) error {
	a, b := g.Node(from), g.Node(to)
	if a == nil || b == nil {
		return fmt.Errorf("graph: edge %s.%s → %s.%s: no such node", from, fromPort, to, toPort)
	}
	e := Edge{Kind: Activation, From: from, FromPort: fromPort, To: to, ToPort: toPort}
	out, okOut := port(a.Out, fromPort)
	in, okIn := port(b.In, toPort)
	switch {
	case !okOut:
		g.errs = append(g.errs, fmt.Errorf("%s has no output port %q (edge to %q)", a.where(), fromPort, to))
	case !okIn:
		g.errs = append(g.errs, fmt.Errorf("%s has no input port %q (edge from %q)", b.where(), toPort, from))
	default:
		if err := stages.Compatible(out, in); err != nil {
			g.errs = append(g.errs, fmt.Errorf("edge %s.%s → %s.%s: %w", from, fromPort, to, toPort, err))
		}
		e.Grad = out.Grad && in.Grad
	}
	for _, x := range g.Edges {
		if x.Kind == Activation && x.To == to && x.ToPort == toPort {
			g.errs = append(g.errs, fmt.Errorf("%s: input %q is fed twice (by %s.%s and %s.%s)", b.where(), toPort, x.From, x.FromPort, from, fromPort))
		}
	}
	g.Edges = append(g.Edges, e)
	return nil
}

// ConnectParams adds a parameter-gradient edge from a compute node to an optimizer node of
// the same rank.
func (g *Graph) ConnectParams(from, optimizer string) error {
	a, b := g.Node(from), g.Node(optimizer)
	switch {
	case a == nil || b == nil:
		return fmt.Errorf("graph: parameter edge %s → %s: no such node", from, optimizer)
	case !a.compute() || b.Kind != Optimizer:
		return fmt.Errorf("graph: parameter edge %s → %s: want a stage node into an optimizer node", from, optimizer)
	case a.Rank != b.Rank:
		return fmt.Errorf("graph: parameter edge %s → %s: ranks %d and %d differ (each rank optimizes its own parameters)", from, optimizer, a.Rank, b.Rank)
	}
	g.Edges = append(g.Edges, Edge{Kind: ParamGrads, From: from, To: optimizer})
	return nil
}

// Check verifies the whole graph (rules in the package doc) and returns every problem
// found, one per line, or nil.
func (g *Graph) Check() error {
	errs := append([]error(nil), g.errs...)
	fed := map[string]bool{}  // "node\x00port" inputs with an edge
	used := map[string]bool{} // outputs with an edge
	for _, e := range g.Edges {
		if e.Kind != Activation {
			continue
		}
		fed[e.To+"\x00"+e.ToPort] = true
		used[e.From+"\x00"+e.FromPort] = true
		a, b := g.Node(e.From), g.Node(e.To)
		if a.compute() && b.compute() && b.Stage != a.Stage && b.Stage != a.Stage+1 {
			errs = append(errs, fmt.Errorf("edge %s.%s → %s.%s goes from stage %d to stage %d: activations only move to the same or the next stage",
				e.From, e.FromPort, e.To, e.ToPort, a.Stage, b.Stage))
		}
		if b.Kind == Data {
			errs = append(errs, fmt.Errorf("edge %s.%s → %s.%s: data nodes take no inputs", e.From, e.FromPort, e.To, e.ToPort))
		}
	}
	for _, n := range g.Nodes {
		for _, p := range n.In {
			if !fed[n.Name+"\x00"+p.Name] && !has(n.Optional, p.Name) {
				errs = append(errs, fmt.Errorf("%s: input %v has no producer", n.where(), p))
			}
		}
		for _, p := range n.Out {
			if p.Grad && !used[n.Name+"\x00"+p.Name] && !has(n.Loss, p.Name) {
				errs = append(errs, fmt.Errorf("%s: output %v carries a gradient but nothing consumes it, so its gradient never arrives", n.where(), p))
			}
		}
	}
	if cyc := g.cycle(); len(cyc) > 0 {
		errs = append(errs, fmt.Errorf("cycle through nodes %s", strings.Join(cyc, ", ")))
	}
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("graph: %d problem(s):\n\t%s", len(errs), strings.Join(msgs, "\n\t"))
}

// cycle returns the sorted names of the nodes left after removing every node that is not on
// or behind a cycle (Kahn's algorithm); empty when the graph is acyclic.
func (g *Graph) cycle() []string {
	indeg := make([]int, len(g.Nodes))
	succ := make([][]int, len(g.Nodes))
	for _, e := range g.Edges {
		a, b := g.index[e.From], g.index[e.To]
		succ[a] = append(succ[a], b)
		indeg[b]++
	}
	var queue []int
	for i, d := range indeg {
		if d == 0 {
			queue = append(queue, i)
		}
	}
	done := 0
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		done++
		for _, j := range succ[i] {
			if indeg[j]--; indeg[j] == 0 {
				queue = append(queue, j)
			}
		}
	}
	if done == len(g.Nodes) {
		return nil
	}
	var left []string
	for i, d := range indeg {
		if d > 0 {
			left = append(left, g.Nodes[i].Name)
		}
	}
	sort.Strings(left)
	return left
}

// RankNodes returns the nodes of rank r in graph order.
func (g *Graph) RankNodes(r int) []*Node {
	var out []*Node
	for _, n := range g.Nodes {
		if n.Rank == r {
			out = append(out, n)
		}
	}
	return out
}

// StageNodes returns the compute nodes of pipeline stage s in graph order.
func (g *Graph) StageNodes(s int) []*Node {
	var out []*Node
	for _, n := range g.Nodes {
		if n.compute() && n.Stage == s {
			out = append(out, n)
		}
	}
	return out
}
