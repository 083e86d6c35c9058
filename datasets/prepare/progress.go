package prepare

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// progress counts a running job's rows in this process. DoFns find it by the job key they
// carry; on a remote worker there is none and the counting is a no-op (Beam's counters, shown
// by the runner, are the remote view).
type progress struct {
	rows, samples, dead, shards atomic.Int64
}

var (
	jobsMu sync.Mutex
	jobs   = map[string]*progress{}
	jobSeq atomic.Int64
)

// newProgress registers a counter set for one job run and returns its key.
func newProgress() (string, *progress) {
	key := "job-" + strconv.FormatInt(jobSeq.Add(1), 10)
	p := &progress{}
	jobsMu.Lock()
	jobs[key] = p
	jobsMu.Unlock()
	return key, p
}

func dropProgress(key string) {
	jobsMu.Lock()
	delete(jobs, key)
	jobsMu.Unlock()
}

// lookupProgress returns the job's counters, or nil outside the submitting process.
func lookupProgress(key string) *progress {
	jobsMu.Lock()
	defer jobsMu.Unlock()
	return jobs[key]
}

func (p *progress) add(rows, samples, dead int64) {
	if p == nil {
		return
	}
	p.rows.Add(rows)
	p.samples.Add(samples)
	p.dead.Add(dead)
}

func (p *progress) shard() {
	if p != nil {
		p.shards.Add(1)
	}
}

// report prints a progress line to w every period until stop is closed.
func (p *progress) report(w io.Writer, total int64, period time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	start := time.Now()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			el := time.Since(start).Seconds()
			rows := p.rows.Load()
			fmt.Fprintf(w, "prepare: %d/%d rows read, %d samples, %d dead letters, %d shards written (%.0f rows/s)\n",
				rows, total, p.samples.Load(), p.dead.Load(), p.shards.Load(), float64(rows)/el)
		}
	}
}
