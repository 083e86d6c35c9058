package layout

import (
	"fmt"
	"strings"
)

// Error is a layout error located in its source: a byte offset into the string form, or a
// stage and item of the list form.
type Error struct {
	Layout      string // the string form ("" for the list form)
	Offset      int    // byte offset into Layout; −1 for the list form
	Stage, Item int    // list-form location (Item −1: the whole stage)
	Msg         string
}

func (e *Error) Error() string {
	if e.Offset < 0 {
		if e.Item < 0 {
			return fmt.Sprintf("layout stage %d: %s", e.Stage, e.Msg)
		}
		return fmt.Sprintf("layout stage %d item %d: %s", e.Stage, e.Item, e.Msg)
	}
	ch := "end of layout"
	if e.Offset < len(e.Layout) {
		ch = fmt.Sprintf("%q", e.Layout[e.Offset])
	}
	return fmt.Sprintf("layout %q column %d (%s): %s\n\t%s\n\t%s^",
		e.Layout, e.Offset+1, ch, e.Msg, e.Layout, strings.Repeat(" ", e.Offset))
}

func (l *Layout) errAt(p pos, format string, args ...any) error {
	return &Error{Layout: l.src, Offset: p.off, Stage: p.stage, Item: p.item, Msg: fmt.Sprintf(format, args...)}
}

// endPos is the position just past the layout, for "missing" errors.
func (l *Layout) endPos() pos {
	if l.list {
		return pos{off: -1, stage: len(l.Stages) - 1, item: -1}
	}
	return pos{off: len(l.src)}
}

// sym is one expanded symbol: a unit kind or '|', with its source offset.
type sym struct {
	c   byte
	off int
}

type parser struct {
	src string
	i   int // next byte
	out []sym
}

func (p *parser) fail(off int, format string, args ...any) error {
	return &Error{Layout: p.src, Offset: off, Stage: -1, Item: -1, Msg: fmt.Sprintf(format, args...)}
}

func isSym(c byte) bool {
	return c == '|' || kindNames[Kind(c)] != ""
}

// end marks the end of the input in peek's result.
const end = -1

// peek returns the next non-comma byte and its offset (end, len at the end of the input).
func (p *parser) peek() (int, int) {
	for p.i < len(p.src) && p.src[p.i] == ',' {
		p.i++
	}
	if p.i == len(p.src) {
		return end, p.i
	}
	return int(p.src[p.i]), p.i
}

// count parses "*N" if present; it returns 1 when there is no '*'.
func (p *parser) count() (int, bool, error) {
	c, off := p.peek()
	if c != '*' {
		return 1, false, nil
	}
	p.i++
	_, start := p.peek()
	n := 0
	digits := 0
	for ; p.i < len(p.src); p.i++ {
		c := p.src[p.i]
		if c == ',' {
			continue // Megatron drops commas before expanding, even inside a count
		}
		if c < '0' || c > '9' {
			break
		}
		digits++
		n = n*10 + int(c-'0')
		if n > MaxUnits {
			return 0, true, p.fail(start, "repeat count exceeds %d", MaxUnits)
		}
	}
	if digits == 0 {
		return 0, true, p.fail(off, "'*' must be followed by a repeat count")
	}
	return n, true, nil
}

func (p *parser) emit(s []sym, n int) error {
	if len(s) == 0 || n == 0 {
		return nil
	}
	if len(p.out)+len(s)*n > MaxUnits {
		return p.fail(s[0].off, "layout expands to more than %d units", MaxUnits)
	}
	for range n {
		p.out = append(p.out, s...)
	}
	return nil
}

// items parses symbols with optional repeats until ')' (inGroup) or the end.
func (p *parser) items(inGroup bool) ([]sym, error) {
	var seq []sym
	for {
		c, off := p.peek()
		switch {
		case c == end:
			return seq, nil
		case c == ')':
			if !inGroup {
				return nil, p.fail(off, "')' without a matching '('")
			}
			return seq, nil
		case c == '(':
			if inGroup {
				return nil, p.fail(off, "nested parentheses are not supported (Megatron does not expand them)")
			}
			p.i++
			if c, _ := p.peek(); c == ')' {
				return nil, p.fail(off, "empty parentheses")
			}
			group, err := p.items(true)
			if err != nil {
				return nil, err
			}
			if c, _ := p.peek(); c != ')' {
				return nil, p.fail(off, "'(' is never closed")
			}
			closeOff := p.i
			p.i++
			n, ok, err := p.count()
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, p.fail(closeOff, "')' must be followed by '*N'")
			}
			if err := p.emit(group, n); err != nil {
				return nil, err
			}
		case c == '*':
			return nil, p.fail(off, "'*' must follow a layer character, '|' or ')'")
		case isSym(byte(c)):
			p.i++
			n, _, err := p.count()
			if err != nil {
				return nil, err
			}
			if c, off := p.peek(); c == '*' {
				return nil, p.fail(off, "chained repeat counts are not supported; use parentheses")
			}
			if inGroup {
				if len(seq)+n > MaxUnits {
					return nil, p.fail(off, "layout expands to more than %d units", MaxUnits)
				}
				for range n {
					seq = append(seq, sym{byte(c), off})
				}
			} else if err := p.emit([]sym{{byte(c), off}}, n); err != nil {
				return nil, err
			}
		default:
			return nil, p.fail(off, "unexpected %q; a layout uses V E t m L | ( ) * digits and commas", byte(c))
		}
	}
}

// Parse reads a layout string (see the package doc for the grammar) for pp pipeline ranks. The
// number of stages must be a multiple of pp; VP is their ratio. Parse checks the syntax only;
// call Validate to check the layout against a model.
func Parse(s string, pp int) (*Layout, error) {
	if pp < 1 {
		return nil, fmt.Errorf("layout %q: pipeline ranks pp=%d, want ≥ 1", s, pp)
	}
	p := &parser{src: s}
	if _, err := p.items(false); err != nil {
		return nil, err
	}
	l := &Layout{PP: pp, src: s, Stages: [][]Kind{{}}, pos: [][]pos{{}}}
	for _, y := range p.out {
		if y.c == '|' {
			l.Stages = append(l.Stages, []Kind{})
			l.pos = append(l.pos, []pos{})
			continue
		}
		j := len(l.Stages) - 1
		l.Stages[j] = append(l.Stages[j], Kind(y.c))
		l.pos[j] = append(l.pos[j], pos{off: y.off, stage: -1, item: -1})
	}
	if err := l.setVP(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Layout) setVP() error {
	if len(l.Stages)%l.PP != 0 {
		return l.errAt(l.endPos(), "%d stages are not a multiple of pp=%d", len(l.Stages), l.PP)
	}
	l.VP = len(l.Stages) / l.PP
	return nil
}

// ParseList reads Megatron-Bridge's list form: one list of layer names per stage ("vision",
// "embedding", "decoder", "mtp", "loss"; trimmed, case-insensitive).
func ParseList(stages [][]string, pp int) (*Layout, error) {
	if pp < 1 {
		return nil, fmt.Errorf("layout: pipeline ranks pp=%d, want ≥ 1", pp)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("layout: the list has no stages")
	}
	byName := map[string]Kind{}
	for k, n := range kindNames {
		byName[n] = k
	}
	l := &Layout{PP: pp, list: true, Stages: make([][]Kind, len(stages)), pos: make([][]pos, len(stages))}
	total := 0
	for j, st := range stages {
		total += len(st)
		if total > MaxUnits {
			return nil, &Error{Offset: -1, Stage: j, Item: -1, Msg: fmt.Sprintf("layout has more than %d units", MaxUnits)}
		}
		l.Stages[j] = make([]Kind, len(st))
		l.pos[j] = make([]pos, len(st))
		for i, name := range st {
			k, ok := byName[strings.ToLower(strings.TrimSpace(name))]
			if !ok {
				return nil, &Error{Offset: -1, Stage: j, Item: i,
					Msg: fmt.Sprintf("unknown layer %q; known: decoder, embedding, loss, mtp, vision", name)}
			}
			l.Stages[j][i] = k
			l.pos[j][i] = pos{off: -1, stage: j, item: i}
		}
	}
	if err := l.setVP(); err != nil {
		return nil, err
	}
	return l, nil
}
