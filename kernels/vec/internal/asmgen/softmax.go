package main

// Row kernels of kernels/softmax. The exps use expNeg (arguments x − m ≤ 0, clamped at EXPMIN).

var smConsts = expConsts

var softmaxKernels = []*kernel{
	{name: "sumExp", doc: "returns Σ e^(x−m) (float32 lanes)", ptrs: []string{"x"}, scalars: []string{"m"}, nacc: 1,
		regConsts: []string{"EXPMIN"}, consts: smConsts, body: func(b *ctx) {
			x := b.ld("x")
			b.i("VSUBPS %s, %s, %s", b.s("m"), x, x)
			p := b.expNeg(x, true, nil)
			b.zeroTail(p)
			b.i("VADDPS %s, %s, %s", p, b.acc(0), b.acc(0))
		}},
	{name: "expSum", doc: "y = e^(x−m); returns Σ y", ptrs: []string{"y", "x"}, scalars: []string{"m"}, nacc: 1,
		regConsts: []string{"EXPMIN"}, consts: smConsts, body: func(b *ctx) {
			x := b.ld("x")
			b.i("VSUBPS %s, %s, %s", b.s("m"), x, x)
			p := b.expNeg(x, true, nil)
			b.zeroTail(p)
			b.i("VADDPS %s, %s, %s", p, b.acc(0), b.acc(0))
			b.st(p, "y")
		}},
	{name: "expScale", doc: "d = e^(x−m)·scale", ptrs: []string{"d", "x"}, scalars: []string{"m", "scale"},
		regConsts: []string{"EXPMIN"}, consts: smConsts, body: func(b *ctx) {
			x := b.ld("x")
			b.i("VSUBPS %s, %s, %s", b.s("m"), x, x)
			p := b.expNeg(x, true, nil)
			b.i("VMULPS %s, %s, %s", b.s("scale"), p, p)
			b.st(p, "d")
		}},
	{name: "scale", doc: "out = alpha·x", ptrs: []string{"out", "x"}, scalars: []string{"alpha"}, body: func(b *ctx) {
		x := b.ld("x")
		b.i("VMULPS %s, %s, %s", x, b.s("alpha"), x)
		b.st(x, "out")
	}},
	{name: "dot", doc: "returns Σ a·b (float32 lanes)", ptrs: []string{"a", "b"}, nacc: 1, body: func(b *ctx) {
		x, y := b.ld("a"), b.ld("b")
		b.i("VFMADD231PS %s, %s, %s", x, y, b.acc(0))
	}},
	{name: "smGrad", doc: "dx = y·(dy − d)", ptrs: []string{"dx", "y", "dy"}, scalars: []string{"d"}, body: func(b *ctx) {
		y, g := b.ld("y"), b.ld("dy")
		b.i("VSUBPS %s, %s, %s", b.s("d"), g, g)
		b.i("VMULPS %s, %s, %s", g, y, y)
		b.st(y, "dx")
	}},
}
