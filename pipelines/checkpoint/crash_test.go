package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCrashAtEveryOperation saves step 10 over a complete step 5 on a crashable file system
// and crashes after every single operation: the survivor must always be a complete step 5
// or a complete step 10, never a partial one, and it must be 10 once the save returned.
func TestCrashAtEveryOperation(t *testing.T) {
	base := func() *MemFS {
		fsys := NewMemFS()
		if err := save(fsys, "/ck", 5, 2); err != nil {
			t.Fatal(err)
		}
		return fsys.Crash() // durable state only; fresh op log
	}
	full := base()
	if err := save(full, "/ck", 10, 2); err != nil {
		t.Fatal(err)
	}
	ops := full.Ops()
	golden := filepath.Join("testdata", "save_ops.golden")
	got := strings.Join(ops, "\n") + "\n"
	if os.Getenv("GLMFLOW_UPDATE_TESTDATA") != "" {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the save's operation sequence changed (GLMFLOW_UPDATE_TESTDATA=1 to accept):\n%s", got)
	}
	seen := map[int]int{}
	for i := 0; i <= len(ops); i++ {
		fsys := base()
		fsys.CrashAfter(i)
		err := save(fsys, "/ck", 10, 2)
		if (err == nil) != (i == len(ops)) {
			t.Fatalf("crash after %d of %d ops: save error %v", i, len(ops), err)
		}
		after := fsys.Crash()
		step, _, states, err := Latest(after, "/ck")
		if err != nil {
			t.Fatalf("crash after op %d (%s): no complete step: %v", i, opAt(ops, i), err)
		}
		if step != 5 && step != 10 {
			t.Fatalf("crash after op %d: step %d", i, step)
		}
		if len(states) != 2 {
			t.Fatalf("crash after op %d: %d rank states", i, len(states))
		}
		if i == len(ops) && step != 10 {
			t.Fatalf("completed save, but step %d survives", step)
		}
		seen[step]++
	}
	if seen[5] == 0 || seen[10] == 0 {
		t.Errorf("outcomes %v: both steps should occur", seen)
	}
	t.Logf("%d crash points: %v", len(ops)+1, seen)
}

func opAt(ops []string, i int) string {
	if i == 0 {
		return "before any"
	}
	return ops[i-1]
}
