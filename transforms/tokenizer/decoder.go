package tokenizer

import (
	"fmt"
	"strconv"
	"strings"
)

// Decoders (HF tokenizers/src/decoders) turn token strings back into text. Each works on the
// whole list (HF's decode_chain); the results are concatenated. Supported: ByteLevel (the
// byte-level BPE files), and ByteFallback, Fuse, Replace, Strip, Sequence (Llama-2-style files).
type decoder func(tokens []string) []string

func parseDecoder(raw []byte, path string) (decoder, bool, error) {
	if isNull(raw) {
		return nil, false, nil
	}
	typ, err := componentType(raw, path)
	if err != nil {
		return nil, false, err
	}
	switch typ {
	case "ByteLevel":
		return decodeByteLevel, true, nil
	case "ByteFallback":
		return decodeByteFallback, false, nil
	case "Fuse":
		return func(t []string) []string { return []string{strings.Join(t, "")} }, false, nil
	case "Replace":
		var v struct {
			Pattern patternJSON `json:"pattern"`
			Content string      `json:"content"`
		}
		if err := decodeAt(raw, &v, path); err != nil {
			return nil, false, err
		}
		rep, err := replacer(v.Pattern, v.Content, path+".pattern")
		if err != nil {
			return nil, false, err
		}
		return func(t []string) []string {
			out := make([]string, len(t))
			for i, s := range t {
				out[i] = rep(s)
			}
			return out
		}, false, nil
	case "Strip":
		var v struct {
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}
		if err := decodeAt(raw, &v, path); err != nil {
			return nil, false, err
		}
		if len([]rune(v.Content)) != 1 || v.Start < 0 || v.Stop < 0 {
			return nil, false, fmt.Errorf("%s: want one content character and start, stop ≥ 0", path)
		}
		c := []rune(v.Content)[0]
		return func(t []string) []string { return stripDecode(t, c, v.Start, v.Stop) }, false, nil
	case "Sequence":
		var v struct {
			Decoders []rawJSON `json:"decoders"`
		}
		if err := decodeAt(raw, &v, path); err != nil {
			return nil, false, err
		}
		var seq []decoder
		for i, sub := range v.Decoders {
			d, _, err := parseDecoder(sub, fmt.Sprintf("%s.decoders[%d]", path, i))
			if err != nil {
				return nil, false, err
			}
			if d != nil {
				seq = append(seq, d)
			}
		}
		return func(t []string) []string {
			for _, d := range seq {
				t = d(t)
			}
			return t
		}, false, nil
	}
	return nil, false, fmt.Errorf("%s.type: decoder %q is not supported (supported: ByteLevel, ByteFallback, Fuse, Replace, Strip, Sequence)", path, typ)
}

// decodeByteLevel maps each token's alphabet characters back to bytes (a token holding any
// other character contributes its UTF-8 bytes unchanged) and makes the result valid UTF-8.
func decodeByteLevel(tokens []string) []string {
	var b []byte
	for _, t := range tokens {
		var ok bool
		if b, ok = appendByteLevelDecode(b, t); !ok {
			b = append(b, t...)
		}
	}
	return []string{string(appendLossyUTF8(nil, b))}
}

// decodeByteFallback turns runs of <0xXX> tokens into text; a run that is not valid UTF-8
// becomes one U+FFFD per byte, as HF does.
func decodeByteFallback(tokens []string) []string {
	var out []string
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if s := string(pending); isValidUTF8(s) {
			out = append(out, s)
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range tokens {
		if len(t) == 6 && strings.HasPrefix(t, "<0x") && t[5] == '>' {
			if v, err := strconv.ParseUint(t[3:5], 16, 8); err == nil {
				pending = append(pending, byte(v))
				continue
			}
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// stripDecode removes up to start leading and stop trailing c characters from each token.
func stripDecode(tokens []string, c rune, start, stop int) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		r := []rune(t)
		a, b := 0, len(r)
		for k := 0; k < start && a < b && r[a] == c; k++ {
			a++
		}
		for k := 0; k < stop && b > a && r[b-1] == c; k++ {
			b--
		}
		out[i] = string(r[a:b])
	}
	return out
}
