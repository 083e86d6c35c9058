package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// Goldens written by testdata/hf/make_golden.js with Hugging Face tokenizers 0.23.2 (the Rust
// library): encodings, decodings and pre-tokenizer pieces of fixed and seeded random texts.
type goldenFile struct {
	Tokenizer string            `json:"tokenizer"`
	IDToToken map[string]string `json:"id_to_token"`
	Cases     []struct {
		Text        string   `json:"text"`
		IDs         []int32  `json:"ids"`
		IDsSpecial  []int32  `json:"ids_special"`
		Decoded     string   `json:"decoded"`
		DecodedSkip string   `json:"decoded_skip"`
		Pieces      []string `json:"pieces"`
	} `json:"cases"`
	Decodes []struct {
		IDs         []int32 `json:"ids"`
		Decoded     string  `json:"decoded"`
		DecodedSkip string  `json:"decoded_skip"`
	} `json:"decodes"`
}

var goldenNames = []string{"glm_real", "glm_tiny", "gpt2", "qwen_like", "general", "llama2_like", "unk_fused", "unk_unfused"}

func loadGolden(t *testing.T, name string) (*goldenFile, *Tokenizer) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "hf", "golden_"+name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	tok, err := Load(filepath.Join("testdata", "hf", g.Tokenizer))
	if err != nil {
		t.Fatal(err)
	}
	return &g, tok
}

func TestGoldenHF(t *testing.T) {
	for _, name := range goldenNames {
		t.Run(name, func(t *testing.T) {
			g, tok := loadGolden(t, name)
			if len(g.Cases) < 200 {
				t.Fatalf("only %d cases", len(g.Cases))
			}
			fails := 0
			for i, c := range g.Cases {
				check := func(what string, got, want any) {
					if fails < 10 {
						t.Errorf("case %d %q: %s = %v, HF %v", i, c.Text, what, got, want)
					}
					fails++
				}
				ids := tok.Encode(c.Text)
				if !slices.Equal(ids, c.IDs) {
					check("Encode", ids, c.IDs)
				}
				if sp := tok.EncodeWithSpecial(c.Text); !slices.Equal(sp, c.IDsSpecial) {
					check("EncodeWithSpecial", sp, c.IDsSpecial)
				}
				if s, err := tok.Decode(c.IDs, false); err != nil || s != c.Decoded {
					check("Decode", strconv.Quote(s), strconv.Quote(c.Decoded))
				}
				if s, err := tok.Decode(c.IDs, true); err != nil || s != c.DecodedSkip {
					check("Decode(skip)", strconv.Quote(s), strconv.Quote(c.DecodedSkip))
				}
				if c.Pieces != nil {
					var got []string
					tok.pre.words(c.Text, func(w string) { got = append(got, byteLevelEncode(w)) })
					if !slices.Equal(got, c.Pieces) && !(len(got) == 0 && len(c.Pieces) == 0) {
						check("pieces", got, c.Pieces)
					}
				}
			}
			for i, d := range g.Decodes {
				if s, err := tok.Decode(d.IDs, false); err != nil || s != d.Decoded {
					t.Errorf("decodes[%d] %v: %q (%v), HF %q", i, d.IDs, s, err, d.Decoded)
				}
				if s, err := tok.Decode(d.IDs, true); err != nil || s != d.DecodedSkip {
					t.Errorf("decodes[%d] %v skip: %q (%v), HF %q", i, d.IDs, s, err, d.DecodedSkip)
				}
			}
			for idStr, want := range g.IDToToken {
				id, _ := strconv.Atoi(idStr)
				if got, ok := tok.Token(int32(id)); !ok || got != want {
					t.Errorf("Token(%d) = %q, HF %q", id, got, want)
				}
				if got, ok := tok.TokenID(want); !ok || got != int32(id) {
					t.Errorf("TokenID(%q) = %d, HF %d", want, got, id)
				}
			}
		})
	}
}
