package main

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math/rand/v2"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

var menuNames = []string{
	"NASI GORENG", "ES TEH MANIS", "KOPI SUSU", "AYAM BAKAR", "MIE GORENG", "JUS ALPUKAT",
	"ROTI BAKAR COKLAT", "TAHU ISI", "SOTO AYAM", "CAPPUCCINO", "AIR MINERAL", "PISANG GORENG",
	"SATE KAMBING", "GADO GADO", "LEMON TEA", "NASI UDUK",
}

var subNames = []string{"EXTRA KEJU", "TELUR", "ES BATU", "SAMBAL"}

// rupiah formats n like the receipts of CORD: 25000 → "25,000".
func rupiah(n int) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// item is one receipt line.
type item struct {
	name, unit string // unit: "@25,000" or ""
	cnt, price int
	sub        string // a sub item name or ""
	subPrice   int
}

// word is a piece of text drawn on the receipt with its CORD category.
type word struct {
	text     string
	category string // CORD valid_line category
	group    int
	sub      int
	rect     image.Rectangle
}

// receipt draws one synthetic receipt and returns its JPEG bytes and ground_truth JSON.
func receipt(rng *rand.Rand, split string, id int) ([]byte, string, error) {
	n := 1 + rng.IntN(4)
	var items []item
	perm := rng.Perm(len(menuNames))
	subtotal := 0
	for i := 0; i < n; i++ {
		unit := (5 + rng.IntN(40)) * 1000
		it := item{name: menuNames[perm[i]], cnt: 1 + rng.IntN(3)}
		it.price = unit * it.cnt
		if it.cnt > 1 {
			it.unit = "@" + rupiah(unit)
		}
		if rng.IntN(4) == 0 {
			it.sub = subNames[rng.IntN(len(subNames))]
			it.subPrice = (1 + rng.IntN(5)) * 1000
		}
		subtotal += it.price + it.subPrice
		items = append(items, it)
	}
	tax := subtotal / 10
	total := subtotal + tax
	cash := (total/50000 + 1) * 50000
	withTax := rng.IntN(3) != 0
	if !withTax {
		total, tax = subtotal, 0
		cash = (total/50000 + 1) * 50000
	}

	// Lay out the words line by line: left text, right-aligned amount.
	// A line holds words at indents (in characters of the monospace font) and a right-aligned
	// amount.
	type line struct {
		left   []word
		indent []int
		right  word
	}
	var lines []line
	group := 0
	for _, it := range items {
		group++
		lines = append(lines, line{
			left:   []word{{text: fmt.Sprint(it.cnt), category: "menu.cnt", group: group}, {text: it.name, category: "menu.nm", group: group}},
			indent: []int{0, 2},
			right:  word{text: rupiah(it.price), category: "menu.price", group: group},
		})
		if it.unit != "" {
			lines = append(lines, line{left: []word{{text: it.unit, category: "menu.unitprice", group: group}}, indent: []int{2}})
		}
		if it.sub != "" {
			lines = append(lines, line{
				left:   []word{{text: "+"}, {text: it.sub, category: "menu.sub_nm", group: group, sub: 1}},
				indent: []int{2, 4},
				right:  word{text: rupiah(it.subPrice), category: "menu.sub_price", group: group, sub: 1},
			})
		}
	}
	group++
	lines = append(lines, line{left: []word{{text: "SUBTOTAL"}}, indent: []int{0}, right: word{text: rupiah(subtotal), category: "sub_total.subtotal_price", group: group}})
	if withTax {
		lines = append(lines, line{left: []word{{text: "TAX 10%"}}, indent: []int{0}, right: word{text: rupiah(tax), category: "sub_total.tax_price", group: group}})
	}
	group++
	lines = append(lines, line{left: []word{{text: "TOTAL"}}, indent: []int{0}, right: word{text: rupiah(total), category: "total.total_price", group: group}})
	lines = append(lines, line{left: []word{{text: "CASH"}}, indent: []int{0}, right: word{text: rupiah(cash), category: "total.cashprice", group: group}})
	lines = append(lines, line{left: []word{{text: "CHANGE"}}, indent: []int{0}, right: word{text: rupiah(cash - total), category: "total.changeprice", group: group}})

	face, err := receiptFace()
	if err != nil {
		return nil, "", err
	}
	const W, lineH, margin = 320, 22, 20
	H := margin*2 + lineH*(len(lines)+3)
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	paper := color.RGBA{250, 247, 238, 255}
	draw.Draw(img, img.Bounds(), &image.Uniform{paper}, image.Point{}, draw.Src)
	for i := range img.Pix { // paper grain
		if i%4 != 3 {
			img.Pix[i] -= uint8(rng.IntN(10))
		}
	}
	d := &font.Drawer{Dst: img, Src: image.NewUniform(color.RGBA{30, 30, 40, 255}), Face: face}
	m := face.Metrics()
	put := func(w *word, x, baseline int) {
		d.Dot = fixed.P(x, baseline)
		adv := d.MeasureString(w.text)
		w.rect = image.Rect(x, baseline-m.Ascent.Ceil(), x+adv.Ceil(), baseline+m.Descent.Ceil())
		d.DrawString(w.text)
	}
	header := word{text: "WARUNG GLMFLOW"}
	put(&header, (W-d.MeasureString(header.text).Ceil())/2, margin+lineH)
	sep := word{text: "------------------------"}
	put(&sep, margin, margin+2*lineH)
	for i := range lines {
		base := margin + lineH*(i+3)
		for k := range lines[i].left {
			put(&lines[i].left[k], margin+lines[i].indent[k]*d.MeasureString(" ").Ceil(), base)
		}
		if lines[i].right.text != "" {
			put(&lines[i].right, W-margin-d.MeasureString(lines[i].right.text).Ceil(), base)
		}
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, img, &jpeg.Options{Quality: 80}); err != nil {
		return nil, "", err
	}

	// Ground truth: gt_parse as CORD v2 writes it (a single menu item is a dict, not a list).
	var menu []any
	for _, it := range items {
		e := obj{{"nm", it.name}}
		if it.unit != "" {
			e = append(e, kv{"unitprice", it.unit})
		}
		e = append(e, kv{"cnt", fmt.Sprint(it.cnt)}, kv{"price", rupiah(it.price)})
		if it.sub != "" {
			e = append(e, kv{"sub", obj{{"nm", it.sub}, {"price", rupiah(it.subPrice)}}})
		}
		menu = append(menu, e)
	}
	var menuV any = menu
	if len(menu) == 1 {
		menuV = menu[0]
	}
	sub := obj{{"subtotal_price", rupiah(subtotal)}}
	if withTax {
		sub = append(sub, kv{"tax_price", rupiah(tax)})
	}
	gt := obj{{"menu", menuV}, {"sub_total", sub}, {"total", obj{
		{"total_price", rupiah(total)}, {"cashprice", rupiah(cash)}, {"changeprice", rupiah(cash - total)},
	}}}
	var valid []any
	row := 0
	for _, l := range lines {
		for _, w := range append(l.left, l.right) {
			if w.category == "" || w.text == "" {
				continue
			}
			row++
			r := w.rect
			valid = append(valid, obj{
				{"words", []any{obj{
					{"quad", obj{{"x1", r.Min.X}, {"y1", r.Min.Y}, {"x2", r.Max.X}, {"y2", r.Min.Y}, {"x3", r.Max.X}, {"y3", r.Max.Y}, {"x4", r.Min.X}, {"y4", r.Max.Y}}},
					{"is_key", 0}, {"row_id", 1000*id + row}, {"text", w.text},
				}}},
				{"category", w.category}, {"group_id", w.group}, {"sub_group_id", w.sub},
			})
		}
	}
	full := obj{
		{"gt_parse", gt},
		{"meta", obj{{"version", "2.0.0"}, {"split", split}, {"image_id", id}, {"image_size", obj{{"width", W}, {"height", H}}}}},
		{"valid_line", valid},
		{"roi", obj{}},
		{"repeating_symbol", []any{}},
		{"dontcare", []any{}},
	}
	return jb.Bytes(), pyJSON(full), nil
}

var cachedFace font.Face

func receiptFace() (font.Face, error) {
	if cachedFace != nil {
		return cachedFace, nil
	}
	f, err := opentype.Parse(gomono.TTF)
	if err != nil {
		return nil, err
	}
	cachedFace, err = opentype.NewFace(f, &opentype.FaceOptions{Size: 14, DPI: 72, Hinting: font.HintingFull})
	return cachedFace, err
}

// writeCord writes cord-v2: train 8 rows in 2 shards, validation 2, test 2.
func writeCord(dir string) error {
	splits := []struct {
		name   string
		rows   int
		shards int
	}{{"train", 8, 2}, {"validation", 2, 1}, {"test", 2, 1}}
	sc := hfSchema(`{"image": {"_type": "Image"}, "ground_truth": {"dtype": "string", "_type": "Value"}}`,
		arrow.Field{Name: "image", Type: imageType, Nullable: true},
		arrow.Field{Name: "ground_truth", Type: arrow.BinaryTypes.String, Nullable: true},
	)
	id := 0
	for si, sp := range splits {
		rng := rand.New(rand.NewPCG(2024, uint64(si)))
		per := sp.rows / sp.shards
		for sh := 0; sh < sp.shards; sh++ {
			b := array.NewRecordBuilder(mem, sc)
			for r := 0; r < per; r++ {
				jpg, gt, err := receipt(rng, sp.name, id)
				if err != nil {
					return err
				}
				appendImage(b.Field(0).(*array.StructBuilder), hfImage{jpg, fmt.Sprintf("receipt_%05d.jpg", id)})
				b.Field(1).(*array.StringBuilder).Append(gt)
				id++
			}
			rec := b.NewRecordBatch()
			b.Release()
			h := fnv.New64a()
			fmt.Fprintf(h, "cord-v2/%s/%d", sp.name, sh)
			name := shardName(sp.name, sh, sp.shards, fmt.Sprintf("%016x", h.Sum64()))
			err := writeParquet(filepath.Join(dir, "cord-v2", "data", name), rec, 2)
			rec.Release()
			if err != nil {
				return err
			}
		}
	}
	return nil
}
