package tokenizer

import "unicode/utf8"

// The GPT-2 byte-level alphabet: every byte 0..255 is shown as one printable Unicode character,
// so that a byte-level vocabulary stores arbitrary bytes as JSON strings. Printable Latin-1
// bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves; the other 68 map, in byte order, to
// U+0100, U+0101, ... (space 0x20 → 'Ġ' U+0120, newline 0x0A → 'Ċ' U+010A).
var (
	byteToRune [256]rune          // byte → its alphabet character
	byteToStr  [256]string        // byte → that character, UTF-8 encoded
	runeToByte [alphabetEnd]int16 // inverse: byte, or -1 for characters outside the alphabet
)

// alphabetEnd bounds the alphabet's characters (the last is U+0143).
const alphabetEnd = 0x144

func init() {
	for i := range runeToByte {
		runeToByte[i] = -1
	}
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = rune(256 + n)
			n++
		}
		byteToStr[b] = string(byteToRune[b])
		runeToByte[byteToRune[b]] = int16(b)
	}
}

// byteLevelEncode maps raw bytes to their alphabet characters (what HF's ByteLevel
// pre-tokenizer does to each piece).
func byteLevelEncode(s string) string {
	out := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		out = utf8.AppendRune(out, byteToRune[s[i]])
	}
	return string(out)
}

// byteLevelDecode maps an alphabet string back to raw bytes. ok is false when s holds a
// character outside the alphabet.
func byteLevelDecode(s string) (raw string, ok bool) {
	out, ok := appendByteLevelDecode(nil, s)
	return string(out), ok
}

// appendByteLevelDecode appends the raw bytes of alphabet string s to dst; when s holds another
// character it returns dst unchanged and false.
func appendByteLevelDecode(dst []byte, s string) ([]byte, bool) {
	n := len(dst)
	for _, r := range s {
		if r >= alphabetEnd || runeToByte[r] < 0 {
			return dst[:n], false
		}
		dst = append(dst, byte(runeToByte[r]))
	}
	return dst, true
}

// appendLossyUTF8 appends b to dst as valid UTF-8, replacing each maximal ill-formed subpart
// with one U+FFFD, as Rust's String::from_utf8_lossy (and so HF's decoders) do. Go's own
// conversions differ: they replace every invalid byte, or every run of them.
func appendLossyUTF8(dst []byte, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			dst = append(dst, b[i:i+size]...)
			i += size
			continue
		}
		dst = append(dst, "\uFFFD"...)
		i += maximalSubpart(b[i:])
	}
	return dst
}

// maximalSubpart returns the length (≥ 1) of the longest prefix of b that starts a well-formed
// UTF-8 sequence but is not one (Unicode §3.9, "maximal subpart of an ill-formed subsequence").
func maximalSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		x := b[n]
		if k == 0 {
			if x < lo || x > hi {
				return n
			}
		} else if x < 0x80 || x > 0xBF {
			return n
		}
		n++
	}
	return n
}
