package imageproc

// patchify cuts a resized RGB image [H, W, 3] into rows [P, 3, ps, ps] (one temporal frame) in
// merge-block order (glm45v.md §5.3): row ((bh·(gw/m) + bw)·m + mh)·m + mw holds the patch at
// grid position (bh·m+mh, bw·m+mw); columns are (c, ph, pw).
func patchify(m rgbImage, o Options) []uint8 {
	ps, mg := o.PatchSize, o.MergeSize
	gh, gw := m.H/ps, m.W/ps
	rowLen := 3 * ps * ps
	plane := ps * ps
	rows := make([]uint8, gh*gw*rowLen)
	for y := range m.H {
		gy, ph := y/ps, y%ps
		bh, mh := gy/mg, gy%mg
		in := m.Pix[3*m.W*y : 3*m.W*(y+1)]
		for gx := range gw {
			bw, mw := gx/mg, gx%mg
			r := ((bh*(gw/mg)+bw)*mg+mh)*mg + mw
			dst := rows[r*rowLen : (r+1)*rowLen]
			d0 := dst[ph*ps : ph*ps+ps]
			d1 := dst[plane+ph*ps : plane+ph*ps+ps]
			d2 := dst[2*plane+ph*ps : 2*plane+ph*ps+ps]
			src := in[3*gx*ps : 3*(gx+1)*ps]
			for pw := range ps {
				d0[pw], d1[pw], d2[pw] = src[3*pw], src[3*pw+1], src[3*pw+2]
			}
		}
	}
	return rows
}
