package schedule

import (
	"fmt"
	"math"
	"strings"
)

// maxGridColumns bounds the rendered width so that a tiny cost next to a huge makespan cannot
// allocate an enormous grid.
const maxGridColumns = 100000

// Grid simulates s with costs c and renders the rank × time grid as text: one row per rank,
// one column per time slot of the smallest positive F/B/W/Step cost. A cell shows the compute
// action running at the slot's midpoint — kind letter and micro-batch (F3, B3, W3, S for the
// optimizer step), followed by the chunk letter (a, b, ...) when V > 1 — or '.' when the rank
// is idle. Rows are cut into bands at most width characters wide (width ≤ 0: no limit). A
// header gives the slot number every 5 slots and a footer the makespan, bubble and peak
// in-flight activations. The output is a pure function of its inputs.
func Grid(s Schedule, c Costs, width int) (string, error) { return grid(s, c, width, false) }

// GridColor is Grid with ANSI colours (F blue, B green, W yellow, Step magenta) for terminals.
func GridColor(s Schedule, c Costs, width int) (string, error) { return grid(s, c, width, true) }

func grid(s Schedule, c Costs, width int, color bool) (string, error) {
	res, err := Simulate(s, c)
	if err != nil {
		return "", err
	}
	unit := math.Inf(1)
	for _, v := range [][]float64{c.F, c.B, c.W, {c.Step}} {
		for _, x := range v {
			if x > 0 {
				unit = min(unit, x)
			}
		}
	}
	if math.IsInf(unit, 1) {
		return "", fmt.Errorf("schedule grid: every cost is zero, nothing to draw")
	}
	ncols := int(math.Ceil(res.Makespan/unit - 1e-9))
	if ncols > maxGridColumns {
		return "", fmt.Errorf("schedule grid: %d time slots of %g exceed the limit of %d", ncols, unit, maxGridColumns)
	}

	// cells[r][i] is the label of slot i on rank r ("" when idle).
	cells := make([][]string, s.P)
	cellW := 1
	for r, tl := range res.Timelines {
		row := make([]string, ncols)
		j := 0
		for i := range row {
			mid := (float64(i) + 0.5) * unit
			for j < len(tl) && tl[j].End <= mid {
				j++
			}
			for k := j; k < len(tl) && tl[k].Start <= mid; k++ {
				if a := tl[k].Action; a.Kind.IsCompute() && tl[k].End > mid {
					row[i] = cellLabel(a, s.V)
					cellW = max(cellW, len(row[i]))
					break
				}
			}
		}
		cells[r] = row
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "%s  p=%d m=%d v=%d  slot=%g", s.Name, s.P, s.M, s.V, unit)
	if c.Comm > 0 {
		fmt.Fprintf(&sb, "  comm=%g", c.Comm)
	}
	sb.WriteByte('\n')
	prefix := len(fmt.Sprint("r", s.P-1)) + 3 // "r12 | "
	perBand := ncols
	if width > 0 {
		perBand = max(1, (width-prefix+1)/(cellW+1))
	}
	for lo := 0; lo < ncols; lo += perBand {
		hi := min(ncols, lo+perBand)
		if lo > 0 {
			sb.WriteByte('\n')
		}
		writeHeader(&sb, prefix, cellW, lo, hi)
		for r := range s.P {
			fmt.Fprintf(&sb, "%-*s| ", prefix-2, fmt.Sprint("r", r))
			for i := lo; i < hi; i++ {
				if i > lo {
					sb.WriteByte(' ')
				}
				writeCell(&sb, cells[r][i], cellW, color, i == hi-1)
			}
			sb.WriteByte('\n')
		}
	}
	fmt.Fprintf(&sb, "makespan %g (%d slots), bubble %.1f%%, peak in-flight activations per rank:", res.Makespan, ncols, 100*res.Bubble)
	for _, pk := range res.PeakActivations {
		fmt.Fprintf(&sb, " %d", pk)
	}
	sb.WriteByte('\n')
	return sb.String(), nil
}

func cellLabel(a Action, v int) string {
	if a.Kind == Step {
		return "S"
	}
	l := fmt.Sprintf("%s%d", a.Kind, a.MB)
	if v > 1 {
		l += string(rune('a' + a.Chunk))
	}
	return l
}

// writeHeader writes slot numbers above every fifth cell of slots [lo, hi).
func writeHeader(sb *strings.Builder, prefix, cellW, lo, hi int) {
	line := []byte(strings.Repeat(" ", prefix+(hi-lo)*(cellW+1)))
	for i := lo; i < hi; i++ {
		if i%5 == 0 {
			pos := prefix + (i-lo)*(cellW+1)
			copy(line[pos:], fmt.Sprint(i))
		}
	}
	sb.WriteString(strings.TrimRight(string(line), " "))
	sb.WriteByte('\n')
}

var ansi = map[byte]string{'F': "\x1b[34m", 'B': "\x1b[32m", 'W': "\x1b[33m", 'S': "\x1b[35m"}

func writeCell(sb *strings.Builder, label string, w int, color, last bool) {
	if label == "" {
		label = "."
	}
	pad := w - len(label)
	if last {
		pad = 0 // no trailing blanks at the end of a row
	}
	if code, ok := ansi[label[0]]; ok && color {
		sb.WriteString(code + label + "\x1b[0m")
	} else {
		sb.WriteString(label)
	}
	sb.WriteString(strings.Repeat(" ", pad))
}
