// Command gentok writes the test tokenizers: a small byte-level BPE trained on a fixed
// English corpus (corpus.go), with GLM-4.5V's pre-tokenizer, normalizer, post-processor,
// decoder and added tokens, in HF tokenizer.json format.
//
//	go run ./transforms/tokenizer/internal/gentok -root .
//
// writes testdata/tokenizer/tokenizer.json (added tokens at GLM-4.5V's real ids 151329–151364,
// also listed in model.vocab so that HF assigns them those ids) and testdata/tiny/tokenizer.json
// (the same vocab and merges, added tokens at compact ids right after it; 512 ids in all).
// The output is deterministic: the same program always writes the same bytes.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dlclark/regexp2" // the GLM split regex, for counting training words
)

// Sizes: 256 byte tokens + numMerges merged tokens + 36 added tokens = 512 ids in the tiny file.
const numMerges = 220

// glmSplit is GLM-4.5V's pre-tokenizer regex (glm45v.md §6.1).
const glmSplit = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// glmAdded lists GLM-4.5V's added tokens in id order from 151329. The order of the ids the
// spec marks [U] (151343–151362) follows the GLM-4 family's published added_tokens inventory
// (the same list continues at 151363 <|image|>, 151364 <|video|>, which the spec verifies).
// The first 18 are special (skipped by decode(skip_special_tokens)); <think> and the rest are
// not, matching HF outputs that keep <think>.
var glmAdded = []string{
	"<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>",
	"<|assistant|>", "<|observation|>", "<|begin_of_image|>", "<|end_of_image|>",
	"<|begin_of_video|>", "<|end_of_video|>", "<|begin_of_audio|>", "<|end_of_audio|>",
	"<|begin_of_transcription|>", "<|end_of_transcription|>", "<|code_prefix|>", "<|code_middle|>",
	"<|code_suffix|>", "<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>",
	"</tool_response>", "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>", "/nothink",
	"<|begin_of_box|>", "<|end_of_box|>", "<|image|>", "<|video|>",
}

const (
	glmFirstAddedID = 151329
	glmNumSpecial   = 18
)

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "gentok:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	vocab, merges, err := train(corpus, numMerges)
	if err != nil {
		return err
	}
	real := render(vocab, merges, glmFirstAddedID, true)
	tiny := render(vocab, merges, len(vocab), false)
	for path, data := range map[string][]byte{
		"testdata/tokenizer/tokenizer.json": real,
		"testdata/tiny/tokenizer.json":      tiny,
	} {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s (%d bytes)\n", p, len(data))
	}
	return nil
}

// bytesToUnicode is GPT-2's byte alphabet in vocabulary order: the 188 printable bytes first,
// then the others (mapped to U+0100...) in byte order, so "\n" (Ċ) is id 198 as in GLM.
func bytesToUnicode() (order []byte, char [256]string) {
	next := 0
	var rest []byte
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			order = append(order, byte(b))
			char[b] = string(rune(b))
		} else {
			rest = append(rest, byte(b))
			char[b] = string(rune(256 + next))
			next++
		}
	}
	return append(order, rest...), char
}

// train learns numMerges byte-level BPE merges: the most frequent adjacent pair over the
// corpus words (ties broken by the pair's text), merged everywhere, repeated.
func train(text string, numMerges int) (vocab []string, merges [][2]string, err error) {
	order, char := bytesToUnicode()
	for _, b := range order {
		vocab = append(vocab, char[b])
	}
	re := regexp2.MustCompile(glmSplit, regexp2.None)
	counts := map[string]int{}
	for m, _ := re.FindStringMatch(text); m != nil; m, _ = re.FindNextMatch(m) {
		counts[m.String()]++
	}
	type word struct {
		syms  []string
		count int
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	words := make([]word, len(keys))
	for i, k := range keys {
		for _, b := range []byte(k) {
			words[i].syms = append(words[i].syms, char[b])
		}
		words[i].count = counts[k]
	}
	known := map[string]bool{}
	for _, v := range vocab {
		known[v] = true
	}
	for len(merges) < numMerges {
		pairs := map[[2]string]int{}
		for _, w := range words {
			for i := 0; i+1 < len(w.syms); i++ {
				pairs[[2]string{w.syms[i], w.syms[i+1]}] += w.count
			}
		}
		var best [2]string
		bestN := 0
		for p, n := range pairs {
			if n > bestN || n == bestN && (p[0] < best[0] || p[0] == best[0] && p[1] < best[1]) {
				best, bestN = p, n
			}
		}
		if bestN == 0 {
			return nil, nil, fmt.Errorf("corpus too small: %d merges learned, %d wanted", len(merges), numMerges)
		}
		merges = append(merges, best)
		merged := best[0] + best[1]
		if !known[merged] {
			known[merged] = true
			vocab = append(vocab, merged)
		}
		for wi := range words {
			s := words[wi].syms
			out := s[:0]
			for i := 0; i < len(s); i++ {
				if i+1 < len(s) && s[i] == best[0] && s[i+1] == best[1] {
					out = append(out, merged)
					i++
				} else {
					out = append(out, s[i])
				}
			}
			words[wi].syms = out
		}
	}
	return vocab, merges, nil
}

// render writes tokenizer.json in HF's layout (key order and 2-space indent as HF's pretty
// save). inVocab also lists the added tokens in model.vocab at their ids.
func render(vocab []string, merges [][2]string, firstAdded int, inVocab bool) []byte {
	var b bytes.Buffer
	q := func(s string) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s)
		return strings.TrimSuffix(buf.String(), "\n")
	}
	b.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [\n")
	for i, a := range glmAdded {
		sep := ","
		if i == len(glmAdded)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "    {\n      \"id\": %d,\n      \"content\": %s,\n      \"single_word\": false,\n      \"lstrip\": false,\n      \"rstrip\": false,\n      \"normalized\": false,\n      \"special\": %v\n    }%s\n",
			firstAdded+i, q(a), i < glmNumSpecial, sep)
	}
	b.WriteString("  ],\n  \"normalizer\": null,\n")
	fmt.Fprintf(&b, `  "pre_tokenizer": {
    "type": "Sequence",
    "pretokenizers": [
      {
        "type": "Split",
        "pattern": {
          "Regex": %s
        },
        "behavior": "Isolated",
        "invert": false
      },
      {
        "type": "ByteLevel",
        "add_prefix_space": false,
        "trim_offsets": true,
        "use_regex": false
      }
    ]
  },
  "post_processor": {
    "type": "ByteLevel",
    "add_prefix_space": true,
    "trim_offsets": false,
    "use_regex": true
  },
  "decoder": {
    "type": "ByteLevel",
    "add_prefix_space": true,
    "trim_offsets": true,
    "use_regex": true
  },
  "model": {
    "type": "BPE",
    "dropout": null,
    "unk_token": null,
    "continuing_subword_prefix": null,
    "end_of_word_suffix": null,
    "fuse_unk": false,
    "byte_fallback": false,
    "ignore_merges": true,
    "vocab": {
`, q(glmSplit))
	entries := make([]string, 0, len(vocab)+len(glmAdded))
	for id, v := range vocab {
		entries = append(entries, fmt.Sprintf("      %s: %d", q(v), id))
	}
	if inVocab {
		for i, a := range glmAdded {
			entries = append(entries, fmt.Sprintf("      %s: %d", q(a), firstAdded+i))
		}
	}
	b.WriteString(strings.Join(entries, ",\n"))
	b.WriteString("\n    },\n    \"merges\": [\n")
	ms := make([]string, len(merges))
	for i, m := range merges {
		ms[i] = fmt.Sprintf("      [\n        %s,\n        %s\n      ]", q(m[0]), q(m[1]))
	}
	b.WriteString(strings.Join(ms, ",\n"))
	b.WriteString("\n    ]\n  }\n}")
	return b.Bytes()
}
