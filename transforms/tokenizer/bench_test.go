package tokenizer

import (
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/dlclark/regexp2"
)

// englishText builds deterministic English-like text: real words (GPT-2's "Ġword" vocabulary
// entries, which come roughly in frequency order) drawn with Zipf weights, with capitals,
// punctuation, numbers and line breaks.
func englishText(tb testing.TB, gpt2 *Tokenizer, nWords int) string {
	tb.Helper()
	var words []string
	for id := int32(0); id < 50000 && len(words) < 5000; id++ {
		tok, _ := gpt2.Token(id)
		w, ok := strings.CutPrefix(tok, "Ġ")
		if !ok || len(w) < 2 || strings.IndexFunc(w, func(r rune) bool { return !unicode.IsLower(r) || r > 'z' }) >= 0 {
			continue
		}
		words = append(words, w)
	}
	r := rand.New(rand.NewPCG(7, 7))
	z := rand.NewZipf(rand.New(rand.NewPCG(8, 8)), 1.1, 2, uint64(len(words)-1))
	var b strings.Builder
	sentence := 0
	for i := 0; i < nWords; i++ {
		w := words[z.Uint64()]
		if sentence == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(w)
		sentence++
		switch k := r.IntN(100); {
		case k < 6:
			b.WriteString(",")
		case k < 8:
			b.WriteString(" 19")
			b.WriteString(string(rune('0' + r.IntN(10))))
		case k < 14:
			b.WriteString(". ")
			if r.IntN(5) == 0 {
				b.WriteString("\n\n")
			}
			sentence = 0
		}
	}
	return strings.ReplaceAll(b.String(), " \n\n", "\n\n")
}

func benchTokenizers(b *testing.B) (gpt2, glm *Tokenizer) {
	var err error
	if gpt2, err = Load(filepath.Join("testdata", "gpt2", "tokenizer.json")); err != nil {
		b.Fatal(err)
	}
	if glm, err = Load(filepath.Join("..", "..", "testdata", "tokenizer", "tokenizer.json")); err != nil {
		b.Fatal(err)
	}
	return gpt2, glm
}

// BenchmarkEncode reports tokens/s on one goroutine (run with GOMAXPROCS=1): warm word cache
// (steady state of a long job), cold cache (every word merged), and the regexp2 general path
// for the same GLM pattern as the baseline the hand-written scanner replaces.
func BenchmarkEncode(b *testing.B) {
	gpt2, glm := benchTokenizers(b)
	text := englishText(b, gpt2, 20000)
	run := func(b *testing.B, tok *Tokenizer, cold bool) {
		n := len(tok.Encode(text))
		b.SetBytes(int64(len(text)))
		b.ResetTimer()
		var dst []int32
		for i := 0; i < b.N; i++ {
			if cold {
				tok.model.cache.reset()
			}
			dst = tok.AppendEncode(dst[:0], text)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	}
	b.Run("gpt2/warm", func(b *testing.B) { run(b, gpt2, false) })
	b.Run("gpt2/cold", func(b *testing.B) { run(b, gpt2, true) })
	b.Run("glm/warm", func(b *testing.B) { run(b, glm, false) })
	b.Run("glm/cold", func(b *testing.B) { run(b, glm, true) })
	// Baseline: the same tokenizer with the split run by regexp2.
	slow := *glm
	pre := *glm.pre
	pre.fast = nil
	pre.steps = append([]step(nil), pre.steps...)
	pre.steps[0].m = regexMatcher{compileRegexMust(b, patGLM)}
	slow.pre = &pre
	b.Run("glm/regexp2-baseline", func(b *testing.B) { run(b, &slow, false) })
}

func compileRegexMust(b *testing.B, p string) *regexp2.Regexp {
	re, err := compileRegex(p)
	if err != nil {
		b.Fatal(err)
	}
	return re
}

// BenchmarkDecode reports decoded tokens/s.
func BenchmarkDecode(b *testing.B) {
	gpt2, _ := benchTokenizers(b)
	ids := gpt2.Encode(englishText(b, gpt2, 20000))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := gpt2.Decode(ids, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ids))*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func TestEnglishTextSane(t *testing.T) {
	gpt2, err := Load(filepath.Join("testdata", "gpt2", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	text := englishText(t, gpt2, 2000)
	words := strings.Fields(text)
	sort.Strings(words)
	if len(words) < 2000 || len(text) < 8000 {
		t.Fatalf("text too small: %d words, %d bytes", len(words), len(text))
	}
}
