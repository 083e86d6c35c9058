package schedule

import (
	"fmt"
	"math"
)

// SimulateCores replays s like Simulate but with the ranks sharing `cores` processors (a
// real number: virtual CPUs may deliver less than their count):
// whenever n ranks are computing at once (F, B, W, Step), each progresses at rate
// min(1, cores/n) — processor sharing, the steady state of an operating system time-slicing
// runnable threads. Costs are then work (time on a processor of its own), and a span lasts
// as long as its work takes at the shared rate; sends, receives and the Step barrier behave
// as in Simulate. cores ≥ P gives Simulate's timelines. The schedule must be valid (Simulate
// it first for the detailed diagnostics); a stuck replay returns a *DeadlockError.
//
// It predicts what an executor measures when its ranks outnumber the cores (4 pipeline ranks
// on a 2-core machine), which constant per-stage durations cannot: busy ranks slow each other
// down in the steady phase of a schedule but not in its ramps.
func SimulateCores(s Schedule, c Costs, cores float64) (*Result, error) {
	if !(cores >= 1) || math.IsInf(cores, 1) {
		return nil, fmt.Errorf("schedule: %v cores, want a finite number ≥ 1", cores)
	}
	if _, err := Simulate(s, c); err != nil {
		return nil, err
	}
	P, M := s.P, s.M
	n := s.Stages() * M
	fDone, bDone := make([]bool, n), make([]bool, n)
	type queued struct {
		stage, mb int
		arrive    float64
	}
	chans := map[chanKey][]queued{}
	pc := make([]int, P)
	work := make([]float64, P)  // remaining work of the running compute action
	start := make([]float64, P) // when it started
	running := make([]bool, P)
	waitUntil := make([]float64, P) // a blocked receive's arrival time (NaN: not known yet)
	atStep := make([]bool, P)
	res := &Result{Timelines: make([][]Span, P), Busy: make([]float64, P), PeakActivations: make([]int, P)}
	inflight := make([]int, P)
	t := 0.0
	const eps = 1e-12
	for {
		// Start whatever each idle rank can start now.
		for progress := true; progress; {
			progress = false
			for r := range P {
				if running[r] || atStep[r] || pc[r] >= len(s.Ranks[r]) {
					continue
				}
				a := s.Ranks[r][pc[r]]
				stage := a.Stage(P)
				switch a.Kind {
				case F, B, W:
					id := stage*M + a.MB
					switch a.Kind {
					case F:
						fDone[id] = true
						inflight[r]++
						res.PeakActivations[r] = max(res.PeakActivations[r], inflight[r])
					case B:
						bDone[id] = true
					case W:
						inflight[r]--
					}
					running[r], work[r], start[r] = true, c.of(a.Kind, stage), t
					progress = true
				case SendF, SendB:
					k := chanKey{src: r, dst: a.Peer(P), grad: a.Kind == SendB}
					chans[k] = append(chans[k], queued{stage, a.MB, t + c.Comm})
					res.Timelines[r] = append(res.Timelines[r], Span{Action: a, Start: t, End: t})
					pc[r]++
					progress = true
				case RecvF, RecvB:
					k := chanKey{src: a.Peer(P), dst: r, grad: a.Kind == RecvB}
					q := chans[k]
					if len(q) == 0 {
						waitUntil[r] = math.NaN()
						continue
					}
					if q[0].arrive > t+eps {
						waitUntil[r] = q[0].arrive
						continue
					}
					chans[k] = q[1:]
					res.Timelines[r] = append(res.Timelines[r], Span{Action: a, Start: t, End: t}) // start fixed below
					pc[r]++
					progress = true
				case Step:
					atStep[r] = true
					progress = true
				}
			}
		}
		// The Step barrier: every rank there → all compute it together.
		all := true
		for r := range P {
			all = all && (atStep[r] || pc[r] >= len(s.Ranks[r]))
		}
		if all {
			done := true
			for r := range P {
				if atStep[r] {
					atStep[r], running[r], work[r], start[r] = false, true, c.Step, t
					done = false
				}
			}
			if done {
				break
			}
		}
		// Advance to the next event.
		active := 0
		for r := range P {
			if running[r] {
				active++
			}
		}
		rate := 1.0
		if float64(active) > cores {
			rate = cores / float64(active)
		}
		next := math.Inf(1)
		for r := range P {
			if running[r] {
				next = min(next, t+work[r]/rate)
			} else if !math.IsNaN(waitUntil[r]) && waitUntil[r] > t {
				next = min(next, waitUntil[r])
			}
		}
		if math.IsInf(next, 1) {
			return nil, &DeadlockError{}
		}
		dt := next - t
		for r := range P {
			waitUntil[r] = math.NaN()
			if !running[r] {
				continue
			}
			work[r] -= dt * rate
			if work[r] <= eps*(1+math.Abs(next)) {
				running[r] = false
				a := s.Ranks[r][pc[r]]
				res.Timelines[r] = append(res.Timelines[r], Span{Action: a, Start: start[r], End: next})
				res.Busy[r] += next - start[r]
				pc[r]++
			}
		}
		t = next
	}
	for r := range P {
		for _, sp := range res.Timelines[r] {
			res.Makespan = max(res.Makespan, sp.End)
		}
	}
	idle, busy := 0.0, 0.0
	for _, b := range res.Busy {
		idle += res.Makespan - b
		busy += b
	}
	if res.Makespan > 0 {
		res.Bubble = idle / (float64(P) * res.Makespan)
	}
	if busy > 0 {
		res.IdleOverBusy = idle / busy
	}
	return res, nil
}
