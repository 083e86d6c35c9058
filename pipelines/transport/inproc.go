package transport

import (
	"context"
	"fmt"
	"sync"
)

// inProc is one rank of an in-process group.
type inProc struct {
	rank  int
	group *inProcGroup
	seq   int // AllReduce sequence number (calls are made in the same order on every rank)
}

type inProcGroup struct {
	boxes  []*inbox
	mu     sync.Mutex
	closed []bool
}

// NewInProc returns the world ranks of an in-process group, rank r at index r.
func NewInProc(world int) ([]Transport, error) {
	if world < 1 {
		return nil, fmt.Errorf("transport: world size %d: want ≥ 1", world)
	}
	g := &inProcGroup{boxes: make([]*inbox, world), closed: make([]bool, world)}
	ts := make([]Transport, world)
	for r := range world {
		g.boxes[r] = newInbox()
		ts[r] = &inProc{rank: r, group: g}
	}
	return ts, nil
}

func (t *inProc) Rank() int  { return t.rank }
func (t *inProc) World() int { return len(t.group.boxes) }

func (t *inProc) Send(ctx context.Context, to int, tag Tag, ts Tensors) error {
	if err := checkPeer(t.rank, to, t.World()); err != nil {
		return err
	}
	if err := t.group.boxes[t.rank].failed(); err != nil {
		return err
	}
	t.group.mu.Lock()
	closed := t.group.closed[to]
	t.group.mu.Unlock()
	if closed {
		return &RankError{Rank: to, Err: ErrClosed}
	}
	t.group.boxes[to].put(t.rank, tag, ts)
	return nil
}

func (t *inProc) Recv(ctx context.Context, from int, tag Tag) (Tensors, error) {
	if err := checkPeer(t.rank, from, t.World()); err != nil {
		return nil, err
	}
	return t.group.boxes[t.rank].get(ctx, from, tag)
}

func (t *inProc) AllReduce(ctx context.Context, v []float64) ([]float64, error) {
	t.seq++
	return allReduce(ctx, t, t.seq, v)
}

func (t *inProc) Abort(err error) {
	e := &RankError{Rank: t.rank, Err: err}
	for _, b := range t.group.boxes {
		b.fail(e)
	}
}

func (t *inProc) Close() error {
	t.group.mu.Lock()
	t.group.closed[t.rank] = true
	t.group.mu.Unlock()
	t.group.boxes[t.rank].fail(&RankError{Rank: t.rank, Err: ErrClosed})
	return nil
}
