package chat

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/glmflow/glmflow/transforms/tokenizer"
)

// loadTokenizer loads a shared test tokenizer, skipping (with the reason) when the file is
// absent.
func loadTokenizer(t testing.TB, path string) *tokenizer.Tokenizer {
	t.Helper()
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s is absent: the integration checks against the real BPE tokenizer did not run", path)
	}
	tok, err := tokenizer.Load(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return tok
}

// TestRealTokenizerIDs renders the HF GLM-4.5V integration test's prompt shape (one image with
// 6 tokens, then text; glm45v.md 6.2) with testdata/tokenizer (GLM's added tokens at their
// real ids) and checks the exact leading ids and the structural ids that follow.
func TestRealTokenizerIDs(t *testing.T) {
	tok := loadTokenizer(t, "../../testdata/tokenizer/tokenizer.json")
	conv := Conversation{
		Messages: []Message{
			{Role: User, Parts: []Part{Image(0), Text("What kind of dog is this?")}},
			{Role: Assistant, Parts: []Part{Text("A pug.")}},
		},
		Images: [][]byte{nil},
	}
	r, err := Render(conv, [][3]int{{1, 4, 6}}, tok, Options{}) // 24 patches → 6 tokens
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{151331, 151333, 151336, 198, 151339, 151363, 151363, 151363, 151363, 151363, 151363, 151340}
	if len(r.InputIDs) < len(want) || !slices.Equal(r.InputIDs[:len(want)], want) {
		t.Fatalf("leading ids %v, want %v ([gMASK] <sop> <|user|> \\n <|begin_of_image|> <|image|>×6 <|end_of_image|>)", r.InputIDs[:min(len(want), len(r.InputIDs))], want)
	}
	text := tok.Encode("What kind of dog is this?")
	at := len(want) + len(text)
	tail := []int32{151337, 198, 151350, 151351} // <|assistant|> \n <think> </think>
	if !slices.Equal(r.InputIDs[len(want):at], text) || !slices.Equal(r.InputIDs[at:at+len(tail)], tail) {
		t.Fatalf("ids after the image %v, want the question %v then %v", r.InputIDs[len(want):], text, tail)
	}
	answer := tok.Encode("\nA pug.")
	if !slices.Equal(r.InputIDs[at+len(tail):], answer) || answer[0] != 198 {
		t.Fatalf("answer ids %v, want %v starting with 198", r.InputIDs[at+len(tail):], answer)
	}
	for i, l := range r.Loss {
		if l != (i > at+len(tail)) { // the "\n" after </think> is trimmed with the empty think
			t.Fatalf("loss %v: only the answer after \"\\n\" is trained", r.Loss)
		}
	}
}

// TestRealTokenizerWholeString checks the whole-string property with the real BPE on both
// shared tokenizers (real GLM ids, and the tiny model's compact ids).
func TestRealTokenizerWholeString(t *testing.T) {
	for _, path := range []string{"../../testdata/tokenizer/tokenizer.json", "../../testdata/tiny/tokenizer.json"} {
		t.Run(path, func(t *testing.T) {
			tok := loadTokenizer(t, path)
			rng := rand.New(rand.NewPCG(3, 4))
			n := 1500
			if testing.Short() {
				n = 300
			}
			for i := range n {
				o := DefaultOptions()
				o.Convention = Convention(i % 2)
				o.EnableThinking = i%4 < 2
				o.IncludeTerminator = o.Convention == MegatronBridge && i%8 >= 4
				conv, grids := randConv(rng, o.Convention)
				grids = grids[:len(conv.Images)]
				text, err := RenderText(conv, grids, o)
				if err != nil {
					t.Fatalf("case %d: %v", i, err)
				}
				r, err := Render(conv, grids, tok, o)
				if err != nil {
					t.Fatalf("case %d: %v", i, err)
				}
				if whole := tok.Encode(text); !slices.Equal(whole, r.InputIDs) {
					t.Fatalf("case %d (%v): ids differ from tokenizing %q\n got %v\nwant %v", i, o, text, r.InputIDs, whole)
				}
				back, err := tok.Decode(r.InputIDs, false)
				if err != nil || back != text {
					t.Fatalf("case %d: decode %q (%v), want %q", i, back, err, text)
				}
			}
		})
	}
}
