package imageproc

// Limits on the difference from PIL's JPEG decode. The standard library's decoder uses box
// chroma upsampling where libjpeg-turbo (PIL) uses its "fancy" triangle filter, so colour
// edges in 4:2:0 files differ by tens of levels and on noisy test images the mean difference is ≈8 levels. Both limits become 0 when
// decodeJPEG uses transforms/jpeg.
const (
	jpegMaxDiff  = 64
	jpegMeanDiff = 10.0
)
