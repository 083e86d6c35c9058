package imageproc

import "fmt"

// normLUT maps a byte of channel c to its HF pixel_values float, computed as the slow
// Glm4vImageProcessor does: rescale = float32(float64(x) · (1/255)) (image_transforms.rescale
// multiplies in float64 and casts to float32), then normalize = (x − mean) / std in float32
// with mean and std cast to float32. Every value depends only on (c, x), so a 3×256 table is
// exact.
func normLUT(o Options) [3][256]float32 {
	var lut [3][256]float32
	const scale = 1.0 / 255 // Python's 1 / 255, a float64
	for c := range 3 {
		for x := range 256 {
			v := float32(float64(x) * scale)
			lut[c][x] = (v - o.Mean[c]) / o.Std[c]
		}
	}
	return lut
}

// Normalize writes HF's pixel_values rows for img into dst [P, RowLen]: each stored byte
// rescaled and normalised (see normLUT), the single frame duplicated into every temporal slot,
// columns (c, t, ph, pw).
func Normalize(dst []float32, img Image, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	in := o.frameRowLen()
	p := img.Grid[0] * img.Grid[1] * img.Grid[2]
	if img.Grid[0] != 1 || p < 1 || len(img.Rows) != p*in {
		return fmt.Errorf("imageproc: Normalize: image with grid %v has %d bytes, want [%d, %d]", img.Grid, len(img.Rows), p, in)
	}
	out := o.RowLen()
	if len(dst) != p*out {
		return fmt.Errorf("imageproc: Normalize: dst has %d floats, want [%d, %d] = %d", len(dst), p, out, p*out)
	}
	plane := o.PatchSize * o.PatchSize
	if !normalizeAVX512(dst, img.Rows, &o.Mean, &o.Std, plane, o.TemporalPatchSize) {
		lut := normLUT(o)
		normalizeGo(dst, img.Rows, &lut, plane, o.TemporalPatchSize)
	}
	return nil
}

// normalizeGo writes rows [P, 3·plane] as pixel_values [P, 3·tp·plane]: each byte of channel c
// mapped through lut[c], the frame repeated tp times.
func normalizeGo(dst []float32, rows []uint8, lut *[3][256]float32, plane, tp int) {
	in, out := 3*plane, 3*tp*plane
	for r := range len(rows) / in {
		src := rows[r*in : (r+1)*in]
		row := dst[r*out : (r+1)*out]
		for c := range 3 {
			l := &lut[c]
			s := src[c*plane : (c+1)*plane]
			first := row[c*tp*plane : c*tp*plane+plane]
			for i, v := range s {
				first[i] = l[v]
			}
			for t := 1; t < tp; t++ {
				copy(row[(c*tp+t)*plane:(c*tp+t+1)*plane], first)
			}
		}
	}
}
