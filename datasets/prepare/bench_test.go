package prepare

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/transforms/imageproc"
)

// BenchmarkPrepareCord runs the whole job (prism, in process) on the mini CORD train split:
// 8 receipts, 2 files. Run single-threaded: go test -bench PrepareCord -cpu 1. It reports
// samples/s of the job and the share of the workers' time per step.
//
//	glm-defaults  GLM-4.5V's processor (receipts ≈ 300–900 patches), seq length 8192
//	tiny          the testdata/prepared flags: ≤ 256 patches, seq length 512
func BenchmarkPrepareCord(b *testing.B) {
	small := imageproc.DefaultOptions()
	small.MaxPixels = smallPix
	for _, c := range []struct {
		name string
		img  imageproc.Options
		seq  int
	}{{"glm-defaults", imageproc.DefaultOptions(), 8192}, {"tiny", small, 512}} {
		b.Run(c.name, func(b *testing.B) {
			var samples int64
			var el, read, img, render, write time.Duration
			for b.Loop() {
				res, err := Run(context.Background(), Options{Maker: "cord_v2", Inputs: []string{filepath.Join(miniDir, "cord-v2")}, Split: "train",
					Out: b.TempDir(), Tokenizer: tinyTok, SeqLength: c.seq, Image: c.img, RowsPerShard: 3})
				if err != nil {
					b.Fatal(err)
				}
				samples += res.Samples
				el += res.Elapsed
				read, img, render, write = read+res.Read, img+res.Image, render+res.Render, write+res.Write
			}
			sum := float64(read + img + render + write)
			b.ReportMetric(float64(samples)/el.Seconds(), "samples/s")
			b.ReportMetric(100*float64(img)/sum, "%image")
			b.ReportMetric(100*float64(render)/sum, "%render+tok")
			b.ReportMetric(100*float64(write)/sum, "%write")
			b.ReportMetric(100*float64(read)/sum, "%read")
			b.ReportMetric(100*sum/float64(el), "%busy")
		})
	}
}

// BenchmarkSteps runs the job's steps as plain functions on one goroutine (no runner): read +
// maker, image processing, chat rendering + tokenization, and shard writing of the mini CORD
// train split, with GLM-4.5V's processor defaults. It reports samples/s and each step's share:
// the steady-state cost per sample that the Beam job adds its fixed runner overhead to.
func BenchmarkSteps(b *testing.B) {
	o := Options{Maker: "cord_v2", Inputs: []string{filepath.Join(miniDir, "cord-v2")}, Split: "train", Tokenizer: tinyTok}.withDefaults()
	st, pl, err := setup(o)
	if err != nil {
		b.Fatal(err)
	}
	w, err := newWorker(st)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	var t timings
	var write time.Duration
	var samples int64
	for b.Loop() {
		var group []orderedSample
		for _, u := range pl.Units {
			_, tu, err := w.unit(u, func(_ int64, s *shard.Sample) error {
				group = append(group, orderedSample{Order: int64(len(group)), Data: encodeSample(nil, s)})
				return nil
			}, func(d DeadLetter) error { return fmt.Errorf("dead letter %+v", d) })
			if err != nil {
				b.Fatal(err)
			}
			t.read, t.image, t.render = t.read+tu.read, t.image+tu.image, t.render+tu.render
		}
		t0 := time.Now()
		for i := 0; i < len(group); i += st.RowsPerShard {
			if _, err := writeShard(dir, shardName("train", i, len(group)), st.Layout, group[i:min(i+st.RowsPerShard, len(group))]); err != nil {
				b.Fatal(err)
			}
		}
		write += time.Since(t0)
		samples += int64(len(group))
	}
	sum := float64(t.read + t.image + t.render + int64(write))
	b.ReportMetric(float64(samples)/(sum/1e9), "samples/s")
	b.ReportMetric(100*float64(t.image)/sum, "%image")
	b.ReportMetric(100*float64(t.render)/sum, "%render+tok")
	b.ReportMetric(100*float64(write)/sum, "%write")
	b.ReportMetric(100*float64(t.read)/sum, "%read")
}
