package imageproc

import "fmt"

// Image is one processed image: the patch grid and the resized pixels of its single temporal
// frame, kept as uint8 (Normalize expands them to HF's float32 pixel_values).
type Image struct {
	Grid [3]int  // (t, h, w) in patches; t = 1 for a still image
	Rows []uint8 // [P = h·w, 3·PatchSize²]: rows in merge-block order, columns (c, ph, pw)
}

// Process decodes data (JPEG, PNG, GIF, BMP or WebP), converts it to RGB, resizes it to
// smart_resize's size with PIL's bicubic filter and cuts it into patch rows.
func Process(data []byte, o Options) (Image, error) {
	if err := o.Validate(); err != nil {
		return Image{}, err
	}
	src, err := decode(data, o)
	if err != nil {
		return Image{}, fmt.Errorf("imageproc: %w", err)
	}
	h, w, err := SmartResize(src.H, src.W, o)
	if err != nil {
		return Image{}, err
	}
	p := newPatcher(w, h, o)
	resizeRows(src, w, h, p.row)
	if src.recyclable {
		putPix(src.Pix)
	}
	return Image{Grid: [3]int{1, h / o.PatchSize, w / o.PatchSize}, Rows: p.rows}, nil
}
