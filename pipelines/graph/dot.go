package graph

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/goccy/go-graphviz"
)

// fill colours by node kind.
var fill = map[Kind]string{
	Data: "#eeeeee", Vision: "#d8e8f8", Embed: "#e0f0d8", Decoder: "#fdf0d0", Head: "#f8dada", Optimizer: "#e8def4",
}

// Label is the text a node shows: its name, then where it runs, then its parameter counts
// when known, one item per line.
func (n *Node) Label() []string {
	lines := []string{n.Name}
	switch {
	case n.Kind == Data:
		names := make([]string, len(n.Out))
		for i, p := range n.Out {
			names[i] = p.Name
		}
		lines = append(lines, strings.Join(names, ", "))
	case n.Kind == Optimizer:
		if n.Trainable > 0 {
			lines = append(lines, "AdamW · "+Count(n.Trainable)+" trainable")
		} else {
			lines = append(lines, "AdamW")
		}
	default:
		lines = append(lines, fmt.Sprintf("stage %d", n.Stage))
		if n.Params > 0 {
			l := Count(n.Params) + " params"
			if n.Trainable != n.Params {
				l += " · " + Count(n.Trainable) + " trainable"
			}
			lines = append(lines, l)
		}
	}
	return lines
}

// Count formats a parameter count with an SI suffix and three significant digits
// (313840 → "314K", 107710933120 → "108B").
func Count(n int64) string {
	v, unit := float64(n), ""
	for _, u := range []string{"K", "M", "B", "T"} {
		if v < 999.5 {
			break
		}
		v, unit = v/1000, u
	}
	switch {
	case unit == "":
		return strconv.FormatInt(n, 10)
	case v < 9.995:
		return fmt.Sprintf("%.2f%s", v, unit)
	case v < 99.95:
		return fmt.Sprintf("%.1f%s", v, unit)
	}
	return fmt.Sprintf("%.0f%s", v, unit)
}

// quote makes a DOT double-quoted string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// DOT writes the graph as Graphviz source: a cluster per rank (and per chunk when VP > 1),
// nodes in graph order, edges between the same two nodes merged into one whose label lists
// the ports (a gradient-carrying port marked "⇄"), arrows at both ends where a gradient flows
// back, edges between ranks heavier, parameter-gradient edges dashed.
func (g *Graph) DOT(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString("digraph glmflow {\n")
	fmt.Fprintf(&b, "  label=%s;\n  labelloc=t;\n", quote(fmt.Sprintf("training DAG: %d rank(s) × %d virtual stage(s)", g.PP, g.VP)))
	b.WriteString("  rankdir=TB;\n  newrank=true;\n  fontname=\"Helvetica\";\n")
	b.WriteString("  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11];\n")
	b.WriteString("  edge [fontname=\"Helvetica\", fontsize=9];\n")
	for r := range g.PP {
		fmt.Fprintf(&b, "  subgraph cluster_rank%d {\n    label=%s;\n    style=rounded;\n    color=\"#888888\";\n", r, quote(fmt.Sprintf("rank %d", r)))
		nodes := g.RankNodes(r)
		for _, n := range nodes {
			if !n.compute() || g.VP == 1 {
				writeNode(&b, n, "    ")
			}
		}
		if g.VP > 1 {
			for c := range g.VP {
				fmt.Fprintf(&b, "    subgraph cluster_rank%d_chunk%d {\n      label=%s;\n      style=dashed;\n", r, c,
					quote(fmt.Sprintf("chunk %d (stage %d)", c, c*g.PP+r)))
				for _, n := range nodes {
					if n.compute() && n.Chunk == c {
						writeNode(&b, n, "      ")
					}
				}
				b.WriteString("    }\n")
			}
		}
		b.WriteString("  }\n")
	}
	type pair struct{ from, to string }
	var order []pair
	merged := map[pair][]Edge{}
	for _, e := range g.Edges {
		p := pair{e.From, e.To}
		if _, ok := merged[p]; !ok {
			order = append(order, p)
		}
		merged[p] = append(merged[p], e)
	}
	for _, p := range order {
		es := merged[p]
		a, c := g.Node(p.from), g.Node(p.to)
		var attrs []string
		if es[0].Kind == ParamGrads {
			attrs = append(attrs, "style=dashed", `label="param grads"`, `color="#7a5ca8"`)
		} else {
			var lines []string
			grad := false
			for _, e := range es {
				l := e.FromPort
				if e.ToPort != e.FromPort {
					l += " → " + e.ToPort
				}
				if e.Grad {
					l += " ⇄"
					grad = true
				}
				lines = append(lines, l)
			}
			attrs = append(attrs, "label="+quote(strings.Join(lines, "\n")))
			if grad {
				attrs = append(attrs, "dir=both", "arrowtail=onormal")
			}
			if a.Rank != c.Rank {
				attrs = append(attrs, "penwidth=2.5", `color="#c03030"`)
			}
		}
		fmt.Fprintf(&b, "  %s -> %s [%s];\n", quote(p.from), quote(p.to), strings.Join(attrs, ", "))
	}
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}

func writeNode(b *bytes.Buffer, n *Node, indent string) {
	shape := ""
	switch n.Kind {
	case Data:
		shape = ", shape=cylinder, style=filled"
	case Optimizer:
		shape = ", shape=component, style=filled"
	}
	fmt.Fprintf(b, "%s%s [label=%s, fillcolor=%s%s];\n", indent, quote(n.Name), quote(strings.Join(n.Label(), "\n")), quote(fill[n.Kind]), shape)
}

// SVG renders the graph to SVG with Graphviz's dot layout, run as WebAssembly by
// goccy/go-graphviz (no external program, no cgo).
func (g *Graph) SVG(ctx context.Context, w io.Writer) error {
	var src bytes.Buffer
	if err := g.DOT(&src); err != nil {
		return err
	}
	return RenderSVG(ctx, src.Bytes(), w)
}

// RenderSVG lays out DOT source and writes it as SVG.
func RenderSVG(ctx context.Context, dot []byte, w io.Writer) error {
	gv, err := graphviz.New(ctx)
	if err != nil {
		return fmt.Errorf("graph: start graphviz: %w", err)
	}
	defer gv.Close()
	gr, err := graphviz.ParseBytes(dot)
	if err != nil {
		return fmt.Errorf("graph: parse DOT: %w", err)
	}
	defer gr.Close()
	var out bytes.Buffer
	if err := gv.Render(ctx, gr, graphviz.SVG, &out); err != nil {
		return fmt.Errorf("graph: render SVG: %w", err)
	}
	_, err = w.Write(out.Bytes())
	return err
}
