package prepare

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/glmflow/glmflow/datasets/shard"
)

// Elements between the steps. Exported fields only: Beam encodes them with its schema coder.
type (
	// keyedSample is a sample with its place in its unit: the Rank-th sample of unit Unit.
	keyedSample struct {
		Unit int
		Rank int64
		Data []byte // encodeSample
	}
	// orderedSample is a sample with its global order among all samples.
	orderedSample struct {
		Order int64
		Data  []byte
	}
	// unitCount is what one unit produced.
	unitCount struct {
		Unit                int
		Rows, Samples, Dead int64
		ReadNs, ImageNs     int64
		RenderNs            int64
	}
	// shardResult describes one written shard (shard.ShardInfo) and where it sits.
	shardResult struct {
		Index      int
		Name       string
		Rows       int64
		Bytes      int64
		SHA256     string
		Tokens     int64
		LossTokens int64
		Images     int64
		FirstOrder int64
		WriteNs    int64
	}
)

// Beam metric names (namespace MetricNamespace). Remote runners show them in their UIs.
const (
	MetricNamespace = "glmflow.prepare"
	MetricRows      = "rows"         // input rows processed
	MetricSamples   = "samples"      // rows that became samples
	MetricDead      = "dead_letters" // rows that went to the dead-letter file
	MetricShards    = "shards"       // shards written
	MetricReadNs    = "read_ns"      // time reading Parquet and running the maker's column access
	MetricImageNs   = "image_ns"     // time in imageproc.Process
	MetricRenderNs  = "render_ns"    // time rendering the chat and tokenizing
	MetricWriteNs   = "write_ns"     // time encoding and writing shards
)

var (
	cRows    = beam.NewCounter(MetricNamespace, MetricRows)
	cSamples = beam.NewCounter(MetricNamespace, MetricSamples)
	cDead    = beam.NewCounter(MetricNamespace, MetricDead)
	cShards  = beam.NewCounter(MetricNamespace, MetricShards)
	cRead    = beam.NewCounter(MetricNamespace, MetricReadNs)
	cImage   = beam.NewCounter(MetricNamespace, MetricImageNs)
	cRender  = beam.NewCounter(MetricNamespace, MetricRenderNs)
	cWrite   = beam.NewCounter(MetricNamespace, MetricWriteNs)
)

func init() {
	for _, t := range []any{Unit{}, DeadLetter{}, keyedSample{}, orderedSample{}, unitCount{}, shardResult{}} {
		beam.RegisterType(reflect.TypeOf(t))
	}
	register.DoFn5x1[context.Context, Unit, func(keyedSample), func(DeadLetter), func(unitCount), error](&processFn{})
	register.DoFn3x1[keyedSample, func(*unitCount) bool, func(int, orderedSample), error](&orderFn{})
	register.DoFn5x1[context.Context, int, func(*orderedSample) bool, func(*unitCount) bool, func(shardResult), error](&writeFn{})
	register.DoFn5x1[context.Context, []byte, func(*unitCount) bool, func(*shardResult) bool, func(*DeadLetter) bool, error](&finalizeFn{})
	register.Emitter1[keyedSample]()
	register.Emitter1[DeadLetter]()
	register.Emitter1[unitCount]()
	register.Emitter1[shardResult]()
	register.Emitter2[int, orderedSample]()
	register.Iter1[unitCount]()
	register.Iter1[orderedSample]()
	register.Iter1[shardResult]()
	register.Iter1[DeadLetter]()
}

// build adds the job's transforms to a new pipeline:
//
//	units ─Process─┬─ samples (unit, rank) ─Order(side: counts)─ (shard, order) ─GBK─ WriteShard(side: counts) ─ shard infos ┐
//	               ├─ dead letters ─────────────────────────────────────────────────────────────────────────────────────┤
//	               └─ unit counts ─────────────────────────────────────────────────────────────────────────────────────┴─ Finalize (impulse; all three as side inputs)
func build(st Settings, pl *Plan, out, job string) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	units := beam.CreateList(s.Scope("Units"), pl.Units)
	samples, dead, counts := beam.ParDo3(s.Scope("Process"), &processFn{Settings: st, Job: job}, units)
	ordered := beam.ParDo(s.Scope("Order"), &orderFn{Units: len(pl.Units), RowsPerShard: st.RowsPerShard}, samples, beam.SideInput{Input: counts})
	grouped := beam.GroupByKey(s.Scope("GroupByShard"), ordered)
	shards := beam.ParDo(s.Scope("WriteShard"), &writeFn{Out: out, Split: st.Split, Layout: st.Layout, RowsPerShard: st.RowsPerShard, Job: job}, grouped, beam.SideInput{Input: counts})
	fin := &finalizeFn{Settings: st, Out: out, Units: len(pl.Units), Rows: pl.Rows}
	beam.ParDo0(s.Scope("Finalize"), fin, beam.Impulse(s), beam.SideInput{Input: counts}, beam.SideInput{Input: shards}, beam.SideInput{Input: dead})
	return p
}

// processFn reads one unit and emits its samples, its dead letters and its counts.
type processFn struct {
	Settings Settings
	Job      string // in-process progress key (see progress.go)

	w    *worker
	prog *progress
}

func (f *processFn) Setup() error {
	w, err := newWorker(f.Settings)
	if err != nil {
		return err
	}
	f.w, f.prog = w, lookupProgress(f.Job)
	return nil
}

func (f *processFn) ProcessElement(ctx context.Context, u Unit, emitSample func(keyedSample), emitDead func(DeadLetter), emitCount func(unitCount)) error {
	c := unitCount{Unit: u.ID}
	var buf []byte
	rows, t, err := f.w.unit(u, func(rank int64, s *shard.Sample) error {
		buf = encodeSample(buf[:0], s)
		emitSample(keyedSample{Unit: u.ID, Rank: rank, Data: slices.Clone(buf)})
		c.Samples++
		f.prog.add(1, 1, 0)
		return nil
	}, func(d DeadLetter) error {
		emitDead(d)
		c.Dead++
		f.prog.add(1, 0, 1)
		return nil
	})
	if err != nil {
		return err
	}
	c.Rows, c.ReadNs, c.ImageNs, c.RenderNs = rows, t.read, t.image, t.render
	cRows.Inc(ctx, c.Rows)
	cSamples.Inc(ctx, c.Samples)
	cDead.Inc(ctx, c.Dead)
	cRead.Inc(ctx, t.read)
	cImage.Inc(ctx, t.image)
	cRender.Inc(ctx, t.render)
	emitCount(c)
	return nil
}

// unitTable turns the unit counts into the index of each unit's first sample and the total.
func unitTable(units int, iter func(*unitCount) bool) (first []int64, total int64, err error) {
	counts := make([]int64, units)
	seen := make([]bool, units)
	var c unitCount
	for iter(&c) {
		if c.Unit < 0 || c.Unit >= units || seen[c.Unit] {
			return nil, 0, fmt.Errorf("prepare: unit count for unit %d: unknown or repeated (%d units)", c.Unit, units)
		}
		seen[c.Unit], counts[c.Unit] = true, c.Samples
	}
	first = make([]int64, units)
	for i, n := range counts {
		if !seen[i] {
			return nil, 0, fmt.Errorf("prepare: no count for unit %d", i)
		}
		first[i] = total
		total += n
	}
	return first, total, nil
}

// orderFn gives each sample its global order (file order, then row) and its shard.
type orderFn struct {
	Units        int
	RowsPerShard int

	first []int64 // cached: the side input of the global window never changes
}

func (f *orderFn) ProcessElement(ks keyedSample, counts func(*unitCount) bool, emit func(int, orderedSample)) error {
	if f.first == nil {
		first, _, err := unitTable(f.Units, counts)
		if err != nil {
			return err
		}
		f.first = first
	}
	if ks.Unit < 0 || ks.Unit >= f.Units {
		return fmt.Errorf("prepare: sample of unknown unit %d", ks.Unit)
	}
	order := f.first[ks.Unit] + ks.Rank
	emit(int(order/int64(f.RowsPerShard)), orderedSample{Order: order, Data: ks.Data})
	return nil
}

// writeFn writes one shard: its samples sorted by order, with datasets/shard (zstd). The file
// appears atomically under its final name, and the same samples give the same bytes, so a
// retried or duplicated bundle rewrites an identical file.
type writeFn struct {
	Out          string
	Split        string
	Layout       shard.Layout
	RowsPerShard int
	Job          string

	prog *progress
}

func (f *writeFn) Setup() { f.prog = lookupProgress(f.Job) }

func (f *writeFn) ProcessElement(ctx context.Context, idx int, values func(*orderedSample) bool, counts func(*unitCount) bool, emit func(shardResult)) error {
	var total int64
	var c unitCount
	for counts(&c) {
		total += c.Samples
	}
	per := int64(f.RowsPerShard)
	n := int((total + per - 1) / per)
	if idx < 0 || idx >= n {
		return fmt.Errorf("prepare: shard %d of %d", idx, n)
	}
	first := int64(idx) * per
	want := min(per, total-first)
	var group []orderedSample
	var v orderedSample
	for values(&v) {
		group = append(group, v)
	}
	slices.SortFunc(group, func(a, b orderedSample) int { return int(min(max(a.Order-b.Order, -1), 1)) })
	if int64(len(group)) != want {
		return fmt.Errorf("prepare: shard %d: %d samples, want %d", idx, len(group), want)
	}
	for i, g := range group {
		if g.Order != first+int64(i) {
			return fmt.Errorf("prepare: shard %d: sample order %d at position %d, want %d", idx, g.Order, i, first+int64(i))
		}
	}
	t0 := time.Now()
	name := shardName(f.Split, idx, n)
	info, err := writeShard(f.Out, name, f.Layout, group)
	if err != nil {
		return err
	}
	dt := int64(time.Since(t0))
	cShards.Inc(ctx, 1)
	cWrite.Inc(ctx, dt)
	f.prog.shard()
	emit(shardResult{Index: idx, Name: info.Name, Rows: info.Rows, Bytes: info.Bytes, SHA256: info.SHA256,
		Tokens: info.Tokens, LossTokens: info.LossTokens, Images: info.Images, FirstOrder: first, WriteNs: dt})
	return nil
}

// writeShard writes the samples of group, in order, to out/name.
func writeShard(out, name string, l shard.Layout, group []orderedSample) (shard.ShardInfo, error) {
	w, err := shard.Create(filepath.Join(out, name), shard.WriterOptions{Layout: l})
	if err != nil {
		return shard.ShardInfo{}, err
	}
	for _, g := range group {
		s, err := decodeSample(g.Data)
		if err == nil {
			err = w.Write(s)
		}
		if err != nil {
			w.Abort()
			return shard.ShardInfo{}, fmt.Errorf("shard %s: sample %d: %w", name, g.Order, err)
		}
	}
	return w.Close()
}
