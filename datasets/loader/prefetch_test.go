package loader_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/glmflow/glmflow/datasets/loader"
	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/datasets/shard/shardtest"
)

// settle waits until the goroutine count drops to at most n.
func settle(n int) int {
	var g int
	for range 200 {
		if g = runtime.NumGoroutine(); g <= n {
			return g
		}
		time.Sleep(5 * time.Millisecond)
	}
	return g
}

// TestNoGoroutineLeak: Close stops the prefetch goroutine whether the loader is idle, blocked on
// a full channel, finished, or failed.
func TestNoGoroutineLeak(t *testing.T) {
	dir, _ := dataset(t, 6, 40, 40, shardtest.DefaultConfig())
	base := runtime.NumGoroutine()
	for _, take := range []int{0, 1, 3, 100} {
		l, err := loader.New(loader.Options{Dir: dir, GlobalBatch: 8, MicroBatch: 4, MaxSeqLen: 1024, Prefetch: 2, Epochs: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range take {
			if _, err := l.Next(context.Background()); err != nil {
				break
			}
		}
		if runtime.NumGoroutine() <= base && take < 100 {
			t.Error("no prefetch goroutine running")
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if g := settle(base); g > base {
			t.Errorf("after %d batches and Close: %d goroutines, %d before", take, g, base)
		}
		if _, err := l.Next(context.Background()); err == nil {
			t.Error("Next after Close succeeded")
		}
	}
	// A cancelled context ends Next without a batch; the loader still closes cleanly.
	l, err := loader.New(loader.Options{Dir: dir, GlobalBatch: 8, MicroBatch: 4, MaxSeqLen: 1024}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 { // the channel may already hold batches; a cancelled ctx must win eventually
		if _, err = l.Next(ctx); err != nil {
			break
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Next with a cancelled context: %v", err)
	}
	l.Close()
	if g := settle(base); g > base {
		t.Errorf("after cancel and Close: %d goroutines, %d before", g, base)
	}
}

// TestCorruptShardSurfaces: a shard damaged after the manifest was written is refused at New
// (sha256), and with SkipVerify the read error reaches Next with the file name, every time.
func TestCorruptShardSurfaces(t *testing.T) {
	dir, _ := dataset(t, 7, 40, 20, shardtest.DefaultConfig())
	path := filepath.Join(dir, "shard-00001.parquet")
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)/2], 0o644)
	o := loader.Options{Dir: dir, GlobalBatch: 8, MicroBatch: 8, MaxSeqLen: 1024, Sequential: true}
	if _, err := loader.New(o, nil); err == nil || !strings.Contains(err.Error(), "shard-00001.parquet") {
		t.Fatalf("New over a truncated shard: %v", err)
	}
	o.SkipVerify = true
	l := open(t, o, nil)
	var err error
	for range 10 {
		if _, err = l.Next(context.Background()); err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "shard-00001.parquet") {
		t.Fatalf("Next over a truncated shard: %v", err)
	}
	if _, err2 := l.Next(context.Background()); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second Next: %v", err2)
	}
}

func TestOptionErrors(t *testing.T) {
	dir, _ := dataset(t, 8, 10, 10, shardtest.DefaultConfig())
	cases := []struct {
		o    loader.Options
		want string
	}{
		{loader.Options{Dir: dir, GlobalBatch: 6, MicroBatch: 4, MaxSeqLen: 8}, "not a positive multiple"},
		{loader.Options{Dir: dir, GlobalBatch: 8, MicroBatch: 2, DPSize: 2, DPRank: 2, MaxSeqLen: 8}, "rank 2 of 2"},
		{loader.Options{Dir: dir, GlobalBatch: 16, MicroBatch: 4, MaxSeqLen: 8}, "fewer than one global batch"},
		{loader.Options{Dir: dir, GlobalBatch: 4, MicroBatch: 4}, "max sequence length 0"},
		{loader.Options{Dir: t.TempDir(), GlobalBatch: 4, MicroBatch: 4, MaxSeqLen: 8}, "manifest.json"},
	}
	for _, c := range cases {
		if _, err := loader.New(c.o, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.o, err, c.want)
		}
	}
}

var _ = shard.ManifestName
