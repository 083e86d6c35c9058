package transport

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glmflow/glmflow/tensors"
)

// TestHelperRank is one rank of TestProcesses, run in a child process.
func TestHelperRank(t *testing.T) {
	rankEnv := os.Getenv("GLMFLOW_TEST_RANK")
	if rankEnv == "" {
		t.Skip("child process of TestProcesses")
	}
	rank, _ := strconv.Atoi(rankEnv)
	world, _ := strconv.Atoi(os.Getenv("GLMFLOW_TEST_WORLD"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := DialTCP(ctx, TCPConfig{Rank: rank, World: world, Master: os.Getenv("GLMFLOW_TEST_MASTER"), Token: "proc"})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	die := os.Getenv("GLMFLOW_TEST_DIE") == rankEnv
	// A pipeline's forward: rank r receives from r−1 and sends to r+1, four micro-batches.
	for mb := range 4 {
		x := tensors.New(tensors.F32, 64, 64)
		if rank > 0 {
			in, err := tr.Recv(ctx, rank-1, Tag{Kind: Activation, MB: mb})
			if err != nil {
				fmt.Println("ERROR", err)
				os.Exit(3)
			}
			x = in["hidden"]
		}
		x.F32()[mb] += float32(rank + 1)
		if die && mb == 1 {
			os.Exit(7) // no goodbye: the peers must notice
		}
		if rank < world-1 {
			if err := tr.Send(ctx, rank+1, Tag{Kind: Activation, MB: mb}, Tensors{"hidden": x}); err != nil {
				fmt.Println("ERROR", err)
				os.Exit(3)
			}
		} else if got, want := x.F32()[mb], float32(world*(world+1)/2); got != want {
			fmt.Println("ERROR", "value", got, "want", want)
			os.Exit(4)
		}
	}
	s, err := tr.AllReduce(ctx, []float64{float64(rank)})
	if err != nil || s[0] != float64(world*(world-1)/2) {
		fmt.Println("ERROR all-reduce", s, err)
		os.Exit(5)
	}
	tr.Close()
	fmt.Println("OK")
}

func runRanks(t *testing.T, world int, die string) []string {
	t.Helper()
	master := freeAddr(t)
	cmds := make([]*exec.Cmd, world)
	outs := make([]*bytes.Buffer, world)
	for r := range world {
		cmds[r] = exec.Command(os.Args[0], "-test.run=^TestHelperRank$", "-test.v")
		cmds[r].Env = append(os.Environ(), "GLMFLOW_TEST_RANK="+strconv.Itoa(r), "GLMFLOW_TEST_WORLD="+strconv.Itoa(world),
			"GLMFLOW_TEST_MASTER="+master, "GLMFLOW_TEST_DIE="+die)
		outs[r] = &bytes.Buffer{}
		cmds[r].Stdout, cmds[r].Stderr = outs[r], outs[r]
		if err := cmds[r].Start(); err != nil {
			t.Fatal(err)
		}
	}
	res := make([]string, world)
	for r, c := range cmds {
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			c.Process.Kill()
			t.Fatalf("rank %d hung:\n%s", r, outs[r])
		}
		res[r] = outs[r].String()
	}
	return res
}

// TestProcesses: real processes over real sockets; then one dies mid-run and the others
// stop with an error naming it (no hang, no orphan).
func TestProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for r, out := range runRanks(t, 3, "") {
		if !strings.Contains(out, "OK") {
			t.Errorf("rank %d:\n%s", r, out)
		}
	}
	outs := runRanks(t, 3, "1")
	if !strings.Contains(outs[2], "rank 1") {
		t.Errorf("rank 2 after rank 1 died:\n%s", outs[2])
	}
	if !strings.Contains(outs[0], "rank 1") {
		t.Errorf("rank 0 after rank 1 died:\n%s", outs[0])
	}
}
