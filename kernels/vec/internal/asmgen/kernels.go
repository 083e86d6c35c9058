package main

// The kernels of each package. Bodies emit one sub-vector; every input is loaded before any
// output is stored, so outputs may alias inputs of the same shape.

var packages = map[string][]*kernel{
	"elementwise": append(elementwise, geluKernels...),
	"norm":        norm,
	"optim":       optim,
	"softmax":     softmaxKernels,
}

var elementwise = []*kernel{
	{name: "silu", doc: "out = x·σ(x)", ptrs: []string{"out", "x"}, exp: true, body: func(b *ctx) {
		x := b.ld("x")
		s := b.sigmoid(x)
		b.i("VMULPS %s, %s, %s", s, x, s)
		b.st(s, "out")
	}},
	{name: "siluGrad", doc: "dx = dout·σ(x)·(1 + x·(1−σ(x)))", ptrs: []string{"dx", "dout", "x"}, exp: true, body: func(b *ctx) {
		x := b.ld("x")
		s := b.sigmoid(x)
		g := b.ld("dout")
		t := b.t()
		b.i("VSUBPS %s, %s, %s", s, b.s("ONE"), t)      // 1−σ
		b.i("VFMADD213PS %s, %s, %s", b.s("ONE"), x, t) // x·(1−σ) + 1
		b.i("VMULPS %s, %s, %s", s, g, g)               // dout·σ
		b.i("VMULPS %s, %s, %s", t, g, g)
		b.st(g, "dx")
	}},
	{name: "swiglu", doc: "out = g·σ(g)·u", ptrs: []string{"out", "gate", "up"}, exp: true, body: func(b *ctx) {
		g := b.ld("gate")
		s := b.sigmoid(g)
		u := b.ld("up")
		b.i("VMULPS %s, %s, %s", s, g, s)
		b.i("VMULPS %s, %s, %s", u, s, s)
		b.st(s, "out")
	}},
	{name: "swigluGrad", doc: "du = dout·g·σ(g); dg = dout·u·σ(g)·(1 + g·(1−σ(g)))",
		ptrs: []string{"dg", "du", "dout", "gate", "up"}, exp: true, body: func(b *ctx) {
			g := b.ld("gate")
			s := b.sigmoid(g)
			u := b.ld("up")
			d := b.ld("dout")
			t := b.t()
			b.i("VMULPS %s, %s, %s", s, g, t) // g·σ
			b.i("VMULPS %s, %s, %s", t, d, t) // du
			b.i("VMULPS %s, %s, %s", u, d, u) // dout·u
			b.i("VMULPS %s, %s, %s", s, u, u) // ·σ
			b.i("VSUBPS %s, %s, %s", s, b.s("ONE"), s)
			b.i("VFMADD213PS %s, %s, %s", b.s("ONE"), g, s) // g·(1−σ) + 1
			b.i("VMULPS %s, %s, %s", s, u, u)
			b.st(u, "dg")
			b.st(t, "du")
		}},
	{name: "add", doc: "out = a + b", ptrs: []string{"out", "a", "b"}, body: func(b *ctx) {
		x, y := b.ld("a"), b.ld("b")
		b.i("VADDPS %s, %s, %s", y, x, x)
		b.st(x, "out")
	}},
	{name: "mul", doc: "out = a·b", ptrs: []string{"out", "a", "b"}, body: func(b *ctx) {
		x, y := b.ld("a"), b.ld("b")
		b.i("VMULPS %s, %s, %s", y, x, x)
		b.st(x, "out")
	}},
	{name: "mulGrad", doc: "da = dout·b; db = dout·a", ptrs: []string{"da", "db", "dout", "a", "b"}, body: func(b *ctx) {
		d, x, y := b.ld("dout"), b.ld("a"), b.ld("b")
		b.i("VMULPS %s, %s, %s", d, y, y)
		b.i("VMULPS %s, %s, %s", d, x, x)
		b.st(y, "da")
		b.st(x, "db")
	}},
	{name: "scale", doc: "out = alpha·x", ptrs: []string{"out", "x"}, scalars: []string{"alpha"}, body: func(b *ctx) {
		x := b.ld("x")
		b.i("VMULPS %s, %s, %s", x, b.s("alpha"), x)
		b.st(x, "out")
	}},
}

var norm = []*kernel{
	{name: "sumSq", doc: "returns Σ x²", ptrs: []string{"x"}, nacc: 1, body: func(b *ctx) {
		x := b.ld("x")
		b.i("VFMADD231PS %s, %s, %s", x, x, b.acc(0))
	}},
	{name: "sum", doc: "returns Σ x", ptrs: []string{"x"}, nacc: 1, body: func(b *ctx) {
		x := b.ld("x")
		b.i("VADDPS %s, %s, %s", x, b.acc(0), b.acc(0))
	}},
	{name: "sumSqDev", doc: "returns Σ (x−mu)²", ptrs: []string{"x"}, scalars: []string{"mu"}, nacc: 1, body: func(b *ctx) {
		x := b.ld("x")
		b.i("VSUBPS %s, %s, %s", b.s("mu"), x, x)
		b.zeroTail(x) // masked lanes hold −mu
		b.i("VFMADD231PS %s, %s, %s", x, x, b.acc(0))
	}},
	{name: "rmsOut", doc: "y = (x·r)·w", ptrs: []string{"y", "x", "w"}, scalars: []string{"r"}, body: func(b *ctx) {
		x, w := b.ld("x"), b.ld("w")
		b.i("VMULPS %s, %s, %s", b.s("r"), x, x)
		b.i("VMULPS %s, %s, %s", w, x, x)
		b.st(x, "y")
	}},
	{name: "rmsGrad1", doc: "pw += dy·(x·r); returns Σ (dy·w)·x", ptrs: []string{"pw", "dy", "x", "w"}, scalars: []string{"r"}, nacc: 1,
		body: func(b *ctx) {
			d, x, w, p := b.ld("dy"), b.ld("x"), b.ld("w"), b.ld("pw")
			b.i("VMULPS %s, %s, %s", w, d, w) // g = dy·w
			b.i("VFMADD231PS %s, %s, %s", x, w, b.acc(0))
			b.i("VMULPS %s, %s, %s", b.s("r"), x, x) // x̂
			b.i("VFMADD231PS %s, %s, %s", x, d, p)
			b.st(p, "pw")
		}},
	{name: "rmsGrad2", doc: "dx = r·(dy·w − (x·r)·m)", ptrs: []string{"dx", "dy", "x", "w"}, scalars: []string{"r", "m"},
		body: func(b *ctx) {
			d, x, w := b.ld("dy"), b.ld("x"), b.ld("w")
			b.i("VMULPS %s, %s, %s", w, d, d)
			b.i("VMULPS %s, %s, %s", b.s("r"), x, x)
			b.i("VFNMADD231PS %s, %s, %s", b.s("m"), x, d)
			b.i("VMULPS %s, %s, %s", b.s("r"), d, d)
			b.st(d, "dx")
		}},
	{name: "lnOut", doc: "y = ((x−mu)·r)·w + b", ptrs: []string{"y", "x", "w", "b"}, scalars: []string{"mu", "r"}, body: func(b *ctx) {
		x, w, bb := b.ld("x"), b.ld("w"), b.ld("b")
		b.i("VSUBPS %s, %s, %s", b.s("mu"), x, x)
		b.i("VMULPS %s, %s, %s", b.s("r"), x, x)
		b.i("VFMADD213PS %s, %s, %s", bb, w, x)
		b.st(x, "y")
	}},
	{name: "lnGrad1", doc: "x̂ = (x−mu)·r, g = dy·w; pw += dy·x̂; pb += dy; returns Σ g, Σ g·x̂",
		ptrs: []string{"pw", "pb", "dy", "x", "w"}, scalars: []string{"mu", "r"}, nacc: 2, lanes: 16, body: func(b *ctx) {
			d, x, w, p, q := b.ld("dy"), b.ld("x"), b.ld("w"), b.ld("pw"), b.ld("pb")
			b.i("VSUBPS %s, %s, %s", b.s("mu"), x, x)
			b.i("VMULPS %s, %s, %s", b.s("r"), x, x)
			b.i("VFMADD231PS %s, %s, %s", x, d, p)
			b.i("VADDPS %s, %s, %s", d, q, q)
			b.i("VMULPS %s, %s, %s", w, d, w)
			b.i("VADDPS %s, %s, %s", w, b.acc(0), b.acc(0))
			b.i("VFMADD231PS %s, %s, %s", x, w, b.acc(1))
			b.st(p, "pw")
			b.st(q, "pb")
		}},
	{name: "lnGrad2", doc: "dx = r·((dy·w − mg) − (x−mu)·r·mgx)", ptrs: []string{"dx", "dy", "x", "w"},
		scalars: []string{"mu", "r", "mg", "mgx"}, body: func(b *ctx) {
			d, x, w := b.ld("dy"), b.ld("x"), b.ld("w")
			b.i("VMULPS %s, %s, %s", w, d, d)
			b.i("VSUBPS %s, %s, %s", b.s("mg"), d, d)
			b.i("VSUBPS %s, %s, %s", b.s("mu"), x, x)
			b.i("VMULPS %s, %s, %s", b.s("r"), x, x)
			b.i("VFNMADD231PS %s, %s, %s", b.s("mgx"), x, d)
			b.i("VMULPS %s, %s, %s", b.s("r"), d, d)
			b.st(d, "dx")
		}},
}

var optim = []*kernel{
	{name: "adamw", doc: "one AdamW update (see Step)", ptrs: []string{"p", "grad", "m", "v"},
		scalars: []string{"decay", "b1", "c1", "b2", "c2", "stepSize", "bc2Sqrt", "eps"}, body: func(b *ctx) {
			g, m := b.ld("grad"), b.ld("m")
			b.i("VMULPS %s, %s, %s", b.s("b1"), m, m)
			b.i("VFMADD231PS %s, %s, %s", g, b.s("c1"), m) // m = c1·g + m·b1
			b.st(m, "m")
			v := b.ld("v")
			t := b.t()
			b.i("VMULPS %s, %s, %s", b.s("b2"), v, v)
			b.i("VMULPS %s, %s, %s", b.s("c2"), g, t)
			b.i("VFMADD231PS %s, %s, %s", g, t, v) // v = (c2·g)·g + v·b2
			b.st(v, "v")
			b.i("VSQRTPS %s, %s", v, v)
			b.i("VDIVPS %s, %s, %s", b.s("bc2Sqrt"), v, v)
			b.i("VADDPS %s, %s, %s", b.s("eps"), v, v)
			b.i("VMULPS %s, %s, %s", b.s("stepSize"), m, m)
			b.i("VDIVPS %s, %s, %s", v, m, m)
			p := b.ld("p")
			b.i("VMULPS %s, %s, %s", b.s("decay"), p, p)
			b.i("VADDPS %s, %s, %s", m, p, p)
			b.st(p, "p")
		}},
	{name: "sumSq64", doc: "returns Σ float64(x)² (float64 lanes)", ptrs: []string{"x"}, nacc: 1, f64: true, body: func(b *ctx) {
		x := b.ld("x")
		b.i("VFMADD231PD %s, %s, %s", x, x, b.acc(0))
	}},
}
