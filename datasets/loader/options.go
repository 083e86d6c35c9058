package loader

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// OverLength says what happens to a sample longer than MaxSeqLen.
type OverLength int

const (
	// OverLengthError stops the loader with an error naming the sample's source.
	OverLengthError OverLength = iota
	// OverLengthTruncate cuts the sample to MaxSeqLen tokens, moving the cut back to the start
	// of an <|image|> run it would split and dropping the images after the cut; every
	// truncation is reported in Batch.Samples and Stats.
	OverLengthTruncate
)

// Options configure a Loader.
type Options struct {
	Dir string // directory holding manifest.json and the shards

	Seed       uint64 // shuffle seed (Permutation)
	Sequential bool   // no shuffle: every epoch visits samples in manifest order
	Epochs     int    // stop with io.EOF after this many epochs; 0 = never stop

	// GlobalBatch samples make one optimizer step over all data-parallel ranks; rank DPRank of
	// DPSize takes the contiguous slice [DPRank·G/DPSize, (DPRank+1)·G/DPSize) of each global
	// batch and returns it as micro-batches of MicroBatch samples. GlobalBatch must be a
	// multiple of MicroBatch·DPSize. The last N mod GlobalBatch samples of each epoch's
	// permutation are skipped (a different set every epoch).
	GlobalBatch, MicroBatch int
	DPRank, DPSize          int

	MaxSeqLen int // tokens per row (T ≤ MaxSeqLen)
	// Pack puts several samples in one row (first-fit decreasing, rows of MaxSeqLen); padded
	// mode gives each sample its own row.
	Pack bool
	// FixedLength pads every micro-batch to T = MaxSeqLen (for transports that need fixed
	// shapes); otherwise T is the longest row rounded up to a multiple of PadMultiple, capped
	// at MaxSeqLen.
	FixedLength bool
	PadMultiple int // default 128 (Megatron-Bridge's vlm_step)
	OverLength  OverLength
	PadID       int32 // input_ids value of padding (GLM: <|endoftext|> 151329)

	Prefetch   int   // micro-batches prepared ahead by the background goroutine (default 4)
	CacheBytes int64 // decoded row groups kept in memory (default 1 GiB)
	// SkipVerify skips checking every shard's size and sha256 against the manifest at New.
	SkipVerify bool
}

func (o *Options) defaults() {
	if o.Prefetch <= 0 {
		o.Prefetch = 4
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = 1 << 30
	}
	if o.DPSize == 0 {
		o.DPSize = 1
	}
	if o.PadMultiple <= 0 {
		o.PadMultiple = 128
	}
}

func (o *Options) validate() error {
	switch {
	case o.MicroBatch < 1:
		return fmt.Errorf("loader: micro batch %d < 1", o.MicroBatch)
	case o.DPSize < 1 || o.DPRank < 0 || o.DPRank >= o.DPSize:
		return fmt.Errorf("loader: data-parallel rank %d of %d", o.DPRank, o.DPSize)
	case o.GlobalBatch < 1 || o.GlobalBatch%(o.MicroBatch*o.DPSize) != 0:
		return fmt.Errorf("loader: global batch %d is not a positive multiple of micro batch %d × %d data-parallel ranks", o.GlobalBatch, o.MicroBatch, o.DPSize)
	case o.MaxSeqLen < 1:
		return fmt.Errorf("loader: max sequence length %d < 1", o.MaxSeqLen)
	case o.OverLength != OverLengthError && o.OverLength != OverLengthTruncate:
		return fmt.Errorf("loader: unknown over-length policy %d", o.OverLength)
	case o.Epochs < 0:
		return fmt.Errorf("loader: epochs %d < 0", o.Epochs)
	}
	return nil
}

// microsPerStep is the number of micro-batches one rank returns per global batch.
func (o *Options) microsPerStep() int { return o.GlobalBatch / (o.MicroBatch * o.DPSize) }

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}
