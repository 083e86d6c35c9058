package tokenizer

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// The hand-written scanners must split exactly as the regexes they replace. The reference is
// dlclark/regexp2 (a backtracking engine with look-ahead), which differs from Oniguruma (HF)
// only in (?i) folding of 'ſ' (U+017F), which Oniguruma folds to 's' and the scanner follows
// (checked against HF in TestGoldenHF); the random alphabet here leaves it out.

var scannerPatterns = []string{patGPT2, patGLM, patQwen}

// regexSplit returns the regexp2 matches of pattern in s, as strings.
func regexSplit(t testing.TB, re *regexp2.Regexp, s string) []string {
	var out []string
	regexMatcher{re}.matches(s, func(a, b int) { out = append(out, s[a:b]) })
	return out
}

func scanSplit(sc scanner, s string) []string {
	var out []string
	scanMatcher{sc}.matches(s, func(a, b int) { out = append(out, s[a:b]) })
	return out
}

// alphabet mixes every class boundary the patterns care about.
var alphabet = []string{
	"a", "b", "Z", "s", "S", "t", "T", "r", "R", "e", "E", "v", "V", "m", "M", "l", "L", "d", "D",
	"'", "'", "'", "0", "7", "9", " ", " ", " ", "  ", "\n", "\r", "\t", "\v", "\f", "!", ".", ",",
	"-", "_", "<", "|", ">", "é", "ß", "中", "字", "ǅ", "\u212a", "ﬆ", "Ω", "½", "Ⅻ", "٣", "²",
	"\u0301", "\u0308", "\u00a0", "\u0085", "\u2028", "\u2029", "\u3000", "\u1680", "\u200b",
	"\u001c", "\u180e", "\ufeff", "😀", "\U0001F3FD", "\u200d", "\ufffd", "\u0600", "x", "q",
}

func randomString(r *rand.Rand) string {
	var b strings.Builder
	n := r.IntN(24)
	for i := 0; i < n; i++ {
		b.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

func TestScannerMatchesRegexp2(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 4000
	}
	for _, pat := range scannerPatterns {
		re := regexp2.MustCompile(pat, regexp2.None)
		sc := knownScanner(pat)
		r := rand.New(rand.NewPCG(1, uint64(len(pat))))
		for i := 0; i < n; i++ {
			s := randomString(r)
			want, got := regexSplit(t, re, s), scanSplit(sc, s)
			if strings.Join(want, "\x00") != strings.Join(got, "\x00") || len(want) != len(got) {
				t.Fatalf("pattern %.20q… on %q:\nscanner %q\nregexp2 %q", pat, s, got, want)
			}
		}
	}
}

// TestScannerFoldsLongS pins the one intended difference from regexp2: Oniguruma's (?i)
// matches 'ſ' as 's' (HF splits "a'ſb" as a, 'ſ, b).
func TestScannerFoldsLongS(t *testing.T) {
	got := scanSplit(scanGLM3, "a'ſb")
	if want := []string{"a", "'ſ", "b"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
	// GPT-2's contractions are case-sensitive.
	if got := scanSplit(scanGPT2, "a'Sb"); strings.Join(got, "|") != "a|'|Sb" {
		t.Fatalf("GPT-2 got %q", got)
	}
}

func FuzzPretokenize(f *testing.F) {
	for _, s := range []string{"", "Hello world", "it's  \n\n x", "a'ſb", "  \t\r\n  x", "123456 7", "é\u0301 中文 😀", "\xff\xfe'"} {
		f.Add(s)
	}
	res := make([]*regexp2.Regexp, len(scannerPatterns))
	for i, p := range scannerPatterns {
		res[i] = regexp2.MustCompile(p, regexp2.None)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, pat := range scannerPatterns {
			got := scanSplit(knownScanner(pat), s)
			if strings.Join(got, "") != s {
				t.Fatalf("pieces %q do not tile %q", got, s)
			}
			if !utf8.ValidString(s) || strings.ContainsRune(s, 'ſ') {
				continue // regexp2 sees U+FFFD for invalid bytes; 'ſ' folds differently (above)
			}
			if want := regexSplit(t, res[i], s); strings.Join(want, "\x00") != strings.Join(got, "\x00") || len(want) != len(got) {
				t.Fatalf("pattern %.20q… on %q:\nscanner %q\nregexp2 %q", pat, s, got, want)
			}
		}
	})
}
