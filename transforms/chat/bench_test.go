package chat

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// cordBench is a typical CORD-v2 sample as the cord_v2 maker builds it: one receipt image
// (grid 1×72×54 patches → 972 <|image|> tokens), the fixed prompt, and the ground truth turned
// into <s_key>…</s_key> tags (about 300 tokens with the test tokenizer).
func cordBench() (Conversation, [][3]int) {
	var a strings.Builder
	a.WriteString("<s_total><s_total_price>1,591,600</s_total_price><s_cashprice>2,000,000</s_cashprice><s_changeprice>408,400</s_changeprice></s_total><s_sub_total><s_subtotal_price>1,346,000</s_subtotal_price><s_tax_price>134,600</s_tax_price></s_sub_total><s_menu>")
	for i := range 6 {
		if i > 0 {
			a.WriteString("<sep/>")
		}
		fmt.Fprintf(&a, "<s_nm>ITEM %d SPECIAL</s_nm><s_cnt>%d</s_cnt><s_price>%d,000</s_price>", i, i+1, 25+17*i)
	}
	a.WriteString("</s_menu>")
	return Conversation{
		Messages: []Message{
			{Role: User, Parts: []Part{Image(0), Text("Describe this image.")}},
			{Role: Assistant, Parts: []Part{Text(a.String())}},
		},
		Images: [][]byte{nil},
	}, [][3]int{{1, 72, 54}}
}

// BenchmarkRender reports renders/s for the CORD-like sample with the real BPE tokenizer,
// next to the baseline of tokenizing the same rendered string once (no mask), and the ratio.
// Run single-threaded: go test -bench Render -cpu 1 ./transforms/chat/
func BenchmarkRender(b *testing.B) {
	tok := loadTokenizer(b, "../../testdata/tokenizer/tokenizer.json")
	conv, grids := cordBench()
	text, err := RenderText(conv, grids, Options{})
	if err != nil {
		b.Fatal(err)
	}
	r, err := NewRenderer(tok, Options{})
	if err != nil {
		b.Fatal(err)
	}
	out, err := r.Render(conv, grids)
	if err != nil {
		b.Fatal(err)
	}
	trained := 0
	for _, l := range out.Loss {
		if l {
			trained++
		}
	}
	b.Logf("sample: %d tokens, %d trained", len(out.InputIDs), trained)

	var baseNs float64
	b.Run("baseline=encode-whole-string", func(b *testing.B) {
		dst := make([]int32, 0, len(out.InputIDs))
		start := time.Now()
		for b.Loop() {
			dst = tok.AppendEncode(dst[:0], text)
		}
		baseNs = float64(time.Since(start).Nanoseconds()) / float64(b.N)
		b.ReportMetric(1e9/baseNs, "renders/s")
	})
	b.Run("Renderer.Render", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			if _, err := r.Render(conv, grids); err != nil {
				b.Fatal(err)
			}
		}
		ns := float64(time.Since(start).Nanoseconds()) / float64(b.N)
		b.ReportMetric(1e9/ns, "renders/s")
		if baseNs > 0 {
			b.ReportMetric(ns/baseNs, "x-baseline-time")
		}
	})
	b.Run("Render(new renderer per call)", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			if _, err := Render(conv, grids, tok, Options{}); err != nil {
				b.Fatal(err)
			}
		}
		ns := float64(time.Since(start).Nanoseconds()) / float64(b.N)
		b.ReportMetric(1e9/ns, "renders/s")
		if baseNs > 0 {
			b.ReportMetric(ns/baseNs, "x-baseline-time")
		}
	})
}
