package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/glmflow/glmflow/tensors"
)

// Kind says what a message carries.
type Kind uint8

// Message kinds.
const (
	Activation Kind = 1 // forward: a stage's outputs to the next stage
	Gradient   Kind = 2 // backward: gradients of those outputs to the previous stage
	Control    Kind = 3 // reductions and other control traffic
)

func (k Kind) String() string {
	switch k {
	case Activation:
		return "act"
	case Gradient:
		return "grad"
	case Control:
		return "ctl"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Tag identifies a message between two ranks.
type Tag struct {
	Kind  Kind
	Chunk int // model chunk (virtual stage) the message is addressed to
	MB    int // micro-batch, or a sequence number for Control
}

func (t Tag) String() string { return fmt.Sprintf("%v chunk %d mb %d", t.Kind, t.Chunk, t.MB) }

// Tensors are the named tensors of one message.
type Tensors = map[string]*tensors.Tensor

// Transport is one rank's connection to its group.
type Transport interface {
	Rank() int
	World() int
	// Send queues ts for rank to. It does not wait for the receiver.
	Send(ctx context.Context, to int, tag Tag, ts Tensors) error
	// Recv waits for the message from rank from with tag.
	Recv(ctx context.Context, from int, tag Tag) (Tensors, error)
	// AllReduce returns the element-wise sum over all ranks of v (same length everywhere),
	// added in rank order 0, 1, …: every rank gets identical bits.
	AllReduce(ctx context.Context, v []float64) ([]float64, error)
	// Abort fails the group with err: every rank's pending and later calls return an error
	// naming this rank.
	Abort(err error)
	// Close releases the transport; messages not yet received are dropped.
	Close() error
}

// RankError is a failure that started on another rank (or at its connection).
type RankError struct {
	Rank int
	Err  error
}

func (e *RankError) Error() string { return fmt.Sprintf("rank %d: %v", e.Rank, e.Err) }
func (e *RankError) Unwrap() error { return e.Err }

// ErrClosed is returned by calls on a closed transport.
var ErrClosed = errors.New("transport closed")

// inbox holds messages that arrived before their Recv, and the group's failure.
type inbox struct {
	mu     sync.Mutex
	msgs   map[key][]Tensors
	waitch chan struct{} // closed and replaced on every change
	err    error         // set once: the failure every later call reports
}

type key struct {
	from int
	tag  Tag
}

func newInbox() *inbox { return &inbox{msgs: map[key][]Tensors{}, waitch: make(chan struct{})} }

func (b *inbox) wake() {
	close(b.waitch)
	b.waitch = make(chan struct{})
}

// put delivers a message.
func (b *inbox) put(from int, tag Tag, ts Tensors) {
	b.mu.Lock()
	k := key{from, tag}
	b.msgs[k] = append(b.msgs[k], ts)
	b.wake()
	b.mu.Unlock()
}

// fail records the group's failure (the first one wins) and wakes every waiter.
func (b *inbox) fail(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
		b.wake()
	}
	b.mu.Unlock()
}

func (b *inbox) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// get waits for the message (from, tag).
func (b *inbox) get(ctx context.Context, from int, tag Tag) (Tensors, error) {
	k := key{from, tag}
	for {
		b.mu.Lock()
		if q := b.msgs[k]; len(q) > 0 {
			ts := q[0]
			if len(q) == 1 {
				delete(b.msgs, k)
			} else {
				b.msgs[k] = q[1:]
			}
			b.mu.Unlock()
			return ts, nil
		}
		if b.err != nil {
			err := b.err
			b.mu.Unlock()
			return nil, err
		}
		ch := b.waitch
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %v from rank %d: %w", tag, from, context.Cause(ctx))
		}
	}
}

// allReduce implements Transport.AllReduce over point-to-point messages: every rank sends v
// to rank 0, which adds them in rank order and sends the sum back. seq tells successive
// reductions apart.
func allReduce(ctx context.Context, t Transport, seq int, v []float64) ([]float64, error) {
	tag := Tag{Kind: Control, MB: seq}
	if t.World() == 1 {
		return append([]float64(nil), v...), nil
	}
	if t.Rank() != 0 {
		if err := t.Send(ctx, 0, tag, Tensors{"v": f64Tensor(v)}); err != nil {
			return nil, err
		}
		ts, err := t.Recv(ctx, 0, tag)
		if err != nil {
			return nil, err
		}
		return vecOf(ts, 0, len(v))
	}
	sum := append([]float64(nil), v...)
	for r := 1; r < t.World(); r++ {
		ts, err := t.Recv(ctx, r, tag)
		if err != nil {
			return nil, err
		}
		x, err := vecOf(ts, r, len(v))
		if err != nil {
			return nil, err
		}
		for i := range sum {
			sum[i] += x[i]
		}
	}
	for r := 1; r < t.World(); r++ {
		if err := t.Send(ctx, r, tag, Tensors{"v": f64Tensor(sum)}); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

func f64Tensor(v []float64) *tensors.Tensor {
	t := tensors.New(tensors.F64, len(v))
	copy(t.F64(), v)
	return t
}

func vecOf(ts Tensors, from, n int) ([]float64, error) {
	t := ts["v"]
	if t == nil || t.DType() != tensors.F64 || t.Numel() != n {
		return nil, &RankError{Rank: from, Err: fmt.Errorf("all-reduce: got a malformed vector (want F64[%d])", n)}
	}
	return append([]float64(nil), t.F64()...), nil
}

func checkPeer(self, peer, world int) error {
	if peer < 0 || peer >= world || peer == self {
		return fmt.Errorf("rank %d: peer %d is not another rank of a world of %d", self, peer, world)
	}
	return nil
}
