package loader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/tensors"
	"github.com/glmflow/glmflow/transforms/imageproc"
)

// Batch is one micro-batch for this rank.
type Batch struct {
	// Tensors by HF input name: input_ids, attention_mask, labels, and when the batch has
	// images pixel_values and image_grid_thw; segment_ids when packed.
	Tensors map[string]*tensors.Tensor
	Samples []SampleRef // in micro-batch order (permutation order)
	Epoch   int64
	Step    int64 // global batch index within the epoch
	Micro   int   // micro-batch index within the step for this rank
	// Cursor is the position after this batch: a loader resumed from it returns the batch
	// that would have come next.
	Cursor Cursor
}

// Stats counts what the loader did so far (returned batches only).
type Stats struct {
	Batches         int64
	Samples         int64
	Tokens          int64 // placed tokens
	PadTokens       int64 // padding slots in input_ids
	Truncated       int64 // samples cut to MaxSeqLen
	TruncatedTokens int64
	DroppedImages   int64
}

// Loader streams micro-batches from a shard directory. Next is not safe for concurrent use;
// Close may be called from any goroutine.
type Loader struct {
	o        Options
	src      *source
	col      collator
	n        int64 // samples in the dataset
	steps    int64 // global batches per epoch
	out      chan result
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	err      error // sticky: the first error returned by Next
	stats    Stats
	isClosed atomic.Bool
}

type result struct {
	b   *Batch
	err error
}

// New opens the dataset in o.Dir and starts the background prefetch. With a non-nil cursor
// the loader continues from it; otherwise it starts at epoch 0.
func New(o Options, from *Cursor) (*Loader, error) {
	o.defaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	src, err := openSource(&o)
	if err != nil {
		return nil, err
	}
	l := &Loader{o: o, src: src, n: src.n()}
	fail := func(err error) (*Loader, error) {
		src.close()
		return nil, err
	}
	if l.n < int64(o.GlobalBatch) {
		return fail(fmt.Errorf("loader: %s has %d samples, fewer than one global batch of %d", o.Dir, l.n, o.GlobalBatch))
	}
	l.steps = l.n / int64(o.GlobalBatch)
	l.col = collator{o: &l.o, layout: src.m.Layout}
	if err := l.processor(); err != nil {
		return fail(err)
	}
	c := Cursor{Version: CursorVersion, ManifestHash: src.hash, Seed: o.Seed, GlobalBatch: o.GlobalBatch, MicroBatch: o.MicroBatch, DPSize: o.DPSize}
	if from != nil {
		if err := from.check(&l.o, src.hash, l.n); err != nil {
			return fail(err)
		}
		c.Epoch, c.Position, c.Micro = from.Epoch, from.Position, from.Micro
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.out = make(chan result, o.Prefetch)
	l.wg.Add(1)
	go l.produce(ctx, c)
	return l, nil
}

// processor decodes the image-processor settings from the manifest.
func (l *Loader) processor() error {
	m := l.src.m
	if len(m.Processor.Settings) == 0 || string(m.Processor.Settings) == "null" {
		if m.Totals.Images > 0 {
			return fmt.Errorf("loader: manifest in %s has images but no processor settings", l.o.Dir)
		}
		l.col.proc = imageproc.DefaultOptions()
		l.col.proc.PatchSize, l.col.proc.MergeSize = m.Layout.PatchSize, m.Layout.MergeSize
		return nil
	}
	p := imageproc.DefaultOptions()
	if err := json.Unmarshal(m.Processor.Settings, &p); err != nil {
		return fmt.Errorf("loader: manifest in %s: processor.settings: %w", l.o.Dir, err)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("loader: manifest in %s: processor.settings: %w", l.o.Dir, err)
	}
	if p.PatchSize != m.Layout.PatchSize || p.MergeSize != m.Layout.MergeSize {
		return fmt.Errorf("loader: manifest in %s: processor patch/merge size %d/%d, layout says %d/%d", l.o.Dir, p.PatchSize, p.MergeSize, m.Layout.PatchSize, m.Layout.MergeSize)
	}
	l.col.proc = p
	return nil
}

// NumSamples is the number of samples in the dataset.
func (l *Loader) NumSamples() int64 { return l.n }

// StepsPerEpoch is the number of global batches (optimizer steps) per epoch.
func (l *Loader) StepsPerEpoch() int64 { return l.steps }

// ManifestHash identifies the dataset.
func (l *Loader) ManifestHash() string { return l.src.hash }

// Stats returns the counters of the batches returned so far.
func (l *Loader) Stats() Stats { return l.stats }

// Next returns the next micro-batch. It returns io.EOF after Options.Epochs epochs, ctx's
// error if ctx ends first, and the loader's first error (reading, checking or collating a
// sample) on this and every later call.
func (l *Loader) Next(ctx context.Context) (*Batch, error) {
	if l.err != nil {
		return nil, l.err
	}
	if l.isClosed.Load() {
		l.err = errors.New("loader: closed")
		return nil, l.err
	}
	select {
	case r, ok := <-l.out:
		if !ok {
			l.err = errors.New("loader: closed")
			return nil, l.err
		}
		if r.err != nil {
			l.err = r.err
			return nil, r.err
		}
		l.count(r.b)
		return r.b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *Loader) count(b *Batch) {
	l.stats.Batches++
	ids := b.Tensors[InputIDs]
	placed := 0
	for _, s := range b.Samples {
		l.stats.Samples++
		placed += s.Tokens
		if s.Truncated > 0 {
			l.stats.Truncated++
			l.stats.TruncatedTokens += int64(s.Truncated)
			l.stats.DroppedImages += int64(s.DroppedImages)
		}
	}
	l.stats.Tokens += int64(placed)
	l.stats.PadTokens += int64(ids.Numel() - placed)
}

// Close stops the prefetch goroutine, waits for it and closes the shard files.
func (l *Loader) Close() error {
	if !l.isClosed.CompareAndSwap(false, true) {
		return nil
	}
	l.cancel()
	l.wg.Wait()
	return l.src.close()
}

// produce is the prefetch goroutine: it builds batches from cursor c on and sends them until
// the epochs run out, an error happens or ctx is cancelled.
func (l *Loader) produce(ctx context.Context, c Cursor) {
	defer l.wg.Done()
	defer close(l.out)
	send := func(r result) bool {
		select {
		case l.out <- r:
			return true
		case <-ctx.Done():
			return false
		}
	}
	o := &l.o
	G, M, W := int64(o.GlobalBatch), int64(o.MicroBatch), int64(o.DPSize)
	micros := o.microsPerStep()
	var perm []int64
	permEpoch := int64(-1)
	for {
		if c.Position >= l.steps*G { // end of the epoch
			c.Epoch, c.Position, c.Micro = c.Epoch+1, 0, 0
		}
		if o.Epochs > 0 && c.Epoch >= int64(o.Epochs) {
			send(result{err: io.EOF})
			return
		}
		if permEpoch != c.Epoch {
			perm = l.order(c.Epoch)
			permEpoch = c.Epoch
		}
		start := c.Position + int64(o.DPRank)*(G/W) + int64(c.Micro)*M
		idx := perm[start : start+M]
		b, err := l.batch(ctx, idx)
		if err != nil {
			send(result{err: err})
			return
		}
		b.Epoch, b.Step, b.Micro = c.Epoch, c.Position/G, c.Micro
		c.Micro++
		if c.Micro == micros {
			c.Position, c.Micro = c.Position+G, 0
			if c.Position >= l.steps*G {
				c.Epoch, c.Position = c.Epoch+1, 0
			}
		}
		b.Cursor = c
		if !send(result{b: b}) {
			return
		}
	}
}

// order is the epoch's sample order.
func (l *Loader) order(epoch int64) []int64 {
	if l.o.Sequential {
		p := make([]int64, l.n)
		for i := range p {
			p[i] = int64(i)
		}
		return p
	}
	return Permutation(int(l.n), l.o.Seed, uint64(epoch))
}

// batch reads samples idx and collates them.
func (l *Loader) batch(ctx context.Context, idx []int64) (*Batch, error) {
	samples := make([]*shard.Sample, len(idx))
	for i, g := range idx {
		s, err := l.src.sample(ctx, g)
		if err != nil {
			return nil, err
		}
		samples[i] = s
	}
	ts, refs, err := l.col.collate(samples, idx)
	if err != nil {
		return nil, err
	}
	return &Batch{Tensors: ts, Samples: refs}, nil
}
