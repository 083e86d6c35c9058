package loader

import (
	"encoding/json"
	"fmt"
)

// CursorVersion is the version of the Cursor JSON.
const CursorVersion = 1

// Cursor is the loader's position, saved with checkpoints. Resuming from a cursor yields
// exactly the batches that would have followed it.
//
// Step boundaries (Micro = 0) are independent of the data-parallel layout: all ranks hold the
// same cursor there, and a run may resume with another DPSize or MicroBatch. Inside a step the
// cursor is rank-specific and needs the same layout.
type Cursor struct {
	Version      int    `json:"version"`
	ManifestHash string `json:"manifest_hash"` // shard.Manifest.Hash of the dataset
	Seed         uint64 `json:"seed"`
	Epoch        int64  `json:"epoch"`
	// Position is the offset in the epoch's permutation where the next global batch starts
	// (a multiple of GlobalBatch).
	Position    int64 `json:"position"`
	GlobalBatch int   `json:"global_batch"`
	// Micro counts the micro-batches of the current global batch this rank has already
	// returned; MicroBatch and DPSize record the layout it counts in.
	Micro      int `json:"micro"`
	MicroBatch int `json:"micro_batch"`
	DPSize     int `json:"dp_size"`
}

// Marshal encodes c as JSON.
func (c Cursor) Marshal() ([]byte, error) { return json.Marshal(c) }

// UnmarshalCursor decodes a cursor saved with Marshal (unknown keys are an error).
func UnmarshalCursor(b []byte) (Cursor, error) {
	var c Cursor
	if err := strictUnmarshal(b, &c); err != nil {
		return c, fmt.Errorf("loader cursor: %w", err)
	}
	if c.Version != CursorVersion {
		return c, fmt.Errorf("loader cursor: version %d, this build reads %d", c.Version, CursorVersion)
	}
	return c, nil
}

// check verifies that c can resume a loader with options o over a dataset of hash and n
// samples.
func (c Cursor) check(o *Options, hash string, n int64) error {
	switch {
	case c.ManifestHash != hash:
		return fmt.Errorf("loader cursor: dataset manifest hash %s, this dataset is %s", c.ManifestHash, hash)
	case c.Seed != o.Seed:
		return fmt.Errorf("loader cursor: seed %d, options say %d", c.Seed, o.Seed)
	case c.GlobalBatch != o.GlobalBatch:
		return fmt.Errorf("loader cursor: global batch %d, options say %d", c.GlobalBatch, o.GlobalBatch)
	case c.Epoch < 0 || c.Position < 0 || c.Position%int64(o.GlobalBatch) != 0 || c.Position+int64(o.GlobalBatch) > n:
		return fmt.Errorf("loader cursor: epoch %d position %d is not a global batch start in %d samples", c.Epoch, c.Position, n)
	case c.Micro != 0 && (c.MicroBatch != o.MicroBatch || c.DPSize != o.DPSize):
		return fmt.Errorf("loader cursor: saved inside a step (micro-batch %d) with micro batch %d and %d data-parallel ranks; resume with the same, or from a step boundary", c.Micro, c.MicroBatch, c.DPSize)
	case c.Micro < 0 || c.Micro >= o.microsPerStep():
		return fmt.Errorf("loader cursor: micro-batch %d outside [0, %d)", c.Micro, o.microsPerStep())
	}
	return nil
}
