package launch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHelperRank is a child of the tests below.
func TestHelperRank(t *testing.T) {
	mode := os.Getenv("GLMFLOW_LAUNCH_MODE")
	if mode == "" {
		t.Skip("child process of the launch tests")
	}
	rank, _ := strconv.Atoi(os.Getenv("GLMFLOW_LAUNCH_RANK"))
	fmt.Printf("hello from %d master %s\n", rank, os.Getenv("GLMFLOW_LAUNCH_MASTER"))
	fmt.Fprintf(os.Stderr, "diagnostic %d\n", rank)
	switch {
	case mode == "fail" && rank == 1:
		time.Sleep(100 * time.Millisecond)
		fmt.Println("rank 1 gives up")
		os.Exit(3)
	case mode == "fail" || mode == "hang":
		time.Sleep(time.Hour) // would hang the job without the launcher stopping it
	}
	os.Exit(0)
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAllSucceed(t *testing.T) {
	// Every child gets its own rank through the environment of Args; here through a wrapper.
	var out syncBuf
	err := Run(context.Background(), Options{
		World: 3, Program: os.Args[0], Stdout: &out, Stderr: &out,
		Args: func(r int, master string) []string { return []string{"-test.run=^TestHelperRank$"} },
		Env:  []string{"GLMFLOW_LAUNCH_MODE=ok"},
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for r := range 3 {
		if !strings.Contains(out.String(), fmt.Sprintf("[rank %d] hello from", r)) || !strings.Contains(out.String(), fmt.Sprintf("[rank %d] diagnostic", r)) {
			t.Errorf("rank %d output missing:\n%s", r, out.String())
		}
	}
}

// TestFirstFailureStopsAll: rank 1 exits with an error while the others would run for an
// hour; Run returns rank 1's error promptly and no child survives.
func TestFirstFailureStopsAll(t *testing.T) {
	err, out, took := launchRanks(t, "fail", 3)
	var re *RankError
	if !errors.As(err, &re) || re.Rank != 1 {
		t.Fatalf("err = %v, want rank 1's failure\n%s", err, out)
	}
	if !strings.Contains(out, "[rank 1] rank 1 gives up") {
		t.Errorf("output:\n%s", out)
	}
	if took > 20*time.Second {
		t.Errorf("took %v: the other ranks were not stopped", took)
	}
}

func TestCancelStopsAll(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err, _, took := launchRanksCtx(t, ctx, "hang", 2)
	if err == nil || took > 20*time.Second {
		t.Fatalf("err %v after %v", err, took)
	}
}

func launchRanks(t *testing.T, mode string, world int) (error, string, time.Duration) {
	return launchRanksCtx(t, context.Background(), mode, world)
}

// launchRanksCtx runs the helper through env(1), which sets the per-rank variables.
func launchRanksCtx(t *testing.T, ctx context.Context, mode string, world int) (error, string, time.Duration) {
	t.Helper()
	var out syncBuf
	start := time.Now()
	err := Run(ctx, Options{
		World: world, Program: "/usr/bin/env", Stdout: &out, Stderr: &out, Grace: 500 * time.Millisecond,
		Args: func(r int, master string) []string {
			return []string{"GLMFLOW_LAUNCH_RANK=" + strconv.Itoa(r), "GLMFLOW_LAUNCH_MASTER=" + master, os.Args[0], "-test.run=^TestHelperRank$"}
		},
		Env: []string{"GLMFLOW_LAUNCH_MODE=" + mode},
	})
	return err, out.String(), time.Since(start)
}
