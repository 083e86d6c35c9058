package checkpoint

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/tensors"
)

func rankTensors(rank, step int) map[string]*tensors.Tensor {
	w := tensors.New(tensors.F32, 3, 4)
	for i := range w.F32() {
		w.F32()[i] = float32(rank*100+step) + float32(i)/8
	}
	m := tensors.New(tensors.F32, 3, 4)
	for i := range m.F32() {
		m.F32()[i] = -float32(i)
	}
	return map[string]*tensors.Tensor{"model.layers.0.w": w, "exp_avg.model.layers.0.w": m, "exp_avg_sq.model.layers.0.w": m}
}

// save writes a whole step for world ranks (each rank's WriteRank, then rank 0's Commit).
func save(fsys FS, dir string, step, world int) error {
	m := Manifest{Step: step, World: world, Spec: "train:\n  iterations: 20\n"}
	for r := range world {
		ref, err := WriteRank(fsys, dir, step, RankState{Rank: r, World: world, Iteration: step,
			Loader: json.RawMessage(`{"epoch":0,"position":` + string(rune('0'+step%10)) + `}`)}, rankTensors(r, step))
		if err != nil {
			return err
		}
		m.Ranks = append(m.Ranks, ref)
	}
	return Commit(fsys, dir, m)
}

func TestSaveLoadOS(t *testing.T) {
	dir := t.TempDir()
	fsys := OS()
	if _, _, _, err := Latest(fsys, dir); err != ErrNone {
		t.Fatalf("empty dir: %v", err)
	}
	for _, step := range []int{5, 10} {
		if err := save(fsys, dir, step, 2); err != nil {
			t.Fatal(err)
		}
	}
	step, m, states, err := Latest(fsys, dir)
	if err != nil || step != 10 || m.World != 2 || len(states) != 2 {
		t.Fatalf("latest: %d %+v %v", step, m, err)
	}
	for r, st := range states {
		got, err := ReadRank(dir, step, st)
		if err != nil {
			t.Fatal(err)
		}
		for n, want := range rankTensors(r, 10) {
			if string(got[n].Bytes()) != string(want.Bytes()) {
				t.Fatalf("rank %d %s differs after load", r, n)
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, LatestName)); string(b) != "step-00000010\n" {
		t.Errorf("latest file %q", b)
	}
	// Same state, same bytes.
	dir2 := t.TempDir()
	save(fsys, dir2, 10, 2)
	for _, f := range []string{"rank-00000.safetensors", "rank-00001.json", ManifestName} {
		a, _ := os.ReadFile(filepath.Join(dir, StepDir(10), f))
		b, _ := os.ReadFile(filepath.Join(dir2, StepDir(10), f))
		if string(a) != string(b) {
			t.Errorf("%s differs between two saves of the same state", f)
		}
	}
	// A corrupted tensor file makes the step incomplete: Latest falls back to step 5.
	p := filepath.Join(dir, StepDir(10), "rank-00001.safetensors")
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 1
	os.WriteFile(p, b, 0o644)
	if _, _, err := Complete(fsys, dir, 10); err == nil || !strings.Contains(err.Error(), "rank-00001.safetensors") {
		t.Errorf("corrupt step: %v", err)
	}
	if step, _, _, err := Latest(fsys, dir); err != nil || step != 5 {
		t.Errorf("latest after corruption: %d, %v", step, err)
	}
}

func TestPrune(t *testing.T) {
	fsys := NewMemFS()
	for _, s := range []int{1, 2, 3, 4} {
		if err := save(fsys, "/ck", s, 1); err != nil {
			t.Fatal(err)
		}
	}
	fsys.MkdirAll("/ck/" + StepDir(9)) // a save in progress: left alone
	if err := Prune(fsys, "/ck", 2); err != nil {
		t.Fatal(err)
	}
	steps, _ := Steps(fsys, "/ck")
	if got := strings.Trim(strings.Join(strings.Fields(strings.Trim(fmtInts(steps), "[]")), ","), ","); got != "3,4,9" {
		t.Errorf("steps after prune: %v", steps)
	}
}

func fmtInts(v []int) string {
	b, _ := json.Marshal(v)
	return strings.ReplaceAll(string(b), ",", " ")
}

func TestCommitChecksRanks(t *testing.T) {
	fsys := NewMemFS()
	ref, _ := WriteRank(fsys, "/ck", 1, RankState{Rank: 1, World: 2}, rankTensors(1, 1))
	if err := Commit(fsys, "/ck", Manifest{Step: 1, World: 2, Ranks: []RankRef{ref}}); err == nil {
		t.Error("commit with a missing rank succeeded")
	}
	if err := Commit(fsys, "/ck", Manifest{Step: 1, World: 2, Ranks: []RankRef{ref, ref}}); err == nil {
		t.Error("commit with rank 1 twice succeeded")
	}
}
