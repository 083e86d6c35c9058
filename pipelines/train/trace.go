package train

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/glmflow/glmflow/pipelines/run"
	"github.com/glmflow/glmflow/pipelines/schedule"
	"github.com/glmflow/glmflow/pipelines/transport"
	"github.com/glmflow/glmflow/tensors"
)

// spansTag carries a rank's trace spans to rank 0 at the end of a multi-process run.
var spansTag = transport.Tag{Kind: transport.Control, Chunk: -1, MB: 1}

type wireSpan struct {
	Rank       int
	Action     schedule.Action
	Start, End int64 // Unix nanoseconds: one clock for the processes of one machine
}

// gatherSpans returns every rank's spans on rank 0 (other ranks: their own). Multi-process
// ranks send theirs to rank 0 as JSON in a U8 tensor.
func gatherSpans(ctx context.Context, tr *run.Trace, t transport.Transport, multi bool) ([]run.Span, error) {
	own := tr.Spans()
	if !multi || t.World() == 1 {
		return own, nil
	}
	if t.Rank() != 0 {
		ws := make([]wireSpan, len(own))
		for i, s := range own {
			ws[i] = wireSpan{s.Rank, s.Action, tr.Origin().Add(s.Start).UnixNano(), tr.Origin().Add(s.End).UnixNano()}
		}
		b, err := json.Marshal(ws)
		if err != nil {
			return nil, err
		}
		x := tensors.New(tensors.U8, len(b))
		copy(x.Bytes(), b)
		return own, t.Send(ctx, 0, spansTag, transport.Tensors{"spans": x})
	}
	all := own
	for r := 1; r < t.World(); r++ {
		ts, err := t.Recv(ctx, r, spansTag)
		if err != nil {
			return nil, err
		}
		x := ts["spans"]
		if x == nil || x.DType() != tensors.U8 {
			return nil, fmt.Errorf("train: rank %d sent malformed trace spans", r)
		}
		var ws []wireSpan
		if err := json.Unmarshal(x.Bytes(), &ws); err != nil {
			return nil, fmt.Errorf("train: rank %d trace spans: %w", r, err)
		}
		for _, w := range ws {
			all = append(all, run.Span{Rank: w.Rank, Action: w.Action,
				Start: time.Unix(0, w.Start).Sub(tr.Origin()), End: time.Unix(0, w.End).Sub(tr.Origin())})
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Rank != all[j].Rank {
			return all[i].Rank < all[j].Rank
		}
		return all[i].Start < all[j].Start
	})
	return all, nil
}

func writeTrace(path string, spans []run.Span) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("train: trace: %w", err)
	}
	if err := run.WriteChrome(f, spans, "glmflow run"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Bubbles measures the idle share inside each step window (averaged over the windows) and
// simulates the schedule with the measured mean F, B, W times of each pipeline stage. When
// the ranks outnumber the cores they ran on (cores < P, each rank on one thread), the cost of
// an action is its work — its duration with each instant weighted by the share of a core it
// had, min(1, cores/n) with n the ranks computing at that instant (from the trace) — and the
// simulation shares the cores the same way (schedule.SimulateCores); otherwise the costs are
// the wall durations.
func Bubbles(spans []run.Span, sc schedule.Schedule, windows [][2]time.Duration, cores float64) (measured, simulated float64) {
	spans = barrierSteps(spans, windows)
	for _, w := range windows {
		var in []run.Span
		lo, hi := w[1], w[0]
		for _, s := range spans {
			if s.Start >= w[0] && s.End <= w[1] {
				in = append(in, s)
				lo, hi = min(lo, s.Start), max(hi, s.End)
			}
		}
		measured += run.Bubble(in, sc.P, lo, hi)
	}
	measured /= float64(len(windows))
	S := sc.Stages()
	sums := map[schedule.Kind][]float64{schedule.F: make([]float64, S), schedule.B: make([]float64, S), schedule.W: make([]float64, S)}
	counts := map[schedule.Kind][]int{schedule.F: make([]int, S), schedule.B: make([]int, S), schedule.W: make([]int, S)}
	shared := cores >= 1 && cores < float64(sc.P)
	var work []float64
	if shared {
		work = shareWork(spans, cores)
	}
	var step float64
	var nStep int
	for i, s := range spans {
		d := (s.End - s.Start).Seconds()
		if shared {
			d = work[i]
		}
		switch s.Action.Kind {
		case schedule.F, schedule.B, schedule.W:
			st := s.Action.Stage(sc.P)
			sums[s.Action.Kind][st] += d
			counts[s.Action.Kind][st]++
		case schedule.Step:
			step += d
			nStep++
		}
	}
	c := schedule.Costs{F: make([]float64, S), B: make([]float64, S), W: make([]float64, S)}
	for st := range S {
		for k, dst := range map[schedule.Kind][]float64{schedule.F: c.F, schedule.B: c.B, schedule.W: c.W} {
			if counts[k][st] > 0 {
				dst[st] = sums[k][st] / float64(counts[k][st])
			}
		}
	}
	if nStep > 0 {
		c.Step = step / float64(nStep)
	}
	var res *schedule.Result
	var err error
	if shared {
		res, err = schedule.SimulateCores(sc, c, cores)
	} else {
		res, err = schedule.Simulate(sc, c)
	}
	if err != nil {
		return measured, -1
	}
	return measured, res.Bubble
}

// barrierSteps returns spans with each Step starting when the last rank reached it in its
// window: a rank's Step span includes waiting in the gradient-norm all-reduce for the others,
// which is idle time (the simulator's Step is a barrier followed by the step's cost).
func barrierSteps(spans []run.Span, windows [][2]time.Duration) []run.Span {
	out := append([]run.Span(nil), spans...)
	for _, w := range windows {
		var last time.Duration
		for _, s := range out {
			if s.Action.Kind == schedule.Step && s.Start >= w[0] && s.End <= w[1] {
				last = max(last, s.Start)
			}
		}
		for i, s := range out {
			if s.Action.Kind == schedule.Step && s.Start >= w[0] && s.End <= w[1] {
				out[i].Start = min(last, s.End)
			}
		}
	}
	return out
}

// shareWork estimates each compute span's work (seconds on a core of its own) under processor
// sharing: ∫ min(1, cores/n(t)) dt over the span, n(t) the compute spans running at t.
func shareWork(spans []run.Span, cores float64) []float64 {
	type ev struct {
		t     time.Duration
		delta int
	}
	var evs []ev
	for _, s := range spans {
		if s.Action.Kind.IsCompute() && s.End > s.Start {
			evs = append(evs, ev{s.Start, +1}, ev{s.End, -1})
		}
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].t != evs[j].t {
			return evs[i].t < evs[j].t
		}
		return evs[i].delta < evs[j].delta // ends before starts at the same instant
	})
	// rate(t) is piecewise constant between events; share[k] = ∫_{t0}^{t_k} rate.
	ts := make([]time.Duration, len(evs))
	share := make([]float64, len(evs))
	n, acc := 0, 0.0
	for k, e := range evs {
		if k > 0 {
			dt := (e.t - evs[k-1].t).Seconds()
			if n > 0 {
				acc += dt * min(1, cores/float64(n))
			}
		}
		ts[k], share[k] = e.t, acc
		n += e.delta
	}
	at := func(t time.Duration) float64 { // ∫ rate up to t (t is an event time)
		k := sort.Search(len(ts), func(i int) bool { return ts[i] >= t })
		if k == len(ts) {
			return acc
		}
		return share[k]
	}
	out := make([]float64, len(spans))
	for i, s := range spans {
		if s.Action.Kind.IsCompute() {
			out[i] = at(s.End) - at(s.Start)
		}
	}
	return out
}
