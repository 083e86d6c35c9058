package run

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/glmflow/glmflow/pipelines/schedule"
	"github.com/glmflow/glmflow/stages/optim"
)

// Trace records the executed actions of the ranks of this process.
type Trace struct {
	mu     sync.Mutex
	origin time.Time
	spans  []Span
}

// Span is one executed action.
type Span struct {
	Rank       int
	Action     schedule.Action
	Start, End time.Duration // since the trace's origin
	Step       *optim.StepInfo
}

// NewTrace starts a trace; times are relative to origin (use one origin for all processes of
// a job, e.g. the launch time, so their traces line up).
func NewTrace(origin time.Time) *Trace { return &Trace{origin: origin} }

func (t *Trace) add(rank int, a schedule.Action, start, end time.Time, info *optim.StepInfo) {
	t.mu.Lock()
	t.spans = append(t.spans, Span{Rank: rank, Action: a, Start: start.Sub(t.origin), End: end.Sub(t.origin), Step: info})
	t.mu.Unlock()
}

// Origin is the time spans are measured from.
func (t *Trace) Origin() time.Time { return t.origin }

// Spans returns the recorded spans sorted by rank, then start.
func (t *Trace) Spans() []Span {
	t.mu.Lock()
	out := append([]Span(nil), t.spans...)
	t.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Rank != out[j].Rank {
			return out[i].Rank < out[j].Rank
		}
		return out[i].Start < out[j].Start
	})
	return out
}

// Bubble is the measured idle share of the ranks over [from, to): 1 − Σ busy / (P · (to −
// from)), busy being the time in F, B, W and Step (sends and receives count as idle, as in
// the simulator). Spans are clipped to the window.
func Bubble(spans []Span, p int, from, to time.Duration) float64 {
	if to <= from || p < 1 {
		return 0
	}
	var busy time.Duration
	for _, s := range spans {
		if !s.Action.Kind.IsCompute() {
			continue
		}
		a, b := max(s.Start, from), min(s.End, to)
		if b > a {
			busy += b - a
		}
	}
	return 1 - float64(busy)/(float64(p)*float64(to-from))
}

// WriteChrome writes the spans as Chrome/Perfetto trace-event JSON: one track per rank.
func WriteChrome(w io.Writer, spans []Span, job string) error {
	type event struct {
		Name string         `json:"name"`
		Cat  string         `json:"cat,omitempty"`
		Ph   string         `json:"ph"`
		Ts   float64        `json:"ts"`
		Dur  float64        `json:"dur,omitempty"`
		Pid  int            `json:"pid"`
		Tid  int            `json:"tid"`
		Args map[string]any `json:"args,omitempty"`
	}
	var evs []event
	ranks := map[int]bool{}
	for _, s := range spans {
		if !ranks[s.Rank] {
			ranks[s.Rank] = true
			evs = append(evs, event{Name: "thread_name", Ph: "M", Pid: 0, Tid: s.Rank, Args: map[string]any{"name": fmt.Sprintf("rank %d", s.Rank)}})
		}
		name := s.Action.Kind.String()
		args := map[string]any{}
		if s.Action.Kind != schedule.Step {
			name = fmt.Sprintf("%s%d", name, s.Action.MB)
			args["chunk"], args["mb"] = s.Action.Chunk, s.Action.MB
		} else if s.Step != nil {
			args["step"], args["lr"], args["grad_norm"], args["skipped"] = s.Step.Step, s.Step.LR, s.Step.Norm, s.Step.Skipped
		}
		evs = append(evs, event{Name: name, Cat: s.Action.Kind.String(), Ph: "X",
			Ts: float64(s.Start.Nanoseconds()) / 1e3, Dur: float64((s.End - s.Start).Nanoseconds()) / 1e3,
			Pid: 0, Tid: s.Rank, Args: args})
	}
	evs = append([]event{{Name: "process_name", Ph: "M", Pid: 0, Args: map[string]any{"name": job}}}, evs...)
	enc := json.NewEncoder(w)
	return enc.Encode(map[string]any{"traceEvents": evs, "displayTimeUnit": "ms"})
}
