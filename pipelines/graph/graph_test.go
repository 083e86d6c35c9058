package graph

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"html"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/pipelines/layout"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/stages/glm4v"
	"github.com/glmflow/glmflow/tensors"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	tinyDir   = "../../testdata/tiny"
	glm45vCfg = "../../testdata/glm45v/config.json"
)

func loadConfig(t testing.TB, path string) *glm4v.Config {
	t.Helper()
	cfg, err := glm4v.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return &cfg
}

func mustLayout(t testing.TB, s string, pp int) *layout.Layout {
	t.Helper()
	l, err := layout.Parse(s, pp)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestPortsMatchStages: the config-derived ports are exactly the ports of the glm4v stages
// built on the loaded tiny model, so the graph of a model too large to load is checked with
// the ports its stages will have.
func TestPortsMatchStages(t *testing.T) {
	cfg := loadConfig(t, filepath.Join(tinyDir, "config.json"))
	p, err := glm4v.NewParams(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := glm4v.Load(tinyDir, p, nil); err != nil {
		t.Fatal(err)
	}
	be := cpu.New()
	sc := glm4v.StageConfig{Params: p, Backend: be}
	vis, err := glm4v.NewVisionStage(glm4v.VisionStageConfig{Backend: be, Params: p})
	if err != nil {
		t.Fatal(err)
	}
	emb, err := glm4v.NewEmbed(glm4v.EmbedConfig{StageConfig: sc})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := glm4v.NewDecoder(glm4v.DecoderConfig{StageConfig: sc, From: 1, To: 3})
	if err != nil {
		t.Fatal(err)
	}
	head, err := glm4v.NewHead(glm4v.HeadConfig{StageConfig: sc})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		st      stages.Stage
		in, out []stages.Port
	}{
		{"vision", vis, nil, nil},
		{"embed", emb, nil, nil},
		{"decoder", dec, DecoderPorts(cfg), DecoderPorts(cfg)},
		{"head", head, nil, nil},
	} {
		switch c.name {
		case "vision":
			c.in, c.out = VisionPorts(cfg)
		case "embed":
			c.in, c.out = EmbedPorts(cfg)
		case "head":
			c.in, c.out = HeadPorts(cfg)
		}
		in, out := c.st.Ports()
		if !portsEqual(in, c.in) || !portsEqual(out, c.out) {
			t.Errorf("%s: stage ports\n\tin %v out %v\ngraph ports\n\tin %v out %v", c.name, in, out, c.in, c.out)
		}
	}
}

func portsEqual(a, b []stages.Port) bool {
	return slices.EqualFunc(a, b, func(x, y stages.Port) bool {
		return x.Name == y.Name && x.DType == y.DType && x.Grad == y.Grad && slices.Equal(x.Shape, y.Shape)
	})
}

var goldens = []struct {
	file, cfg, layout string
	pp                int
}{
	{"tiny_pp1.dot", "tiny", "VEtttL", 1},
	{"tiny_pp2.dot", "tiny", "VEt|ttL", 2},
	{"tiny_pp2_vp2.dot", "tiny", "VEt|t|t|L", 2},
	{"tiny_embed_alone.dot", "tiny", "VE|tttL", 2},
	{"glm45v_pp8.dot", "glm45v", "VEt*5|(t*6|)*6t*5L", 8},
}

func goldenConfig(t testing.TB, name string) *glm4v.Config {
	if name == "tiny" {
		return loadConfig(t, filepath.Join(tinyDir, "config.json"))
	}
	return loadConfig(t, glm45vCfg)
}

// TestDOTGolden compares the DOT of several layouts with reviewed files (regenerate with
// go test ./pipelines/graph -run DOTGolden -update, then read the diff).
func TestDOTGolden(t *testing.T) {
	for _, c := range goldens {
		t.Run(c.file, func(t *testing.T) {
			g, err := FromLayout(mustLayout(t, c.layout, c.pp), goldenConfig(t, c.cfg), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := g.DOT(&b); err != nil {
				t.Fatal(err)
			}
			var again bytes.Buffer
			if err := g.DOT(&again); err != nil || !bytes.Equal(b.Bytes(), again.Bytes()) {
				t.Fatalf("DOT is not a pure function of the graph (%v)", err)
			}
			path := filepath.Join("testdata", c.file)
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("DOT differs from %s:\n%s", path, b.String())
			}
		})
	}
}

// TestWiring checks the edges FromLayout makes against the rules of pipelines/run, by hand.
func TestWiring(t *testing.T) {
	cfg := loadConfig(t, filepath.Join(tinyDir, "config.json"))
	g, err := FromLayout(mustLayout(t, "VE|tttL", 2), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range g.Edges {
		if e.Kind == Activation {
			s := e.From + "." + e.FromPort + "->" + e.To + "." + e.ToPort
			if e.Grad {
				s += " grad"
			}
			got = append(got, s)
		} else {
			got = append(got, e.From+"=>"+e.To)
		}
	}
	want := []string{
		"batch r0.pixel_values->vision.pixel_values",
		"batch r0.image_grid_thw->vision.image_grid_thw",
		"batch r0.input_ids->embed.input_ids",
		"batch r0.attention_mask->embed.attention_mask",
		"vision.image_embeds->embed.image_embeds grad",
		"batch r0.image_grid_thw->embed.image_grid_thw",
		"embed.hidden->decoder[0:3).hidden grad", // the message from stage 0
		"embed.position_ids->decoder[0:3).position_ids",
		"embed.attention_mask->decoder[0:3).attention_mask",
		"decoder[0:3).hidden->head.hidden grad",
		"batch r1.labels->head.labels",
		"vision=>optimizer r0", "embed=>optimizer r0", "decoder[0:3)=>optimizer r1", "head=>optimizer r1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("edges\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	for r, ports := range map[int][]string{0: {"pixel_values", "image_grid_thw", "input_ids", "attention_mask"}, 1: {"labels"}} {
		var names []string
		for _, p := range g.Node(BatchName(r)).Out {
			names = append(names, p.Name)
		}
		slices.Sort(names)
		slices.Sort(ports)
		if !slices.Equal(names, ports) {
			t.Errorf("batch r%d ports %v, want %v", r, names, ports)
		}
	}
}

func TestCountAndOptimizer(t *testing.T) {
	cfg := loadConfig(t, filepath.Join(tinyDir, "config.json"))
	g, err := FromLayout(mustLayout(t, "VEt|ttL", 2), cfg, Options{Count: func(n *Node) (int64, int64) {
		if n.Kind == Vision { // frozen: no edge to the optimizer
			return 100, 0
		}
		return 10, 3
	}})
	if err != nil {
		t.Fatal(err)
	}
	if o := g.Node(OptimizerName(0)); o == nil || o.Trainable != 6 {
		t.Fatalf("optimizer r0 = %+v, want 6 trainable (embed + decoder)", o)
	}
	for _, e := range g.Edges {
		if e.Kind == ParamGrads && e.From == "vision" {
			t.Error("frozen vision node feeds the optimizer")
		}
	}
	g, err = FromLayout(mustLayout(t, "VEt|ttL", 2), cfg, Options{Count: func(n *Node) (int64, int64) {
		if n.Rank == 1 {
			return 5, 0
		}
		return 5, 5
	}})
	if err != nil {
		t.Fatal(err)
	}
	if g.Node(OptimizerName(1)) != nil {
		t.Error("a rank without trainable parameters has an optimizer node")
	}
}

func mkPort(name string, dt tensors.DType, grad bool, shape ...string) stages.Port {
	return stages.Port{Name: name, DType: dt, Shape: shape, Grad: grad}
}

// TestCheckErrors builds broken graphs by hand; each error must name the node and port.
func TestCheckErrors(t *testing.T) {
	h := mkPort("hidden", tensors.F32, true, "T", "8")
	node := func(name string, stage int, in, out []stages.Port) *Node {
		return &Node{Name: name, Kind: Decoder, Rank: stage % 2, Chunk: stage / 2, Stage: stage, In: in, Out: out}
	}
	cases := []struct {
		name  string
		build func(g *Graph)
		want  []string
	}{
		{"dtype", func(g *Graph) {
			g.AddNode(node("a", 0, nil, []stages.Port{mkPort("hidden", tensors.BF16, true, "T", "8")}))
			g.AddNode(node("b", 1, []stages.Port{h}, nil))
			g.Connect("a", "hidden", "b", "hidden")
		}, []string{"edge a.hidden → b.hidden", "dtype differs"}},
		{"fixed size", func(g *Graph) {
			g.AddNode(node("a", 0, nil, []stages.Port{mkPort("hidden", tensors.F32, true, "T", "16")}))
			g.AddNode(node("b", 1, []stages.Port{h}, nil))
			g.Connect("a", "hidden", "b", "hidden")
		}, []string{"edge a.hidden → b.hidden", "dim 1 is 16 vs 8"}},
		{"grad on one end", func(g *Graph) {
			g.AddNode(node("a", 0, nil, []stages.Port{mkPort("hidden", tensors.F32, false, "T", "8")}))
			g.AddNode(node("b", 1, []stages.Port{h}, nil))
			g.Connect("a", "hidden", "b", "hidden")
		}, []string{"one carries a gradient"}},
		{"dangling", func(g *Graph) {
			g.AddNode(node("b", 1, []stages.Port{h}, nil))
		}, []string{`node "b" (stage 1, rank 1): input hidden F32[T 8] has no producer`}},
		{"unused gradient", func(g *Graph) {
			g.AddNode(node("a", 0, nil, []stages.Port{h}))
		}, []string{`node "a" (stage 0, rank 0): output hidden F32[T 8] carries a gradient but nothing consumes it`}},
		{"no such port", func(g *Graph) {
			g.AddNode(node("a", 0, nil, []stages.Port{h}))
			g.AddNode(node("b", 1, []stages.Port{h}, nil))
			g.Connect("a", "hidden", "b", "hiden")
			g.Connect("a", "hidden", "b", "hidden")
		}, []string{`node "b" (stage 1, rank 1) has no input port "hiden"`}},
		{"fed twice", func(g *Graph) {
			g.AddNode(node("a", 0, nil, []stages.Port{h}))
			g.AddNode(node("c", 0, nil, []stages.Port{h}))
			g.AddNode(node("b", 1, []stages.Port{h}, nil))
			g.Connect("a", "hidden", "b", "hidden")
			g.Connect("c", "hidden", "b", "hidden")
		}, []string{`input "hidden" is fed twice (by a.hidden and c.hidden)`}},
		{"skips a stage", func(g *Graph) {
			g.AddNode(node("a", 0, nil, []stages.Port{h}))
			g.AddNode(node("b", 2, []stages.Port{h}, nil))
			g.Connect("a", "hidden", "b", "hidden")
		}, []string{"edge a.hidden → b.hidden goes from stage 0 to stage 2"}},
		{"cycle", func(g *Graph) {
			g.AddNode(node("a", 0, []stages.Port{h}, []stages.Port{h}))
			g.AddNode(node("b", 0, []stages.Port{h}, []stages.Port{h}))
			g.AddNode(node("c", 1, nil, nil))
			g.Connect("a", "hidden", "b", "hidden")
			g.Connect("b", "hidden", "a", "hidden")
		}, []string{"cycle through nodes a, b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := New(2, 2)
			c.build(g)
			err := g.Check()
			if err == nil {
				t.Fatal("Check passed")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestAddNodeErrors(t *testing.T) {
	g := New(2, 1)
	for _, c := range []struct {
		n    *Node
		want string
	}{
		{&Node{Name: "x", Kind: Decoder, Rank: 2}, "rank outside [0, 2)"},
		{&Node{Name: "x", Kind: Decoder, Rank: 1, Chunk: 0, Stage: 0}, "stage ≠ chunk"},
		{&Node{Name: "x", Kind: Data, Rank: 0, Chunk: 0, Stage: 0}, "data nodes have chunk and stage −1"},
		{&Node{Name: "x", Kind: Embed, Rank: 0, Optional: []string{"pixel"}}, `optional input "pixel" is not an input port`},
		{&Node{Name: "", Kind: Embed}, "without a name"},
	} {
		if err := g.AddNode(c.n); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("AddNode(%+v) = %v, want %q", c.n, err, c.want)
		}
	}
	g.AddNode(&Node{Name: "x", Kind: Decoder})
	if err := g.AddNode(&Node{Name: "x", Kind: Decoder}); err == nil || !strings.Contains(err.Error(), `two nodes named "x"`) {
		t.Errorf("duplicate: %v", err)
	}
	if err := g.ConnectParams("x", "x"); err == nil {
		t.Error("parameter edge into a non-optimizer node accepted")
	}
}

// TestLayoutErrors: a layout that does not fit the model, and an empty stage (which the
// executor would turn into an empty message), are refused with the node named.
func TestLayoutErrors(t *testing.T) {
	cfg := loadConfig(t, filepath.Join(tinyDir, "config.json"))
	if _, err := FromLayout(mustLayout(t, "VEt|tL", 2), cfg, Options{}); err == nil || !strings.Contains(err.Error(), "3 decoder layers") {
		t.Errorf("two decoder layers for three: %v", err)
	}
	_, err := FromLayout(mustLayout(t, "VEt||ttL", 3), cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), `node "decoder[1:3)" (stage 2, rank 2): input hidden F32[T 64] has no producer`) ||
		!strings.Contains(err.Error(), `node "decoder[0:1)" (stage 0, rank 0): output hidden F32[T 64] carries a gradient but nothing consumes it`) {
		t.Errorf("empty stage: %v", err)
	}
}

func TestCountFormat(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1.00K", 313840: "314K", 9994: "9.99K", 9996: "10.0K",
		99960: "100K", 858681856: "859M", 107710933120: "108B", 1_500_000_000_000: "1.50T"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestSVGSmoke renders the pp 2 interleaved graph: the SVG is well-formed XML and shows every
// line of every node label.
func TestSVGSmoke(t *testing.T) {
	cfg := loadConfig(t, filepath.Join(tinyDir, "config.json"))
	g, err := FromLayout(mustLayout(t, "VEt|t|t|L", 2), cfg, Options{Count: func(n *Node) (int64, int64) { return 1234, 1234 }})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := g.SVG(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	dec.Strict = true
	var texts []string
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = x.Name.Local
			}
		case xml.CharData:
			texts = append(texts, strings.TrimSpace(html.UnescapeString(string(x))))
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q", root)
	}
	for _, n := range g.Nodes {
		for _, l := range n.Label() {
			if !slices.Contains(texts, l) {
				t.Errorf("SVG has no text %q (node %s)", l, n.Name)
			}
		}
	}
}
