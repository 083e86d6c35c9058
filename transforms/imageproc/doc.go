// Package imageproc is HF's Glm4vImageProcessor (the PIL backend, transformers 4.5x–5.x) for
// still images, in Go: decode → RGB → smart_resize → PIL bicubic resize → patch rows, and
// Normalize for the float32 pixel_values the model reads.
//
// Every step is pinned to Pillow 9.4 / numpy 1.24 by goldens (testdata/gen_goldens.py):
//
//   - RGB conversion is PIL's Image.convert("RGB"), which is what HF's convert_to_rgb does for
//     Glm4v (image_transforms.convert_to_rgb: no alpha compositing; only Idefics2/Mllama
//     composite). Alpha is dropped; 1/2/4-bit gray is scaled; palette indices past the PLTE get
//     PIL's gray (i, i, i); 16-bit RGB(A)/gray+alpha keep the high byte; 16-bit gray is PIL mode
//     "I" and clips to 0..255 (so most 16-bit gray PNGs come out nearly white, as in HF); Adobe
//     CMYK JPEGs use Pillow's cmyk2rgb. Options.AlphaOverWhite composites over white exactly as
//     Image.alpha_composite instead.
//   - EXIF orientation is left as PIL's Image.open leaves it (not applied). HF datasets ≥ 2.19
//     applies ImageOps.exif_transpose in its Image feature; Options.ExifTranspose does the same
//     for JPEG files.
//   - smart_resize is HF's float64 arithmetic with Python's round-half-to-even; the temporal
//     factor 2 is inside the pixel budget.
//   - The resize is bit-exact with PIL's Image.resize(size, BICUBIC) on 8-bit RGB (resize.go).
//   - pixel_values = float32((float32(x·(1/255 in float64)) − mean) / std), the temporal frame
//     duplicated; a 3×256 table is exact.
//   - JPEGs decode with transforms/jpeg, bit-exact with PIL's libjpeg-turbo. Only files it
//     reports as unsupported (arithmetic coding, progressive scripts needing libjpeg's block
//     smoothing) fall back to the standard library's decoder, a few levels off PIL (jpeg.go).
//
// Differences from PIL, all refusals: corrupt files PIL tolerates (a bad IDAT CRC) are
// errors; GIFs whose first frame does not cover the screen are refused. Lossy WebP follows
// x/image/webp's colour conversion, not libwebp's.
//
// Speed (BenchmarkPreprocess1000, one core): the resize's horizontal pass runs as a vertical
// filter on 64-row bands transposed with SIMD 16×16 byte tiles (resize.go), the vertical pass
// filters each output row as soon as its source rows exist, and Process writes each resized
// row straight into the patch rows (no full resized image); AVX2 kernels where the CPU has
// them (vpass_amd64.s, transpose_amd64.s), the same integer arithmetic in Go otherwise or
// with the purego build tag. Normalize computes 16 values at a time with AVX-512 using the
// table's own IEEE operations (same bits), and writes large outputs with non-temporal stores
// (norm_amd64.s). Decoded JPEG pixels are recycled between Process calls (pixPool).
//
// Safety: dimensions are read from the header and images over Options.MaxDecodePixels are
// refused before any pixel buffer is allocated; decoders return errors, and a decoder panic is
// recovered into an error at the package boundary.
//
// Data layout: Image.Rows is [P, 3·14·14] uint8, one temporal frame, rows in merge-block order
// (row ((bh·(gw/2) + bw)·2 + mh)·2 + mw), columns (c, ph, pw). Normalize expands it to
// [P, 1176] float32 with columns (c, t, ph, pw), HF's pixel_values layout.
//
// Non-goals: video (Glm4vVideoProcessor), the torchvision ("fast") backend's resize, batching.
package imageproc
