package stages

import (
	"slices"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/tensors"
)

var ports = []Port{
	{Name: "hidden", DType: tensors.F32, Shape: []string{"T", "64"}, Grad: true},
	{Name: "positions", DType: tensors.I32, Shape: []string{"3", "T"}},
}

func TestBind(t *testing.T) {
	ok := Tensors{"hidden": tensors.New(tensors.F32, 5, 64), "positions": tensors.New(tensors.I32, 3, 5)}
	dims := map[string]int{}
	if err := Bind("decoder", ports, ok, dims); err != nil || dims["T"] != 5 {
		t.Fatalf("Bind = %v, dims %v", err, dims)
	}
	for _, tc := range []struct {
		name string
		ts   Tensors
		want string
	}{
		{"missing", Tensors{"hidden": tensors.New(tensors.F32, 5, 64)}, `missing input "positions"`},
		{"dtype", Tensors{"hidden": tensors.New(tensors.BF16, 5, 64), "positions": tensors.New(tensors.I32, 3, 5)}, `port "hidden" is BF16`},
		{"rank", Tensors{"hidden": tensors.New(tensors.F32, 5, 64, 1), "positions": tensors.New(tensors.I32, 3, 5)}, "want rank 2"},
		{"fixed", Tensors{"hidden": tensors.New(tensors.F32, 5, 63), "positions": tensors.New(tensors.I32, 3, 5)}, "dim 1 is 63, want 64"},
		{"symbol", Tensors{"hidden": tensors.New(tensors.F32, 5, 64), "positions": tensors.New(tensors.I32, 3, 6)}, "but T = 5 elsewhere"},
		{"extra", Tensors{"hidden": tensors.New(tensors.F32, 5, 64), "positions": tensors.New(tensors.I32, 3, 5), "labels": tensors.New(tensors.I32, 5)}, `unexpected tensor "labels"`},
	} {
		err := Bind("decoder", ports, tc.ts, map[string]int{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "decoder: ") {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	// Bindings carry across calls.
	if err := Bind("decoder", ports[:1], Tensors{"hidden": tensors.New(tensors.F32, 6, 64)}, dims); err == nil {
		t.Error("T rebound from 5 to 6 across calls: no error")
	}
}

func TestCompatible(t *testing.T) {
	out := Port{Name: "h", DType: tensors.F32, Shape: []string{"T", "64"}, Grad: true}
	for _, tc := range []struct {
		in   Port
		fail bool
	}{
		{Port{Name: "x", DType: tensors.F32, Shape: []string{"T", "D"}, Grad: true}, false},
		{Port{Name: "x", DType: tensors.F32, Shape: []string{"T", "32"}, Grad: true}, true},
		{Port{Name: "x", DType: tensors.BF16, Shape: []string{"T", "64"}, Grad: true}, true},
		{Port{Name: "x", DType: tensors.F32, Shape: []string{"64"}, Grad: true}, true},
		{Port{Name: "x", DType: tensors.F32, Shape: []string{"T", "64"}}, true},
	} {
		if err := Compatible(out, tc.in); (err != nil) != tc.fail {
			t.Errorf("Compatible(%v, %v) = %v, want failure %v", out, tc.in, err, tc.fail)
		}
	}
}

func TestSaved(t *testing.T) {
	var s Saved[string]
	if err := s.Put("head", 0, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("head", 2, "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("head", 0, "again"); err == nil || !strings.Contains(err.Error(), "ran twice") {
		t.Errorf("second Put: %v", err)
	}
	if got := s.Live(); !slices.Equal(got, []int{0, 2}) {
		t.Errorf("Live = %v", got)
	}
	if v, err := s.Get("head", 2); err != nil || v != "c" {
		t.Errorf("Get = %q, %v", v, err)
	}
	if v, err := s.Take("head", 0); err != nil || v != "a" {
		t.Errorf("Take = %q, %v", v, err)
	}
	if _, err := s.Take("head", 0); err == nil || !strings.Contains(err.Error(), "without its forward") {
		t.Errorf("Take after release: %v", err)
	}
}

type nopStage struct{}

func (nopStage) Kind() string                                { return "test.nop" }
func (nopStage) Ports() (in, out []Port)                     { return nil, nil }
func (nopStage) Params() []*Param                            { return nil }
func (nopStage) Forward(int, Tensors) (Tensors, error)       { return Tensors{}, nil }
func (nopStage) BackwardInput(int, Tensors) (Tensors, error) { return Tensors{}, nil }
func (nopStage) BackwardWeight(int) error                    { return nil }

func TestRegistry(t *testing.T) {
	Register("test.nop", func(any) (Stage, error) { return nopStage{}, nil })
	if s, err := Build("test.nop", nil); err != nil || s.Kind() != "test.nop" {
		t.Fatalf("Build = %v, %v", s, err)
	}
	if _, err := Build("test.missing", nil); err == nil || !strings.Contains(err.Error(), "test.nop") {
		t.Errorf("unknown kind: %v (want the registered kinds listed)", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("duplicate Register did not panic")
		}
	}()
	Register("test.nop", func(any) (Stage, error) { return nopStage{}, nil })
}
