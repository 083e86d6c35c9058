package imageproc

// patcher cuts a resized image, fed one planar row [3, W] at a time, into rows [P, 3, ps, ps]
// (one temporal frame) in merge-block order (glm45v.md §5.3): row ((bh·(gw/m) + bw)·m + mh)·m
// + mw holds the patch at grid position (bh·m+mh, bw·m+mw); columns are (c, ph, pw).
type patcher struct {
	ps, mg, w, gw, rowLen int
	colOff                []int   // [gw]: byte offset of grid column gx's patch row within its block row
	rows                  []uint8 // [P, 3·ps·ps]
}

func newPatcher(w, h int, o Options) *patcher {
	ps, mg := o.PatchSize, o.MergeSize
	gw := w / ps
	rowLen := 3 * ps * ps
	p := &patcher{ps: ps, mg: mg, w: w, gw: gw, rowLen: rowLen, colOff: make([]int, gw),
		rows: make([]uint8, (h/ps)*gw*rowLen)}
	for gx := range gw {
		p.colOff[gx] = (gx/mg*mg*mg + gx%mg) * rowLen
	}
	return p
}

// row places image row y, given as planes [3, W], into its patch rows.
func (p *patcher) row(y int, planes []uint8) {
	ps, mg, gw := p.ps, p.mg, p.gw
	plane := ps * ps
	gy, ph := y/ps, y%ps
	bh, mh := gy/mg, gy%mg
	// Patch row of grid position (gy, gx): block row bh (gw·mg rows), then mh·mg, then colOff.
	base := bh * gw * mg * p.rowLen
	blockRow := p.rows[base : base+gw*mg*p.rowLen]
	for c := range 3 {
		in := planes[c*p.w : c*p.w+gw*ps]
		off := mh*mg*p.rowLen + c*plane + ph*ps
		scatter(blockRow[off:], in, p.colOff, ps)
	}
}

// scatterGo copies len(off) runs of ps bytes, src[i·ps:(i+1)·ps] to dst[off[i]:off[i]+ps].
func scatterGo(dst, src []uint8, off []int, ps int) {
	for i, o := range off {
		copy(dst[o:o+ps], src[i*ps:i*ps+ps])
	}
}

// patchify cuts an interleaved [H, W, 3] image into patch rows (see patcher).
func patchify(m rgbImage, o Options) []uint8 {
	p := newPatcher(m.W, m.H, o)
	planes := make([]uint8, 3*m.W)
	for y := range m.H {
		deinterleave(planes, m.Pix[3*m.W*y:3*m.W*(y+1)])
		p.row(y, planes)
	}
	return p.rows
}
