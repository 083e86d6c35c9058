package prepare

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/glmflow/glmflow/datasets/makers"
	"github.com/glmflow/glmflow/transforms/chat"
	"github.com/glmflow/glmflow/transforms/imageproc"
)

// Defaults of the zero Options fields.
const (
	DefaultSeqLength     = 8192 // GLM-4.5V recipes' seq_length
	DefaultRowsPerShard  = 256
	DefaultUnitRows      = 256
	DefaultRunner        = "prism"
	DefaultProgressEvery = 5 * time.Second
	// MaxRowsPerShard bounds a shard: the shard writer holds one whole shard in memory to sort it.
	MaxRowsPerShard = 1 << 20
)

// Runners are the accepted Runner names: prism and direct run in this process; the others
// submit to a job service or to Dataflow with Beam's own flags (see the package doc).
var Runners = []string{"prism", "direct", "universal", "flink", "spark", "dataflow"}

// Options configure one preprocessing job. Zero values take the defaults above.
type Options struct {
	Maker        string         // registered maker name (makers.Names)
	MakerOptions makers.Options // the maker's prompt
	Inputs       []string       // hub-layout folders and/or Parquet files, in this order
	Split        string         // split to read from folders ("train")
	Out          string         // output folder: shards, manifest.json, dead_letters.jsonl
	Overwrite    bool           // replace the files of an earlier job in Out

	Tokenizer string            // path of tokenizer.json (read by every worker)
	SeqLength int               // samples with more tokens go to the dead-letter file
	Image     imageproc.Options // zero: imageproc.DefaultOptions()
	Chat      chat.Options      // zero: chat.DefaultOptions()
	Hub       HubLimits         // bounds on the input files

	RowsPerShard int // samples per output shard (the last one may hold fewer)
	UnitRows     int // input rows per work unit (the unit of parallelism and of retries)

	Runner string // one of Runners
	// LogLevel is Beam's log level (debug, info, warn, error; default warn), applied by the
	// first job of the process (Beam sets its logger up once).
	LogLevel string

	// Progress receives a line with the rows read, samples and dead letters every
	// ProgressEvery while the job runs (in-process runners only: prism, direct), and the
	// final counts. nil: silent.
	Progress      io.Writer
	ProgressEvery time.Duration
}

// HubLimits mirror datasets/hub.Options' bounds (zero: the hub's defaults). They travel to the
// workers with the DoFns, so they are plain numbers.
type HubLimits struct {
	BatchRows           int
	MaxRows             int64
	MaxColumnChunkBytes int64
	MaxValueBytes       int
}

// withDefaults fills the zero fields.
func (o Options) withDefaults() Options {
	if o.SeqLength == 0 {
		o.SeqLength = DefaultSeqLength
	}
	if o.Image == (imageproc.Options{}) {
		o.Image = imageproc.DefaultOptions()
	}
	if o.RowsPerShard == 0 {
		o.RowsPerShard = DefaultRowsPerShard
	}
	if o.UnitRows == 0 {
		o.UnitRows = DefaultUnitRows
	}
	if o.Runner == "" {
		o.Runner = DefaultRunner
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = DefaultProgressEvery
	}
	return o
}

// validate checks the settings that need no file access. It expects defaults filled.
func (o Options) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.Maker == "" {
		bad("maker: required (one of %v)", makers.Names())
	}
	if len(o.Inputs) == 0 {
		bad("input: at least one folder or Parquet file is required")
	}
	if o.Split == "" {
		bad("split: required")
	}
	if o.Out == "" {
		bad("out: required")
	}
	if o.Tokenizer == "" {
		bad("tokenizer: required")
	}
	if o.SeqLength < 1 {
		bad("seq-length %d: want ≥ 1", o.SeqLength)
	}
	if o.RowsPerShard < 1 || o.RowsPerShard > MaxRowsPerShard {
		bad("rows-per-shard %d: want 1..%d", o.RowsPerShard, MaxRowsPerShard)
	}
	if o.UnitRows < 1 {
		bad("unit-rows %d: want ≥ 1", o.UnitRows)
	}
	if !slices.Contains(Runners, o.Runner) {
		bad("runner %q: want one of %v", o.Runner, Runners)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, o.LogLevel) {
		bad("log level %q: want debug, info, warn or error", o.LogLevel)
	}
	if err := o.Image.Validate(); err != nil {
		bad("image options: %v", err)
	}
	if err := o.Chat.Validate(); err != nil {
		bad("chat options: %v", err)
	}
	ch := o.Chat
	if ch == (chat.Options{}) {
		ch = chat.DefaultOptions()
	}
	if ch.MergeSize != o.Image.MergeSize {
		bad("chat merge size %d differs from the image processor's %d", ch.MergeSize, o.Image.MergeSize)
	}
	return errors.Join(errs...)
}
