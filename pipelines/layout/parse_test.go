package layout

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// megatronExpand re-implements Megatron-Core's parse_str_to_list with the same two regular
// expressions (comma removal, then "(...)*n", then "x*n"), as an independent reference.
func megatronExpand(s string) string {
	s = strings.ReplaceAll(s, ",", "")
	for _, re := range []*regexp.Regexp{regexp.MustCompile(`\(([^)]+)\)\*(\d+)`), regexp.MustCompile(`(.)\*(\d+)`)} {
		s = re.ReplaceAllStringFunc(s, func(m string) string {
			sub := re.FindStringSubmatch(m)
			n, _ := strconv.Atoi(sub[2])
			return strings.Repeat(sub[1], n)
		})
	}
	return s
}

func stagesString(l *Layout) string {
	parts := make([]string, len(l.Stages))
	for j, st := range l.Stages {
		b := make([]byte, len(st))
		for i, k := range st {
			b[i] = byte(k)
		}
		parts[j] = string(b)
	}
	return strings.Join(parts, "|")
}

func TestParseMatchesMegatron(t *testing.T) {
	for _, tc := range []struct {
		in   string
		pp   int
		want string // expanded stages joined by |
	}{
		// Megatron's docstring example and its parse_str_to_list comments.
		{"Ettt|(tt|)*29,m|L", 16, "Ettt|" + strings.Repeat("tt|", 29) + "m|L"},
		{"Et(tL|mt|VE)*2,tt", 1, "EttL|mt|VEtL|mt|VEtt"},
		{"(tm)*3", 1, "tmtmtm"},
		{"E,(t|)*2", 3, "Et|t|"},
		{"(|t)*2,L", 3, "|t|tL"},
		{"t*0E", 1, "E"},
		{"E|*2L", 3, "E||L"},
		{"Et*12L", 1, "E" + strings.Repeat("t", 12) + "L"},
		{"t,*3", 1, "ttt"},
		{"t*1,2", 1, strings.Repeat("t", 12)},
		{"(t),*2,", 1, "tt"},
		{"(t*2|)*2,t*2", 3, "tt|tt|tt"},
		{"", 1, ""},
		{"VEt*5|(t*6|)*6t*5L", 8, "VEttttt|" + strings.Repeat("tttttt|", 6) + "tttttL"},
	} {
		l, err := Parse(tc.in, tc.pp)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := stagesString(l); got != tc.want {
			t.Errorf("Parse(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if ref := megatronExpand(tc.in); ref != tc.want {
			t.Errorf("reference expansion of %q = %q, want %q", tc.in, ref, tc.want)
		}
		if l.VP*l.PP != len(l.Stages) {
			t.Errorf("Parse(%q): PP %d VP %d for %d stages", tc.in, l.PP, l.VP, len(l.Stages))
		}
		back, err := Parse(l.String(), tc.pp)
		if err != nil || stagesString(back) != tc.want {
			t.Errorf("round trip of %q via %q: %v %q", tc.in, l.String(), err, stagesString(back))
		}
	}
}

// TestParseRandomAgainstMegatron generates random strings of the accepted grammar and checks
// the expansion against the regex reference.
func TestParseRandomAgainstMegatron(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	syms := "VEtmL|"
	item := func() string {
		s := string(syms[rng.IntN(len(syms))])
		if rng.IntN(3) == 0 {
			s += "*" + strconv.Itoa(rng.IntN(4))
		}
		return s
	}
	for n := 0; n < 3000; n++ {
		var sb strings.Builder
		for range 1 + rng.IntN(6) {
			if rng.IntN(4) == 0 {
				sb.WriteByte('(')
				for range 1 + rng.IntN(3) {
					sb.WriteString(item())
				}
				fmt.Fprintf(&sb, ")*%d", rng.IntN(4))
			} else {
				sb.WriteString(item())
			}
			if rng.IntN(5) == 0 {
				sb.WriteByte(',')
			}
		}
		in := sb.String()
		l, err := Parse(in, 1)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got, want := stagesString(l), megatronExpand(in); got != want {
			t.Fatalf("Parse(%q) = %q, Megatron's expansion %q", in, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		pp   int
		col  int // 1-based
		want string
	}{
		{"Et*|tL", 1, 3, "'*' must be followed by a repeat count"},
		{"Ex|tL", 1, 2, `unexpected 'x'`},
		{"E t", 1, 2, `unexpected ' '`},
		{"E((t)*2)*2", 1, 3, "nested parentheses"},
		{"E(t|", 1, 2, "never closed"},
		{"Et)", 1, 3, "without a matching '('"},
		{"E(t)L", 1, 4, "must be followed by '*N'"},
		{"E()*2", 1, 2, "empty parentheses"},
		{"*3t", 1, 1, "'*' must follow"},
		{"Et*2*3", 1, 5, "chained repeat counts"},
		{"Et*99999999", 1, 4, "repeat count exceeds"},
		{"E(t*100|)*1000", 1, 3, "expands to more than"},
		{"Et|t|tL", 2, 8, "3 stages are not a multiple of pp=2"},
	} {
		_, err := Parse(tc.in, tc.pp)
		var le *Error
		if !errors.As(err, &le) {
			t.Errorf("Parse(%q): error %v, want *Error", tc.in, err)
			continue
		}
		if le.Offset+1 != tc.col || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q): column %d %q, want column %d containing %q", tc.in, le.Offset+1, err, tc.col, tc.want)
		}
		caret := "\t" + tc.in + "\n\t" + strings.Repeat(" ", tc.col-1) + "^"
		if !strings.HasSuffix(err.Error(), caret) {
			t.Errorf("Parse(%q): error does not end with the caret line:\n%s", tc.in, err)
		}
	}
	if _, err := Parse("EtL", 0); err == nil {
		t.Error("pp=0 accepted")
	}
}

func TestParseList(t *testing.T) {
	l, err := ParseList([][]string{{"Vision", " embedding", "decoder"}, {"DECODER", "loss"}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.String(); got != "VEt|tL" {
		t.Errorf("String() = %q", got)
	}
	_, err = ParseList([][]string{{"embedding"}, {"decodr", "loss"}}, 1)
	var le *Error
	if !errors.As(err, &le) || le.Stage != 1 || le.Item != 0 || !strings.Contains(err.Error(), `stage 1 item 0: unknown layer "decodr"`) {
		t.Errorf("bad name: %v", err)
	}
	if _, err := ParseList([][]string{{"embedding"}, {"decoder"}, {"loss"}}, 2); err == nil ||
		!strings.Contains(err.Error(), "3 stages are not a multiple of pp=2") {
		t.Errorf("stage count: %v", err)
	}
	if _, err := ParseList(nil, 1); err == nil {
		t.Error("empty list accepted")
	}
}

// FuzzParse: Parse never panics, and whatever it accepts expands as Megatron's parser does.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"VEt*5|(t*6|)*6t*5L", "E(t|)*3L", "t*1,2", "((t)*2)*2", "E|*2L", "(|*0)*3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 64 {
			return
		}
		l, err := Parse(s, 1)
		if err != nil {
			return
		}
		if got, want := stagesString(l), megatronExpand(s); got != want {
			t.Fatalf("Parse(%q) = %q, Megatron's expansion %q", s, got, want)
		}
	})
}
