package glm4v

import "testing"

// TestPackedRowEqualsSeparateRows packs case1's two sequences (images 0, 1 and image 2) into
// one row whose attention_mask holds segment ids 1 and 2, and checks loss, the logits of
// every real token, the MRoPE positions and every gradient against the two rows run as a
// padded batch: attention and positions must stay inside each sample.
func TestPackedRowEqualsSeparateRows(t *testing.T) {
	g := loadGolden(t, "case1")
	full := g.inputs(true)
	ids, mask, labels := i64s(full.InputIDs), i64s(full.AttentionMask), i64s(full.Labels)
	B, S := full.InputIDs.Dim(0), full.InputIDs.Dim(1)
	var pIDs, pMask, pLabels []int64
	var src []int // packed position → position in the padded batch
	for b := range B {
		first := true
		for s := range S {
			i := b*S + s
			if mask[i] == 0 {
				continue
			}
			l := labels[i]
			if first { // nothing predicts across samples
				l = IgnoreIndex
				first = false
			}
			pIDs, pMask, pLabels = append(pIDs, ids[i]), append(pMask, int64(b+1)), append(pLabels, l)
			src = append(src, i)
		}
	}
	for range 5 { // trailing padding
		pIDs, pMask, pLabels = append(pIDs, 0), append(pMask, 0), append(pLabels, IgnoreIndex)
	}
	n := len(pIDs)
	packed := Inputs{InputIDs: i64Tensor(pIDs, 1, n), AttentionMask: i64Tensor(pMask, 1, n), Labels: i64Tensor(pLabels, 1, n),
		PixelValues: full.PixelValues, ImageGridTHW: full.ImageGridTHW}
	want := runModel(t, newTestModel(t, g.p, ModelOptions{}), full, true)
	got := runModel(t, newTestModel(t, g.p, ModelOptions{Splits: []int{1}}), packed, true)
	sameOutputs(t, "packed", &Outputs{Loss: got.Loss, Grads: got.Grads}, &Outputs{Loss: want.Loss, Grads: want.Grads}, 1e-5)
	V := g.p.Config.Text.VocabSize
	wl, gl := want.Logits.F32(), got.Logits.F32()
	wp, gp := want.PositionIDs.I32(), got.PositionIDs.I32()
	for j, i := range src {
		if e := relErr(gl[j*V:(j+1)*V], wl[i*V:(i+1)*V], nil); e > 1e-5 {
			t.Fatalf("logits of packed token %d (batch token %d): rel %.3g", j, i, e)
		}
		for c := range 3 {
			if gp[c*n+j] != wp[c*B*S+i] {
				t.Fatalf("position stream %d of packed token %d: %d, want %d", c, j, gp[c*n+j], wp[c*B*S+i])
			}
		}
	}
}

// TestPackedLayoutSegments: segment boundaries fall where the non-zero mask value changes.
func TestPackedLayoutSegments(t *testing.T) {
	l, err := newTxLayout([]int32{1, 1, 2, 2, 2, 0, 1, 0, 2, 3}, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{0, 2, 5, 8, 9, 10}
	if len(l.cu) != len(want) {
		t.Fatalf("cu %v, want %v", l.cu, want)
	}
	for i := range want {
		if l.cu[i] != want[i] {
			t.Fatalf("cu %v, want %v", l.cu, want)
		}
	}
	if _, err := newTxLayout([]int32{1, -1}, 1, 2); err == nil {
		t.Fatal("negative attention_mask accepted")
	}
}
