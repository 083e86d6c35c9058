// Package shardtest makes random valid samples and shard directories for tests and
// benchmarks of datasets/shard and datasets/loader.
package shardtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"

	"github.com/glmflow/glmflow/datasets/shard"
)

// Layout is a tiny layout: <|image|> = 300, merge size 2, patch size 2 (12-byte patch rows).
var Layout = shard.Layout{ImageTokenID: 300, MergeSize: 2, PatchSize: 2}

// Token ids used around images; text tokens are drawn from [0, 300).
const (
	BeginImage = 301
	EndImage   = 302
	TextVocab  = 300
)

// Config shapes the random samples.
type Config struct {
	MinText, MaxText int // text tokens per sample (before image placeholders)
	MaxImages        int // images per sample, 0..MaxImages
	MaxGridSide      int // h and w drawn from the even numbers in [2, MaxGridSide]
}

// DefaultConfig gives samples of 8..200 text tokens and up to 2 images of up to 8×8 patches.
func DefaultConfig() Config { return Config{MinText: 8, MaxText: 200, MaxImages: 2, MaxGridSide: 8} }

// Sample returns sample number i of the stream seeded with seed (independent of the others).
func Sample(seed uint64, i int, l shard.Layout, c Config) shard.Sample {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	nText := c.MinText + rng.IntN(c.MaxText-c.MinText+1)
	nImg := 0
	if c.MaxImages > 0 {
		nImg = rng.IntN(c.MaxImages + 1)
	}
	// Image k goes before text position at[k].
	at := make([]int, nImg)
	for k := range at {
		at[k] = rng.IntN(nText / 2)
	}
	for k := 1; k < nImg; k++ { // insertion positions in order
		if at[k] < at[k-1] {
			at[k] = at[k-1]
		}
	}
	s := shard.Sample{SourceFile: fmt.Sprintf("data/train-%05d-of-00010.parquet", i%10), SourceRow: int64(i)}
	var ids []int32
	var loss []bool
	img := 0
	inLoss := false
	for t := 0; t < nText; t++ {
		for img < nImg && at[img] == t {
			h := int32(l.MergeSize * (1 + rng.IntN(max(1, c.MaxGridSide/l.MergeSize))))
			w := int32(l.MergeSize * (1 + rng.IntN(max(1, c.MaxGridSide/l.MergeSize))))
			g := [3]int32{1, h, w}
			s.Grids = append(s.Grids, g)
			px := make([]byte, int(h)*int(w)*l.RowBytes())
			for j := range px {
				px[j] = byte(rng.Uint32())
			}
			s.Pixels = append(s.Pixels, px)
			ids = append(ids, BeginImage)
			loss = append(loss, false)
			for range l.ImageTokens(g) {
				ids = append(ids, l.ImageTokenID)
				loss = append(loss, false)
			}
			ids = append(ids, EndImage)
			loss = append(loss, false)
			img++
		}
		if t > 1 && rng.IntN(8) == 0 {
			inLoss = !inLoss
		}
		ids = append(ids, int32(rng.IntN(TextVocab)))
		loss = append(loss, inLoss)
	}
	s.InputIDs = ids
	s.Labels = make([]int32, len(ids))
	for j := range ids {
		s.Labels[j] = shard.IgnoreIndex
		if j+1 < len(ids) && loss[j+1] {
			s.Labels[j] = ids[j+1]
		}
	}
	return s
}

// Samples returns samples 0..n-1 of the stream seeded with seed.
func Samples(seed uint64, n int, l shard.Layout, c Config) []shard.Sample {
	out := make([]shard.Sample, n)
	for i := range out {
		out[i] = Sample(seed, i, l, c)
	}
	return out
}

// WriteDir writes samples into dir as shards of perShard rows named shard-NNNNN.parquet and a
// manifest, and returns the manifest.
func WriteDir(dir string, samples []shard.Sample, perShard int, o shard.WriterOptions) (*shard.Manifest, error) {
	m := shard.NewManifest(o.Layout)
	m.Tokenizer.Hash = "0000000000000000000000000000000000000000000000000000000000000000"
	m.Processor.Hash = "test"
	m.Processor.Settings = json.RawMessage(fmt.Sprintf(`{"PatchSize":%d,"TemporalPatchSize":2,"MergeSize":%d,"MinPixels":16,"MaxPixels":1000000,"MaxDecodePixels":1000000,"Mean":[0.48145466,0.4578275,0.40821073],"Std":[0.26862954,0.26130258,0.27577711]}`, o.Layout.PatchSize, o.Layout.MergeSize))
	m.Maker = shard.Maker{Name: "shardtest", Options: json.RawMessage(`{"seed":1}`)}
	for k := 0; k*perShard < len(samples); k++ {
		w, err := shard.Create(filepath.Join(dir, fmt.Sprintf("shard-%05d.parquet", k)), o)
		if err != nil {
			return nil, err
		}
		for i := k * perShard; i < min(len(samples), (k+1)*perShard); i++ {
			if err := w.Write(&samples[i]); err != nil {
				w.Abort()
				return nil, err
			}
		}
		info, err := w.Close()
		if err != nil {
			return nil, err
		}
		m.Add(info)
	}
	if err := shard.WriteManifest(dir, m); err != nil {
		return nil, err
	}
	return m, nil
}
