package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Hand-written equivalents of the split regexes that byte-level BPE files declare. Go's regexp
// has no lookahead (`\s+(?!\S)`), and running a backtracking engine per piece is the slowest
// part of a tokenizer, so the patterns below are recognised by their exact text and matched by
// straight-line code. Each scanner returns the end of the regex match that starts at i; for
// these patterns some alternative matches at every position, so the matches tile the input.
// FuzzPretokenize and TestScannerMatchesRegexp2 check them against dlclark/regexp2.

// Character classes as the patterns use them (Oniguruma semantics, which HF tokenizers uses):
// \p{L} letters, \p{N} numbers (Nd, Nl, No), \s Unicode White_Space.
const (
	clsOther   = 0
	clsLetter  = 1
	clsNumber  = 2
	clsSpace   = 4 // \s
	clsNewline = 8 // \r or \n (also clsSpace)
)

var asciiClass [utf8.RuneSelf]uint8

func init() {
	for c := 0; c < utf8.RuneSelf; c++ {
		r := rune(c)
		switch {
		case unicode.IsLetter(r):
			asciiClass[c] = clsLetter
		case unicode.IsNumber(r):
			asciiClass[c] = clsNumber
		case r == '\r' || r == '\n':
			asciiClass[c] = clsSpace | clsNewline
		case unicode.IsSpace(r):
			asciiClass[c] = clsSpace
		}
	}
}

// classAt returns the class of the character at s[i] and its byte length. Invalid UTF-8 bytes
// are single characters of class other (HF never sees them: Rust strings are valid UTF-8).
func classAt(s string, i int) (uint8, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	switch {
	case n == 1:
		return clsOther, 1
	case unicode.IsLetter(r):
		return clsLetter, n
	case unicode.IsNumber(r):
		return clsNumber, n
	case unicode.IsSpace(r):
		return clsSpace, n
	}
	return clsOther, n
}

// scanner finds the end of the match of one recognised pattern starting at i (< len(s)).
type scanner func(s string, i int) int

// Recognised patterns (as written in tokenizer.json) and their scanners.
const (
	// GPT-2's ByteLevel regex (also HF's ByteLevel pre-tokenizer with use_regex).
	patGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// GLM-4 family (GLM-4.5V, glm45v.md §6.1) and Llama-3: numbers in runs of up to 3.
	patGLM = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// Qwen2/2.5/3: the same with single digits.
	patQwen = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// knownScanner returns the hand-written scanner for pattern, or nil.
func knownScanner(pattern string) scanner {
	switch pattern {
	case patGPT2:
		return scanGPT2
	case patGLM:
		return scanGLM3
	case patQwen:
		return scanGLM1
	}
	return nil
}

func scanGLM3(s string, i int) int { return scanGLM(s, i, 3) }
func scanGLM1(s string, i int) int { return scanGLM(s, i, 1) }

// contraction matches 's|'t|'re|'ve|'m|'ll|'d at i (s[i] == '\”), case-insensitively when
// fold is set, and returns the end or -1.
func contraction(s string, i int, fold bool) int {
	j := i + 1
	if j >= len(s) {
		return -1
	}
	r1, n1 := utf8.DecodeRuneInString(s[j:])
	eq := func(r, want rune) bool { return r == want || fold && foldEqual(r, want) }
	switch {
	case eq(r1, 's'), eq(r1, 't'), eq(r1, 'm'), eq(r1, 'd'):
		return j + n1
	}
	k := j + n1
	if k >= len(s) {
		return -1
	}
	r2, n2 := utf8.DecodeRuneInString(s[k:])
	if eq(r1, 'r') && eq(r2, 'e') || eq(r1, 'v') && eq(r2, 'e') || eq(r1, 'l') && eq(r2, 'l') {
		return k + n2
	}
	return -1
}

// foldEqual reports whether r matches the lower-case ASCII letter want under Unicode simple case
// folding, as Oniguruma's (?i) does (so 'ſ' U+017F matches 's').
func foldEqual(r, want rune) bool {
	for f := unicode.SimpleFold(want); f != want; f = unicode.SimpleFold(f) {
		if f == r {
			return true
		}
	}
	return false
}

// spaceRun returns the end of the run of \s characters starting at i and the start of its last
// character.
func spaceRun(s string, i int) (end, last int) {
	end, last = i, i
	for end < len(s) {
		c, n := classAt(s, end)
		if c&clsSpace == 0 {
			break
		}
		last = end
		end += n
	}
	return end, last
}

// spaceTail matches \s+(?!\S)|\s+ at i, where s[i] is \s: the whole run when it reaches the end
// of s or is one character long, otherwise the run less its last character.
func spaceTail(s string, i int) int {
	end, last := spaceRun(s, i)
	if end < len(s) && last > i {
		return last
	}
	return end
}

// scanGLM matches
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func scanGLM(s string, i int, maxDigits int) int {
	if s[i] == '\'' {
		if e := contraction(s, i, true); e >= 0 {
			return e
		}
	}
	c0, n0 := classAt(s, i)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c0&(clsLetter|clsNumber|clsNewline) == 0 && i+n0 < len(s) {
		if c1, _ := classAt(s, i+n0); c1 == clsLetter {
			return letters(s, i+n0)
		}
	}
	switch {
	case c0 == clsLetter:
		return letters(s, i)
	case c0 == clsNumber:
		j := i + n0
		for k := 1; k < maxDigits && j < len(s); k++ {
			c, n := classAt(s, j)
			if c != clsNumber {
				break
			}
			j += n
		}
		return j
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	if j := punct(s, i); j > i {
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// c0 is \s here. \s*[\r\n]+ : up to and including the last \r or \n of the space run.
	end, _ := spaceRun(s, i)
	for k := end - 1; k >= i; k-- {
		if s[k] == '\r' || s[k] == '\n' {
			return k + 1
		}
	}
	return spaceTail(s, i)
}

// scanGPT2 matches 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func scanGPT2(s string, i int) int {
	if s[i] == '\'' {
		if e := contraction(s, i, false); e >= 0 {
			return e
		}
	}
	j := i
	if s[i] == ' ' && i+1 < len(s) {
		j = i + 1
	}
	c, _ := classAt(s, j)
	switch {
	case c == clsLetter:
		return letters(s, j)
	case c == clsNumber:
		return numbers(s, j)
	}
	if e := punct(s, i); e > i {
		return e
	}
	return spaceTail(s, i)
}

// letters returns the end of the \p{L}+ run at i (s[i] is a letter).
func letters(s string, i int) int {
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiClass[c] != clsLetter {
				return i
			}
			i++
			continue
		}
		cl, n := classAt(s, i)
		if cl != clsLetter {
			return i
		}
		i += n
	}
	return i
}

// numbers returns the end of the \p{N}+ run at i.
func numbers(s string, i int) int {
	for i < len(s) {
		c, n := classAt(s, i)
		if c != clsNumber {
			return i
		}
		i += n
	}
	return i
}

// punct matches ' ?[^\s\p{L}\p{N}]+' at i and returns its end, or i when it does not match.
func punct(s string, i int) int {
	j := i
	if s[j] == ' ' {
		j++
	}
	start := j
	for j < len(s) {
		c, n := classAt(s, j)
		if c != clsOther {
			break
		}
		j += n
	}
	if j == start {
		return i
	}
	return j
}
