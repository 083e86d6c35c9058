package run

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"time"

	"github.com/glmflow/glmflow/pipelines/schedule"
	"github.com/glmflow/glmflow/pipelines/transport"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/stages/optim"
)

// Worker is one pipeline rank.
type Worker struct {
	Rank      int
	P         int               // pipeline ranks
	V         int               // chunks per rank
	Chunks    []*Chunk          // [V] by local chunk index
	Actions   []schedule.Action // this rank's list (Schedule.Ranks[Rank])
	Transport transport.Transport
	Optimizer *optim.AdamW // over the chunks' trainable parameters
	Trace     *Trace       // optional: spans of every action

	states map[key]*mbState
	recvd  map[key]stages.Tensors
	grads  map[key]stages.Tensors
}

type key struct{ chunk, mb int }

// Iteration is one optimizer step's input.
type Iteration struct {
	Index int
	// LossTokens is the number of loss tokens in the whole global batch (the loss
	// normaliser, glm4v.HeadConfig.LossTokens); 0 leaves the stages' setting alone.
	LossTokens int
	// Batch returns micro-batch mb's tensors (HF names). Every rank calls it for the
	// micro-batches its actions need; it must give the same data on every rank.
	Batch func(mb int) (stages.Tensors, error)
}

// Result of one iteration, identical on every rank.
type Result struct {
	Loss    float64 // Σ over micro-batches of the head's loss (the global-batch mean CE)
	AuxLoss float64 // MoE auxiliary losses, coefficients included
	Step    optim.StepInfo
	// NonFinite lists the ranks whose gradients held NaN or Inf (the step was skipped).
	NonFinite []int
}

// lossTokenSetter is implemented by loss stages (glm4v.Head).
type lossTokenSetter interface{ SetLossTokens(n int) }

// Validate checks the worker against its schedule shape.
func (w *Worker) Validate() error {
	switch {
	case w.P < 1 || w.V < 1 || w.Rank < 0 || w.Rank >= w.P:
		return fmt.Errorf("run: rank %d of %d with %d chunks", w.Rank, w.P, w.V)
	case len(w.Chunks) != w.V:
		return fmt.Errorf("run: rank %d has %d chunks, the schedule has %d per rank", w.Rank, len(w.Chunks), w.V)
	case w.Transport == nil || w.Optimizer == nil:
		return fmt.Errorf("run: rank %d needs a transport and an optimizer", w.Rank)
	case w.Transport.World() != w.P || w.Transport.Rank() != w.Rank:
		return fmt.Errorf("run: rank %d of %d has a transport for rank %d of %d", w.Rank, w.P, w.Transport.Rank(), w.Transport.World())
	}
	for c, ch := range w.Chunks {
		if want := c*w.P + w.Rank; ch.Stage != want {
			return fmt.Errorf("run: rank %d chunk %d is pipeline stage %d, want %d", w.Rank, c, ch.Stage, want)
		}
	}
	return nil
}

// Iterate runs one optimizer step. On any error the transport is aborted, so the other ranks
// stop too.
func (w *Worker) Iterate(ctx context.Context, it Iteration) (res Result, err error) {
	defer func() {
		if err != nil {
			var re *transport.RankError
			if !errors.As(err, &re) && w.Transport != nil { // it started here: tell the others
				w.Transport.Abort(err)
			}
		}
	}()
	if err := w.Validate(); err != nil {
		return res, err
	}
	w.states, w.recvd, w.grads = map[key]*mbState{}, map[key]stages.Tensors{}, map[key]stages.Tensors{}
	if err := w.Optimizer.ZeroGrads(); err != nil {
		return res, fmt.Errorf("rank %d: %w", w.Rank, err)
	}
	if it.LossTokens > 0 {
		for _, ch := range w.Chunks {
			for _, s := range ch.Stages {
				if l, ok := s.(lossTokenSetter); ok {
					l.SetLossTokens(it.LossTokens)
				}
			}
		}
	}
	var loss, aux float64
	for i, a := range w.Actions {
		start := time.Now()
		var info *optim.StepInfo
		err := protect(func() error {
			switch a.Kind {
			case schedule.Step:
				r, err := w.step(ctx, loss, aux)
				res, info = r, &r.Step
				return err
			default:
				l, x, err := w.do(ctx, it, a)
				loss += l
				aux += x
				return err
			}
		})
		if w.Trace != nil {
			w.Trace.add(w.Rank, a, start, time.Now(), info)
		}
		if err != nil {
			var re *transport.RankError
			if errors.As(err, &re) && re.Rank != w.Rank {
				return res, fmt.Errorf("rank %d stopped at action %d %v: %w", w.Rank, i, a, err)
			}
			return res, fmt.Errorf("rank %d action %d %v (iteration %d): %w", w.Rank, i, a, it.Index, err)
		}
	}
	w.states, w.recvd, w.grads = nil, nil, nil
	return res, nil
}

// protect turns a panic into an error with its stack.
func protect(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return f()
}

func (w *Worker) stage(chunk int) int { return chunk*w.P + w.Rank }

func (w *Worker) chunk(a schedule.Action) (*Chunk, error) {
	if a.Chunk < 0 || a.Chunk >= len(w.Chunks) {
		return nil, fmt.Errorf("chunk %d out of range", a.Chunk)
	}
	return w.Chunks[a.Chunk], nil
}

// do runs one non-Step action; it returns the loss and aux loss an F produced.
func (w *Worker) do(ctx context.Context, it Iteration, a schedule.Action) (loss, aux float64, err error) {
	ch, err := w.chunk(a)
	if err != nil {
		return 0, 0, err
	}
	k := key{a.Chunk, a.MB}
	stage := w.stage(a.Chunk)
	last := stage == w.P*w.V-1
	switch a.Kind {
	case schedule.RecvF:
		ts, err := w.Transport.Recv(ctx, a.Peer(w.P), transport.Tag{Kind: transport.Activation, Chunk: stage, MB: a.MB})
		if err != nil {
			return 0, 0, err
		}
		w.recvd[k] = ts
	case schedule.F:
		batch, err := it.Batch(a.MB)
		if err != nil {
			return 0, 0, fmt.Errorf("micro-batch %d: %w", a.MB, err)
		}
		recv := w.recvd[k]
		delete(w.recvd, k)
		if stage > 0 && recv == nil {
			return 0, 0, fmt.Errorf("forward before its activations were received")
		}
		st, err := ch.forward(a.MB, recv, batch)
		if err != nil {
			return 0, 0, err
		}
		w.states[k] = st
		if last {
			return st.loss, st.aux, nil
		}
		return 0, st.aux, nil
	case schedule.SendF:
		st := w.states[k]
		if st == nil || st.out == nil {
			return 0, 0, fmt.Errorf("send before forward")
		}
		err := w.Transport.Send(ctx, a.Peer(w.P), transport.Tag{Kind: transport.Activation, Chunk: stage + 1, MB: a.MB}, st.out)
		st.out = nil
		return 0, 0, err
	case schedule.RecvB:
		ts, err := w.Transport.Recv(ctx, a.Peer(w.P), transport.Tag{Kind: transport.Gradient, Chunk: stage, MB: a.MB})
		if err != nil {
			return 0, 0, err
		}
		w.grads[k] = ts
	case schedule.B:
		st := w.states[k]
		if st == nil {
			return 0, 0, fmt.Errorf("backward before forward")
		}
		d := w.grads[k]
		delete(w.grads, k)
		if !last && d == nil {
			return 0, 0, fmt.Errorf("backward before its gradients were received")
		}
		return 0, 0, ch.backwardInput(a.MB, st, d)
	case schedule.SendB:
		st := w.states[k]
		if st == nil || st.gradIn == nil {
			return 0, 0, fmt.Errorf("gradient send before backward")
		}
		err := w.Transport.Send(ctx, a.Peer(w.P), transport.Tag{Kind: transport.Gradient, Chunk: stage - 1, MB: a.MB}, st.gradIn)
		st.gradIn = nil
		return 0, 0, err
	case schedule.W:
		st := w.states[k]
		if st == nil {
			return 0, 0, fmt.Errorf("weight gradients before forward")
		}
		return 0, 0, ch.backwardWeight(a.MB, st)
	default:
		return 0, 0, fmt.Errorf("unknown action kind %v", a.Kind)
	}
	return 0, 0, nil
}

// step reduces [Σ g² of rank 0, …, of rank P−1, loss, aux] across ranks (each rank fills its
// own slot, so every rank learns which ranks went non-finite), and applies the optimizer with
// the global norm √(Σ_r g²_r), summed in rank order.
func (w *Worker) step(ctx context.Context, loss, aux float64) (Result, error) {
	sq, err := w.Optimizer.SquaredNorm()
	if err != nil {
		return Result{}, err
	}
	v := make([]float64, w.P+2)
	v[w.Rank], v[w.P], v[w.P+1] = sq, loss, aux
	sum, err := w.Transport.AllReduce(ctx, v)
	if err != nil {
		return Result{}, err
	}
	res := Result{Loss: sum[w.P], AuxLoss: sum[w.P+1]}
	total := 0.0
	for r := range w.P {
		total += sum[r]
		if math.IsNaN(sum[r]) || math.IsInf(sum[r], 0) {
			res.NonFinite = append(res.NonFinite, r)
		}
	}
	if res.Step, err = w.Optimizer.Step(math.Sqrt(total)); err != nil {
		return Result{}, err
	}
	return res, nil
}
