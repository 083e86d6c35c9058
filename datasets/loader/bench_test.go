package loader_test

import (
	"context"
	"testing"

	"github.com/glmflow/glmflow/datasets/loader"
	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/datasets/shard/shardtest"
)

// BenchmarkLoader: micro-batches of 4 samples (300..900 text tokens, 0..2 images of up to
// 32×32 patches at patch size 14) from a cached dataset: collation, label conversion and
// pixel normalisation into F32 [P, 1176]. Prefetch is on, so with GOMAXPROCS=1 this is the
// single-core throughput.
func BenchmarkLoader(b *testing.B) {
	for _, pack := range []bool{false, true} {
		name := "padded"
		if pack {
			name = "packed"
		}
		b.Run(name, func(b *testing.B) {
			l := shard.Layout{ImageTokenID: 300, MergeSize: 2, PatchSize: 14}
			dir := b.TempDir()
			samples := shardtest.Samples(12, 64, l, shardtest.Config{MinText: 300, MaxText: 900, MaxImages: 2, MaxGridSide: 32})
			if _, err := shardtest.WriteDir(dir, samples, 32, shard.WriterOptions{Layout: l}); err != nil {
				b.Fatal(err)
			}
			ld, err := loader.New(loader.Options{Dir: dir, Seed: 1, GlobalBatch: 16, MicroBatch: 4, MaxSeqLen: 4096, Pack: pack}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer ld.Close()
			for range 16 { // one epoch: every row group decoded and cached
				if _, err := ld.Next(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			var bytes int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bt, err := ld.Next(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if p := bt.Tensors[loader.PixelValues]; p != nil {
					bytes += p.NBytes()
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
			b.ReportMetric(float64(4*b.N)/b.Elapsed().Seconds(), "samples/s")
			b.ReportMetric(float64(bytes)/b.Elapsed().Seconds()/1e6, "pixelMB/s")
		})
	}
}
