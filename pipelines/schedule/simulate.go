package schedule

import (
	"fmt"
	"sort"
	"strings"
)

// Span is one executed action with its start and end time. For a receive, Start is when the
// rank reached it and End when the payload was available (the difference is idle time).
type Span struct {
	Action     Action
	Start, End float64
}

// Result is a simulated execution.
type Result struct {
	Timelines       [][]Span  // [P] one span per action, in list order
	Makespan        float64   // end of the last action
	Busy            []float64 // [P] time spent in F, B, W and Step
	Bubble          float64   // Σ_r (Makespan − Busy[r]) / (P · Makespan)
	IdleOverBusy    float64   // Σ_r (Makespan − Busy[r]) / Σ_r Busy[r]
	PeakActivations []int     // [P] most (chunk, micro-batch) pairs forwarded and not yet W-done
}

// PeakStageUnits is PeakActivations[r] in units of one micro-batch through a whole rank's
// share of the model (divided by V), the unit of docs/performance.md.
func (r *Result) PeakStageUnits(rank, v int) float64 {
	return float64(r.PeakActivations[rank]) / float64(v)
}

// ActionError reports an action that is malformed or breaks a dependency.
type ActionError struct {
	Action Action
	Index  int // position in its rank's list
	Msg    string
}

func (e *ActionError) Error() string {
	return fmt.Sprintf("schedule: rank %d action %d %v: %s", e.Action.Rank, e.Index, e.Action, e.Msg)
}

// Blocked is a rank stuck at an action when the simulation cannot progress.
type Blocked struct {
	Action  Action
	Index   int
	Waiting string
}

// DeadlockError lists every rank that cannot progress and the messages sent but not yet
// received at that point.
type DeadlockError struct {
	Blocked     []Blocked
	Undelivered []Blocked // sends still queued; Waiting names the channel
}

func (e *DeadlockError) Error() string {
	parts := make([]string, len(e.Blocked))
	for i, b := range e.Blocked {
		parts[i] = fmt.Sprintf("rank %d action %d %v waits for %s", b.Action.Rank, b.Index, b.Action, b.Waiting)
	}
	msg := "schedule: deadlock: " + strings.Join(parts, "; ")
	if len(e.Undelivered) > 0 {
		msg += fmt.Sprintf(" (%d sent but not received, first: rank %d action %d %v on %s)",
			len(e.Undelivered), e.Undelivered[0].Action.Rank, e.Undelivered[0].Index, e.Undelivered[0].Action, e.Undelivered[0].Waiting)
	}
	return msg
}

// UnmatchedError lists sends that no receive consumed.
type UnmatchedError struct{ Sends []Blocked }

func (e *UnmatchedError) Error() string {
	parts := make([]string, len(e.Sends))
	for i, s := range e.Sends {
		parts[i] = fmt.Sprintf("rank %d action %d %v on %s", s.Action.Rank, s.Index, s.Action, s.Waiting)
	}
	return "schedule: sends never received: " + strings.Join(parts, "; ")
}

type chanKey struct {
	src, dst int
	grad     bool // false: activations (SendF/RecvF), true: gradients (SendB/RecvB)
}

func (k chanKey) String() string {
	what := "activations"
	if k.grad {
		what = "gradients"
	}
	return fmt.Sprintf("channel %d→%d (%s)", k.src, k.dst, what)
}

type msg struct {
	stage, mb int
	arrive    float64
	from      Action
	index     int
}

type fifo struct {
	q    []msg
	head int
}

// sim is the simulator state. Per (stage, micro-batch) flags are indexed stage·M + mb.
type sim struct {
	s                   Schedule
	c                   Costs
	S                   int
	fDone, bDone, wDone []bool
	sentF, sentB        []bool
	gotF, gotB          []bool
	chans               map[chanKey]*fifo
	pc                  []int
	clock               []float64
	inflight, peak      []int
	busy                []float64
	res                 *Result
}

// Simulate replays s with costs c under the semantics in the package doc. It returns an
// *ActionError for a malformed action or a broken dependency, a *DeadlockError when ranks wait
// on each other, and an *UnmatchedError for sends nobody receives.
func Simulate(s Schedule, c Costs) (*Result, error) {
	if s.P < 1 || s.M < 1 || s.V < 1 || len(s.Ranks) != s.P {
		return nil, fmt.Errorf("schedule %s: P=%d M=%d V=%d with %d rank lists", s.Name, s.P, s.M, s.V, len(s.Ranks))
	}
	S := s.Stages()
	if err := c.validate(S); err != nil {
		return nil, err
	}
	if err := checkShape(s); err != nil {
		return nil, err
	}
	n := S * s.M
	st := &sim{
		s: s, c: c, S: S,
		fDone: make([]bool, n), bDone: make([]bool, n), wDone: make([]bool, n),
		sentF: make([]bool, n), sentB: make([]bool, n), gotF: make([]bool, n), gotB: make([]bool, n),
		chans: map[chanKey]*fifo{},
		pc:    make([]int, s.P), clock: make([]float64, s.P),
		inflight: make([]int, s.P), peak: make([]int, s.P), busy: make([]float64, s.P),
		res: &Result{Timelines: make([][]Span, s.P)},
	}
	for r := range s.P {
		st.res.Timelines[r] = make([]Span, 0, len(s.Ranks[r]))
	}
	if err := st.run(); err != nil {
		return nil, err
	}
	return st.finish(), nil
}

// checkShape validates every action's fields and that each rank ends with exactly one Step.
func checkShape(s Schedule) error {
	for r, acts := range s.Ranks {
		if len(acts) == 0 || acts[len(acts)-1].Kind != Step {
			return fmt.Errorf("schedule %s: rank %d does not end with Step", s.Name, r)
		}
		for i, a := range acts {
			bad := func(msg string) error { return &ActionError{Action: a, Index: i, Msg: msg} }
			switch {
			case a.Rank != r:
				return bad(fmt.Sprintf("listed under rank %d", r))
			case a.Kind >= numKinds:
				return bad("unknown kind")
			case a.Kind == Step && i != len(acts)-1:
				return bad("Step before the end of the list")
			case a.Kind == Step && (a.Chunk != -1 || a.MB != -1):
				return bad("Step must have Chunk = −1 and MB = −1")
			case a.Kind != Step && (a.Chunk < 0 || a.Chunk >= s.V):
				return bad(fmt.Sprintf("chunk outside [0, %d)", s.V))
			case a.Kind != Step && (a.MB < 0 || a.MB >= s.M):
				return bad(fmt.Sprintf("micro-batch outside [0, %d)", s.M))
			}
			stage := a.Stage(s.P)
			if (a.Kind == RecvF || a.Kind == SendB) && stage == 0 {
				return bad("the first stage has no upstream stage")
			}
			if (a.Kind == SendF || a.Kind == RecvB) && stage == s.Stages()-1 {
				return bad("the last stage has no downstream stage")
			}
		}
	}
	return nil
}

// run advances every rank as far as it can, round after round, until all are done or none can
// move. Times depend only on the data flow, not on the order ranks are visited.
func (st *sim) run() error {
	for {
		progress := false
		for r := range st.s.P {
			moved, err := st.advance(r)
			if err != nil {
				return err
			}
			progress = progress || moved
		}
		if progress {
			continue
		}
		allAtStep, allDone := true, true
		for r, acts := range st.s.Ranks {
			if st.pc[r] < len(acts) {
				allDone = false
			}
			if st.pc[r] != len(acts)-1 {
				allAtStep = false
			}
		}
		switch {
		case allDone:
			return nil
		case allAtStep:
			if err := st.step(); err != nil {
				return err
			}
		default:
			return st.deadlock()
		}
	}
}

// advance runs rank r until it blocks; it reports whether any action ran.
func (st *sim) advance(r int) (bool, error) {
	acts := st.s.Ranks[r]
	moved := false
	for st.pc[r] < len(acts) {
		i := st.pc[r]
		a := acts[i]
		if a.Kind == Step {
			return moved, nil // the barrier runs once every rank is here
		}
		ok, err := st.exec(r, i, a)
		if err != nil || !ok {
			return moved, err
		}
		st.pc[r]++
		moved = true
	}
	return moved, nil
}

// exec runs one non-Step action; ok is false when a receive has nothing to deliver yet.
func (st *sim) exec(r, i int, a Action) (ok bool, err error) {
	p, M := st.s.P, st.s.M
	stage := a.Stage(p)
	id := stage*M + a.MB
	bad := func(format string, args ...any) error {
		return &ActionError{Action: a, Index: i, Msg: fmt.Sprintf(format, args...)}
	}
	t := st.clock[r]
	switch a.Kind {
	case F:
		if st.fDone[id] {
			return false, bad("second F of stage %d mb %d", stage, a.MB)
		}
		if stage > 0 && !st.gotF[id] {
			return false, bad("F of stage %d mb %d before its input activation was received", stage, a.MB)
		}
		st.fDone[id] = true
		st.inflight[r]++
		st.peak[r] = max(st.peak[r], st.inflight[r])
		st.compute(r, a, stage)
	case B:
		switch {
		case st.bDone[id]:
			return false, bad("second B of stage %d mb %d", stage, a.MB)
		case !st.fDone[id]:
			return false, bad("B of stage %d mb %d before its F", stage, a.MB)
		case stage < st.S-1 && !st.gotB[id]:
			return false, bad("B of stage %d mb %d before its output gradient was received", stage, a.MB)
		}
		st.bDone[id] = true
		st.compute(r, a, stage)
	case W:
		switch {
		case st.wDone[id]:
			return false, bad("second W of stage %d mb %d", stage, a.MB)
		case !st.bDone[id]:
			return false, bad("W of stage %d mb %d before its B", stage, a.MB)
		}
		st.wDone[id] = true
		st.inflight[r]--
		st.compute(r, a, stage)
	case SendF, SendB:
		grad := a.Kind == SendB
		done, sent, what := st.fDone, st.sentF, "F"
		if grad {
			done, sent, what = st.bDone, st.sentB, "B"
		}
		if !done[id] {
			return false, bad("send before the %s of stage %d mb %d", what, stage, a.MB)
		}
		if sent[id] {
			return false, bad("second send of stage %d mb %d", stage, a.MB)
		}
		sent[id] = true
		k := chanKey{src: r, dst: a.Peer(p), grad: grad}
		ch := st.chans[k]
		if ch == nil {
			ch = &fifo{}
			st.chans[k] = ch
		}
		ch.q = append(ch.q, msg{stage: stage, mb: a.MB, arrive: t + st.c.Comm, from: a, index: i})
		st.record(r, a, t, t)
	case RecvF, RecvB:
		grad := a.Kind == RecvB
		got, from := st.gotF, stage-1
		if grad {
			got, from = st.gotB, stage+1
		}
		if got[id] {
			return false, bad("second receive for stage %d mb %d", stage, a.MB)
		}
		k := chanKey{src: a.Peer(p), dst: r, grad: grad}
		ch := st.chans[k]
		if ch == nil || ch.head == len(ch.q) {
			return false, nil
		}
		m := ch.q[ch.head]
		if m.stage != from || m.mb != a.MB {
			return false, bad("out of order: expects stage %d mb %d but %v delivers stage %d mb %d next (sent by rank %d action %d)",
				from, a.MB, k, m.stage, m.mb, m.from.Rank, m.index)
		}
		ch.head++
		got[id] = true
		st.record(r, a, t, max(t, m.arrive))
	default:
		return false, bad("unexpected kind")
	}
	return true, nil
}

func (st *sim) compute(r int, a Action, stage int) {
	d := st.c.of(a.Kind, stage)
	st.busy[r] += d
	st.record(r, a, st.clock[r], st.clock[r]+d)
}

func (st *sim) record(r int, a Action, start, end float64) {
	st.res.Timelines[r] = append(st.res.Timelines[r], Span{Action: a, Start: start, End: end})
	st.clock[r] = end
}

// step runs the Step barrier: every rank starts it when the last one arrives.
func (st *sim) step() error {
	p, M := st.s.P, st.s.M
	t := 0.0
	for r := range p {
		t = max(t, st.clock[r])
	}
	// Every rank is at its last action: whatever is still queued is never received.
	if left := st.undelivered(); len(left) > 0 {
		return &UnmatchedError{Sends: left}
	}
	for r := range p {
		i := st.pc[r]
		a := st.s.Ranks[r][i]
		for c := range st.s.V {
			stage := c*p + r
			for mb := range M {
				if !st.wDone[stage*M+mb] {
					return &ActionError{Action: a, Index: i, Msg: fmt.Sprintf("Step before the W of stage %d mb %d", stage, mb)}
				}
			}
		}
		st.clock[r] = t
		st.busy[r] += st.c.Step
		st.record(r, a, t, t+st.c.Step)
		st.pc[r]++
	}
	return nil
}

func (st *sim) deadlock() error {
	var blocked []Blocked
	for r, acts := range st.s.Ranks {
		i := st.pc[r]
		if i >= len(acts) {
			continue
		}
		a := acts[i]
		var why string
		switch a.Kind {
		case Step:
			why = "the step barrier (other ranks are stuck)"
		case RecvF:
			why = fmt.Sprintf("the activation of stage %d mb %d from rank %d, which was not sent yet", a.Stage(st.s.P)-1, a.MB, a.Peer(st.s.P))
		case RecvB:
			why = fmt.Sprintf("the gradient of stage %d mb %d from rank %d, which was not sent yet", a.Stage(st.s.P)+1, a.MB, a.Peer(st.s.P))
		}
		blocked = append(blocked, Blocked{Action: a, Index: i, Waiting: why})
	}
	return &DeadlockError{Blocked: blocked, Undelivered: st.undelivered()}
}

// undelivered lists queued messages no receive has taken, in channel order.
func (st *sim) undelivered() []Blocked {
	keys := make([]chanKey, 0, len(st.chans))
	for k := range st.chans {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.src != b.src {
			return a.src < b.src
		}
		if a.dst != b.dst {
			return a.dst < b.dst
		}
		return !a.grad && b.grad
	})
	var left []Blocked
	for _, k := range keys {
		ch := st.chans[k]
		for _, m := range ch.q[ch.head:] {
			left = append(left, Blocked{Action: m.from, Index: m.index, Waiting: k.String()})
		}
	}
	return left
}

func (st *sim) finish() *Result {
	res := st.res
	for _, c := range st.clock {
		res.Makespan = max(res.Makespan, c)
	}
	res.Busy = st.busy
	res.PeakActivations = st.peak
	idle, busy := 0.0, 0.0
	for _, b := range st.busy {
		idle += res.Makespan - b
		busy += b
	}
	if res.Makespan > 0 {
		res.Bubble = idle / (float64(st.s.P) * res.Makespan)
	}
	if busy > 0 {
		res.IdleOverBusy = idle / busy
	}
	return res
}
