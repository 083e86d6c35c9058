package schedule

import (
	"errors"
	"strings"
	"testing"
)

type pmv struct{ p, m, v int }

func allSchedules(t *testing.T) []Schedule {
	t.Helper()
	var out []Schedule
	for _, name := range Names() {
		for p := 1; p <= 6; p++ {
			for _, m := range []int{1, 2, 3, 5, 6, 8, 12} {
				for _, v := range []int{1, 2, 3} {
					s, err := New(name, p, m, v)
					if err != nil {
						continue // invalid combinations are covered by TestInvalidParams
					}
					out = append(out, s)
				}
			}
		}
	}
	if len(out) < 150 {
		t.Fatalf("only %d schedules generated", len(out))
	}
	return out
}

type key struct {
	kind      Kind
	stage, mb int
}

// TestEveryStageMicroBatchOnce counts actions straight from the lists: one F, one B and one W
// per (stage, micro-batch), on the rank that owns the stage, one Step per rank at the end, and
// each rank's list in dependency order (B after F, W after B, sends after their producer,
// receives before their consumer).
func TestEveryStageMicroBatchOnce(t *testing.T) {
	for _, s := range allSchedules(t) {
		count := map[key]int{}
		for r, acts := range s.Ranks {
			pos := map[key]int{}
			for i, a := range acts {
				if a.Rank != r {
					t.Fatalf("%s: action %v on rank list %d", s.Name, a, r)
				}
				if a.Kind == Step {
					if i != len(acts)-1 {
						t.Fatalf("%s p=%d m=%d: Step at %d of %d", s.Name, s.P, s.M, i, len(acts))
					}
					continue
				}
				k := key{a.Kind, a.Stage(s.P), a.MB}
				count[k]++
				pos[k] = i
			}
			if acts[len(acts)-1].Kind != Step {
				t.Fatalf("%s: rank %d does not end with Step", s.Name, r)
			}
			for k, i := range pos {
				before := func(kind Kind, stage int) {
					if j, ok := pos[key{kind, stage, k.mb}]; !ok || j >= i {
						t.Fatalf("%s p=%d m=%d v=%d rank %d: %v of stage %d mb %d at %d not after %v (at %d, present %v)",
							s.Name, s.P, s.M, s.V, r, k.kind, k.stage, k.mb, i, kind, j, ok)
					}
				}
				switch k.kind {
				case B:
					before(F, k.stage)
				case W:
					before(B, k.stage)
				case SendF:
					before(F, k.stage)
				case SendB:
					before(B, k.stage)
				case F:
					if k.stage > 0 {
						before(RecvF, k.stage)
					}
				}
			}
		}
		S := s.Stages()
		for st := 0; st < S; st++ {
			for mb := 0; mb < s.M; mb++ {
				for _, kind := range []Kind{F, B, W} {
					if n := count[key{kind, st, mb}]; n != 1 {
						t.Fatalf("%s p=%d m=%d v=%d: stage %d mb %d has %d %v", s.Name, s.P, s.M, s.V, st, mb, n, kind)
					}
				}
				// Sends and receives pair up one to one across each link.
				if st < S-1 {
					if count[key{SendF, st, mb}] != 1 || count[key{RecvF, st + 1, mb}] != 1 {
						t.Fatalf("%s: activation stage %d→%d mb %d: %d sends, %d receives", s.Name, st, st+1, mb,
							count[key{SendF, st, mb}], count[key{RecvF, st + 1, mb}])
					}
					if count[key{RecvB, st, mb}] != 1 || count[key{SendB, st + 1, mb}] != 1 {
						t.Fatalf("%s: gradient stage %d→%d mb %d: %d sends, %d receives", s.Name, st+1, st, mb,
							count[key{SendB, st + 1, mb}], count[key{RecvB, st, mb}])
					}
				}
			}
		}
		if count[key{RecvF, 0, 0}] != 0 || count[key{SendF, S - 1, 0}] != 0 {
			t.Fatalf("%s: communication outside the pipeline ends", s.Name)
		}
	}
}

// TestTimelineRespectsDependencies checks the simulated times against the dependencies,
// computed here from the spans alone: spans on a rank never overlap; F waits for the upstream
// send plus the latency; B waits for its F and for the downstream gradient send plus latency;
// W waits for B; a receive ends no earlier than its send plus latency.
func TestTimelineRespectsDependencies(t *testing.T) {
	costs := []Costs{Uniform(1, 1, 1), {F: []float64{1}, B: []float64{2}, W: []float64{0.5}, Comm: 0.3}}
	for _, s := range allSchedules(t) {
		S := s.Stages()
		nonUniform := Costs{F: make([]float64, S), B: make([]float64, S), W: make([]float64, S), Comm: 0.1, Step: 0.5}
		for i := range S {
			nonUniform.F[i] = 1 + float64(i%3)/2
			nonUniform.B[i] = 2 - float64(i%2)/2
			nonUniform.W[i] = 0.25 * float64(1+i%4)
		}
		for _, c := range append(costs, nonUniform) {
			r := mustSim(t, s, c)
			span := map[key]Span{}
			for rank, tl := range r.Timelines {
				if len(tl) != len(s.Ranks[rank]) {
					t.Fatalf("%s: rank %d timeline has %d spans for %d actions", s.Name, rank, len(tl), len(s.Ranks[rank]))
				}
				prev := 0.0
				for i, sp := range tl {
					if sp.Action != s.Ranks[rank][i] || sp.Start < prev-tol || sp.End < sp.Start {
						t.Fatalf("%s rank %d span %d %+v after %v", s.Name, rank, i, sp, prev)
					}
					prev = sp.End
					if sp.Action.Kind != Step {
						span[key{sp.Action.Kind, sp.Action.Stage(s.P), sp.Action.MB}] = sp
					}
				}
				if prev > r.Makespan+tol {
					t.Fatalf("%s: rank %d ends at %v after makespan %v", s.Name, rank, prev, r.Makespan)
				}
			}
			after := func(a key, b key, gap float64, useEnd bool) {
				sa, sb := span[a], span[b]
				ref := sb.Start
				if useEnd {
					ref = sb.End
				}
				if sa.Start < ref+gap-tol {
					t.Fatalf("%s p=%d m=%d v=%d: %v starts %v before %v + %v (%v)", s.Name, s.P, s.M, s.V, a, sa.Start, b, gap, ref)
				}
			}
			for st := 0; st < S; st++ {
				for mb := 0; mb < s.M; mb++ {
					after(key{B, st, mb}, key{F, st, mb}, 0, true)
					after(key{W, st, mb}, key{B, st, mb}, 0, true)
					if st > 0 {
						after(key{SendF, st - 1, mb}, key{F, st - 1, mb}, 0, true)
						after(key{F, st, mb}, key{SendF, st - 1, mb}, c.Comm, false)
						if sp := span[key{RecvF, st, mb}]; sp.End < span[key{SendF, st - 1, mb}].Start+c.Comm-tol {
							t.Fatalf("%s: RecvF stage %d mb %d ends before its payload arrives", s.Name, st, mb)
						}
					}
					if st < S-1 {
						after(key{SendB, st + 1, mb}, key{B, st + 1, mb}, 0, true)
						after(key{B, st, mb}, key{SendB, st + 1, mb}, c.Comm, false)
					}
				}
			}
			// Busy time equals the sum of the costs charged, independently of the timeline.
			for rank := range s.P {
				want := c.Step
				for ch := range s.V {
					st := ch*s.P + rank
					want += float64(s.M) * (pick(c.F, st) + pick(c.B, st) + pick(c.W, st))
				}
				if !near(r.Busy[rank], want) {
					t.Fatalf("%s rank %d: busy %v, want %v", s.Name, rank, r.Busy[rank], want)
				}
			}
		}
	}
}

func TestInvalidParams(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p, m, v int
		want    string
	}{
		{"gpipe", 0, 4, 1, "ranks p=0"},
		{"1f1b", 4, 0, 1, "micro-batches m=0"},
		{"zb-h1", MaxRanks + 1, 4, 1, "ranks p="},
		{"1f1b", 4, 8, 2, "v=2, want 1"},
		{"zb-h1", 4, 8, 0, "v=0, want 1"},
		{"interleaved-1f1b", 4, 6, 2, "multiple of ranks p=4"},
		{"interleaved-1f1b", 4, 8, 1, "v=1 outside"},
		{"interleaved-1f1b", 1, 8, 2, "interleaving needs p ≥ 2"},
		{"interleaved-1f1b", 4, 8, MaxVirtual + 1, "outside [2,"},
		{"pipedream", 4, 8, 1, `unknown schedule "pipedream"`},
	} {
		_, err := New(tc.name, tc.p, tc.m, tc.v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %d, %d, %d) error %v, want it to mention %q", tc.name, tc.p, tc.m, tc.v, err, tc.want)
		}
	}
	if got := strings.Join(Names(), ","); got != "1f1b,gpipe,interleaved-1f1b,zb-h1" {
		t.Errorf("Names() = %s", got)
	}
}

func TestRegisterDuplicatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate Register did not panic")
		}
	}()
	Register("gpipe", Interleaved1F1B)
}

// hand-built two-rank schedules for the simulator's error paths.
func act(r, c int, k Kind, mb int) Action { return Action{Rank: r, Chunk: c, Kind: k, MB: mb} }
func step(r int) Action                   { return Action{Rank: r, Chunk: -1, Kind: Step, MB: -1} }

func twoRanks(r0, r1 []Action) Schedule {
	return Schedule{Name: "manual", P: 2, M: 2, V: 1, Ranks: [][]Action{r0, r1}}
}

func good0() []Action {
	return []Action{
		act(0, 0, F, 0), act(0, 0, SendF, 0), act(0, 0, F, 1), act(0, 0, SendF, 1),
		act(0, 0, RecvB, 0), act(0, 0, B, 0), act(0, 0, W, 0),
		act(0, 0, RecvB, 1), act(0, 0, B, 1), act(0, 0, W, 1), step(0),
	}
}

func good1() []Action {
	return []Action{
		act(1, 0, RecvF, 0), act(1, 0, F, 0), act(1, 0, B, 0), act(1, 0, SendB, 0), act(1, 0, W, 0),
		act(1, 0, RecvF, 1), act(1, 0, F, 1), act(1, 0, B, 1), act(1, 0, SendB, 1), act(1, 0, W, 1), step(1),
	}
}

func TestSimulatorErrors(t *testing.T) {
	if _, err := Simulate(twoRanks(good0(), good1()), Uniform(1, 1, 1)); err != nil {
		t.Fatalf("hand-built schedule: %v", err)
	}
	swap := func(a []Action, i, j int) []Action { a[i], a[j] = a[j], a[i]; return a }
	drop := func(a []Action, i int) []Action { return append(a[:i:i], a[i+1:]...) }

	// Rank 0 waits for a gradient before sending the activation rank 1 waits for.
	var dl *DeadlockError
	_, err := Simulate(twoRanks(swap(good0(), 1, 4), good1()), Uniform(1, 1, 1))
	if !errors.As(err, &dl) || len(dl.Blocked) != 2 || dl.Blocked[0].Action != act(0, 0, RecvB, 0) ||
		dl.Blocked[1].Action != act(1, 0, RecvF, 0) || !strings.Contains(err.Error(), "rank 0 action 1 RecvB[r0 c0 mb0]") {
		t.Errorf("deadlock: got %v", err)
	}

	// Receives in the wrong order on the activation channel.
	r1 := good1()
	r1[0], r1[5] = act(1, 0, RecvF, 1), act(1, 0, RecvF, 0)
	var ae *ActionError
	_, err = Simulate(twoRanks(good0(), r1), Uniform(1, 1, 1))
	if !errors.As(err, &ae) || ae.Index != 0 || !strings.Contains(err.Error(), "out of order") ||
		!strings.Contains(err.Error(), "channel 0→1 (activations) delivers stage 0 mb 0") {
		t.Errorf("out of order: got %v", err)
	}

	// Rank 1 never receives micro-batch 1 but computes it anyway.
	_, err = Simulate(twoRanks(good0(), drop(good1(), 5)), Uniform(1, 1, 1))
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "before its input activation was received") {
		t.Errorf("missing receive: got %v", err)
	}

	// A send nobody receives: rank 0 sends mb 1, rank 1 skips it entirely.
	r1 = append(good1()[:5:5], step(1))
	_, err = Simulate(Schedule{Name: "manual", P: 2, M: 2, V: 1, Ranks: [][]Action{
		{act(0, 0, F, 0), act(0, 0, SendF, 0), act(0, 0, F, 1), act(0, 0, SendF, 1),
			act(0, 0, RecvB, 0), act(0, 0, B, 0), act(0, 0, W, 0), step(0)}, r1}}, Uniform(1, 1, 1))
	var um *UnmatchedError
	if !errors.As(err, &um) || len(um.Sends) != 1 || um.Sends[0].Action != act(0, 0, SendF, 1) {
		t.Errorf("unmatched send: got %v", err)
	}

	// A receive with no send: rank 1 expects a third micro-batch... mb 1 twice.
	r1 = good1()
	r1[5] = act(1, 0, RecvF, 0)
	_, err = Simulate(twoRanks(good0(), r1), Uniform(1, 1, 1))
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "second receive") {
		t.Errorf("duplicate receive: got %v", err)
	}

	// W before B; missing W at the step; malformed fields.
	for _, tc := range []struct {
		r0   []Action
		want string
	}{
		{swap(good0(), 5, 6), "W of stage 0 mb 0 before its B"},
		{drop(good0(), 9), "Step before the W of stage 0 mb 1"},
		{append(good0()[:10:10], act(0, 0, F, 0), step(0)), "second F"},
		{append([]Action{act(0, 1, F, 0)}, good0()...), "chunk outside [0, 1)"},
		{append([]Action{act(0, 0, F, 2)}, good0()...), "micro-batch outside [0, 2)"},
		{append([]Action{act(1, 0, F, 0)}, good0()...), "listed under rank 0"},
		{append([]Action{act(0, 0, RecvF, 0)}, good0()...), "no upstream stage"},
		{append([]Action{step(0)}, good0()...), "Step before the end"},
		{good0()[:10], "does not end with Step"},
	} {
		_, err := Simulate(twoRanks(tc.r0, good1()), Uniform(1, 1, 1))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want error containing %q, got %v", tc.want, err)
		}
	}

	// Bad costs.
	for _, c := range []Costs{
		{F: []float64{1, 2, 3}, B: []float64{1}, W: []float64{1}},
		{F: []float64{-1}, B: []float64{1}, W: []float64{1}},
		{F: []float64{1}, B: []float64{1}, W: []float64{1}, Comm: -0.5},
		{F: []float64{1}, B: nil, W: []float64{1}},
	} {
		if _, err := Simulate(twoRanks(good0(), good1()), c); err == nil {
			t.Errorf("costs %+v accepted", c)
		}
	}
}

func BenchmarkSimulateP8M64(b *testing.B) {
	for _, name := range Names() {
		v := 1
		if name == "interleaved-1f1b" {
			v = 2
		}
		s, err := New(name, 8, 64, v)
		if err != nil {
			b.Fatal(err)
		}
		actions := 0
		for _, a := range s.Ranks {
			actions += len(a)
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Simulate(s, Uniform(1, 2, 1)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(actions)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mactions/s")
		})
	}
}
