package schedule

import (
	"fmt"
	"sort"
	"strings"
)

// MaxRanks and MaxMicroBatches bound the generators' inputs so that a typo in a config cannot
// allocate unbounded action lists.
const (
	MaxRanks        = 4096
	MaxMicroBatches = 1 << 20
	MaxVirtual      = 26 // chunks print as letters a–z in the grid
)

// Schedule is a generated schedule: one action list per rank.
type Schedule struct {
	Name  string     // registry name, e.g. "1f1b"
	P     int        // pipeline ranks
	M     int        // micro-batches per step
	V     int        // virtual stages (model chunks) per rank
	Ranks [][]Action // [P] action lists, executed in order
}

// Stages is the number of pipeline stages, P·V.
func (s Schedule) Stages() int { return s.P * s.V }

// Generator builds a schedule for p ranks, m micro-batches and v virtual stages per rank.
type Generator func(p, m, v int) (Schedule, error)

var registry = map[string]Generator{}

// Register adds a schedule generator under name. It panics on a duplicate or empty name: it is
// called from init functions only.
func Register(name string, g Generator) {
	if name == "" || g == nil {
		panic("schedule: Register with empty name or nil generator")
	}
	if _, dup := registry[name]; dup {
		panic("schedule: duplicate schedule name " + name)
	}
	registry[name] = g
}

// Names lists the registered schedule names, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New builds the schedule registered under name. Schedules without virtual stages require
// v = 1.
func New(name string, p, m, v int) (Schedule, error) {
	g, ok := registry[name]
	if !ok {
		return Schedule{}, fmt.Errorf("schedule: unknown schedule %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return g(p, m, v)
}

func init() {
	Register("gpipe", func(p, m, v int) (Schedule, error) {
		if err := needV1("gpipe", v); err != nil {
			return Schedule{}, err
		}
		return GPipe(p, m)
	})
	Register("1f1b", func(p, m, v int) (Schedule, error) {
		if err := needV1("1f1b", v); err != nil {
			return Schedule{}, err
		}
		return OneFOneB(p, m)
	})
	Register("interleaved-1f1b", Interleaved1F1B)
	Register("zb-h1", func(p, m, v int) (Schedule, error) {
		if err := needV1("zb-h1", v); err != nil {
			return Schedule{}, err
		}
		return ZBH1(p, m)
	})
}

func needV1(name string, v int) error {
	if v != 1 {
		return fmt.Errorf("schedule %s: virtual stages v=%d, want 1 (use interleaved-1f1b for v > 1)", name, v)
	}
	return nil
}

func checkPM(name string, p, m int) error {
	if p < 1 || p > MaxRanks {
		return fmt.Errorf("schedule %s: ranks p=%d outside [1, %d]", name, p, MaxRanks)
	}
	if m < 1 || m > MaxMicroBatches {
		return fmt.Errorf("schedule %s: micro-batches m=%d outside [1, %d]", name, m, MaxMicroBatches)
	}
	return nil
}

// op is a compute action before lowering: kind F, B or W on a local chunk.
type op struct {
	kind  Kind
	chunk int
	mb    int
}

// lower turns per-rank compute orders into action lists: RecvF before every F of a stage > 0,
// SendF after every F of a stage < S−1, RecvB before every B of a stage < S−1, and SendB after
// B (split) or after the W that immediately follows B (fused), then Step last.
func lower(name string, p, m, v int, orders [][]op, split bool) Schedule {
	s := Schedule{Name: name, P: p, M: m, V: v, Ranks: make([][]Action, p)}
	last := p*v - 1
	for r, order := range orders {
		acts := make([]Action, 0, 2*len(order)+1)
		for i, o := range order {
			a := Action{Rank: r, Chunk: o.chunk, MB: o.mb}
			stage := o.chunk*p + r
			switch o.kind {
			case F:
				if stage > 0 {
					acts = append(acts, withKind(a, RecvF))
				}
				acts = append(acts, withKind(a, F))
				if stage < last {
					acts = append(acts, withKind(a, SendF))
				}
			case B:
				if stage < last {
					acts = append(acts, withKind(a, RecvB))
				}
				acts = append(acts, withKind(a, B))
				fusedNext := !split && i+1 < len(order) && order[i+1] == op{W, o.chunk, o.mb}
				if stage > 0 && !fusedNext {
					acts = append(acts, withKind(a, SendB))
				}
			case W:
				acts = append(acts, withKind(a, W))
				fusedPrev := !split && i > 0 && order[i-1] == op{B, o.chunk, o.mb}
				if stage > 0 && fusedPrev {
					acts = append(acts, withKind(a, SendB))
				}
			}
		}
		acts = append(acts, Action{Rank: r, Chunk: -1, Kind: Step, MB: -1})
		s.Ranks[r] = acts
	}
	return s
}

func withKind(a Action, k Kind) Action { a.Kind = k; return a }
