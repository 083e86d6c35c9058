package main

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// phantom is a medical-like grayscale image: a body ellipse with two "lungs" or "hemispheres"
// and, when lesion is set, a bright round lesion in one quadrant.
type phantom struct {
	mode     string // "CT" or "MRI": contrast differs
	lesion   bool
	quadrant int // 0 left upper, 1 right upper, 2 left lower, 3 right lower (patient's left = image right)
	size     int // lesion radius in pixels
}

var quadrantNames = []string{"right upper", "left upper", "right lower", "left lower"}

func (p phantom) render(rng *rand.Rand, n int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, n, n))
	c := float64(n) / 2
	lx, ly := c, c
	if p.lesion {
		dx, dy := -0.22, -0.18
		if p.quadrant%2 == 1 {
			dx = 0.22
		}
		if p.quadrant >= 2 {
			dy = 0.2
		}
		lx, ly = c+dx*float64(n), c+dy*float64(n)
	}
	body, organ, bright := 110.0, 40.0, 235.0
	if p.mode == "MRI" {
		body, organ, bright = 150.0, 80.0, 250.0
	}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			fx, fy := (float64(x)-c)/c, (float64(y)-c)/c
			v := 8.0
			if fx*fx/0.81+fy*fy/0.64 < 1 { // body
				v = body + 20*math.Cos(3*fx)*math.Cos(2*fy)
				for _, s := range []float64{-0.38, 0.38} { // paired organs
					ox, oy := (fx-s)/0.28, fy/0.45
					if ox*ox+oy*oy < 1 {
						v = organ + 15*(ox*ox+oy*oy)
					}
				}
			}
			if p.lesion {
				d := math.Hypot(float64(x)-lx, float64(y)-ly) / float64(p.size)
				if d < 1 {
					v = v*d + bright*(1-d*d)
				}
			}
			v += rng.NormFloat64() * 4
			img.Pix[y*img.Stride+x] = uint8(max(0, min(255, math.Round(v))))
		}
	}
	return img
}

// qa returns the question and answer about p, chosen by kind.
func (p phantom) qa(kind int) (string, string) {
	switch kind {
	case 0:
		return "What imaging modality was used to acquire this image?", fmt.Sprintf("This is an axial %s image.", map[string]string{"CT": "computed tomography (CT)", "MRI": "magnetic resonance (MRI)"}[p.mode])
	case 1:
		if !p.lesion {
			return "Is there a focal lesion in this image?", "No focal lesion is seen; the paired structures are symmetric."
		}
		return "Is there a focal lesion in this image?", fmt.Sprintf("Yes, there is a well-circumscribed hyperdense lesion in the %s quadrant.", quadrantNames[p.quadrant])
	default:
		if !p.lesion {
			return "Where is the abnormality located?", "There is no abnormality; the study is within normal limits."
		}
		return "Where is the abnormality located?", fmt.Sprintf("In the %s quadrant, measuring about %d pixels across.", quadrantNames[p.quadrant], 2*p.size)
	}
}

// writeMedpix writes medpix-vqa: train 6 rows, validation 2; PNG and JPEG images alternate.
func writeMedpix(dir string) error {
	sc := hfSchema(`{"image_id": {"_type": "Image"}, "mode": {"dtype": "string", "_type": "Value"}, "case_id": {"dtype": "string", "_type": "Value"}, "question": {"dtype": "string", "_type": "Value"}, "answer": {"dtype": "string", "_type": "Value"}}`,
		arrow.Field{Name: "image_id", Type: imageType, Nullable: true},
		arrow.Field{Name: "mode", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "case_id", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "question", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "answer", Type: arrow.BinaryTypes.String, Nullable: true},
	)
	id := 0
	for si, sp := range []struct {
		name string
		rows int
	}{{"train", 6}, {"validation", 2}} {
		rng := rand.New(rand.NewPCG(7, uint64(si)))
		b := array.NewRecordBuilder(mem, sc)
		for r := 0; r < sp.rows; r++ {
			p := phantom{mode: []string{"CT", "MRI"}[rng.IntN(2)], lesion: rng.IntN(4) != 0, quadrant: rng.IntN(4), size: 10 + rng.IntN(14)}
			n := 224 + 32*rng.IntN(3)
			img := p.render(rng, n)
			var buf bytes.Buffer
			var name string
			var err error
			if id%2 == 0 {
				name = fmt.Sprintf("MPX%04d_synpic%05d.png", 1000+id, 50000+id)
				err = (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img)
			} else {
				name = fmt.Sprintf("MPX%04d_synpic%05d.jpg", 1000+id, 50000+id)
				err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
			}
			if err != nil {
				return err
			}
			q, a := p.qa(rng.IntN(3))
			appendImage(b.Field(0).(*array.StructBuilder), hfImage{buf.Bytes(), name})
			b.Field(1).(*array.StringBuilder).Append(p.mode)
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("MPX%04d", 1000+id))
			b.Field(3).(*array.StringBuilder).Append(q)
			b.Field(4).(*array.StringBuilder).Append(a)
			id++
		}
		rec := b.NewRecordBatch()
		b.Release()
		err := writeParquet(filepath.Join(dir, "medpix-vqa", "data", shardName(sp.name, 0, 1, "")), rec, 4)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}
