package imageproc

// Limits on the difference from PIL's JPEG decode. transforms/jpeg is bit-exact with PIL, so
// every JPEG it decodes must match exactly. Only the standard-library fallback (files
// transforms/jpeg reports as ErrUnsupported) is approximate: box chroma upsampling and no
// block smoothing, a few levels on average.
const (
	jpegMaxDiff     = 0
	jpegMeanDiff    = 0.0
	jpegStdMaxDiff  = 64
	jpegStdMeanDiff = 10.0
)
