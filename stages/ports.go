package stages

import (
	"fmt"
	"strconv"
)

// Bind checks ts against ports: every port present with its dtype and a shape matching the
// template, symbols bound consistently in dims (which carries bindings across calls and is
// updated). Extra tensors not named by a port are an error too. The error names the stage,
// the port and the mismatch.
func Bind(stage string, ports []Port, ts Tensors, dims map[string]int) error {
	for _, p := range ports {
		t, ok := ts[p.Name]
		if !ok || t == nil {
			return fmt.Errorf("%s: missing input %q (%v)", stage, p.Name, p)
		}
		if t.DType() != p.DType {
			return fmt.Errorf("%s: port %q is %v, want %v", stage, p.Name, t, p.DType)
		}
		if t.Rank() != len(p.Shape) {
			return fmt.Errorf("%s: port %q is %v, want rank %d %v", stage, p.Name, t, len(p.Shape), p.Shape)
		}
		for i, sym := range p.Shape {
			got := t.Dim(i)
			if n, err := strconv.Atoi(sym); err == nil {
				if got != n {
					return fmt.Errorf("%s: port %q is %v: dim %d is %d, want %d", stage, p.Name, t, i, got, n)
				}
				continue
			}
			if want, bound := dims[sym]; bound && want != got {
				return fmt.Errorf("%s: port %q is %v: dim %d (%s) is %d, but %s = %d elsewhere", stage, p.Name, t, i, sym, got, sym, want)
			}
			dims[sym] = got
		}
	}
	for _, name := range ts.Names() {
		if !hasPort(ports, name) {
			return fmt.Errorf("%s: unexpected tensor %q (ports: %v)", stage, name, ports)
		}
	}
	return nil
}

func hasPort(ports []Port, name string) bool {
	for _, p := range ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

// Compatible reports whether an output port can feed an input port: same dtype, same rank,
// and fixed sizes equal where both are fixed (symbols unify with anything).
func Compatible(out, in Port) error {
	if out.DType != in.DType {
		return fmt.Errorf("port %v feeds %v: dtype differs", out, in)
	}
	if len(out.Shape) != len(in.Shape) {
		return fmt.Errorf("port %v feeds %v: rank differs", out, in)
	}
	for i := range out.Shape {
		a, errA := strconv.Atoi(out.Shape[i])
		b, errB := strconv.Atoi(in.Shape[i])
		if errA == nil && errB == nil && a != b {
			return fmt.Errorf("port %v feeds %v: dim %d is %d vs %d", out, in, i, a, b)
		}
	}
	if out.Grad != in.Grad {
		return fmt.Errorf("port %v feeds %v: one carries a gradient and the other does not", out, in)
	}
	return nil
}
