package shard

import "fmt"

// Limits on sizes read from files, checked before anything is allocated.
const (
	MaxTokens     = 1 << 24 // tokens per sample
	MaxImages     = 1 << 12 // images per sample
	MaxGridSide   = 1 << 12 // h or w in patches
	MaxSourceName = 1 << 12 // bytes of source_file
)

// Sample is one prepared training sample (T tokens, I images).
type Sample struct {
	InputIDs   []int32    // [T]
	Labels     []int32    // [T] pre-shifted: Labels[i] = InputIDs[i+1] where trained, else -100
	Grids      [][3]int32 // [I] (t, h, w) in patches, t = 1
	Pixels     [][]byte   // [I] image k: [h·w, 3·ps·ps] uint8 rows (imageproc.Image.Rows)
	SourceFile string
	SourceRow  int64
}

// NumLossTokens counts the trained labels.
func (s *Sample) NumLossTokens() int {
	n := 0
	for _, l := range s.Labels {
		if l != IgnoreIndex {
			n++
		}
	}
	return n
}

// ImageTokens is the number of <|image|> tokens image grid g takes: t·h·w/m².
func (l Layout) ImageTokens(g [3]int32) int {
	return int(g[0]) * int(g[1]) * int(g[2]) / (l.MergeSize * l.MergeSize)
}

// checkGrid validates one grid against the layout.
func (l Layout) checkGrid(g [3]int32) error {
	if g[0] != 1 {
		return fmt.Errorf("grid %v: t = %d, want 1 (one image frame)", g, g[0])
	}
	for _, d := range g[1:] {
		if d < 1 || d > MaxGridSide || int(d)%l.MergeSize != 0 {
			return fmt.Errorf("grid %v: h and w must be multiples of the merge size %d in [1, %d]", g, l.MergeSize, MaxGridSide)
		}
	}
	return nil
}

// Check verifies the per-row invariants of the package doc. The error names the column.
func (s *Sample) Check(l Layout) error {
	T := len(s.InputIDs)
	if T == 0 || T > MaxTokens {
		return fmt.Errorf("%s: %d tokens, want 1..%d", ColInputIDs, T, MaxTokens)
	}
	if len(s.Labels) != T {
		return fmt.Errorf("%s: %d labels for %d input ids", ColLabels, len(s.Labels), T)
	}
	for i, lab := range s.Labels {
		switch {
		case lab == IgnoreIndex:
		case i == T-1:
			return fmt.Errorf("%s: last label is %d, want -100 (labels are pre-shifted)", ColLabels, lab)
		case lab != s.InputIDs[i+1]:
			return fmt.Errorf("%s[%d] = %d, but input_ids[%d] = %d (labels are pre-shifted: label[i] = input_ids[i+1] or -100)", ColLabels, i, lab, i+1, s.InputIDs[i+1])
		}
	}
	if len(s.Grids) > MaxImages {
		return fmt.Errorf("%s: %d images, more than %d", ColGrids, len(s.Grids), MaxImages)
	}
	if len(s.Pixels) != len(s.Grids) {
		return fmt.Errorf("%s: %d images but %d grids", ColImageRows, len(s.Pixels), len(s.Grids))
	}
	for k, g := range s.Grids {
		if err := l.checkGrid(g); err != nil {
			return fmt.Errorf("%s[%d]: %v", ColGrids, k, err)
		}
		if want := int(g[1]) * int(g[2]) * l.RowBytes(); len(s.Pixels[k]) != want {
			return fmt.Errorf("%s[%d]: %d bytes, want %d (grid %v: %d patches × %d bytes)", ColImageRows, k, len(s.Pixels[k]), want, g, int(g[1])*int(g[2]), l.RowBytes())
		}
	}
	if err := l.checkImageRuns(s.InputIDs, s.Grids); err != nil {
		return err
	}
	if len(s.SourceFile) > MaxSourceName {
		return fmt.Errorf("%s: %d bytes, more than %d", ColSourceFile, len(s.SourceFile), MaxSourceName)
	}
	if s.SourceRow < 0 {
		return fmt.Errorf("%s: %d < 0", ColSourceRow, s.SourceRow)
	}
	return nil
}

// checkImageRuns verifies that the <|image|> runs of ids cover whole images in grid order.
func (l Layout) checkImageRuns(ids []int32, grids [][3]int32) error {
	img := 0
	for i := 0; i < len(ids); {
		if ids[i] != l.ImageTokenID {
			i++
			continue
		}
		j := i
		for j < len(ids) && ids[j] == l.ImageTokenID {
			j++
		}
		run, first := j-i, img
		for run > 0 && img < len(grids) {
			run -= l.ImageTokens(grids[img])
			img++
		}
		if run != 0 {
			return fmt.Errorf("%s: the <|image|> run at tokens [%d, %d) does not match the grids of images %d..%d (%s)", ColInputIDs, i, j, first, img-1, gridTokensString(l, grids))
		}
		i = j
	}
	if img != len(grids) {
		return fmt.Errorf("%s: <|image|> tokens (id %d) cover %d of %d images (%s)", ColInputIDs, l.ImageTokenID, img, len(grids), gridTokensString(l, grids))
	}
	return nil
}

func gridTokensString(l Layout, grids [][3]int32) string {
	s := "tokens per image:"
	for _, g := range grids {
		s += fmt.Sprintf(" %d", l.ImageTokens(g))
	}
	if len(grids) == 0 {
		s += " none"
	}
	return s
}

// ImageRuns returns the [start, end) token ranges of the <|image|> runs of ids.
func (l Layout) ImageRuns(ids []int32) [][2]int {
	var runs [][2]int
	for i := 0; i < len(ids); {
		if ids[i] != l.ImageTokenID {
			i++
			continue
		}
		j := i
		for j < len(ids) && ids[j] == l.ImageTokenID {
			j++
		}
		runs = append(runs, [2]int{i, j})
		i = j
	}
	return runs
}
