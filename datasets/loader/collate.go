package loader

import (
	"fmt"
	"slices"

	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/tensors"
	"github.com/glmflow/glmflow/transforms/imageproc"
)

// Tensor names of a batch (the HF model input names).
const (
	InputIDs      = "input_ids"      // I32 [B, T]
	AttentionMask = "attention_mask" // I32 [B, T] 1 token / 0 padding; packed: the segment id
	Labels        = "labels"         // I32 [B, T] HF (unshifted) labels, -100 = no loss
	PixelValues   = "pixel_values"   // F32 [P, 1176] normalised patch rows, batch image order
	ImageGridTHW  = "image_grid_thw" // I32 [N, 3] one (t, h, w) per image, batch image order
	SegmentIDs    = "segment_ids"    // I32 [B, T] packed only: 1..n per sample in the row, 0 = padding
)

// SampleRef says where a sample of the batch came from and where it went.
type SampleRef struct {
	Index      int64  // global sample index (shards in manifest order)
	SourceFile string // the sample's source file and row (shard.Sample)
	SourceRow  int64
	Row        int // batch row b
	Offset     int // first token column in the row
	Tokens     int // tokens placed (after truncation)
	Truncated  int // tokens cut off (0: none)
	// DroppedImages counts the images after the cut (their <|image|> runs were cut off).
	DroppedImages int
}

// collator turns samples into batch tensors.
type collator struct {
	o      *Options
	layout shard.Layout
	proc   imageproc.Options
}

// placed is one sample's slot in the batch.
type placed struct {
	s      *shard.Sample
	ref    SampleRef
	images int // images kept
}

// fit applies the over-length policy: the tokens and images of s that go into the batch.
func (c *collator) fit(s *shard.Sample, ref *SampleRef) (images int, err error) {
	T, limit := len(s.InputIDs), c.o.MaxSeqLen
	ref.Tokens = T
	if T <= limit {
		return len(s.Grids), nil
	}
	if c.o.OverLength == OverLengthError {
		return 0, fmt.Errorf("loader: sample %d (%s row %d): %d tokens, more than the max sequence length %d", ref.Index, s.SourceFile, s.SourceRow, T, limit)
	}
	cut := limit
	runs := c.layout.ImageRuns(s.InputIDs)
	for _, r := range runs {
		if r[0] < cut && r[1] > cut {
			cut = r[0] // never split an image's placeholder run
		}
	}
	if cut == 0 {
		return 0, fmt.Errorf("loader: sample %d (%s row %d): truncating to %d tokens would cut the image at its start", ref.Index, s.SourceFile, s.SourceRow, limit)
	}
	// Images are assigned to runs in order, a run holding whole images (checked by the reader).
	img := 0
	for _, r := range runs {
		if r[1] > cut {
			break
		}
		for left := r[1] - r[0]; left > 0; img++ {
			left -= c.layout.ImageTokens(s.Grids[img])
		}
	}
	ref.Tokens, ref.Truncated, ref.DroppedImages = cut, T-cut, len(s.Grids)-img
	return img, nil
}

// collate builds one micro-batch from samples (indices idx).
func (c *collator) collate(samples []*shard.Sample, idx []int64) (map[string]*tensors.Tensor, []SampleRef, error) {
	ps := make([]placed, len(samples))
	for i, s := range samples {
		ps[i] = placed{s: s, ref: SampleRef{Index: idx[i], SourceFile: s.SourceFile, SourceRow: s.SourceRow}}
		n, err := c.fit(s, &ps[i].ref)
		if err != nil {
			return nil, nil, err
		}
		ps[i].images = n
	}
	rows := c.place(ps)
	B, fill := len(rows), 0
	for _, row := range rows {
		n := 0
		for _, k := range row {
			n += ps[k].ref.Tokens
		}
		fill = max(fill, n)
	}
	T := c.o.MaxSeqLen
	if !c.o.FixedLength {
		m := c.o.PadMultiple
		T = min(c.o.MaxSeqLen, (fill+m-1)/m*m)
	}
	ids := tensors.New(tensors.I32, B, T)
	mask := tensors.New(tensors.I32, B, T)
	labels := tensors.New(tensors.I32, B, T)
	var seg *tensors.Tensor
	if c.o.Pack {
		seg = tensors.New(tensors.I32, B, T)
	}
	idv, mv, lv := ids.I32(), mask.I32(), labels.I32()
	for i := range idv {
		idv[i], lv[i] = c.o.PadID, shard.IgnoreIndex
	}
	var order []int // samples in batch order (row by row, left to right)
	for b, row := range rows {
		off := 0
		for n, k := range row {
			p := &ps[k]
			p.ref.Row, p.ref.Offset = b, off
			L := p.ref.Tokens
			base := b*T + off
			copy(idv[base:base+L], p.s.InputIDs[:L])
			// HF labels are unshifted: hf[0] = -100 (so no token predicts across samples in a
			// packed row), hf[j+1] = stored[j] (stored labels are pre-shifted).
			lv[base] = shard.IgnoreIndex
			copy(lv[base+1:base+L], p.s.Labels[:L-1])
			m := int32(1)
			if seg != nil {
				m = int32(n + 1)
				segv := seg.I32()
				for j := base; j < base+L; j++ {
					segv[j] = m
				}
			}
			for j := base; j < base+L; j++ {
				mv[j] = m
			}
			off += L
			order = append(order, k)
		}
	}
	out := map[string]*tensors.Tensor{InputIDs: ids, AttentionMask: mask, Labels: labels}
	if seg != nil {
		out[SegmentIDs] = seg
	}
	if err := c.images(out, ps, order); err != nil {
		return nil, nil, err
	}
	refs := make([]SampleRef, len(ps))
	for i := range ps {
		refs[i] = ps[i].ref
	}
	return out, refs, nil
}

// place assigns samples to rows: one per row when padded; first-fit decreasing into rows of
// MaxSeqLen tokens when packed (longest first, ties in batch order; each row then lists its
// samples in batch order).
func (c *collator) place(ps []placed) [][]int {
	if !c.o.Pack {
		rows := make([][]int, len(ps))
		for i := range rows {
			rows[i] = []int{i}
		}
		return rows
	}
	byLen := make([]int, len(ps))
	for i := range byLen {
		byLen[i] = i
	}
	slices.SortStableFunc(byLen, func(a, b int) int { return ps[b].ref.Tokens - ps[a].ref.Tokens })
	var rows [][]int
	var used []int
	for _, k := range byLen {
		L := ps[k].ref.Tokens
		r := 0
		for r < len(rows) && used[r]+L > c.o.MaxSeqLen {
			r++
		}
		if r == len(rows) {
			rows, used = append(rows, nil), append(used, 0)
		}
		rows[r] = append(rows[r], k)
		used[r] += L
	}
	for _, row := range rows {
		slices.Sort(row)
	}
	return rows
}

// images writes pixel_values and image_grid_thw in batch order; both are left out when the
// batch has no image.
func (c *collator) images(out map[string]*tensors.Tensor, ps []placed, order []int) error {
	var P, N int
	for _, k := range order {
		for _, g := range ps[k].s.Grids[:ps[k].images] {
			P += int(g[0]) * int(g[1]) * int(g[2])
			N++
		}
	}
	if N == 0 {
		return nil
	}
	rowLen := c.proc.RowLen()
	pix := tensors.New(tensors.F32, P, rowLen)
	grid := tensors.New(tensors.I32, N, 3)
	pv, gv := pix.F32(), grid.I32()
	p, n := 0, 0
	for _, k := range order {
		s := ps[k].s
		for i, g := range s.Grids[:ps[k].images] {
			np := int(g[0]) * int(g[1]) * int(g[2])
			img := imageproc.Image{Grid: [3]int{int(g[0]), int(g[1]), int(g[2])}, Rows: s.Pixels[i]}
			if err := imageproc.Normalize(pv[p*rowLen:(p+np)*rowLen], img, c.proc); err != nil {
				return fmt.Errorf("loader: sample %d (%s row %d) image %d: %w", ps[k].ref.Index, s.SourceFile, s.SourceRow, i, err)
			}
			copy(gv[3*n:3*n+3], g[:])
			p += np
			n++
		}
	}
	out[PixelValues], out[ImageGridTHW] = pix, grid
	return nil
}
