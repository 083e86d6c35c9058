package tokenizer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Tokenizer is a loaded tokenizer.json. It is safe for concurrent use.
type Tokenizer struct {
	name string
	hash string

	model     *bpe
	idToToken []string // model vocab, index = id ("" where unused)
	added     []*addedToken
	addedByID map[int32]*addedToken
	addedByS  map[string]*addedToken
	rawAdded  *addedMatcher // normalized=false tokens, matched on the raw text
	normAdded *addedMatcher // normalized=true tokens, matched on normalized segments
	norm      normalizer
	pre       *preTokenizer
	post      postProcessor
	dec       decoder
	decByte   bool // decoder is exactly ByteLevel (fast path)
	vocabSize int
}

// Load reads and parses a tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return Parse(data, path)
}

// Parse parses tokenizer.json bytes; name (usually the path) prefixes error messages.
func Parse(data []byte, name string) (*Tokenizer, error) {
	t, err := parse(data, name)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", name, err)
	}
	return t, nil
}

func parse(data []byte, name string) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	t := &Tokenizer{name: name, hash: hex.EncodeToString(sum[:]),
		addedByID: map[int32]*addedToken{}, addedByS: map[string]*addedToken{}}
	var err error
	if t.model, t.idToToken, err = parseModel(f.Model); err != nil {
		return nil, err
	}
	t.vocabSize = len(t.idToToken)
	var rawSet, normSet []*addedToken
	for i, a := range f.AddedTokens {
		path := fmt.Sprintf("added_tokens[%d]", i)
		if a.ID == nil || a.Content == nil {
			return nil, fmt.Errorf("%s: want \"id\" and \"content\"", path)
		}
		id, content := *a.ID, *a.Content
		if id < 0 || id > maxTokenID {
			return nil, fmt.Errorf("%s: id %d out of range [0, %d]", path, id, maxTokenID)
		}
		if content == "" {
			return nil, fmt.Errorf("%s: empty content", path)
		}
		if vid, ok := t.model.vocab[content]; ok && int64(vid) != id {
			return nil, fmt.Errorf("%s: %q has id %d but model.vocab gives it %d", path, content, id, vid)
		}
		if int(id) < len(t.idToToken) && t.idToToken[id] != "" && t.idToToken[id] != content {
			return nil, fmt.Errorf("%s: id %d of %q is model.vocab's %q", path, id, content, t.idToToken[id])
		}
		if prev, ok := t.addedByID[int32(id)]; ok {
			return nil, fmt.Errorf("%s: id %d already used by added token %q", path, id, prev.content)
		}
		if _, ok := t.addedByS[content]; ok {
			return nil, fmt.Errorf("%s: %q listed twice", path, content)
		}
		// HF's AddedToken defaults normalized to !special.
		tok := &addedToken{id: int32(id), content: content, special: a.Special, singleWord: a.SingleWord,
			lstrip: a.Lstrip, rstrip: a.Rstrip, normalized: boolOr(a.Normalized, !a.Special)}
		t.added = append(t.added, tok)
		t.addedByID[tok.id] = tok
		t.addedByS[content] = tok
		if tok.normalized {
			normSet = append(normSet, tok)
		} else {
			rawSet = append(rawSet, tok)
		}
		t.vocabSize = max(t.vocabSize, int(id)+1)
	}
	t.rawAdded, t.normAdded = newAddedMatcher(rawSet), newAddedMatcher(normSet)
	if t.norm, err = parseNormalizer(f.Normalizer, "normalizer"); err != nil {
		return nil, err
	}
	if t.pre, err = parsePreTokenizer(f.PreTokenizer, "pre_tokenizer"); err != nil {
		return nil, err
	}
	if t.post, err = parsePostProcessor(f.PostProcessor, "post_processor"); err != nil {
		return nil, err
	}
	for _, id := range append(append([]int32(nil), t.post.prefix...), t.post.suffix...) {
		if _, ok := t.Token(id); !ok {
			return nil, fmt.Errorf("post_processor: special token id %d is not in the vocabulary", id)
		}
	}
	if t.dec, t.decByte, err = parseDecoder(f.Decoder, "decoder"); err != nil {
		return nil, err
	}
	return t, nil
}

// Encode returns the ids of text with added/special tokens matched first and no template
// tokens added, like HF's encode(text, add_special_tokens=False). File truncation and padding
// settings are not applied.
func (t *Tokenizer) Encode(text string) []int32 { return t.AppendEncode(nil, text) }

// EncodeWithSpecial also applies the file's post-processor (HF add_special_tokens=True), e.g.
// a TemplateProcessing that puts a BOS token first.
func (t *Tokenizer) EncodeWithSpecial(text string) []int32 {
	dst := append([]int32(nil), t.post.prefix...)
	dst = t.AppendEncode(dst, text)
	return append(dst, t.post.suffix...)
}

// AppendEncode appends the ids of text (as Encode) to dst and returns the extended slice.
func (t *Tokenizer) AppendEncode(dst []int32, text string) []int32 {
	e := encoder{t: t, dst: dst}
	t.rawAdded.segments(text, e.normalized, e.token)
	return e.dst
}

// encoder carries the output slice through the segment callbacks.
type encoder struct {
	t   *Tokenizer
	dst []int32
}

func (e *encoder) token(id int32) { e.dst = append(e.dst, id) }

// normalized handles a segment without raw added tokens: normalize, then match the
// normalized added tokens.
func (e *encoder) normalized(seg string) {
	if e.t.norm != nil {
		seg = e.t.norm(seg)
	}
	e.t.normAdded.segments(seg, e.text, e.token)
}

// text pre-tokenizes a plain segment and runs the model on each word.
func (e *encoder) text(seg string) {
	t := e.t
	if f := t.pre.fast; f != nil {
		for i := 0; i < len(seg); {
			j := f(seg, i)
			e.dst = t.model.encodeWord(e.dst, seg[i:j], true)
			i = j
		}
		return
	}
	t.pre.words(seg, func(w string) { e.dst = t.model.encodeWord(e.dst, w, t.pre.raw) })
}

// Decode returns the text of ids through the file's decoder, like HF's decode; skipSpecial
// drops added tokens marked special. Invalid UTF-8 is replaced as HF does (U+FFFD per maximal
// ill-formed subpart). An id outside the vocabulary is an error (HF skips it silently).
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) (string, error) {
	if t.decByte { // the same as the general path below with decodeByteLevel, without the []string
		var b []byte
		for i, id := range ids {
			tok, ok := t.Token(id)
			if !ok {
				return "", t.decodeErr(i, id)
			}
			if skipSpecial && t.IsSpecial(id) {
				continue
			}
			if b, ok = appendByteLevelDecode(b, tok); !ok {
				b = append(b, tok...)
			}
		}
		return string(appendLossyUTF8(make([]byte, 0, len(b)), b)), nil
	}
	tokens := make([]string, 0, len(ids))
	for i, id := range ids {
		if a, ok := t.addedByID[id]; ok {
			if !(skipSpecial && a.special) {
				tokens = append(tokens, a.content)
			}
			continue
		}
		tok, ok := t.Token(id)
		if !ok {
			return "", t.decodeErr(i, id)
		}
		tokens = append(tokens, tok)
	}
	if t.dec == nil {
		return strings.Join(tokens, " "), nil
	}
	return strings.Join(t.dec(tokens), ""), nil
}

func (t *Tokenizer) decodeErr(i int, id int32) error {
	return fmt.Errorf("tokenizer %s: decode: ids[%d] = %d is not in the vocabulary (size %d)", t.name, i, id, t.vocabSize)
}

// TokenID returns the id of an added token or vocabulary entry (as written in the file, e.g.
// "Ġthe" for a byte-level vocabulary).
func (t *Tokenizer) TokenID(token string) (int32, bool) {
	if a, ok := t.addedByS[token]; ok {
		return a.id, true
	}
	id, ok := t.model.vocab[token]
	return id, ok
}

// Token returns the added token or vocabulary entry with the given id.
func (t *Tokenizer) Token(id int32) (string, bool) {
	if a, ok := t.addedByID[id]; ok {
		return a.content, true
	}
	if id < 0 || int(id) >= len(t.idToToken) || t.idToToken[id] == "" {
		return "", false
	}
	return t.idToToken[id], true
}

// IsSpecial reports whether id is an added token marked special (skipped by
// Decode(ids, true)).
func (t *Tokenizer) IsSpecial(id int32) bool {
	a, ok := t.addedByID[id]
	return ok && a.special
}

// VocabSize returns the largest id plus one (model vocabulary and added tokens).
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// Hash returns the hex SHA-256 of the tokenizer.json bytes.
func (t *Tokenizer) Hash() string { return t.hash }
