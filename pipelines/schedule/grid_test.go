package schedule

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden grids in testdata/")

// TestGridByHand checks a grid worked out on paper: GPipe, p = 2, m = 2, F = B = W = 1.
// Rank 1 starts one slot late; rank 0 waits three slots for the first gradient.
func TestGridByHand(t *testing.T) {
	s, err := GPipe(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Grid(s, Uniform(1, 1, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := `gpipe  p=2 m=2 v=1  slot=1
     0              5
r0 | F0 F1 .  .  .  B0 W0 B1 W1
r1 | .  F0 F1 B0 W0 B1 W1 .  .
makespan 9 (9 slots), bubble 33.3%, peak in-flight activations per rank: 2 2
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestGridGolden(t *testing.T) {
	comm := Uniform(1, 2, 1)
	comm.Comm = 1
	comm.Step = 1
	for _, tc := range []struct {
		file  string
		name  string
		p, m  int
		v     int
		c     Costs
		width int
		color bool
	}{
		{"1f1b_p4_m8.txt", "1f1b", 4, 8, 1, Uniform(1, 1, 1), 0, false},
		{"zbh1_p4_m8.txt", "zb-h1", 4, 8, 1, Uniform(1, 1, 1), 0, false},
		{"interleaved_p4_m8_v2.txt", "interleaved-1f1b", 4, 8, 2, Uniform(0.5, 0.5, 0.5), 0, false},
		{"gpipe_p3_m4_comm_w60.txt", "gpipe", 3, 4, 1, comm, 60, false},
		{"zbh1_p2_m3_color.txt", "zb-h1", 2, 3, 1, Uniform(1, 1, 1), 0, true},
	} {
		s, err := New(tc.name, tc.p, tc.m, tc.v)
		if err != nil {
			t.Fatal(err)
		}
		render := Grid
		if tc.color {
			render = GridColor
		}
		got, err := render(s, tc.c, tc.width)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := render(s, tc.c, tc.width)
		if again != got {
			t.Fatalf("%s: two renders differ", tc.file)
		}
		if tc.width > 0 {
			for _, line := range strings.Split(got, "\n") {
				if len(line) > tc.width && !strings.HasPrefix(line, "makespan") && !strings.HasPrefix(line, tc.name) {
					t.Errorf("%s: line longer than %d: %q", tc.file, tc.width, line)
				}
			}
		}
		path := filepath.Join("testdata", tc.file)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from the golden file:\n%s", tc.file, got)
		}
	}
}

// TestGridAgreesWithSimulator counts cells: every rank's busy slots equal its busy time over
// the slot size, and idle cells make up the bubble.
func TestGridAgreesWithSimulator(t *testing.T) {
	for _, name := range Names() {
		v := 1
		if name == "interleaved-1f1b" {
			v = 3
		}
		s, err := New(name, 3, 6, v)
		if err != nil {
			t.Fatal(err)
		}
		c := Uniform(1, 2, 1)
		g, err := Grid(s, c, 0)
		if err != nil {
			t.Fatal(err)
		}
		r := mustSim(t, s, c)
		for rank := range s.P {
			var row string
			for _, line := range strings.Split(g, "\n") {
				if strings.HasPrefix(line, "r"+string(rune('0'+rank))+" | ") {
					row = strings.TrimPrefix(line, "r"+string(rune('0'+rank))+" | ")
				}
			}
			busy := 0
			for _, f := range strings.Fields(row) {
				if f != "." {
					busy++
				}
			}
			if float64(busy) != r.Busy[rank] {
				t.Errorf("%s rank %d: %d busy cells, simulator busy %v", name, rank, busy, r.Busy[rank])
			}
		}
	}
}

func TestGridErrors(t *testing.T) {
	s, _ := OneFOneB(2, 2)
	if _, err := Grid(s, Uniform(0, 0, 0), 0); err == nil || !strings.Contains(err.Error(), "every cost is zero") {
		t.Errorf("zero costs: %v", err)
	}
	if _, err := Grid(s, Costs{F: []float64{1e-9, 1}, B: []float64{1e4}, W: []float64{1}}, 0); err == nil ||
		!strings.Contains(err.Error(), "exceed the limit") {
		t.Errorf("huge grid: %v", err)
	}
	if _, err := Grid(s, Uniform(-1, 1, 1), 0); err == nil {
		t.Error("negative cost accepted")
	}
}
