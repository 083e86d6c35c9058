package imageproc

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"testing"
)

func writeChunk(b *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	b.Write(n[:])
	b.WriteString(typ)
	b.Write(data)
	binary.BigEndian.PutUint32(n[:], crc32.ChecksumIEEE(append([]byte(typ), data...)))
	b.Write(n[:])
}

func TestNormLUTMatchesNumpy(t *testing.T) {
	g := loadGoldens(t)
	lut := normLUT(DefaultOptions())
	for c := range 3 {
		want := unb64(t, g.NormLUT[c])
		for x := range 256 {
			w := math.Float32frombits(binary.LittleEndian.Uint32(want[4*x:]))
			if math.Float32bits(lut[c][x]) != math.Float32bits(w) {
				t.Fatalf("channel %d byte %d: %v, numpy %v", c, x, lut[c][x], w)
			}
		}
	}
}

// TestPixelValuesMatchHF: the whole path (decode, smart_resize, PIL bicubic, rescale+normalise,
// temporal duplication, merge-block patch order) against HF's PIL-backend steps in numpy.
func TestPixelValuesMatchHF(t *testing.T) {
	g := loadGoldens(t)
	o := DefaultOptions()
	img, err := Process(readTestdata(t, g.PixelValues.Src), o)
	if err != nil {
		t.Fatal(err)
	}
	if img.Grid != g.PixelValues.Grid {
		t.Fatalf("grid %v, HF %v", img.Grid, g.PixelValues.Grid)
	}
	p := img.Grid[1] * img.Grid[2]
	pv := make([]float32, p*o.RowLen())
	if err := Normalize(pv, img, o); err != nil {
		t.Fatal(err)
	}
	row5 := unb64(t, g.PixelValues.Row5)
	for i := range o.RowLen() {
		w := math.Float32frombits(binary.LittleEndian.Uint32(row5[4*i:]))
		if got := pv[5*o.RowLen()+i]; math.Float32bits(got) != math.Float32bits(w) {
			t.Fatalf("row 5 column %d: %v, HF %v", i, got, w)
		}
	}
	raw := make([]byte, 4*len(pv))
	for i, v := range pv {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	if sha(raw) != g.PixelValues.SHA256 {
		t.Errorf("pixel_values [%d, %d] differ from HF's", p, o.RowLen())
	}
}

// TestPatchOrder checks the merge-block order on a synthetic image where every pixel encodes
// its own coordinates, independently of patchify's loop structure.
func TestPatchOrder(t *testing.T) {
	o := DefaultOptions()
	o.PatchSize, o.MergeSize = 2, 2
	H, W := 8, 12 // grid 4×6
	m := rgbImage{W: W, H: H, Pix: make([]uint8, 3*W*H)}
	for y := range H {
		for x := range W {
			m.Pix[3*(y*W+x)], m.Pix[3*(y*W+x)+1], m.Pix[3*(y*W+x)+2] = uint8(y), uint8(x), uint8(100+y*W+x)
		}
	}
	rows := patchify(m, o)
	gh, gw := 4, 6
	for bh := range gh / 2 {
		for bw := range gw / 2 {
			for mh := range 2 {
				for mw := range 2 {
					r := ((bh*(gw/2)+bw)*2+mh)*2 + mw
					for ph := range 2 {
						for pw := range 2 {
							y, x := (bh*2+mh)*2+ph, (bw*2+mw)*2+pw
							for c := range 3 {
								got := rows[r*12+c*4+ph*2+pw]
								if want := m.Pix[3*(y*W+x)+c]; got != want {
									t.Fatalf("row %d c %d ph %d pw %d: %d, want pixel (%d,%d) = %d", r, c, ph, pw, got, y, x, want)
								}
							}
						}
					}
				}
			}
		}
	}
}

func TestNormalizeChecksSizes(t *testing.T) {
	o := DefaultOptions()
	img := Image{Grid: [3]int{1, 2, 2}, Rows: make([]uint8, 4*588)}
	if err := Normalize(make([]float32, 4*1176), img, o); err != nil {
		t.Fatal(err)
	}
	if err := Normalize(make([]float32, 4*1175), img, o); err == nil {
		t.Error("short dst accepted")
	}
	img.Rows = img.Rows[:100]
	if err := Normalize(make([]float32, 4*1176), img, o); err == nil {
		t.Error("short rows accepted")
	}
}

func TestProcessDeterministic(t *testing.T) {
	data := readTestdata(t, "pv_src.png")
	a, err := Process(data, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Process(data, DefaultOptions())
	if !bytes.Equal(a.Rows, b.Rows) || a.Grid != b.Grid {
		t.Error("two runs differ")
	}
}

func TestOptions(t *testing.T) {
	o := DefaultOptions()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.RowLen() != 1176 {
		t.Errorf("RowLen %d", o.RowLen())
	}
	h := o.Hash()
	if len(h) != 64 || h != DefaultOptions().Hash() {
		t.Errorf("hash %q not stable", h)
	}
	for _, mut := range []func(*Options){
		func(o *Options) { o.MinPixels++ }, func(o *Options) { o.MaxPixels++ },
		func(o *Options) { o.MaxDecodePixels++ }, func(o *Options) { o.PatchSize = 16 },
		func(o *Options) { o.TemporalPatchSize = 1 }, func(o *Options) { o.MergeSize = 1 },
		func(o *Options) { o.Mean[2] = math.Nextafter32(o.Mean[2], 1) }, func(o *Options) { o.Std[0] = 0.5 },
		func(o *Options) { o.AlphaOverWhite = true }, func(o *Options) { o.ExifTranspose = true },
	} {
		m := DefaultOptions()
		mut(&m)
		if m.Hash() == h {
			t.Errorf("changed options hash the same: %s", m.Canonical())
		}
	}
	bad := []func(*Options){
		func(o *Options) { o.PatchSize = 0 }, func(o *Options) { o.MaxPixels = o.MinPixels - 1 },
		func(o *Options) { o.Std[1] = 0 }, func(o *Options) { o.Mean[0] = float32(math.NaN()) },
		func(o *Options) { o.MaxDecodePixels = 0 },
	}
	for i, mut := range bad {
		m := DefaultOptions()
		mut(&m)
		if m.Validate() == nil {
			t.Errorf("bad options %d accepted", i)
		}
		if _, err := Process(readTestdata(t, "pv_src.png"), m); err == nil {
			t.Errorf("Process with bad options %d succeeded", i)
		}
	}
}
