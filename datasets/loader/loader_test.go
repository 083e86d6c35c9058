package loader_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/datasets/loader"
	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/datasets/shard/shardtest"
)

var layout = shardtest.Layout

// dataset writes n random samples into a temporary directory (shards of perShard rows, row
// groups of 16) and returns the directory and the samples.
func dataset(t testing.TB, seed uint64, n, perShard int, c shardtest.Config) (string, []shard.Sample) {
	t.Helper()
	dir := t.TempDir()
	samples := shardtest.Samples(seed, n, layout, c)
	if _, err := shardtest.WriteDir(dir, samples, perShard, shard.WriterOptions{Layout: layout, MaxRowGroupRows: 16}); err != nil {
		t.Fatal(err)
	}
	return dir, samples
}

func open(t testing.TB, o loader.Options, c *loader.Cursor) *loader.Loader {
	t.Helper()
	l, err := loader.New(o, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func next(t testing.TB, l *loader.Loader) *loader.Batch {
	t.Helper()
	b, err := l.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// encode serialises a batch's tensors (sorted by name) and sample refs.
func encode(b *loader.Batch) []byte {
	var buf bytes.Buffer
	names := make([]string, 0, len(b.Tensors))
	for n := range b.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&buf, "%s %v\n", n, b.Tensors[n])
		buf.Write(b.Tensors[n].Bytes())
	}
	fmt.Fprintf(&buf, "%+v %d %d %d %+v", b.Samples, b.Epoch, b.Step, b.Micro, b.Cursor)
	return buf.Bytes()
}

func TestPermutation(t *testing.T) {
	// Pinned: the documented RNG must not change (a change reorders every resumed run).
	got := loader.Permutation(12, 1, 0)
	want := []int64{6, 9, 8, 1, 2, 4, 3, 5, 10, 11, 0, 7}
	if !slices.Equal(got, want) {
		t.Errorf("Permutation(12, 1, 0) = %v, want %v", got, want)
	}
	// The documented algorithm, written independently with math/big.
	for _, n := range []int{2, 5, 12, 333} {
		src := rand.NewPCG(77, 3)
		ref := make([]int64, n)
		for i := range ref {
			ref[i] = int64(i)
		}
		bn := new(big.Int)
		for i := n - 1; i > 0; i-- {
			m := uint64(i) + 1
			thresh := (math.MaxUint64 - m + 1) % m // 2^64 mod m
			var j uint64
			for {
				bn.SetUint64(src.Uint64())
				bn.Mul(bn, new(big.Int).SetUint64(m))
				lo := new(big.Int).And(bn, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
				if lo >= thresh {
					j = new(big.Int).Rsh(bn, 64).Uint64()
					break
				}
			}
			ref[i], ref[j] = ref[j], ref[i]
		}
		if got := loader.Permutation(n, 77, 3); !slices.Equal(got, ref) {
			t.Errorf("n=%d: Permutation %v, reference %v", n, got, ref)
		}
	}
	for _, n := range []int{0, 1, 2, 7, 1000} {
		for e := range uint64(3) {
			p := loader.Permutation(n, 42, e)
			s := slices.Clone(p)
			slices.Sort(s)
			for i := range s {
				if s[i] != int64(i) {
					t.Fatalf("n=%d epoch %d: not a permutation: %v", n, e, p)
				}
			}
			if !slices.Equal(p, loader.Permutation(n, 42, e)) {
				t.Fatalf("n=%d: not deterministic", n)
			}
			if n == 1000 && slices.Equal(p, loader.Permutation(n, 42, e+1)) {
				t.Errorf("epochs %d and %d have the same order", e, e+1)
			}
			if n == 1000 && slices.Equal(p, loader.Permutation(n, 43, e)) {
				t.Errorf("seeds 42 and 43 give the same order")
			}
		}
	}
	// Uniformity: position of element 0 over many seeds for n = 4 (χ² with 3 dof, p > 0.001).
	var counts [4]float64
	const trials = 40000
	for s := range uint64(trials) {
		p := loader.Permutation(4, s, 0)
		counts[slices.Index(p, 0)]++
	}
	chi := 0.0
	for _, c := range counts {
		chi += (c - trials/4) * (c - trials/4) / (trials / 4)
	}
	if chi > 16.27 {
		t.Errorf("χ² = %.1f for the position of 0 (counts %v)", chi, counts)
	}
}

// TestEpochCoverage: across all ranks and micro-batches an epoch returns each sample of its
// global batches exactly once, rank slices are contiguous, and epochs differ.
func TestEpochCoverage(t *testing.T) {
	dir, samples := dataset(t, 1, 70, 25, shardtest.DefaultConfig())
	const G, M, W = 16, 2, 2
	seen := map[int]map[int64]int{} // epoch → sample → count
	var epochOrder [2][]int64
	for r := range W {
		l := open(t, loader.Options{Dir: dir, Seed: 5, Epochs: 2, GlobalBatch: G, MicroBatch: M, DPRank: r, DPSize: W, MaxSeqLen: 4096}, nil)
		if l.StepsPerEpoch() != 4 || l.NumSamples() != 70 {
			t.Fatalf("steps %d samples %d", l.StepsPerEpoch(), l.NumSamples())
		}
		for {
			b, err := l.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Samples) != M {
				t.Fatalf("%d samples in a micro-batch", len(b.Samples))
			}
			perm := loader.Permutation(70, 5, uint64(b.Epoch))
			for k, s := range b.Samples {
				if seen[int(b.Epoch)] == nil {
					seen[int(b.Epoch)] = map[int64]int{}
				}
				seen[int(b.Epoch)][s.Index]++
				want := perm[b.Step*G+int64(r)*G/W+int64(b.Micro)*M+int64(k)]
				if s.Index != want {
					t.Fatalf("rank %d epoch %d step %d micro %d: sample %d, want %d", r, b.Epoch, b.Step, b.Micro, s.Index, want)
				}
				if s.SourceRow != samples[s.Index].SourceRow {
					t.Fatalf("sample %d has source row %d", s.Index, s.SourceRow)
				}
				if r == 0 {
					epochOrder[b.Epoch] = append(epochOrder[b.Epoch], s.Index)
				}
			}
		}
		if _, err := l.Next(context.Background()); !errors.Is(err, io.EOF) {
			t.Errorf("after EOF: %v", err)
		}
	}
	for e := range 2 {
		if len(seen[e]) != 64 {
			t.Errorf("epoch %d: %d distinct samples, want 64", e, len(seen[e]))
		}
		for s, n := range seen[e] {
			if n != 1 {
				t.Errorf("epoch %d: sample %d returned %d times", e, s, n)
			}
		}
	}
	if slices.Equal(epochOrder[0], epochOrder[1]) {
		t.Error("epochs 0 and 1 have the same order")
	}
}

// refNorm is HF's rescale + normalize in float64.
func refNorm(x byte, c int) float64 {
	mean := []float64{0.48145466, 0.4578275, 0.40821073}
	std := []float64{0.26862954, 0.26130258, 0.27577711}
	return (float64(x)/255 - mean[c]) / std[c]
}

// checkBatch verifies a batch against the samples it names, independently of the collator:
// rows, padding, HF label shift, segments, image order and normalised pixels.
func checkBatch(t *testing.T, b *loader.Batch, samples []shard.Sample, o loader.Options) {
	t.Helper()
	ids, mask, labels := b.Tensors[loader.InputIDs], b.Tensors[loader.AttentionMask], b.Tensors[loader.Labels]
	B, T := ids.Dim(0), ids.Dim(1)
	if T > o.MaxSeqLen || (!o.FixedLength && T%128 != 0 && T != o.MaxSeqLen) || (o.FixedLength && T != o.MaxSeqLen) {
		t.Fatalf("T = %d (max %d)", T, o.MaxSeqLen)
	}
	seg := b.Tensors[loader.SegmentIDs]
	if (seg != nil) != o.Pack {
		t.Fatalf("segment_ids present = %v, packed = %v", seg != nil, o.Pack)
	}
	if !o.Pack && B != len(b.Samples) {
		t.Fatalf("padded: %d rows for %d samples", B, len(b.Samples))
	}
	covered := make([]bool, B*T)
	byRow := map[int][]loader.SampleRef{}
	for _, r := range b.Samples {
		byRow[r.Row] = append(byRow[r.Row], r)
	}
	var wantGrids [][3]int32
	var wantPix []float64
	for row := range B {
		refs := byRow[row]
		sort.Slice(refs, func(i, j int) bool { return refs[i].Offset < refs[j].Offset })
		off := 0
		for k, r := range refs {
			s := samples[r.Index]
			if r.Offset != off {
				t.Fatalf("row %d: segment %d at %d, want %d (segments must be contiguous)", row, k, r.Offset, off)
			}
			if r.Tokens+r.Truncated != len(s.InputIDs) {
				t.Fatalf("sample %d: %d + %d tokens, has %d", r.Index, r.Tokens, r.Truncated, len(s.InputIDs))
			}
			for j := range r.Tokens {
				i := row*T + off + j
				covered[i] = true
				if ids.I32()[i] != s.InputIDs[j] {
					t.Fatalf("sample %d token %d: %d, want %d", r.Index, j, ids.I32()[i], s.InputIDs[j])
				}
				wantLab := int32(-100)
				if j > 0 {
					wantLab = s.Labels[j-1]
				}
				if labels.I32()[i] != wantLab {
					t.Fatalf("sample %d label %d: %d, want %d", r.Index, j, labels.I32()[i], wantLab)
				}
				wantMask := int32(1)
				if o.Pack {
					wantMask = int32(k + 1)
					if seg.I32()[i] != wantMask {
						t.Fatalf("row %d col %d: segment %d, want %d", row, off+j, seg.I32()[i], wantMask)
					}
				}
				if mask.I32()[i] != wantMask {
					t.Fatalf("row %d col %d: mask %d, want %d", row, off+j, mask.I32()[i], wantMask)
				}
			}
			// The kept images are the ones whose <|image|> runs survived.
			kept := len(s.Grids) - r.DroppedImages
			n := 0
			for _, tok := range s.InputIDs[:r.Tokens] {
				if tok == layout.ImageTokenID {
					n++
				}
			}
			m := 0
			for _, g := range s.Grids[:kept] {
				m += layout.ImageTokens(g)
			}
			if n != m {
				t.Fatalf("sample %d: %d image tokens placed for %d kept images (%d tokens) — a run was split", r.Index, n, kept, m)
			}
			for gi, g := range s.Grids[:kept] {
				wantGrids = append(wantGrids, g)
				plane := layout.PatchSize * layout.PatchSize
				px := s.Pixels[gi]
				for p := range int(g[1]) * int(g[2]) {
					for c := range 3 {
						for range 2 { // temporal_patch_size: the frame twice
							for q := range plane {
								wantPix = append(wantPix, refNorm(px[p*3*plane+c*plane+q], c))
							}
						}
					}
				}
			}
			off += r.Tokens
		}
		if off > o.MaxSeqLen {
			t.Fatalf("row %d holds %d tokens > %d", row, off, o.MaxSeqLen)
		}
	}
	for i, c := range covered {
		if !c && (ids.I32()[i] != o.PadID || mask.I32()[i] != 0 || labels.I32()[i] != -100 || (seg != nil && seg.I32()[i] != 0)) {
			t.Fatalf("padding slot %d: id %d mask %d label %d", i, ids.I32()[i], mask.I32()[i], labels.I32()[i])
		}
	}
	grid, pix := b.Tensors[loader.ImageGridTHW], b.Tensors[loader.PixelValues]
	if len(wantGrids) == 0 {
		if grid != nil || pix != nil {
			t.Fatal("image tensors without images")
		}
		return
	}
	if grid.Dim(0) != len(wantGrids) || pix.Dim(1) != 6*layout.PatchSize*layout.PatchSize {
		t.Fatalf("grid %v pixels %v", grid, pix)
	}
	for i, g := range wantGrids {
		if !slices.Equal(grid.I32()[3*i:3*i+3], g[:]) {
			t.Fatalf("image %d grid %v, want %v (batch order)", i, grid.I32()[3*i:3*i+3], g)
		}
	}
	if pix.Numel() != len(wantPix) {
		t.Fatalf("%d pixel values, want %d", pix.Numel(), len(wantPix))
	}
	for i, v := range pix.F32() {
		if math.Abs(float64(v)-wantPix[i]) > 1e-5 {
			t.Fatalf("pixel_values[%d] = %v, want %v", i, v, wantPix[i])
		}
	}
}

func TestPaddedAndPackedBatches(t *testing.T) {
	dir, samples := dataset(t, 2, 48, 20, shardtest.DefaultConfig())
	for _, pack := range []bool{false, true} {
		for _, fixed := range []bool{false, true} {
			o := loader.Options{Dir: dir, Seed: 3, Epochs: 1, GlobalBatch: 8, MicroBatch: 4, MaxSeqLen: 640, Pack: pack, FixedLength: fixed, PadID: 7}
			l := open(t, o, nil)
			rows, n := 0, 0
			for {
				b, err := l.Next(context.Background())
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				checkBatch(t, b, samples, o)
				rows += b.Tensors[loader.InputIDs].Dim(0)
				n += len(b.Samples)
			}
			if pack && rows >= n {
				t.Errorf("packed: %d rows for %d samples (nothing packed)", rows, n)
			}
			st := l.Stats()
			if st.Samples != int64(n) || st.Truncated != 0 || st.PadTokens <= 0 {
				t.Errorf("stats %+v", st)
			}
		}
	}
}

func TestOverLength(t *testing.T) {
	c := shardtest.Config{MinText: 100, MaxText: 400, MaxImages: 3, MaxGridSide: 12}
	dir, samples := dataset(t, 3, 64, 64, c)
	o := loader.Options{Dir: dir, Seed: 1, Epochs: 1, GlobalBatch: 8, MicroBatch: 8, MaxSeqLen: 128, Sequential: true}
	l := open(t, o, nil)
	_, err := l.Next(context.Background())
	if err == nil || !strings.Contains(err.Error(), "more than the max sequence length 128") || !strings.Contains(err.Error(), "data/train-00000-of-00010.parquet row 0") {
		t.Fatalf("over-length error %v", err)
	}
	if _, err2 := l.Next(context.Background()); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second Next: %v, want the same error", err2)
	}
	for _, pack := range []bool{false, true} {
		o.OverLength, o.Pack = loader.OverLengthTruncate, pack
		l = open(t, o, nil)
		moved := 0
		for {
			b, err := l.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			checkBatch(t, b, samples, o)
			for _, r := range b.Samples {
				if r.Truncated > 0 && r.Tokens < 128 {
					moved++
				}
			}
		}
		st := l.Stats()
		if st.Truncated == 0 || st.DroppedImages == 0 || moved == 0 {
			t.Errorf("truncation not exercised: %+v, %d cuts moved back to an image run", st, moved)
		}
	}
}

// TestResume: 2.5 epochs straight through, then resumes from cursors saved at random points
// (through JSON) must give the same bytes.
func TestResume(t *testing.T) {
	dir, _ := dataset(t, 4, 40, 15, shardtest.DefaultConfig())
	for _, pack := range []bool{false, true} {
		o := loader.Options{Dir: dir, Seed: 9, GlobalBatch: 8, MicroBatch: 2, DPRank: 1, DPSize: 2, MaxSeqLen: 512, Pack: pack, OverLength: loader.OverLengthTruncate}
		l := open(t, o, nil)
		perEpoch := int(l.StepsPerEpoch()) * 2 // micro-batches per epoch for this rank
		total := perEpoch*5/2 + 1
		var all []*loader.Batch
		for range total {
			all = append(all, next(t, l))
		}
		if all[len(all)-1].Epoch != 2 {
			t.Fatalf("ended in epoch %d", all[len(all)-1].Epoch)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for range 6 {
			at := rng.IntN(total - 4)
			js, err := all[at].Cursor.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			c, err := loader.UnmarshalCursor(js)
			if err != nil {
				t.Fatal(err)
			}
			r := open(t, o, &c)
			for k := at + 1; k < min(total, at+5); k++ {
				if !bytes.Equal(encode(next(t, r)), encode(all[k])) {
					t.Fatalf("pack=%v: resumed after batch %d: batch %d differs", pack, at, k)
				}
			}
			r.Close()
		}
	}
}

// TestResumeOtherLayout: a step-boundary cursor resumes with another data-parallel layout, and
// the ranks of the new layout together take the same global batch.
func TestResumeOtherLayout(t *testing.T) {
	dir, _ := dataset(t, 5, 40, 40, shardtest.DefaultConfig())
	o := loader.Options{Dir: dir, Seed: 2, GlobalBatch: 8, MicroBatch: 2, DPSize: 2, MaxSeqLen: 1024}
	l := open(t, o, nil)
	next(t, l)
	b := next(t, l) // end of step 0 for rank 0 (2 micro-batches per step)
	if b.Cursor.Micro != 0 || b.Cursor.Position != 8 {
		t.Fatalf("cursor %+v", b.Cursor)
	}
	want := loader.Permutation(40, 2, 0)[8:16]
	o2 := loader.Options{Dir: dir, Seed: 2, GlobalBatch: 8, MicroBatch: 8, DPSize: 1, MaxSeqLen: 1024}
	got := next(t, open(t, o2, &b.Cursor))
	var idx []int64
	for _, s := range got.Samples {
		idx = append(idx, s.Index)
	}
	if !slices.Equal(idx, want) {
		t.Errorf("resumed global batch %v, want %v", idx, want)
	}
	// Inside a step the layout must match.
	mid := next(t, l).Cursor
	if _, err := loader.New(o2, &mid); err == nil || !strings.Contains(err.Error(), "inside a step") {
		t.Errorf("mid-step cursor with another layout: %v", err)
	}
	bad := mid
	bad.Seed = 3
	if _, err := loader.New(o, &bad); err == nil || !strings.Contains(err.Error(), "seed") {
		t.Errorf("seed mismatch: %v", err)
	}
	bad = mid
	bad.ManifestHash = strings.Repeat("0", 64)
	if _, err := loader.New(o, &bad); err == nil || !strings.Contains(err.Error(), "manifest hash") {
		t.Errorf("dataset mismatch: %v", err)
	}
	if _, err := loader.UnmarshalCursor([]byte(`{"version":1,"extra":2}`)); err == nil {
		t.Error("unknown cursor key accepted")
	}
}

// TestPadMultiple: padded rows are the longest sample rounded up to PadMultiple, capped at
// MaxSeqLen.
func TestPadMultiple(t *testing.T) {
	dir, _ := dataset(t, 5, 16, 8, shardtest.DefaultConfig())
	for _, m := range []int{0, 48, 100} {
		o := loader.Options{Dir: dir, Seed: 3, Epochs: 1, GlobalBatch: 4, MicroBatch: 4, MaxSeqLen: 640, PadMultiple: m, PadID: 7}
		l := open(t, o, nil)
		want := m
		if want == 0 {
			want = 128
		}
		for {
			b, err := l.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			T := b.Tensors[loader.InputIDs].Dim(1)
			longest := 0
			for _, s := range b.Samples {
				longest = max(longest, s.Tokens)
			}
			if exp := min(640, (longest+want-1)/want*want); T != exp {
				t.Fatalf("pad multiple %d: T = %d for a longest sample of %d, want %d", m, T, longest, exp)
			}
		}
	}
}
