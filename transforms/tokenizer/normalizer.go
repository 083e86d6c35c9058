package tokenizer

import (
	"fmt"
	"strings"

	"github.com/dlclark/regexp2"
	"golang.org/x/text/unicode/norm" // NFC/NFD/NFKC/NFKD, as HF's unicode-normalization crate
)

// normalizer rewrites a text segment before pre-tokenization (HF tokenizers/src/normalizers).
// Supported: NFC, NFD, NFKC, NFKD, Prepend, Replace, Sequence — what GPT-2 (null), Llama-3
// (null), GLM-4 (null), Qwen2 (NFC) and Llama-2-style files (Prepend + Replace) declare.
type normalizer func(s string) string

func parseNormalizer(raw []byte, path string) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw, path)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "NFC":
		return norm.NFC.String, nil
	case "NFD":
		return norm.NFD.String, nil
	case "NFKC":
		return norm.NFKC.String, nil
	case "NFKD":
		return norm.NFKD.String, nil
	case "Prepend":
		var v struct {
			Prepend string `json:"prepend"`
		}
		if err := decodeAt(raw, &v, path); err != nil {
			return nil, err
		}
		return func(s string) string {
			if s == "" {
				return s
			}
			return v.Prepend + s
		}, nil
	case "Replace":
		var v struct {
			Pattern patternJSON `json:"pattern"`
			Content string      `json:"content"`
		}
		if err := decodeAt(raw, &v, path); err != nil {
			return nil, err
		}
		return replacer(v.Pattern, v.Content, path+".pattern")
	case "Sequence":
		var v struct {
			Normalizers []rawJSON `json:"normalizers"`
		}
		if err := decodeAt(raw, &v, path); err != nil {
			return nil, err
		}
		var seq []normalizer
		for i, sub := range v.Normalizers {
			n, err := parseNormalizer(sub, fmt.Sprintf("%s.normalizers[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		return func(s string) string {
			for _, n := range seq {
				s = n(s)
			}
			return s
		}, nil
	}
	return nil, fmt.Errorf("%s.type: normalizer %q is not supported (supported: NFC, NFD, NFKC, NFKD, Prepend, Replace, Sequence)", path, typ)
}

// replacer replaces every non-overlapping match of p with content.
func replacer(p patternJSON, content, path string) (func(string) string, error) {
	switch {
	case p.String != nil && p.Regex == nil:
		lit := *p.String
		if lit == "" {
			return func(s string) string { return s }, nil
		}
		return func(s string) string { return strings.ReplaceAll(s, lit, content) }, nil
	case p.Regex != nil && p.String == nil:
		re, err := compileRegex(*p.Regex)
		if err != nil {
			return nil, fmt.Errorf("%s.Regex: %w", path, err)
		}
		return func(s string) string {
			out, err := re.ReplaceFunc(s, func(regexp2.Match) string { return content }, -1, -1)
			if err != nil { // only a match timeout, and none is set
				return s
			}
			return out
		}, nil
	}
	return nil, fmt.Errorf("%s: want exactly one of Regex or String", path)
}
