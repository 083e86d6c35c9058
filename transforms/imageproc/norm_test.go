package imageproc

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestNormalizeMatchesTable: Normalize (AVX2 gather with plain or streaming stores where the
// CPU has it, and the Go loop) equals a direct per-element evaluation of normLUT's formula
// (float32(x·(1/255)) − mean) / std, bit for bit, for every byte value of every channel, with
// the frame duplicated into each temporal slot. Layouts cover the kernel's case (tp·ps² a
// multiple of 8), the Go fallback, misaligned and large (streamed) outputs.
func TestNormalizeMatchesTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		ps, tp, p int
		misalign  bool
	}{
		{14, 2, 7, false}, {14, 2, 7, true}, {14, 2, 1203, false}, {14, 2, 1200, true},
		{3, 1, 5, false}, {4, 2, 9, false}, {2, 2, 300, false}, {14, 1, 3, false},
	} {
		for _, avx := range []bool{true, false} {
			saved := useAVX512
			useAVX512 = avx && haveAVX512
			o := DefaultOptions()
			o.PatchSize, o.TemporalPatchSize = tc.ps, tc.tp
			in, plane := o.frameRowLen(), tc.ps*tc.ps
			img := Image{Grid: [3]int{1, 1, tc.p}, Rows: make([]uint8, tc.p*in)}
			for i := range img.Rows {
				img.Rows[i] = uint8(i) // every value in every channel ...
				if i >= 3*256 {
					img.Rows[i] = uint8(rng.Uint32()) // ... then random bytes
				}
			}
			n := tc.p * o.RowLen()
			backing := make([]float32, n+8)
			dst := backing[:n]
			if tc.misalign {
				dst = backing[1 : n+1]
			}
			err := Normalize(dst, img, o)
			useAVX512 = saved
			if err != nil {
				t.Fatal(err)
			}
			for r := range tc.p {
				for c := range 3 {
					for tt := range tc.tp {
						for i := range plane {
							x := img.Rows[r*in+c*plane+i]
							want := (float32(float64(x)*(1.0/255)) - o.Mean[c]) / o.Std[c]
							got := dst[r*o.RowLen()+(c*tc.tp+tt)*plane+i]
							if math.Float32bits(got) != math.Float32bits(want) {
								t.Fatalf("%+v avx=%v: row %d channel %d t %d index %d (byte %d): %v, want %v",
									tc, avx, r, c, tt, i, x, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestRecycledPixels: Process gives the same rows whatever a recycled decode buffer held
// before (pixPool), for RGB, gray and CMYK JPEGs, with and without EXIF transposition.
func TestRecycledPixels(t *testing.T) {
	for _, name := range []string{"rgb420.jpg", "gray.jpg", "cmyk.jpg", "orient6.jpg"} {
		data := readTestdata(t, name)
		for _, transpose := range []bool{false, true} {
			o := DefaultOptions()
			o.ExifTranspose = transpose
			want, err := Process(data, o)
			if err != nil {
				t.Fatal(err)
			}
			for _, fill := range []uint8{0x00, 0xFF, 0x77} {
				junk := make([]uint8, 1<<22)
				for i := range junk {
					junk[i] = fill
				}
				putPix(junk)
				got, err := Process(data, o)
				if err != nil {
					t.Fatal(err)
				}
				if got.Grid != want.Grid || string(got.Rows) != string(want.Rows) {
					t.Fatalf("%s (transpose %v): rows differ after recycling a buffer of %#x", name, transpose, fill)
				}
			}
		}
	}
}
