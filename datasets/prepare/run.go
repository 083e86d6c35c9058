package prepare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"

	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/transforms/chat"
	"github.com/glmflow/glmflow/transforms/tokenizer"
)

// Result is what a finished job reports.
type Result struct {
	Out         string
	Files       int   // input files
	Units       int   // work units
	Rows        int64 // input rows
	Samples     int64
	DeadLetters int64
	Shards      int
	Manifest    *shard.Manifest // nil when the runner's output is not readable here (async, remote FS)
	JobID       string
	Elapsed     time.Duration
	// Time spent in each step, summed over workers, from Beam's counters (zero when the runner
	// reports no metrics).
	Read, Image, Render, Write time.Duration
}

// Run checks o, plans the job and runs it on o.Runner. Errors a user can fix (flags, missing
// split files, unknown maker or split, wrong columns, an unusable tokenizer or output folder)
// are returned before the pipeline starts.
func Run(ctx context.Context, o Options) (*Result, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	st, pl, err := setup(o)
	if err != nil {
		return nil, err
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return nil, err
	}
	if err := prepareOut(out, o.Overwrite); err != nil {
		return nil, err
	}
	runMu.Lock()
	defer runMu.Unlock()
	if !beam.Initialized() {
		beamlog.LogLevel = o.LogLevel
		beam.Init()
	}
	key, prog := newProgress()
	defer dropProgress(key)
	p := build(st, pl, out, key)

	start := time.Now()
	stop, done := make(chan struct{}), make(chan struct{})
	if o.Progress != nil {
		go prog.report(o.Progress, pl.Rows, o.ProgressEvery, stop, done)
	} else {
		close(done)
	}
	pr, err := execute(ctx, o.Runner, p)
	close(stop)
	<-done
	if err != nil {
		return nil, fmt.Errorf("prepare: %s runner: %w", o.Runner, err)
	}
	res := &Result{Out: out, Files: len(pl.Inputs), Units: len(pl.Units), Rows: pl.Rows, Elapsed: time.Since(start)}
	if pr != nil {
		res.JobID = pr.JobID()
		res.metrics(pr)
	}
	m, err := shard.ReadManifest(out)
	switch {
	case err == nil:
		res.Manifest = m
		res.Samples, res.DeadLetters, res.Shards = m.Totals.Samples, m.Totals.DeadLetters, len(m.Shards)
		if res.Samples+res.DeadLetters != res.Rows {
			return res, fmt.Errorf("prepare: %d input rows but %d samples + %d dead letters", res.Rows, res.Samples, res.DeadLetters)
		}
	case errors.Is(err, os.ErrNotExist) && o.Runner != "prism" && o.Runner != "direct":
		// A remote or asynchronous job: its output is where the workers wrote it.
	default:
		return res, err
	}
	if o.Progress != nil {
		res.Print(o.Progress)
	}
	return res, nil
}

// runMu serialises jobs in this process: Beam's runner options are process-wide flags.
var runMu sync.Mutex

// prismEndpoint is the job service of the in-process prism runner, started by the first prism
// job of the process and reused by the next ones.
var prismEndpoint string

// execute runs p on runner. For prism without a user-given --endpoint it reuses this process's
// prism job service and leaves Beam's endpoint and environment flags as it found them, so a
// later job with another runner does not submit to prism by accident.
func execute(ctx context.Context, runner string, p *beam.Pipeline) (beam.PipelineResult, error) {
	if runner != "prism" || *jobopts.Endpoint != "" {
		return beam.Run(ctx, runner, p)
	}
	envType := *jobopts.EnvironmentType
	if prismEndpoint != "" {
		*jobopts.Endpoint, *jobopts.EnvironmentType = prismEndpoint, "loopback"
	}
	defer func() {
		prismEndpoint = *jobopts.Endpoint
		*jobopts.Endpoint, *jobopts.EnvironmentType = "", envType
	}()
	return beam.Run(ctx, runner, p)
}

// setup loads the tokenizer once here (so a bad file fails before the pipeline), plans the
// units and gathers the settings the workers need.
func setup(o Options) (Settings, *Plan, error) {
	tok, err := tokenizer.Load(o.Tokenizer)
	if err != nil {
		return Settings{}, nil, err
	}
	ch := o.Chat
	if ch == (chat.Options{}) {
		ch = chat.DefaultOptions()
	}
	if _, err := chat.NewRenderer(tok, ch); err != nil {
		return Settings{}, nil, fmt.Errorf("tokenizer %s: %w", o.Tokenizer, err)
	}
	imageID, _ := tok.TokenID(ch.ImageToken) // present: NewRenderer checked it
	tokPath, err := filepath.Abs(o.Tokenizer)
	if err != nil {
		return Settings{}, nil, err
	}
	pl, err := plan(o)
	if err != nil {
		return Settings{}, nil, err
	}
	for i := range pl.Inputs {
		if pl.Inputs[i].Path, err = filepath.Abs(pl.Inputs[i].Path); err != nil {
			return Settings{}, nil, err
		}
	}
	for i := range pl.Units {
		pl.Units[i].Path = pl.Inputs[pl.Units[i].File].Path
	}
	st := Settings{
		Maker:         o.Maker,
		Prompt:        o.MakerOptions.Prompt,
		Split:         o.Split,
		Tokenizer:     tokPath,
		TokenizerHash: tok.Hash(),
		SeqLength:     o.SeqLength,
		Image:         o.Image,
		Chat:          ch,
		Hub:           o.Hub,
		Layout:        shard.Layout{ImageTokenID: imageID, MergeSize: o.Image.MergeSize, PatchSize: o.Image.PatchSize},
		RowsPerShard:  o.RowsPerShard,
	}
	return st, pl, nil
}

// metrics reads the step timings from the runner's counters.
func (r *Result) metrics(pr beam.PipelineResult) {
	defer func() { recover() }() // some runners return no metrics at all
	for _, c := range pr.Metrics().AllMetrics().Counters() {
		if c.Namespace() != MetricNamespace {
			continue
		}
		d := time.Duration(c.Result())
		switch c.Name() {
		case MetricReadNs:
			r.Read += d
		case MetricImageNs:
			r.Image += d
		case MetricRenderNs:
			r.Render += d
		case MetricWriteNs:
			r.Write += d
		}
	}
}

// Print writes the final counts and the time per step.
func (r *Result) Print(w io.Writer) {
	if r.Manifest == nil {
		fmt.Fprintf(w, "prepare: job %s submitted: %d files, %d units, %d rows; output in %s\n", r.JobID, r.Files, r.Units, r.Rows, r.Out)
		return
	}
	t := r.Manifest.Totals
	fmt.Fprintf(w, "prepare: %d rows → %d samples in %d shards, %d dead letters (%s); %d tokens (%d trained), %d images; %.1fs (%.1f samples/s)\n",
		r.Rows, r.Samples, r.Shards, r.DeadLetters, DeadLetterName, t.Tokens, t.LossTokens, t.Images,
		r.Elapsed.Seconds(), float64(r.Samples)/r.Elapsed.Seconds())
	if sum := r.Read + r.Image + r.Render + r.Write; sum > 0 {
		pct := func(d time.Duration) float64 { return 100 * float64(d) / float64(sum) }
		fmt.Fprintf(w, "prepare: worker time: read %.0f%%, image processing %.0f%%, render+tokenize %.0f%%, shard writing %.0f%% (of %.2fs)\n",
			pct(r.Read), pct(r.Image), pct(r.Render), pct(r.Write), sum.Seconds())
	}
	fmt.Fprintf(w, "prepare: wrote %s\n", filepath.Join(r.Out, ManifestName))
}
