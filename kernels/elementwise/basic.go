package elementwise

// Add sets out = a + b.
//
//	out, a, b [n]
func Add(out, a, b []float32) error {
	if err := checkLen("Add", len(out), []string{"a", "b"}, a, b); err != nil {
		return err
	}
	run(len(out), func(lo, hi int) {
		o, x, y := out[lo:hi], a[lo:hi], b[lo:hi]
		if path != pathGeneric {
			addAsm(o, x, y)
			return
		}
		for i := range o {
			o[i] = x[i] + y[i]
		}
	})
	return nil
}

// AddBackward sets da = dout and db = dout. Either gradient may be nil (not needed); a
// gradient that is the same slice as dout is left as is.
//
//	da, db, dout [n]
func AddBackward(da, db, dout []float32) error {
	for _, g := range []struct {
		name string
		d    []float32
	}{{"da", da}, {"db", db}} {
		if g.d == nil {
			continue
		}
		if err := checkLen("AddBackward", len(dout), []string{g.name}, g.d); err != nil {
			return err
		}
		if len(g.d) > 0 && &g.d[0] != &dout[0] {
			copy(g.d, dout)
		}
	}
	return nil
}

// Mul sets out = a·b.
//
//	out, a, b [n]
func Mul(out, a, b []float32) error {
	if err := checkLen("Mul", len(out), []string{"a", "b"}, a, b); err != nil {
		return err
	}
	run(len(out), func(lo, hi int) {
		o, x, y := out[lo:hi], a[lo:hi], b[lo:hi]
		if path != pathGeneric {
			mulAsm(o, x, y)
			return
		}
		for i := range o {
			o[i] = x[i] * y[i]
		}
	})
	return nil
}

// MulBackward sets da = dout·b and db = dout·a. Either gradient may be nil (not needed).
// da and db must not be the same slice; each may alias dout, a or b (every element is read
// before it is written).
//
//	da, db, dout, a, b [n]
func MulBackward(da, db, dout, a, b []float32) error {
	n := len(dout)
	if err := checkLen("MulBackward", n, []string{"a", "b"}, a, b); err != nil {
		return err
	}
	if da != nil {
		if err := checkLen("MulBackward", n, []string{"da"}, da); err != nil {
			return err
		}
	}
	if db != nil {
		if err := checkLen("MulBackward", n, []string{"db"}, db); err != nil {
			return err
		}
	}
	run(n, func(lo, hi int) {
		g, x, y := dout[lo:hi], a[lo:hi], b[lo:hi]
		if da != nil && db != nil {
			dx, dy := da[lo:hi], db[lo:hi]
			if path != pathGeneric {
				mulGradAsm(dx, dy, g, x, y)
				return
			}
			for i := range g {
				gi := g[i]
				dx[i], dy[i] = gi*y[i], gi*x[i]
			}
			return
		}
		if da != nil {
			dx := da[lo:hi]
			if path != pathGeneric {
				mulAsm(dx, g, y)
				return
			}
			for i := range g {
				dx[i] = g[i] * y[i]
			}
		}
		if db != nil {
			dy := db[lo:hi]
			if path != pathGeneric {
				mulAsm(dy, g, x)
				return
			}
			for i := range g {
				dy[i] = g[i] * x[i]
			}
		}
	})
	return nil
}

// Scale sets out = alpha·x.
//
//	out, x [n]
func Scale(out, x []float32, alpha float32) error {
	if err := checkLen("Scale", len(out), []string{"x"}, x); err != nil {
		return err
	}
	run(len(out), func(lo, hi int) {
		o, v := out[lo:hi], x[lo:hi]
		if path != pathGeneric {
			scaleAsm(o, v, alpha)
			return
		}
		for i := range o {
			o[i] = alpha * v[i]
		}
	})
	return nil
}

// ScaleBackward sets dx = alpha·dout.
//
//	dx, dout [n]
func ScaleBackward(dx, dout []float32, alpha float32) error {
	if err := checkLen("ScaleBackward", len(dx), []string{"dout"}, dout); err != nil {
		return err
	}
	return Scale(dx, dout, alpha)
}
