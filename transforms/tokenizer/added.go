package tokenizer

import (
	"sort"
	"unicode"
	"unicode/utf8"
)

// Added tokens (HF's AddedVocabulary) are matched in the text before anything else: first the
// tokens with normalized=false on the raw text, then those with normalized=true on each
// normalized remaining segment. Matching is leftmost-longest and non-overlapping (HF builds an
// Aho-Corasick automaton with that semantics); single_word, lstrip and rstrip then adjust or
// discard each match exactly as HF's find_matches does.
type addedToken struct {
	id         int32
	content    string
	special    bool
	singleWord bool
	lstrip     bool
	rstrip     bool
	normalized bool
}

// addedMatcher finds one set of added tokens (the raw or the normalized set).
type addedMatcher struct {
	byFirst [256][]*addedToken // candidates by first byte, longest first
	any     bool
}

func newAddedMatcher(tokens []*addedToken) *addedMatcher {
	m := &addedMatcher{}
	for _, t := range tokens {
		m.byFirst[t.content[0]] = append(m.byFirst[t.content[0]], t)
		m.any = true
	}
	for i := range m.byFirst {
		l := m.byFirst[i]
		sort.SliceStable(l, func(a, b int) bool { return len(l[a].content) > len(l[b].content) })
	}
	return m
}

// find returns the leftmost-longest match at or after from, or nil.
func (m *addedMatcher) find(s string, from int) (int, *addedToken) {
	for i := from; i < len(s); i++ {
		for _, t := range m.byFirst[s[i]] {
			if len(s)-i >= len(t.content) && s[i:i+len(t.content)] == t.content {
				return i, t
			}
		}
	}
	return -1, nil
}

// segments splits s into text segments and added-token matches, calling text(seg) or
// token(id) in order (HF's AddedVocabulary::find_matches, including its handling of
// single_word, lstrip, rstrip).
func (m *addedMatcher) segments(s string, text func(string), token func(int32)) {
	if !m.any {
		text(s)
		return
	}
	startOffset := 0
	for pos := 0; pos < len(s); {
		start, t := m.find(s, pos)
		if t == nil {
			break
		}
		stop := start + len(t.content)
		pos = stop
		if t.singleWord {
			r, _ := utf8.DecodeLastRuneInString(s[:start])
			before := start > 0 && isWordChar(r)
			r, _ = utf8.DecodeRuneInString(s[stop:])
			after := stop < len(s) && isWordChar(r)
			if before || after {
				continue
			}
		}
		if t.lstrip {
			newStart := start
			for newStart > 0 {
				r, n := utf8.DecodeLastRuneInString(s[:newStart])
				if !unicode.IsSpace(r) {
					break
				}
				newStart -= n
			}
			start = max(newStart, startOffset)
		}
		if t.rstrip {
			for stop < len(s) {
				r, n := utf8.DecodeRuneInString(s[stop:])
				if !unicode.IsSpace(r) {
					break
				}
				stop += n
			}
		}
		if startOffset < start {
			text(s[startOffset:start])
		}
		token(t.id)
		startOffset = stop
	}
	if startOffset < len(s) {
		text(s[startOffset:])
	}
}

// isWordChar is Rust regex's Unicode \w: Alphabetic, marks, decimal digits, connector
// punctuation, Join_Control.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.In(r, unicode.Nl, unicode.Other_Alphabetic, unicode.M,
		unicode.Nd, unicode.Pc, unicode.Join_Control)
}
