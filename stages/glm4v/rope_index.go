package glm4v

import "fmt"

// PadPositionID is the position id get_rope_index gives padded slots (attention_mask 0):
// transformers 4.55–4.57 use 1 (v5 uses 0). It only reaches outputs at padded positions.
const PadPositionID = 1

// RopeIndex is HF get_rope_index (glm45v.md §4.3, transformers 4.5x path) on host values: the
// 3-stream (temporal, height, width) MRoPE position ids of a batch and the per-row rope deltas.
//
//	ids, mask [B·S]   row-major (token (b, s) at b·S + s); mask 1 = real token
//	grids     [N][3]  image_grid_thw rows (t, h, w), consumed in batch order
//	pos       [3·B·S] out: stream-major, pos[c·B·S + b·S + s]
//	deltas    [B]     out: max position + 1 − #unmasked tokens of the row (image path) or
//	                  max + 1 − S (no-image path), as HF
//
// Per row only unmasked tokens get positions: runs of text count up from the running start;
// a run of <|image|> tokens takes the next grid and gets (st, st+r, st+c) over the merged
// (h/m) × (w/m) raster; the next start is max(previous positions) + 1. Without any grid
// (no images in the batch) positions are cumsum(mask) − 1 on all streams. Padded slots get
// PadPositionID. Video tokens are not supported (an error).
//
// Packed rows (mask values are segment ids 1, 2, …; see txLayout) are cut into their samples
// and each sample gets the positions it would get as its own unpadded row, so MRoPE restarts
// at every sample; their deltas are 0 (they only matter for generation).
func RopeIndex(cfg *Config, ids, mask []int32, B, S int, grids [][3]int32) (pos, deltas []int32, err error) {
	if len(ids) != B*S || len(mask) != B*S {
		return nil, nil, fmt.Errorf("glm4v: get_rope_index: %d ids and %d mask values for B=%d, S=%d", len(ids), len(mask), B, S)
	}
	for _, m := range mask {
		if m > 1 {
			return ropeIndexPacked(cfg, ids, mask, B, S, grids)
		}
	}
	T := B * S
	pos = make([]int32, 3*T)
	deltas = make([]int32, B)
	for i := range pos {
		pos[i] = PadPositionID
	}
	if len(grids) == 0 {
		for b := range B {
			var c, mx int32 = -1, -1
			for s := range S {
				i := b*S + s
				if mask[i] == 0 {
					mx = max(mx, PadPositionID) // HF's max runs over the filled slots too
					continue
				}
				c++
				for k := range 3 {
					pos[k*T+i] = c
				}
				mx = max(mx, c)
			}
			deltas[b] = mx + 1 - int32(S)
		}
		return pos, deltas, nil
	}
	m := int32(cfg.Vision.SpatialMergeSize)
	img := 0
	for b := range B {
		var st, mx int32 = 0, -1
		n := 0
		inVideo := false
		s := 0
		next := func() int { // next unmasked slot at or after s
			for s < S && mask[b*S+s] == 0 {
				s++
			}
			return s
		}
		for next() < S {
			id := ids[b*S+s]
			switch int(id) {
			case cfg.VideoStartTokenID:
				inVideo = true
			case cfg.VideoEndTokenID:
				inVideo = false
			case cfg.VideoTokenID:
				return nil, nil, fmt.Errorf("glm4v: get_rope_index: row %d position %d: video tokens are not supported", b, s)
			}
			if int(id) != cfg.ImageTokenID {
				pos[b*S+s], pos[T+b*S+s], pos[2*T+b*S+s] = st, st, st
				mx = max(mx, st)
				st++
				n++
				s++
				continue
			}
			if inVideo {
				return nil, nil, fmt.Errorf("glm4v: get_rope_index: row %d position %d: video frames are not supported", b, s)
			}
			if img >= len(grids) {
				return nil, nil, fmt.Errorf("glm4v: get_rope_index: row %d position %d: image run %d has no image_grid_thw row (%d given)", b, s, img+1, len(grids))
			}
			g := grids[img]
			gt, gh, gw := g[0], g[1]/m, g[2]/m
			if g[0] <= 0 || g[1] <= 0 || g[2] <= 0 || g[1]%m != 0 || g[2]%m != 0 {
				return nil, nil, fmt.Errorf("glm4v: image_grid_thw[%d] = %v: want positive t, and h, w multiples of spatial_merge_size %d", img, g, m)
			}
			want := int(gt * gh * gw)
			// The run is the maximal sequence of unmasked image tokens.
			got := 0
			for ti := int32(0); ti < gt; ti++ {
				for r := int32(0); r < gh; r++ {
					for c := int32(0); c < gw; c++ {
						if next() >= S || int(ids[b*S+s]) != cfg.ImageTokenID {
							return nil, nil, fmt.Errorf("glm4v: get_rope_index: row %d: image %d has %d <|image|> tokens, its grid %v needs %d", b, img, got, g, want)
						}
						i := b*S + s
						pos[i], pos[T+i], pos[2*T+i] = st+ti, st+r, st+c
						mx = max(mx, st+ti, st+r, st+c)
						got++
						n++
						s++
					}
				}
			}
			if next() < S && int(ids[b*S+s]) == cfg.ImageTokenID {
				return nil, nil, fmt.Errorf("glm4v: get_rope_index: row %d: image %d is followed directly by more <|image|> tokens than its grid %v has (%d); separate images with <|begin_of_image|>/<|end_of_image|>", b, img, g, want)
			}
			img++
			st = mx + 1
		}
		if n > 0 {
			deltas[b] = mx + 1 - int32(n)
		}
	}
	if img != len(grids) {
		return nil, nil, fmt.Errorf("glm4v: get_rope_index: %d image runs in input_ids but %d image_grid_thw rows", img, len(grids))
	}
	return pos, deltas, nil
}

// ropeIndexPacked is RopeIndex for rows holding several samples: every segment (a maximal run
// of one non-zero mask value, with the padding after it) is indexed as a batch of one.
func ropeIndexPacked(cfg *Config, ids, mask []int32, B, S int, grids [][3]int32) (pos, deltas []int32, err error) {
	T := B * S
	pos = make([]int32, 3*T)
	deltas = make([]int32, B)
	img := 0
	for b := range B {
		row, rmask := ids[b*S:(b+1)*S], mask[b*S:(b+1)*S]
		for a := 0; a < S; {
			// The segment [a, e): a's value (or, for leading padding, the next non-zero one).
			var v int32
			e := a
			for e < S && (rmask[e] == 0 || v == 0 || rmask[e] == v) {
				if rmask[e] < 0 {
					return nil, nil, fmt.Errorf("glm4v: get_rope_index: attention_mask[%d][%d] = %d, want ≥ 0", b, e, rmask[e])
				}
				if v == 0 {
					v = rmask[e]
				}
				e++
			}
			n := e - a
			segMask := make([]int32, n)
			runs := 0
			prevImage := false
			for i := range n {
				if rmask[a+i] == 0 {
					continue
				}
				segMask[i] = 1
				isImage := int(row[a+i]) == cfg.ImageTokenID
				if isImage && !prevImage {
					runs++
				}
				prevImage = isImage
			}
			if img+runs > len(grids) {
				return nil, nil, fmt.Errorf("glm4v: get_rope_index: row %d: the sample at position %d has %d image runs, only %d of %d image_grid_thw rows are left", b, a, runs, len(grids)-img, len(grids))
			}
			p, _, err := RopeIndex(cfg, row[a:e], segMask, 1, n, grids[img:img+runs])
			if err != nil {
				return nil, nil, fmt.Errorf("row %d, sample at position %d: %w", b, a, err)
			}
			img += runs
			for c := range 3 {
				copy(pos[c*T+b*S+a:c*T+b*S+e], p[c*n:(c+1)*n])
			}
			a = e
		}
	}
	if img != len(grids) {
		return nil, nil, fmt.Errorf("glm4v: get_rope_index: %d image runs in input_ids but %d image_grid_thw rows", img, len(grids))
	}
	return pos, deltas, nil
}
