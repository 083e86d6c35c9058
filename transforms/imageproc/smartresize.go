package imageproc

import (
	"fmt"
	"math"
)

// SmartResize returns the (height, width) HF's smart_resize picks for a still image of the given
// size: num_frames = temporal_factor = TemporalPatchSize, factor = PatchSize·MergeSize,
// min_pixels = MinPixels, max_pixels = MaxPixels. Every step is Python's float64 arithmetic in
// the same order; round is Python's round-half-to-even.
func SmartResize(height, width int, o Options) (int, int, error) {
	if height < 1 || width < 1 {
		return 0, 0, fmt.Errorf("imageproc: image size %dx%d is empty", width, height)
	}
	factor := o.PatchSize * o.MergeSize
	frames := o.TemporalPatchSize // num_frames == temporal_factor for images
	ff := float64(factor)
	if height < factor || width < factor {
		// scale = max(factor/height, factor/width); height = int(height*scale)
		scale := math.Max(ff/float64(height), ff/float64(width))
		height = int(float64(height) * scale)
		width = int(float64(width) * scale)
	}
	lo, hi := min(height, width), max(height, width)
	if r := float64(hi) / float64(lo); r > 200 {
		return 0, 0, fmt.Errorf("imageproc: absolute aspect ratio must be smaller than 200, got %v", r)
	}
	hBar := int(math.RoundToEven(float64(height)/ff)) * factor
	wBar := int(math.RoundToEven(float64(width)/ff)) * factor
	tBar := int(math.RoundToEven(float64(frames)/float64(frames))) * frames
	fh, fw, fn := float64(height), float64(width), float64(frames)
	switch {
	case tBar*hBar*wBar > o.MaxPixels:
		// beta = sqrt((num_frames*height*width) / max_pixels); Python multiplies ints exactly.
		beta := math.Sqrt(float64(frames*height*width) / float64(o.MaxPixels))
		hBar = max(factor, int(math.Floor(fh/beta/ff))*factor)
		wBar = max(factor, int(math.Floor(fw/beta/ff))*factor)
	case tBar*hBar*wBar < o.MinPixels:
		beta := math.Sqrt(float64(o.MinPixels) / float64(frames*height*width))
		hBar = int(math.Ceil(float64(fh*beta)/ff)) * factor
		wBar = int(math.Ceil(float64(fw*beta)/ff)) * factor
	}
	_ = fn
	if hBar < factor || wBar < factor {
		return 0, 0, fmt.Errorf("imageproc: smart_resize of %dx%d gives %dx%d", width, height, wBar, hBar)
	}
	return hBar, wBar, nil
}
