package shard_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/datasets/shard/shardtest"
)

// benchLayout has GLM-4.5V's patch size: 588-byte patch rows.
var benchLayout = shard.Layout{ImageTokenID: 300, MergeSize: 2, PatchSize: 14}

// benchSamples: 64 samples of 300..900 text tokens and 0..2 images of up to 32×32 patches
// (random pixels: incompressible, the worst case for zstd).
func benchSamples() ([]shard.Sample, int64) {
	s := shardtest.Samples(11, 64, benchLayout, shardtest.Config{MinText: 300, MaxText: 900, MaxImages: 2, MaxGridSide: 32})
	var payload int64
	for i := range s {
		payload += 8 * int64(len(s[i].InputIDs))
		for _, p := range s[i].Pixels {
			payload += int64(len(p))
		}
	}
	return s, payload
}

// BenchmarkShardWrite: one shard of 64 samples per op; MB/s of raw payload (8 bytes per
// token + image bytes), samples/s.
func BenchmarkShardWrite(b *testing.B) {
	samples, payload := benchSamples()
	dir := b.TempDir()
	b.SetBytes(payload)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w, err := shard.Create(filepath.Join(dir, "a.parquet"), shard.WriterOptions{Layout: benchLayout})
		if err != nil {
			b.Fatal(err)
		}
		for k := range samples {
			if err := w.Write(&samples[k]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(samples))/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkShardRead: Scan of the whole shard (decode + per-row checks) per op.
func BenchmarkShardRead(b *testing.B) {
	samples, payload := benchSamples()
	path := filepath.Join(b.TempDir(), "a.parquet")
	writeShard(b, path, samples, shard.WriterOptions{Layout: benchLayout})
	b.SetBytes(payload)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := shard.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := r.Scan(context.Background(), func(_ int64, _ *shard.Sample) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		r.Close()
		if n != len(samples) {
			b.Fatal(n)
		}
	}
	b.ReportMetric(float64(b.N*len(samples))/b.Elapsed().Seconds(), "samples/s")
}
