package prepare

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/glmflow/glmflow/datasets/hub"
	"github.com/glmflow/glmflow/datasets/makers"
	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/transforms/chat"
	"github.com/glmflow/glmflow/transforms/imageproc"
	"github.com/glmflow/glmflow/transforms/tokenizer"
)

// Settings are the job settings every worker needs. They travel inside the DoFns (Beam
// serialises a DoFn's exported fields as JSON), so they are plain data; Setup rebuilds the
// maker, tokenizer and renderer from them on each worker.
type Settings struct {
	Maker         string
	Prompt        string
	Split         string
	Tokenizer     string // path of tokenizer.json, read by every worker
	TokenizerHash string // tokenizer.Tokenizer.Hash at submission; a worker reading other bytes fails
	SeqLength     int
	Image         imageproc.Options
	Chat          chat.Options
	Hub           HubLimits
	Layout        shard.Layout
	RowsPerShard  int
}

// Dead-letter stages: where a row failed.
const (
	StageMaker  = "maker"  // the maker refused the row (null field, bad JSON, no image, ...)
	StageImage  = "image"  // an image failed to decode or process
	StageRender = "render" // the chat template or tokenizer refused the conversation
	StageLength = "length" // more tokens than the sequence length
	StageSample = "sample" // the sample broke a shard invariant (a bug upstream; kept, not dropped)
)

// DeadLetter is one input row that did not become a sample. The dead-letter file holds one
// JSON object per line: {"file", "row", "stage", "reason"}, sorted by (file order, row).
type DeadLetter struct {
	FileIndex int    `json:"-"`
	File      string `json:"file"`
	Row       int64  `json:"row"`
	Stage     string `json:"stage"`
	Reason    string `json:"reason"`
}

// timings are the nanoseconds one unit spent in each step.
type timings struct {
	read, image, render int64
}

// worker turns rows into samples. Build one per DoFn instance (newWorker); Beam calls a DoFn
// instance from one goroutine at a time.
type worker struct {
	s     Settings
	maker makers.Maker
	tok   *tokenizer.Tokenizer
	rend  *chat.Renderer
}

// newWorker loads the tokenizer and builds the maker and renderer.
func newWorker(s Settings) (*worker, error) {
	m, err := makers.New(s.Maker, makers.Options{Prompt: s.Prompt})
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(s.Tokenizer)
	if err != nil {
		return nil, err
	}
	if s.TokenizerHash != "" && tok.Hash() != s.TokenizerHash {
		return nil, fmt.Errorf("tokenizer %s: sha256 %s, but the job was submitted with %s (every worker must read the same tokenizer.json)", s.Tokenizer, tok.Hash(), s.TokenizerHash)
	}
	rend, err := chat.NewRenderer(tok, s.Chat)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", s.Tokenizer, err)
	}
	return &worker{s: s, maker: m, tok: tok, rend: rend}, nil
}

// errStop ends a file scan at the end of a unit.
var errStop = errors.New("end of unit")

// unit processes the rows of u in order: each row goes to exactly one of sample (with its rank
// among the unit's samples) or dead. It returns the rows it saw and the time spent per step.
func (w *worker) unit(u Unit, sample func(rank int64, s *shard.Sample) error, dead func(DeadLetter) error) (rows int64, t timings, err error) {
	var samples int64
	start := time.Now()
	err = hub.Rows(u.Path, w.maker.Columns(), w.s.Hub.hub(), func(r hub.Row) error {
		i := r.Index()
		if i < u.Start {
			return nil
		}
		if i >= u.End {
			return errStop
		}
		t.read += int64(time.Since(start))
		rows++
		s, dl := w.row(u, r, &t)
		start = time.Now()
		if dl != nil {
			return dead(*dl)
		}
		samples++
		return sample(samples-1, s)
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	if err == nil && rows != u.End-u.Start {
		err = fmt.Errorf("%s: rows [%d, %d): read %d rows", u.Path, u.Start, u.End, rows)
	}
	return rows, t, err
}

// row makes one sample, or says why not.
func (w *worker) row(u Unit, r hub.Row, t *timings) (*shard.Sample, *DeadLetter) {
	i := r.Index()
	fail := func(stage string, err error) (*shard.Sample, *DeadLetter) {
		return nil, &DeadLetter{FileIndex: u.File, File: u.Name, Row: i, Stage: stage, Reason: reason(err, u)}
	}
	conv, err := w.maker.Make(r)
	if err != nil {
		return fail(StageMaker, err)
	}
	conv.Source = chat.Source{File: u.Name, Row: i}

	t0 := time.Now()
	grids := make([][3]int, len(conv.Images))
	s := &shard.Sample{SourceFile: u.Name, SourceRow: i, Grids: make([][3]int32, len(conv.Images)), Pixels: make([][]byte, len(conv.Images))}
	for k, data := range conv.Images {
		img, err := imageproc.Process(data, w.s.Image)
		if err != nil {
			t.image += int64(time.Since(t0))
			return fail(StageImage, fmt.Errorf("image %d: %w", k, err))
		}
		grids[k] = img.Grid
		s.Grids[k] = [3]int32{int32(img.Grid[0]), int32(img.Grid[1]), int32(img.Grid[2])}
		s.Pixels[k] = img.Rows
	}
	t1 := time.Now()
	t.image += int64(t1.Sub(t0))

	rd, err := w.rend.Render(conv, grids)
	t.render += int64(time.Since(t1))
	if err != nil {
		return fail(StageRender, err)
	}
	if n := len(rd.InputIDs); n > w.s.SeqLength {
		return fail(StageLength, fmt.Errorf("%d tokens, more than the sequence length %d", n, w.s.SeqLength))
	}
	s.InputIDs = rd.InputIDs
	s.Labels = rd.ShiftedLabels()
	if err := s.Check(w.s.Layout); err != nil {
		return fail(StageSample, err)
	}
	return s, nil
}

// reason is the dead-letter text of err: location-independent (the worker's path of the file
// is replaced by its name, a row error's own file/row prefix is dropped: the record has them).
func reason(err error, u Unit) string {
	var re *hub.RowError
	if errors.As(err, &re) && re.Row >= 0 {
		msg := re.Msg
		if re.Column != "" {
			msg = "column " + re.Column + ": " + msg
		}
		return strings.ReplaceAll(msg, u.Path, u.Name)
	}
	return strings.ReplaceAll(err.Error(), u.Path, u.Name)
}
