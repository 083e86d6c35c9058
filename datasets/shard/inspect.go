package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Decoder turns token ids into text (transforms/tokenizer.Tokenizer satisfies it).
type Decoder interface {
	Decode(ids []int32, skipSpecial bool) (string, error)
}

// InspectOptions control Inspect.
type InspectOptions struct {
	Rows    int     // rows to print (≤ 0: 5)
	Skip    int64   // rows to skip first
	Decoder Decoder // nil: print token ids instead of text
	Color   bool    // mark trained spans with ANSI green instead of ⟦…⟧
}

// Trained-span markers.
const (
	markOpen, markClose   = "⟦", "⟧"
	colorOpen, colorClose = "\x1b[32m", "\x1b[0m"
)

// errStop ends a Scan early.
var errStop = errors.New("stop")

// Inspect prints a shard's header and up to o.Rows rows readably: source file and row, token
// and trained-token counts, image grids, and the decoded text with the trained tokens (those a
// label predicts) marked and each <|image|> run collapsed to "<|image|>×N".
func Inspect(w io.Writer, path string, o InspectOptions) error {
	r, err := Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if o.Rows <= 0 {
		o.Rows = 5
	}
	l := r.Layout()
	fmt.Fprintf(w, "shard %s: %d rows in %d row groups; image_token_id %d, merge_size %d, patch_size %d (%d bytes per patch row)\n",
		path, r.NumRows(), r.NumRowGroups(), l.ImageTokenID, l.MergeSize, l.PatchSize, l.RowBytes())
	printed := 0
	err = r.Scan(context.Background(), func(row int64, s *Sample) error {
		if row < o.Skip {
			return nil
		}
		if printed == o.Rows {
			return errStop
		}
		printed++
		return FormatSample(w, row, s, l, o)
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	return nil
}

// FormatSample prints one sample as Inspect does.
func FormatSample(w io.Writer, row int64, s *Sample, l Layout, o InspectOptions) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\n── row %d ── %s row %d ── %d tokens, %d trained, %d images\n",
		row, s.SourceFile, s.SourceRow, len(s.InputIDs), s.NumLossTokens(), len(s.Grids))
	for k, g := range s.Grids {
		fmt.Fprintf(&b, "image %d: grid (t=%d, h=%d, w=%d): %d patches, %d tokens, %d bytes\n",
			k, g[0], g[1], g[2], int(g[0])*int(g[1])*int(g[2]), l.ImageTokens(g), len(s.Pixels[k]))
	}
	open, close := markOpen, markClose
	if o.Color {
		open, close = colorOpen, colorClose
	}
	// Token j is trained when the label at j-1 (which predicts token j) is not -100. Spans
	// are maximal runs of equal (trained, image placeholder) state.
	trained := func(j int) bool { return j > 0 && s.Labels[j-1] != IgnoreIndex }
	ids := s.InputIDs
	for i := 0; i < len(ids); {
		tr, img := trained(i), ids[i] == l.ImageTokenID
		j := i + 1
		for j < len(ids) && trained(j) == tr && (ids[j] == l.ImageTokenID) == img {
			j++
		}
		if tr {
			b.WriteString(open)
		}
		var text string
		var err error
		switch {
		case img:
			text, err = decodeSpan(o.Decoder, ids[i:i+1])
			text = fmt.Sprintf("%s×%d", text, j-i)
		default:
			text, err = decodeSpan(o.Decoder, ids[i:j])
		}
		if err != nil {
			return fmt.Errorf("row %d: decode tokens [%d, %d): %w", row, i, j, err)
		}
		b.WriteString(text)
		if tr {
			b.WriteString(close)
		}
		i = j
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// decodeSpan decodes ids with special tokens kept, or lists them when there is no decoder.
func decodeSpan(d Decoder, ids []int32) (string, error) {
	if d != nil {
		return d.Decode(ids, false)
	}
	var b strings.Builder
	b.WriteByte('[')
	for k, id := range ids {
		if k > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, id)
	}
	b.WriteByte(']')
	return b.String(), nil
}
