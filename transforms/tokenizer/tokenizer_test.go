package tokenizer

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	realPath = "../../testdata/tokenizer/tokenizer.json"
	tinyPath = "../../testdata/tiny/tokenizer.json"
	gpt2Path = "testdata/gpt2/tokenizer.json"
)

func mustLoad(t testing.TB, path string) *Tokenizer {
	t.Helper()
	tok, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Published GPT-2 encodings (OpenAI's encoder, HF's gpt2 tokenizer).
func TestGPT2Published(t *testing.T) {
	tok := mustLoad(t, gpt2Path)
	for _, c := range []struct {
		text string
		ids  []int32
	}{
		{"Hello world", []int32{15496, 995}},
		{" Hello world", []int32{18435, 995}},
		{"Hello world!", []int32{15496, 995, 0}},
		{"<|endoftext|>", []int32{50256}},
	} {
		if got := tok.Encode(c.text); !slices.Equal(got, c.ids) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.ids)
		}
	}
	if tok.VocabSize() != 50257 {
		t.Errorf("VocabSize = %d", tok.VocabSize())
	}
}

// The GLM test tokenizer carries GLM-4.5V's added tokens at their real ids (glm45v.md §6.1),
// the tiny one the same tokens right after its 476-token vocabulary.
func TestGLMAddedTokenIDs(t *testing.T) {
	real, tiny := mustLoad(t, realPath), mustLoad(t, tinyPath)
	known := map[string]int32{
		"<|endoftext|>": 151329, "[MASK]": 151330, "[gMASK]": 151331, "[sMASK]": 151332, "<sop>": 151333,
		"<eop>": 151334, "<|system|>": 151335, "<|user|>": 151336, "<|assistant|>": 151337,
		"<|observation|>": 151338, "<|begin_of_image|>": 151339, "<|end_of_image|>": 151340,
		"<|begin_of_video|>": 151341, "<|end_of_video|>": 151342, "<|image|>": 151363, "<|video|>": 151364,
	}
	for s, id := range known {
		if got, ok := real.TokenID(s); !ok || got != id {
			t.Errorf("real TokenID(%q) = %d, want %d", s, got, id)
		}
		if got, ok := tiny.TokenID(s); !ok || got != id-151329+476 {
			t.Errorf("tiny TokenID(%q) = %d, want %d", s, got, id-151329+476)
		}
	}
	for _, s := range []string{"<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>",
		"<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>", "/nothink", "<|begin_of_box|>", "<|end_of_box|>"} {
		id, ok := real.TokenID(s)
		if !ok || id < 151343 || id > 151362 {
			t.Errorf("real TokenID(%q) = %d, %v: want in 151343..151362", s, id, ok)
		}
		if real.IsSpecial(id) {
			t.Errorf("%q must not be special (HF keeps <think> with skip_special_tokens)", s)
		}
	}
	if id, _ := real.TokenID("<|user|>"); !real.IsSpecial(id) {
		t.Error("<|user|> must be special")
	}
	if real.VocabSize() != 151365 || tiny.VocabSize() != 512 {
		t.Errorf("VocabSize real %d tiny %d, want 151365, 512", real.VocabSize(), tiny.VocabSize())
	}
	if got := real.Encode("\n"); !slices.Equal(got, []int32{198}) {
		t.Errorf(`Encode("\n") = %v, want [198]`, got)
	}
	// Same merges: ordinary text encodes identically.
	text := "What abnormality is seen in the chest x-ray?\nTOTAL 179,400"
	if a, b := real.Encode(text), tiny.Encode(text); !slices.Equal(a, b) {
		t.Errorf("real %v != tiny %v", a, b)
	}
	if real.Hash() == tiny.Hash() || len(real.Hash()) != 64 {
		t.Errorf("hashes %s %s", real.Hash(), tiny.Hash())
	}
}

// decode(encode(x)) == x for valid UTF-8, on every supported file whose pipeline is lossless.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 3000
	if testing.Short() {
		n = 800
	}
	for _, path := range []string{realPath, tinyPath, gpt2Path} {
		tok := mustLoad(t, path)
		for i := 0; i < n; i++ {
			var b strings.Builder
			for k := r.IntN(30); k > 0; k-- {
				switch r.IntN(4) {
				case 0:
					b.WriteString(alphabet[r.IntN(len(alphabet))])
				case 1:
					b.WriteRune(rune(r.IntN(0x2FFFF)))
				default:
					b.WriteString([]string{" the", "word", "<|user|>", "<think>", "\n", "  ", "'s", "123"}[r.IntN(8)])
				}
			}
			s := strings.ToValidUTF8(b.String(), "")
			ids := tok.Encode(s)
			got, err := tok.Decode(ids, false)
			if err != nil || got != s {
				t.Fatalf("%s: decode(encode(%q)) = %q, %v (ids %v)", path, s, got, err, ids)
			}
			if a := tok.AppendEncode([]int32{-7}, s); a[0] != -7 || !slices.Equal(a[1:], ids) {
				t.Fatalf("AppendEncode differs from Encode on %q", s)
			}
		}
	}
}

// Invalid UTF-8 bytes still round-trip through the byte-level alphabet, and decoding repairs
// them as Rust's from_utf8_lossy does.
func TestInvalidUTF8(t *testing.T) {
	tok := mustLoad(t, gpt2Path)
	s := "ok\xff\xe2\x82 x\xed\xa0\x80"
	ids := tok.Encode(s)
	got, err := tok.Decode(ids, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ok\uFFFD\uFFFD x\uFFFD\uFFFD\uFFFD"; got != want {
		t.Fatalf("Decode = %q, want %q", got, want)
	}
	for _, c := range []struct{ in, want string }{
		{"\xe2\x82", "\uFFFD"}, {"\xf0\x9f\x98", "\uFFFD"}, {"\xc0\xaf", "\uFFFD\uFFFD"},
		{"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"}, {"a\xe0\x80b", "a\uFFFD\uFFFDb"}, {"😀", "😀"},
	} {
		if got := string(appendLossyUTF8(nil, []byte(c.in))); got != c.want || !utf8.ValidString(got) {
			t.Errorf("lossy(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tok := mustLoad(t, tinyPath)
	for _, ids := range [][]int32{{-1}, {512}, {1, 2, 1 << 30}} {
		if _, err := tok.Decode(ids, false); err == nil || !strings.Contains(err.Error(), "not in the vocabulary") {
			t.Errorf("Decode(%v) error = %v", ids, err)
		}
	}
	if _, ok := tok.Token(512); ok {
		t.Error("Token(512) found")
	}
	if _, ok := tok.TokenID("no such token"); ok {
		t.Error("TokenID found a missing token")
	}
}

// Parse errors name the file and the JSON path.
func TestParseErrors(t *testing.T) {
	base, err := os.ReadFile(tinyPath)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) []byte {
		if !bytes.Contains(base, []byte(old)) {
			t.Fatalf("fixture lacks %q", old)
		}
		return bytes.Replace(base, []byte(old), []byte(new), 1)
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"not json", []byte("{"), "unexpected end"},
		{"model type", edit(`"type": "BPE"`, `"type": "WordPiece"`), `model.type: model "WordPiece" is not supported`},
		{"dropout", edit(`"dropout": null`, `"dropout": 0.1`), "model.dropout"},
		{"normalizer", edit(`"normalizer": null`, `"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]}`), `normalizer.normalizers[1].type: normalizer "Lowercase"`},
		{"pre-tokenizer", edit(`"type": "Split"`, `"type": "Metaspace"`), `pre_tokenizer.pretokenizers[0].type: pre-tokenizer "Metaspace"`},
		{"behavior", edit(`"behavior": "Isolated"`, `"behavior": "Sideways"`), "pre_tokenizer.pretokenizers[0].behavior"},
		{"bad regex", edit(`"Regex": "(?i:`, `"Regex": "((?i:`), "pre_tokenizer.pretokenizers[0].pattern.Regex"},
		{"decoder", edit(`"decoder": {`+"\n"+`    "type": "ByteLevel"`, `"decoder": {"type": "WordPiece"`), `decoder.type: decoder "WordPiece"`},
		{"post", edit(`"post_processor": {`+"\n"+`    "type": "ByteLevel"`, `"post_processor": {"type": "Unknown"`), `post_processor.type`},
		{"merge missing", edit(`"h",`+"\n"+`        "e"`, `"h",`+"\n"+`        "nope"`), `model.merges[0]: "nope" is not in the vocab`},
		{"merge form", edit(`[`+"\n"+`        "h",`, `[`+"\n"+`        "h", "x",`), "model.merges"},
		{"vocab id", edit(`"!": 0`, `"!": -5`), `model.vocab["!"]: id -5 out of range`},
		{"vocab dup", edit(`"!": 0`, `"!": 1`), `model.vocab: id 1 is given to "!" and "\""`},
		{"added clash", edit(`"id": 476,`, `"id": 3,`), `added_tokens[0]: id 3 of "<|endoftext|>" is model.vocab's "$"`},
		{"added dup id", edit(`"id": 477,`, `"id": 476,`), "added_tokens[1]: id 476 already used"},
		{"unk", edit(`"unk_token": null`, `"unk_token": "<unk>"`), `model.unk_token: "<unk>" is not in the vocab`},
		{"no model", edit(`"model": {`, `"modelx": {`), "model: missing"},
	} {
		_, err := Parse(c.data, "fixture.json")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "fixture.json") {
			t.Errorf("%s: error %v, want it to contain %q and the file name", c.name, err, c.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

// The committed test tokenizers are exactly what the generator writes.
func TestGeneratedFilesUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "run", "./internal/gentok", "-root", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gentok: %v\n%s", err, out)
	}
	for _, p := range []string{"testdata/tokenizer/tokenizer.json", "testdata/tiny/tokenizer.json"} {
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("..", "..", p))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from `go run ./transforms/tokenizer/internal/gentok` output; regenerate it", p)
		}
	}
}

// Concurrent use gives the same ids as sequential use (the word cache is shared).
func TestConcurrentEncode(t *testing.T) {
	tok := mustLoad(t, gpt2Path)
	text := strings.Repeat("The receipt total is 179,400 and the change is 20,600. ", 50)
	want := mustLoad(t, gpt2Path).Encode(text)
	done := make(chan []int32)
	for g := 0; g < 8; g++ {
		go func() { done <- tok.Encode(text) }()
	}
	for g := 0; g < 8; g++ {
		if got := <-done; !slices.Equal(got, want) {
			t.Fatal("concurrent Encode differs")
		}
	}
}

// Older file forms load to the same tokenizer: merges as "a b" strings (tokenizers < 0.20), a
// model without "type" and a ByteLevel pre-tokenizer without use_regex (GPT-2's hub file).
func TestLegacyForms(t *testing.T) {
	data, err := os.ReadFile(gpt2Path)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	model := f["model"].(map[string]any)
	delete(model, "type")
	delete(f["pre_tokenizer"].(map[string]any), "use_regex")
	var lines []any
	for _, m := range model["merges"].([]any) {
		p := m.([]any)
		lines = append(lines, p[0].(string)+" "+p[1].(string))
	}
	model["merges"] = lines
	legacy, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	old, err := Parse(legacy, "legacy.json")
	if err != nil {
		t.Fatal(err)
	}
	cur := mustLoad(t, gpt2Path)
	text := "Hello world! It's 2024, isn't it?\n\n  The receipt total is 179,400."
	if a, b := old.Encode(text), cur.Encode(text); !slices.Equal(a, b) || len(a) == 0 {
		t.Fatalf("legacy %v != current %v", a, b)
	}
	model["merges"] = []any{"a b c"}
	bad, _ := json.Marshal(f)
	if _, err := Parse(bad, "bad.json"); err == nil || !strings.Contains(err.Error(), "model.merges[0]") {
		t.Fatalf("bad legacy merge: %v", err)
	}
}
