package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"math/rand/v2"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// cell is one panel of a Raven-like matrix: count copies of a shape at a gray level.
type cell struct {
	shape int // 0 circle, 1 square, 2 triangle, 3 diamond
	count int // 1..3
	gray  uint8
}

var shapeNames = []string{"circle", "square", "triangle", "diamond"}

const panel = 96

func drawCell(dst *image.RGBA, at image.Point, c cell) {
	draw.Draw(dst, image.Rect(at.X, at.Y, at.X+panel, at.Y+panel), image.White, image.Point{}, draw.Src)
	for i := 0; i < panel; i++ { // frame
		for _, p := range []image.Point{{i, 0}, {i, panel - 1}, {0, i}, {panel - 1, i}} {
			dst.Set(at.X+p.X, at.Y+p.Y, color.Black)
		}
	}
	r := 12.0
	for k := 0; k < c.count; k++ {
		cx := float64(panel) * float64(k+1) / float64(c.count+1)
		cy := float64(panel) / 2
		for y := 0; y < panel; y++ {
			for x := 0; x < panel; x++ {
				dx, dy := (float64(x)+0.5-cx)/r, (float64(y)+0.5-cy)/r
				in := false
				switch c.shape {
				case 0:
					in = dx*dx+dy*dy <= 1
				case 1:
					in = math.Abs(dx) <= 0.85 && math.Abs(dy) <= 0.85
				case 2:
					in = dy <= 0.9 && dy >= -1 && math.Abs(dx) <= (dy+1)/1.9
				case 3:
					in = math.Abs(dx)+math.Abs(dy) <= 1
				}
				if in {
					dst.Set(at.X+x, at.Y+y, color.RGBA{c.gray, c.gray / 2, 255 - c.gray, 255})
				}
			}
		}
	}
}

func strip(cells []cell, missing bool) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, panel*len(cells), panel))
	for i, c := range cells {
		if missing && i == len(cells)-1 {
			draw.Draw(img, image.Rect(i*panel, 0, (i+1)*panel, panel), image.NewUniform(color.Gray{200}), image.Point{}, draw.Src)
			continue
		}
		drawCell(img, image.Pt(i*panel, 0), c)
	}
	var buf bytes.Buffer
	err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img)
	return buf.Bytes(), err
}

// writeRaven writes the_cauldron/raven: train 6 rows. Each row's images are the matrix's three
// rows (the last panel grayed out) and a strip of four candidates; the row rule is "count grows
// by one, shape and color fixed per row".
func writeRaven(dir string) error {
	listOf := func(t arrow.DataType) arrow.DataType {
		return arrow.ListOfField(arrow.Field{Name: "item", Type: t, Nullable: true})
	}
	sc := hfSchema(`{"images": {"feature": {"_type": "Image"}, "_type": "Sequence"}, "texts": [{"user": {"dtype": "string", "_type": "Value"}, "assistant": {"dtype": "string", "_type": "Value"}, "source": {"dtype": "string", "_type": "Value"}}]}`,
		arrow.Field{Name: "images", Type: listOf(imageType), Nullable: true},
		arrow.Field{Name: "texts", Type: listOf(turnType), Nullable: true},
	)
	rng := rand.New(rand.NewPCG(11, 0))
	b := array.NewRecordBuilder(mem, sc)
	for r := 0; r < 6; r++ {
		var rows [3][]cell
		for i := range rows {
			shape, gray := rng.IntN(4), uint8(40+rng.IntN(180))
			for k := 1; k <= 3; k++ {
				rows[i] = append(rows[i], cell{shape: shape, count: k, gray: gray})
			}
		}
		answer := rows[2][2]
		cands := []cell{answer, {answer.shape, 2, answer.gray}, {(answer.shape + 1) % 4, 3, answer.gray}, {answer.shape, 1, answer.gray}}
		perm := rng.Perm(4)
		shuffled := make([]cell, 4)
		correct := 0
		for i, p := range perm {
			shuffled[i] = cands[p]
			if p == 0 {
				correct = i
			}
		}
		ib := b.Field(0).(*array.ListBuilder)
		ib.Append(true)
		sb := ib.ValueBuilder().(*array.StructBuilder)
		for i := range rows {
			data, err := strip(rows[i], i == 2)
			if err != nil {
				return err
			}
			appendImage(sb, hfImage{data, ""})
		}
		data, err := strip(shuffled, false)
		if err != nil {
			return err
		}
		appendImage(sb, hfImage{data, ""})
		letter := string(rune('A' + correct))
		tb := b.Field(1).(*array.ListBuilder)
		tb.Append(true)
		ts := tb.ValueBuilder().(*array.StructBuilder)
		ts.Append(true)
		ts.FieldBuilder(0).(*array.StringBuilder).Append("The first three images are the rows of a 3x3 matrix; the last panel of the third row is missing. Which candidate in the fourth image (A, B, C or D, from left to right) completes the matrix?\nAnswer with the letter.")
		ts.FieldBuilder(1).(*array.StringBuilder).Append(fmt.Sprintf("Answer: %s (three %ss)", letter, shapeNames[answer.shape]))
		ts.FieldBuilder(2).(*array.StringBuilder).Append("raven")
	}
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	return writeParquet(filepath.Join(dir, "the_cauldron", "raven", shardName("train", 0, 1, "")), rec, 3)
}
