package layout

import (
	"fmt"
	"strings"
)

// Kind is one model unit of a layout.
type Kind byte

// The unit kinds, spelled as in the layout string.
const (
	Vision    Kind = 'V' // vision tower (glmflow's extension)
	Embedding Kind = 'E' // token embedding (and image-feature splice)
	Decoder   Kind = 't' // one decoder layer
	MTP       Kind = 'm' // one multi-token-prediction layer
	Loss      Kind = 'L' // final norm, LM head and loss
)

var kindNames = map[Kind]string{Vision: "vision", Embedding: "embedding", Decoder: "decoder", MTP: "mtp", Loss: "loss"}

// Name is the list-form name of k ("decoder" for t).
func (k Kind) Name() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("Kind(%q)", byte(k))
}

func (k Kind) String() string { return string(rune(k)) }

// MaxUnits bounds the expanded size of a layout (units plus boundaries) so that a large repeat
// count cannot allocate without limit.
const MaxUnits = 1 << 16

// Layout is a parsed pipeline layout.
type Layout struct {
	PP, VP int
	// Stages[j] are the units of stage j in model order; stage j runs on rank j mod PP as
	// chunk j / PP.
	Stages [][]Kind
	src    string  // the string parsed
	list   bool    // parsed from the list form
	pos    [][]pos // where each unit came from, for error messages
}

// pos locates a unit in its source: a byte offset into the string form, or stage and item
// indices of the list form (off = −1).
type pos struct{ off, stage, item int }

// NumStages is PP·VP.
func (l *Layout) NumStages() int { return len(l.Stages) }

// Rank is the pipeline rank that runs stage j.
func (l *Layout) Rank(j int) int { return j % l.PP }

// Chunk is the virtual-stage index of stage j on its rank.
func (l *Layout) Chunk(j int) int { return j / l.PP }

// Stage is the stage that rank runs as its chunk-th virtual stage.
func (l *Layout) Stage(rank, chunk int) int { return chunk*l.PP + rank }

// RankStages lists the stages rank runs, by chunk.
func (l *Layout) RankStages(rank int) []int {
	out := make([]int, l.VP)
	for c := range out {
		out[c] = l.Stage(rank, c)
	}
	return out
}

// Count is the number of units of kind k on stage j.
func (l *Layout) Count(j int, k Kind) int {
	n := 0
	for _, u := range l.Stages[j] {
		if u == k {
			n++
		}
	}
	return n
}

// Total is the number of units of kind k in the layout.
func (l *Layout) Total(k Kind) int {
	n := 0
	for j := range l.Stages {
		n += l.Count(j, k)
	}
	return n
}

// Layers returns the global index of the first unit of kind k on stage j and how many stage j
// holds (Megatron's get_layer_offset and get_num_layers_to_build for decoder layers).
func (l *Layout) Layers(j int, k Kind) (first, n int) {
	for i := 0; i < j; i++ {
		first += l.Count(i, k)
	}
	return first, l.Count(j, k)
}

// String is the canonical string form: stages joined by |, runs of a unit written x*N.
// Parse(l.String(), l.PP) yields the same stages.
func (l *Layout) String() string {
	var sb strings.Builder
	for j, st := range l.Stages {
		if j > 0 {
			sb.WriteByte('|')
		}
		for i := 0; i < len(st); {
			n := 1
			for i+n < len(st) && st[i+n] == st[i] {
				n++
			}
			sb.WriteByte(byte(st[i]))
			if n > 1 {
				fmt.Fprintf(&sb, "*%d", n)
			}
			i += n
		}
	}
	return sb.String()
}

// Table renders one line per rank with the units of each of its chunks, for logs and the CLI.
func (l *Layout) Table() string {
	var sb strings.Builder
	for r := range l.PP {
		fmt.Fprintf(&sb, "rank %d:", r)
		for c, j := range l.RankStages(r) {
			one := &Layout{PP: 1, VP: 1, Stages: [][]Kind{l.Stages[j]}}
			s := one.String()
			if s == "" {
				s = "(empty)"
			}
			if l.VP > 1 {
				fmt.Fprintf(&sb, "  [chunk %d, stage %d] %s", c, j, s)
			} else {
				fmt.Fprintf(&sb, " %s", s)
			}
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}
