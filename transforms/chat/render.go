package chat

import (
	"fmt"
	"slices"
	"strings"
)

// Encoder is the tokenizer as rendering needs it. *tokenizer.Tokenizer satisfies it.
type Encoder interface {
	// AppendEncode appends the ids of text, matching added/special tokens first and
	// byte-level BPE between them, like HF encode(text, add_special_tokens=False).
	AppendEncode(dst []int32, text string) []int32
	// TokenID returns the id of a vocabulary or added token.
	TokenID(token string) (int32, bool)
}

// IgnoreIndex is the label of untrained positions (PyTorch's cross-entropy ignore_index).
const IgnoreIndex = -100

// Rendered is one tokenized conversation. Shapes: [T].
type Rendered struct {
	InputIDs []int32 // [T] token ids
	Loss     []bool  // [T] token i is a trained target (predicted from tokens < i)
	// Targets [T], nil unless some trained position's target differs from its input id
	// (LlamaFactory trains the first token of each later prompt to be <|endoftext|>). Where
	// Loss[i], the target is Targets[i] if Targets != nil, else InputIDs[i].
	Targets []int32
}

func (r Rendered) target(i int) int32 {
	if r.Targets != nil {
		return r.Targets[i]
	}
	return r.InputIDs[i]
}

// ShiftedLabels returns Megatron-Bridge's pre-shifted labels [T]: label[i] is the target of
// position i+1 if it is trained, else IgnoreIndex; the last label is IgnoreIndex.
func (r Rendered) ShiftedLabels() []int32 {
	out := make([]int32, len(r.InputIDs))
	for i := range out {
		out[i] = IgnoreIndex
		if i+1 < len(out) && r.Loss[i+1] {
			out[i] = r.target(i + 1)
		}
	}
	return out
}

// Labels returns HF's unshifted labels [T] (the model shifts): label[i] is the target of
// position i if trained, else IgnoreIndex.
func (r Rendered) Labels() []int32 {
	out := make([]int32, len(r.InputIDs))
	for i := range out {
		out[i] = IgnoreIndex
		if r.Loss[i] {
			out[i] = r.target(i)
		}
	}
	return out
}

// Renderer renders conversations with one encoder and one set of options. It is immutable
// after NewRenderer and safe for concurrent use.
type Renderer struct {
	enc  Encoder
	o    Options
	ids  [numSpecials]int32
	nl   []int32 // ids of "\n" alone
	skip []int32 // ids never trained: [gMASK], <sop>, image start/token/end
}

// NewRenderer checks o and looks up the template's special tokens in enc. Each must exist and
// encode, alone, to exactly its own id (so placing it by id equals tokenizing the string).
func NewRenderer(enc Encoder, o Options) (*Renderer, error) {
	if enc == nil {
		return nil, fmt.Errorf("chat: %w: nil Encoder", ErrEncoder)
	}
	o = o.resolve()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	r := &Renderer{enc: enc, o: o}
	strs := specialStrings(o)
	for sp := spGMASK; sp < numSpecials; sp++ {
		id, ok := enc.TokenID(strs[sp])
		if !ok {
			return nil, fmt.Errorf("chat: %w: %q", ErrMissingToken, strs[sp])
		}
		if got := enc.AppendEncode(nil, strs[sp]); len(got) != 1 || got[0] != id {
			return nil, fmt.Errorf("chat: %w: %q has id %d but encodes to %v (not an added token?)", ErrMissingToken, strs[sp], id, got)
		}
		r.ids[sp] = id
	}
	r.nl = enc.AppendEncode(nil, "\n")
	if len(r.nl) == 0 {
		return nil, fmt.Errorf("chat: %w: \"\\n\" encodes to no tokens", ErrEncoder)
	}
	r.skip = []int32{r.ids[spGMASK], r.ids[spSOP], r.ids[spImageStart], r.ids[spImage], r.ids[spImageEnd]}
	return r, nil
}

// Options returns the renderer's options (defaults resolved).
func (r *Renderer) Options() Options { return r.o }

// Render renders conv with grids[i] = (t, h, w) patches of conv.Images[i] into token ids and
// a loss mask. Equivalent to NewRenderer(enc, o) then Render.
func Render(conv Conversation, grids [][3]int, enc Encoder, o Options) (Rendered, error) {
	r, err := NewRenderer(enc, o)
	if err != nil {
		return Rendered{}, err
	}
	return r.Render(conv, grids)
}

// RenderText returns the rendered conversation as one string, image placeholders expanded
// (<|image|> repeated t·h·w / MergeSize² times), exactly the text whose tokenization Render
// returns.
func RenderText(conv Conversation, grids [][3]int, o Options) (string, error) {
	o = o.resolve()
	if err := o.Validate(); err != nil {
		return "", err
	}
	counts, err := check(conv, grids, o)
	if err != nil {
		return "", err
	}
	strs := specialStrings(o)
	var s strings.Builder
	for _, p := range buildPieces(conv, counts, o) {
		if p.sp == spText {
			s.WriteString(p.text)
			continue
		}
		for range p.count {
			s.WriteString(strs[p.sp])
		}
	}
	return s.String(), nil
}

// Render renders one conversation; see the package doc for the format and the loss rules.
func (r *Renderer) Render(conv Conversation, grids [][3]int) (Rendered, error) {
	counts, err := check(conv, grids, r.o)
	if err != nil {
		return Rendered{}, err
	}
	ps := buildPieces(conv, counts, r.o)
	size := 0
	for _, p := range ps {
		if p.sp == spText {
			size += len(p.text)/3 + 1
		} else {
			size += p.count
		}
	}
	e := encoding{
		r:    r,
		ids:  make([]int32, 0, size),
		loss: make([]bool, 0, size),
	}
	for _, p := range ps {
		if p.sp == spText {
			e.seg = append(e.seg, p)
			continue
		}
		e.flush()
		switch p.mark {
		case markTrimThink:
			e.thinks = append(e.thinks, len(e.ids))
		case markEOSTarget:
			e.eosAt = append(e.eosAt, len(e.ids))
		}
		id := r.ids[p.sp]
		for range p.count {
			e.ids = append(e.ids, id)
			e.loss = append(e.loss, p.train)
		}
	}
	e.flush()
	return e.finish(), nil
}

// encoding is the state of one Render's id assembly.
type encoding struct {
	r      *Renderer
	ids    []int32
	loss   []bool
	seg    []piece // pending adjacent text pieces: one tokenizer segment
	thinks []int   // positions of <think> tokens that open an assistant span (MegatronBridge)
	eosAt  []int   // positions trained with <|endoftext|> as the target (LlamaFactory)
	buf    strings.Builder
}

// flush encodes the pending text segment once, as a whole, so the ids equal the tokenization
// of the full rendered string (the tokenizer only ever splits at special tokens, and the
// template puts one between any two segments).
func (e *encoding) flush() {
	seg := e.seg
	if len(seg) == 0 {
		return
	}
	e.seg = e.seg[:0]
	base := len(e.ids)
	if len(seg) == 1 {
		e.ids = e.r.enc.AppendEncode(e.ids, seg[0].text)
		e.fill(base, len(e.ids), seg[0].train)
		return
	}
	e.buf.Reset()
	uniform := true
	for _, p := range seg {
		e.buf.WriteString(p.text)
		uniform = uniform && p.train == seg[0].train
	}
	full := e.buf.String()
	e.ids = e.r.enc.AppendEncode(e.ids, full)
	if uniform {
		e.fill(base, len(e.ids), seg[0].train)
		return
	}
	// The segment changes from untrained to trained text (or back) without a special token in
	// between. Token j of the whole-segment encoding belongs to the text before a boundary
	// when it is also token j of the encoding of that text alone; a token that straddles the
	// boundary goes to the text after it.
	whole := e.ids[base:]
	from, off := 0, 0
	for k := 0; k+1 < len(seg); k++ {
		off += len(seg[k].text)
		if seg[k+1].train == seg[k].train {
			continue
		}
		prefix := e.r.enc.AppendEncode(nil, full[:off])
		n := commonPrefix(prefix, whole)
		if n < from {
			n = from
		}
		e.fill(base+from, base+n, seg[k].train)
		from = n
	}
	e.fill(base+from, len(e.ids), seg[len(seg)-1].train)
}

// fill appends loss flags for the ids[from:to] just appended.
func (e *encoding) fill(from, to int, train bool) {
	for range to - from {
		e.loss = append(e.loss, train)
	}
}

func commonPrefix(a, b []int32) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// finish applies the token-level rules and returns the result.
func (e *encoding) finish() Rendered {
	r := e.r
	ids, loss := e.ids, e.loss
	// Megatron-Bridge trims an assistant span's leading "<think></think>\n" when its tokens
	// match exactly (a non-empty think block, or an empty one with no content, stays).
	think, end := r.ids[spThink], r.ids[spEndThink]
	for _, p := range e.thinks {
		q := p + 2 + len(r.nl)
		if q <= len(ids) && ids[p] == think && ids[p+1] == end && slices.Equal(ids[p+2:q], r.nl) {
			for i := p; i < q; i++ {
				loss[i] = false
			}
		}
	}
	// [gMASK], <sop> and image tokens are never trained, wherever they appear.
	for i, id := range ids {
		if loss[i] && slices.Contains(r.skip, id) {
			loss[i] = false
		}
	}
	out := Rendered{InputIDs: ids, Loss: loss}
	if len(e.eosAt) > 0 {
		out.Targets = slices.Clone(ids)
		for _, p := range e.eosAt {
			out.Targets[p] = r.ids[spEOS]
		}
	}
	return out
}
