// Package jpeg is glmflow's JPEG decoder: pure Go plus an AVX2 inverse DCT,
// returning exactly the pixels that Debian bookworm's Pillow 9.4 returns from
// np.asarray(Image.open(f)) (libjpeg62-turbo 2.1.5 with its x86-64 SIMD
// paths, default decompression settings).
//
// What "bit-exact" covers (tested against committed Pillow goldens, see
// testdata/gen_goldens.py):
//   - baseline and extended sequential Huffman frames, interleaved or as
//     separate per-component scans; progressive frames with spectral selection
//     and successive approximation; restart intervals;
//   - any integral sampling (4:4:4, 4:2:2, 4:2:0, 4:4:0, 4:1:1, mixed) and odd
//     sizes, with libjpeg's fancy (triangle) upsampling for h2v1, h1v2 and
//     h2v2 and box replication otherwise (jdsample.c); merged upsampling is
//     never used because fancy upsampling is on (jdmaster.c);
//   - the islow IDCT with the integer widths of jsimd_idct_islow_avx2
//     (16-bit wrapping sums, 32-bit products, 16-bit saturation between
//     passes), which equals jidctint.c on in-range data and also matches
//     Pillow on overflowing coefficients;
//   - colour: grayscale → "L"; YCbCr → "RGB" via jdcolor.c's fixed-point
//     tables; RGB (Adobe transform 0, or component ids 'R','G','B' without
//     JFIF) copied; CMYK and YCCK (Adobe transform 2) → "CMYK", inverted as
//     Pillow's "CMYK;I" raw mode does for every 4-component JPEG;
//   - libjpeg's concealment of corrupt entropy data: an invalid Huffman code
//     consumes 17 bits and decodes as symbol 0; a marker inside entropy data
//     supplies zero bits and leaves the rest of the restart interval zero;
//     wrong restart numbers resynchronise as jpeg_resync_to_restart does;
//     undefined Huffman tables 0/1 fall back to the Annex K tables.
//   - EXIF orientation (tag 0x0112 of the first "Exif" APP1) is reported in
//     Image.Orientation, never applied — as Image.open leaves it.
//
// Errors, never panics, with Pillow's policy (LOAD_TRUNCATED_IMAGES=False):
// data that ends before the image is complete — inside a header, inside
// entropy data, or a progressive file before EOI — is ErrTruncated; a file
// whose entropy data runs to the end of the data without a marker is also
// ErrTruncated (Pillow raises "image file is truncated" there too). Bad
// markers and parameters are ErrFormat. DecodeConfig reads only headers;
// Decode checks Options.MaxPixels before allocating anything image-sized.
//
// Non-goals (ErrUnsupported, where Pillow differs):
//   - arithmetic-coded JPEG (SOF9/SOF10/DAC): Pillow decodes these, glmflow
//     refuses with "arithmetic-coded JPEG: unsupported by glmflow's decoder";
//   - 12-bit precision (Pillow refuses too), lossless and hierarchical frames
//     (libjpeg-turbo 2.1 refuses too), component counts other than 1, 3, 4
//     (Pillow refuses too);
//   - progressive files whose scans never finish refining the first nine AC
//     coefficients: libjpeg then applies inter-block smoothing
//     (jdcoefct.c decompress_smooth_data), which is not implemented. Every
//     encoder's standard progression finishes them, so this only concerns
//     unusual scan scripts.
//   - DCT scaling, output colour-space conversion and other libjpeg options
//     that Pillow's Image.open does not use.
//
// Data layout: Image.Pix is [Height, Width, channels] row-major uint8.
// Internally every component is decoded into a plane covering its
// MCU-padded block grid ([bh*8, bw*8], plus planeSlack bytes the SIMD
// kernels may read past the end); sequential scans inverse-transform each
// block as soon as it is decoded, progressive scans accumulate int16
// coefficients ([bh, bw, 64], natural order) and transform after the last
// scan. Upsampling and colour conversion run row by row: for a single-scan
// sequential image after each MCU row, on the rows whose inputs are final
// (so the planes are still in cache), otherwise after the last scan.
//
// Speed: each entropy-coded segment is first copied without its byte
// stuffing (bitReader.start), so the bit buffer refills with one 8-byte load
// and no per-byte marker checks. The sequential decoder keeps the 64-bit bit
// buffer in registers and decodes most AC symbols two at a time: a 4096-entry
// table per AC Huffman table (huffTable.pair) gives the runs and values of up
// to two symbols whose codes and value bits fit in 12 bits; DC and the rest
// take one table load per symbol (10-bit lookahead). The IDCT, fancy
// h2v1/h2v2 upsampling and YCbCr→RGB have AVX2 kernels (idct_amd64.s,
// color_amd64.s) with the same integer arithmetic as the Go code, which runs
// without AVX2 (useAVX2; tests run both). Planes, coefficients and the
// unstuffed segment are reused across Decode calls (scratch.go), and
// Options.Pix lets a caller reuse the output buffer. See BenchmarkDecode1000
// (1000x1000 4:2:0 q90), which also runs image/jpeg on the same file and
// reports the ratio.
package jpeg
