package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// maxTokenID bounds ids read from a file before tables sized by them are allocated
// (largest public vocabularies are ~260k).
const maxTokenID = 1<<24 - 1

type rawJSON = json.RawMessage

func isNull(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func isValidUTF8(s string) bool { return utf8.ValidString(s) }

// decodeAt decodes a JSON component, naming its path on error. Unknown fields are allowed:
// HF adds fields over versions (trim_offsets, prepend_scheme, ...) that do not change ids.
func decodeAt(raw []byte, v any, path string) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// componentType reads the "type" field of a component object.
func componentType(raw []byte, path string) (string, error) {
	var v struct {
		Type *string `json:"type"`
	}
	if err := decodeAt(raw, &v, path); err != nil {
		return "", err
	}
	if v.Type == nil {
		return "", fmt.Errorf("%s: missing \"type\"", path)
	}
	return *v.Type, nil
}

// fileJSON is the top level of tokenizer.json.
type fileJSON struct {
	Version       string           `json:"version"`
	Truncation    rawJSON          `json:"truncation"`
	Padding       rawJSON          `json:"padding"`
	AddedTokens   []addedTokenJSON `json:"added_tokens"`
	Normalizer    rawJSON          `json:"normalizer"`
	PreTokenizer  rawJSON          `json:"pre_tokenizer"`
	PostProcessor rawJSON          `json:"post_processor"`
	Decoder       rawJSON          `json:"decoder"`
	Model         rawJSON          `json:"model"`
}

type addedTokenJSON struct {
	ID         *int64  `json:"id"`
	Content    *string `json:"content"`
	SingleWord bool    `json:"single_word"`
	Lstrip     bool    `json:"lstrip"`
	Rstrip     bool    `json:"rstrip"`
	Normalized *bool   `json:"normalized"`
	Special    bool    `json:"special"`
}

type bpeJSON struct {
	Type                    string           `json:"type"`
	Dropout                 *float64         `json:"dropout"`
	UnkToken                *string          `json:"unk_token"`
	ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	FuseUnk                 bool             `json:"fuse_unk"`
	ByteFallback            bool             `json:"byte_fallback"`
	IgnoreMerges            bool             `json:"ignore_merges"`
	Vocab                   map[string]int64 `json:"vocab"`
	Merges                  rawJSON          `json:"merges"`
}

// parseModel builds the BPE model and its id → token table (index = id, "" where unused).
func parseModel(raw []byte) (*bpe, []string, error) {
	const path = "model"
	if isNull(raw) {
		return nil, nil, fmt.Errorf("%s: missing", path)
	}
	var probe struct {
		Type   *string `json:"type"`
		Merges rawJSON `json:"merges"`
	}
	if err := decodeAt(raw, &probe, path); err != nil {
		return nil, nil, err
	}
	typ := "BPE" // older files (GPT-2's on the hub) omit the type; HF recognises BPE by its merges
	if probe.Type != nil {
		typ = *probe.Type
	} else if probe.Merges == nil {
		return nil, nil, fmt.Errorf("%s: missing \"type\"", path)
	}
	if typ != "BPE" {
		return nil, nil, fmt.Errorf("%s.type: model %q is not supported (only BPE)", path, typ)
	}
	var v bpeJSON
	if err := decodeAt(raw, &v, path); err != nil {
		return nil, nil, err
	}
	if v.Dropout != nil && *v.Dropout != 0 {
		return nil, nil, fmt.Errorf("%s.dropout: %v: BPE dropout makes encodings random; glmflow needs deterministic ones", path, *v.Dropout)
	}
	if len(v.Vocab) == 0 {
		return nil, nil, fmt.Errorf("%s.vocab: empty or missing", path)
	}
	m := &bpe{vocab: make(map[string]int32, len(v.Vocab)), unk: -1, fuseUnk: v.FuseUnk,
		byteFallback: v.ByteFallback, ignoreMerges: v.IgnoreMerges}
	if v.ContinuingSubwordPrefix != nil {
		m.prefix = *v.ContinuingSubwordPrefix
	}
	if v.EndOfWordSuffix != nil {
		m.suffix = *v.EndOfWordSuffix
	}
	maxID := int64(-1)
	for tok, id := range v.Vocab {
		if id < 0 || id > maxTokenID {
			return nil, nil, fmt.Errorf("%s.vocab[%q]: id %d out of range [0, %d]", path, tok, id, maxTokenID)
		}
		maxID = max(maxID, id)
		m.vocab[tok] = int32(id)
	}
	idToToken := make([]string, maxID+1)
	used := make([]bool, maxID+1)
	for tok, id := range m.vocab {
		if used[id] {
			return nil, nil, fmt.Errorf("%s.vocab: id %d is given to %s", path, id, tokensWithID(m.vocab, id))
		}
		used[id] = true
		idToToken[id] = tok
	}
	if v.UnkToken != nil {
		id, ok := m.vocab[*v.UnkToken]
		if !ok {
			return nil, nil, fmt.Errorf("%s.unk_token: %q is not in the vocab", path, *v.UnkToken)
		}
		m.unk = id
	}
	pairs, err := parseMerges(v.Merges, path+".merges")
	if err != nil {
		return nil, nil, err
	}
	if len(pairs) > math.MaxInt32 {
		return nil, nil, fmt.Errorf("%s.merges: too many", path)
	}
	m.merges = make(map[uint64]uint64, len(pairs))
	for rank, p := range pairs {
		a, ok := m.vocab[p[0]]
		if !ok {
			return nil, nil, fmt.Errorf("%s.merges[%d]: %q is not in the vocab", path, rank, p[0])
		}
		b, ok := m.vocab[p[1]]
		if !ok {
			return nil, nil, fmt.Errorf("%s.merges[%d]: %q is not in the vocab", path, rank, p[1])
		}
		if len(p[1]) < len(m.prefix) {
			return nil, nil, fmt.Errorf("%s.merges[%d]: %q is shorter than continuing_subword_prefix", path, rank, p[1])
		}
		merged := p[0] + p[1][len(m.prefix):]
		c, ok := m.vocab[merged]
		if !ok {
			return nil, nil, fmt.Errorf("%s.merges[%d]: merged token %q is not in the vocab", path, rank, merged)
		}
		// A repeated pair keeps its last rank, as HF's HashMap collect does.
		m.merges[pairKey(a, b)] = uint64(rank)<<32 | uint64(uint32(c))
	}
	m.initByteLevel()
	return m, idToToken, nil
}

// tokensWithID lists, sorted, the vocab tokens that share id (for a deterministic error).
func tokensWithID(vocab map[string]int32, id int32) string {
	var toks []string
	for t, i := range vocab {
		if i == id {
			toks = append(toks, fmt.Sprintf("%q", t))
		}
	}
	sort.Strings(toks)
	return strings.Join(toks, " and ")
}

// parseMerges accepts both forms HF writes: ["a b", ...] (before tokenizers 0.20) and
// [["a", "b"], ...].
func parseMerges(raw []byte, path string) ([][2]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var lists [][]string
	if err := json.Unmarshal(raw, &lists); err == nil {
		pairs := make([][2]string, len(lists))
		for i, l := range lists {
			if len(l) != 2 {
				return nil, fmt.Errorf("%s[%d]: want a [\"a\", \"b\"] pair, got %d strings", path, i, len(l))
			}
			pairs[i] = [2]string{l[0], l[1]}
		}
		return pairs, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return nil, fmt.Errorf("%s: want all \"a b\" strings or all [\"a\", \"b\"] pairs", path)
	}
	pairs := make([][2]string, len(lines))
	for i, l := range lines {
		parts := strings.Split(l, " ")
		if len(parts) != 2 {
			return nil, fmt.Errorf("%s[%d]: %q: want two tokens separated by one space", path, i, l)
		}
		pairs[i] = [2]string{parts[0], parts[1]}
	}
	return pairs, nil
}

// initByteLevel prepares the raw-byte fast path.
func (m *bpe) initByteLevel() {
	m.byteFast = m.prefix == "" && m.suffix == ""
	for b := 0; b < 256; b++ {
		id, ok := m.vocab[byteToStr[b]]
		if !ok {
			id, m.byteFast = -1, false
		}
		m.byteID[b] = id
	}
	if !m.ignoreMerges {
		return
	}
	m.rawVocab = make(map[string]int32, len(m.vocab))
	for tok, id := range m.vocab {
		if raw, ok := byteLevelDecode(tok); ok {
			m.rawVocab[raw] = id
		}
	}
}
