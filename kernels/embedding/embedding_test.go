package embedding

import (
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// randomIDs draws T ids in [0, V) with many repeats (V small) so scatter-add collisions occur.
func randomIDs(seed uint64, T, V int) []int32 {
	r := kerneltest.RNG(seed)
	ids := make([]int32, T)
	for i := range ids {
		ids[i] = int32(r.IntN(V))
	}
	return ids
}

func TestForwardBackward(t *testing.T) {
	for _, c := range []struct{ V, D, T, pad int }{
		{1, 1, 1, -1}, {5, 3, 17, 2}, {50, 64, 300, -1}, {37, 256, 1000, 0}, {8, 100, 4000, 7},
	} {
		r := kerneltest.RNG(uint64(c.V*1000 + c.D))
		table := kerneltest.Uniform(r, c.V*c.D, -1, 1)
		ids := randomIDs(uint64(c.T), c.T, c.V)
		if c.pad >= 0 {
			ids[0] = int32(c.pad) // make sure the padding row is hit
		}
		dout := kerneltest.Uniform(r, c.T*c.D, -1, 1)
		dt0 := kerneltest.Uniform(r, c.V*c.D, -1, 1)
		name := "embedding " + kerneltest.Shape(c.V, c.D, c.T)

		want := make([]float64, c.T*c.D)
		RefForward(want, kerneltest.F64(table), ids, c.D)
		out := make([]float32, c.T*c.D)
		kerneltest.Poison(out)
		if err := Forward(out, table, ids, c.V, c.D); err != nil {
			t.Fatal(err)
		}
		kerneltest.CloseAll(t, name+" forward", out, want, 0)

		wdt := kerneltest.F64(dt0)
		RefBackward(wdt, kerneltest.F64(dout), ids, c.D, c.pad)
		dt := append([]float32(nil), dt0...)
		if err := Backward(dt, dout, ids, c.V, c.D, c.pad); err != nil {
			t.Fatal(err)
		}
		count := make([]int, c.V)
		for _, id := range ids {
			count[id]++
		}
		kerneltest.Close(t, name+" backward", dt, wdt, func(i int) float64 {
			return kerneltest.Tol(1, count[i/c.D]+1, kerneltest.Eps32, float64(count[i/c.D]+1), 0)
		})
		if c.pad >= 0 {
			for j := range c.D {
				if dt[c.pad*c.D+j] != dt0[c.pad*c.D+j] {
					t.Fatalf("%s: padding row %d received gradient", name, c.pad)
				}
			}
		}
		// Exact order: each row's sum in token order, in float32.
		exact := append([]float32(nil), dt0...)
		for tt, id := range ids {
			if int(id) != c.pad {
				for j := range c.D {
					exact[int(id)*c.D+j] += dout[tt*c.D+j]
				}
			}
		}
		for i := range exact {
			if exact[i] != dt[i] {
				t.Fatalf("%s: dTable[%d] = %g, token-order float32 sum %g", name, i, dt[i], exact[i])
			}
		}
	}
}

func TestThreadCountInvariant(t *testing.T) {
	V, D, T := 11, 512, 3000
	r := kerneltest.RNG(4)
	dout := kerneltest.Normal(r, T*D, 1)
	ids := randomIDs(5, T, V)
	run := func() []float32 {
		dt := make([]float32, V*D)
		_ = Backward(dt, dout, ids, V, D, -1)
		return dt
	}
	saved := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(saved)
	one := run()
	for _, p := range []int{2, 3, 7} {
		runtime.GOMAXPROCS(p)
		got := run()
		for i := range one {
			if math.Float32bits(one[i]) != math.Float32bits(got[i]) {
				t.Fatalf("dTable[%d]: %g with 1 thread, %g with %d", i, one[i], got[i], p)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	V, D := 4, 2
	table := make([]float32, V*D)
	out := make([]float32, 3*D)
	err := Forward(out, table, []int32{0, 4, 1}, V, D)
	if err == nil || !strings.Contains(err.Error(), "ids[1] = 4") {
		t.Errorf("out-of-range id: error = %v", err)
	}
	err = Backward(table, out, []int32{0, 1, -2}, V, D, -1)
	if err == nil || !strings.Contains(err.Error(), "ids[2] = -2") {
		t.Errorf("negative id: error = %v", err)
	}
	kerneltest.Poison(out)
	_ = Forward(out, table, []int32{0, 9, 1}, V, D)
	if out[0] == out[0] {
		t.Error("Forward wrote output before rejecting a bad id")
	}
	for name, err := range map[string]error{
		"len(out)":    Forward(out[:5], table, []int32{0, 1, 2}, V, D),
		"len(table)":  Forward(out, table[:7], []int32{0, 1, 2}, V, D),
		"len(dout)":   Backward(table, out[:4], []int32{0, 1, 2}, V, D, -1),
		"paddingIdx":  Backward(table, out, []int32{0, 1, 2}, V, D, 4),
		"bad dims":    Forward(out, table, []int32{0, 1, 2}, 0, D),
		"len(dTable)": Backward(table[:6], out, []int32{0, 1, 2}, V, D, -1),
	} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error = %v", name, err)
		}
	}
}
