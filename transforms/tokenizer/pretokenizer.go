package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2" // look-around regexes that Go's regexp lacks (general path)
)

// Pre-tokenizers (HF tokenizers/src/pre_tokenizers): split a normalized segment into words.
// The pipeline is a list of steps, each mapping the current pieces to new pieces. A ByteLevel
// step that ends the pipeline only marks the words raw: its byte→character mapping is done by
// the model (bpe.byteID), which is what makes the common case allocation-free.

// splitBehavior is HF's SplitDelimiterBehavior.
type splitBehavior int

const (
	splitRemoved splitBehavior = iota
	splitIsolated
	splitMergedWithPrevious
	splitMergedWithNext
	splitContiguous
)

var behaviorNames = map[string]splitBehavior{
	"Removed": splitRemoved, "Isolated": splitIsolated, "MergedWithPrevious": splitMergedWithPrevious,
	"MergedWithNext": splitMergedWithNext, "Contiguous": splitContiguous,
}

// matcher finds the matches of a split pattern in s, as byte ranges in order.
type matcher interface {
	matches(s string, fn func(start, end int))
}

// scanMatcher uses a hand-written scanner (scanner.go).
type scanMatcher struct{ scan scanner }

func (m scanMatcher) matches(s string, fn func(start, end int)) {
	for i := 0; i < len(s); {
		j := m.scan(s, i)
		fn(i, j)
		i = j
	}
}

// regexMatcher is the general path for patterns without a scanner.
type regexMatcher struct{ re *regexp2.Regexp }

func (m regexMatcher) matches(s string, fn func(start, end int)) {
	// regexp2 reports rune offsets; map them to byte offsets.
	offs := make([]int, 0, len(s)+1)
	for i := range s {
		offs = append(offs, i)
	}
	offs = append(offs, len(s))
	runes := []rune(s)
	mt, err := m.re.FindRunesMatch(runes)
	for err == nil && mt != nil {
		fn(offs[mt.Index], offs[mt.Index+mt.Length])
		mt, err = m.re.FindNextMatch(mt)
	}
}

// literalMatcher matches a fixed string (HF's String pattern).
type literalMatcher struct{ lit string }

func (m literalMatcher) matches(s string, fn func(start, end int)) {
	if m.lit == "" {
		return
	}
	for i := 0; ; {
		k := strings.Index(s[i:], m.lit)
		if k < 0 {
			return
		}
		fn(i+k, i+k+len(m.lit))
		i += k + len(m.lit)
	}
}

// digitMatcher matches each \p{N} character (HF's Digits pre-tokenizer, char::is_numeric).
type digitMatcher struct{}

func (digitMatcher) matches(s string, fn func(start, end int)) {
	for i, r := range s {
		if unicode.IsNumber(r) {
			fn(i, i+utf8.RuneLen(r))
		}
	}
}

// step is one pre-tokenizer of the pipeline.
type step struct {
	// split step
	m        matcher
	behavior splitBehavior
	invert   bool
	// ByteLevel step
	byteLevel      bool
	addPrefixSpace bool
	useRegex       bool
	deferMapping   bool // last step: the model maps bytes
}

var gpt2Matcher = scanMatcher{scanGPT2}

// preTokenizer is the whole pipeline.
type preTokenizer struct {
	steps []step
	raw   bool    // words reach the model as raw bytes (pipeline ends with ByteLevel)
	fast  scanner // non-nil when the pipeline is "split by fast, then ByteLevel" (or only ByteLevel)
}

// split applies one split step to piece (HF's NormalizedString::split).
func (st *step) split(piece string, out []string) []string {
	type span struct {
		start, end int
		match      bool
	}
	var spans []span
	prev := 0
	st.m.matches(piece, func(start, end int) {
		if prev != start {
			spans = append(spans, span{prev, start, false})
		}
		spans = append(spans, span{start, end, true})
		prev = end
	})
	if prev != len(piece) {
		spans = append(spans, span{prev, len(piece), false})
	}
	if st.invert {
		for i := range spans {
			spans[i].match = !spans[i].match
		}
	}
	var keep []span // match here means "remove"
	switch st.behavior {
	case splitIsolated:
		for _, s := range spans {
			keep = append(keep, span{s.start, s.end, false})
		}
	case splitRemoved:
		keep = spans
	case splitContiguous:
		prevMatch := false
		for _, s := range spans {
			if s.match == prevMatch && len(keep) > 0 {
				keep[len(keep)-1].end = s.end
			} else {
				keep = append(keep, span{s.start, s.end, false})
			}
			prevMatch = s.match
		}
	case splitMergedWithPrevious:
		prevMatch := false
		for _, s := range spans {
			if s.match && !prevMatch && len(keep) > 0 {
				keep[len(keep)-1].end = s.end
			} else {
				keep = append(keep, span{s.start, s.end, false})
			}
			prevMatch = s.match
		}
	case splitMergedWithNext:
		prevMatch := false
		for i := len(spans) - 1; i >= 0; i-- {
			s := spans[i]
			if s.match && !prevMatch && len(keep) > 0 {
				keep[len(keep)-1].start = s.start
			} else {
				keep = append(keep, span{s.start, s.end, false})
			}
			prevMatch = s.match
		}
		for i, j := 0, len(keep)-1; i < j; i, j = i+1, j-1 {
			keep[i], keep[j] = keep[j], keep[i]
		}
	}
	for _, s := range keep {
		if !s.match && s.end > s.start {
			out = append(out, piece[s.start:s.end])
		}
	}
	return out
}

// words calls fn with each word of segment s.
func (p *preTokenizer) words(s string, fn func(w string)) {
	if s == "" {
		return
	}
	if p.fast != nil {
		for i := 0; i < len(s); {
			j := p.fast(s, i)
			fn(s[i:j])
			i = j
		}
		return
	}
	pieces := []string{s}
	for k := range p.steps {
		st := &p.steps[k]
		var next []string
		for _, piece := range pieces {
			if !st.byteLevel {
				next = st.split(piece, next)
				continue
			}
			if st.addPrefixSpace && !strings.HasPrefix(piece, " ") {
				piece = " " + piece
			}
			var parts []string
			if st.useRegex {
				sub := step{m: gpt2Matcher, behavior: splitIsolated}
				parts = sub.split(piece, nil)
			} else {
				parts = []string{piece}
			}
			for _, part := range parts {
				if !st.deferMapping {
					part = byteLevelEncode(part)
				}
				next = append(next, part)
			}
		}
		pieces = next
	}
	for _, w := range pieces {
		fn(w)
	}
}

// parsePreTokenizer builds the pipeline from the pre_tokenizer JSON (nil for null).
func parsePreTokenizer(raw []byte, path string) (*preTokenizer, error) {
	p := &preTokenizer{}
	if isNull(raw) {
		return p, nil
	}
	if err := p.add(raw, path); err != nil {
		return nil, err
	}
	if n := len(p.steps); n > 0 && p.steps[n-1].byteLevel {
		p.steps[n-1].deferMapping = true
		p.raw = true
	}
	// Fast path: [Split(scanner, Isolated)] + ByteLevel(no prefix, no regex), or ByteLevel(regex).
	switch s := p.steps; {
	case len(s) == 2 && !s[0].byteLevel && s[0].behavior == splitIsolated && !s[0].invert &&
		s[1].byteLevel && !s[1].addPrefixSpace && !s[1].useRegex:
		if sm, ok := s[0].m.(scanMatcher); ok {
			p.fast = sm.scan
		}
	case len(s) == 1 && s[0].byteLevel && !s[0].addPrefixSpace && s[0].useRegex:
		p.fast = scanGPT2
	}
	return p, nil
}

func (p *preTokenizer) add(raw []byte, path string) error {
	typ, err := componentType(raw, path)
	if err != nil {
		return err
	}
	switch typ {
	case "Sequence":
		var v struct {
			Pretokenizers []rawJSON `json:"pretokenizers"`
		}
		if err := decodeAt(raw, &v, path); err != nil {
			return err
		}
		for i, sub := range v.Pretokenizers {
			if err := p.add(sub, fmt.Sprintf("%s.pretokenizers[%d]", path, i)); err != nil {
				return err
			}
		}
	case "ByteLevel":
		v := struct {
			AddPrefixSpace *bool `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
			TrimOffsets    *bool `json:"trim_offsets"`
		}{}
		if err := decodeAt(raw, &v, path); err != nil {
			return err
		}
		// HF defaults: add_prefix_space true, use_regex true.
		p.steps = append(p.steps, step{byteLevel: true, addPrefixSpace: boolOr(v.AddPrefixSpace, true), useRegex: boolOr(v.UseRegex, true)})
	case "Split":
		var v struct {
			Pattern  patternJSON `json:"pattern"`
			Behavior string      `json:"behavior"`
			Invert   bool        `json:"invert"`
		}
		if err := decodeAt(raw, &v, path); err != nil {
			return err
		}
		b, ok := behaviorNames[v.Behavior]
		if !ok {
			return fmt.Errorf("%s.behavior: %q is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous", path, v.Behavior)
		}
		m, err := v.Pattern.matcher(path + ".pattern")
		if err != nil {
			return err
		}
		p.steps = append(p.steps, step{m: m, behavior: b, invert: v.Invert})
	case "Digits":
		var v struct {
			IndividualDigits bool `json:"individual_digits"`
		}
		if err := decodeAt(raw, &v, path); err != nil {
			return err
		}
		b := splitContiguous
		if v.IndividualDigits {
			b = splitIsolated
		}
		p.steps = append(p.steps, step{m: digitMatcher{}, behavior: b})
	default:
		return fmt.Errorf("%s.type: pre-tokenizer %q is not supported (supported: Sequence, Split, ByteLevel, Digits)", path, typ)
	}
	return nil
}

// patternJSON is HF's pattern: {"Regex": "..."} or {"String": "..."}.
type patternJSON struct {
	Regex  *string `json:"Regex"`
	String *string `json:"String"`
}

func (p patternJSON) matcher(path string) (matcher, error) {
	switch {
	case p.Regex != nil && p.String == nil:
		if sc := knownScanner(*p.Regex); sc != nil {
			return scanMatcher{sc}, nil
		}
		re, err := compileRegex(*p.Regex)
		if err != nil {
			return nil, fmt.Errorf("%s.Regex: %w", path, err)
		}
		return regexMatcher{re}, nil
	case p.String != nil && p.Regex == nil:
		return literalMatcher{*p.String}, nil
	}
	return nil, fmt.Errorf("%s: want exactly one of Regex or String", path)
}

// compileRegex compiles an Oniguruma-style pattern with regexp2 (.NET syntax, a close
// superset for the patterns tokenizer files use; (?i) folding differs for 'ſ' and 'K').
func compileRegex(pattern string) (*regexp2.Regexp, error) {
	return regexp2.Compile(pattern, regexp2.None)
}
