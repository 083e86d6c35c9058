package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/glmflow/glmflow/tensors"
	"github.com/glmflow/glmflow/tensors/safetensors"
)

// FormatVersion is written into every manifest and rank state.
const FormatVersion = 1

// File names.
const (
	ManifestName = "checkpoint.json"
	LatestName   = "latest"
)

// StepDir is the folder name of step.
func StepDir(step int) string { return fmt.Sprintf("step-%08d", step) }

func rankBase(rank int) string { return fmt.Sprintf("rank-%05d", rank) }

// RankState is what one rank saves besides its tensors.
type RankState struct {
	Format    int               `json:"format"`
	Rank      int               `json:"rank"`
	World     int               `json:"world"`
	Step      int               `json:"step"`      // optimizer steps completed
	Iteration int               `json:"iteration"` // training iterations completed
	Tensors   []string          `json:"tensors"`   // names in the .safetensors file, sorted
	File      string            `json:"file"`
	Bytes     int64             `json:"bytes"`
	SHA256    string            `json:"sha256"`
	Loader    json.RawMessage   `json:"loader,omitempty"` // the data loader's cursor
	RNG       json.RawMessage   `json:"rng,omitempty"`    // RNG states (dropout etc.)
	Extra     map[string]string `json:"extra,omitempty"`
}

// RankRef is a rank's entry in the manifest.
type RankRef struct {
	Rank   int    `json:"rank"`
	State  string `json:"state"` // rank-NNNNN.json
	SHA256 string `json:"sha256"`
}

// Manifest marks a step complete.
type Manifest struct {
	Format int               `json:"format"`
	Step   int               `json:"step"`
	World  int               `json:"world"`
	Ranks  []RankRef         `json:"ranks"`
	Spec   string            `json:"spec,omitempty"` // the canonical pipeline spec
	Extra  map[string]string `json:"extra,omitempty"`
}

// writeFile writes name atomically: temporary file, sync, close, rename. The caller syncs the
// directory (once for several files).
func writeFile(fsys FS, name string, fill func(io.Writer) error) error {
	tmp := name + ".tmp"
	f, err := fsys.Create(tmp)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		fsys.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return fsys.Rename(tmp, name)
}

func marshal(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

// hashWriter tees writes into a sha256 and counts them.
type hashWriter struct {
	w io.Writer
	h hashState
	n int64
}

type hashState interface {
	io.Writer
	Sum([]byte) []byte
}

func (h *hashWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// WriteRank saves one rank's tensors and state into dir/step-N/ and returns its manifest
// entry. Every rank calls it; then, after a barrier, rank 0 calls Commit.
func WriteRank(fsys FS, dir string, step int, st RankState, ts map[string]*tensors.Tensor) (RankRef, error) {
	sd := path.Join(dir, StepDir(step))
	if err := fsys.MkdirAll(sd); err != nil {
		return RankRef{}, fmt.Errorf("checkpoint: %w", err)
	}
	// The step folder, and the checkpoint folder itself (new on a first save), survive a crash.
	for _, d := range []string{path.Dir(path.Clean(dir)), dir} {
		if err := fsys.SyncDir(d); err != nil {
			return RankRef{}, fmt.Errorf("checkpoint: %w", err)
		}
	}
	base := rankBase(st.Rank)
	st.Format, st.Step = FormatVersion, step
	st.File = base + ".safetensors"
	st.Tensors = slices.Sorted(maps.Keys(ts))
	entries := make([]safetensors.Entry, len(st.Tensors))
	for i, n := range st.Tensors {
		entries[i] = safetensors.TensorEntry(n, ts[n])
	}
	meta := map[string]string{"format": "glmflow-checkpoint", "step": strconv.Itoa(step), "rank": strconv.Itoa(st.Rank)}
	hw := &hashWriter{h: sha256.New()}
	err := writeFile(fsys, path.Join(sd, st.File), func(w io.Writer) error {
		hw.w = w
		return safetensors.Encode(hw, st.File, entries, meta)
	})
	if err != nil {
		return RankRef{}, fmt.Errorf("checkpoint: rank %d tensors: %w", st.Rank, err)
	}
	st.Bytes, st.SHA256 = hw.n, hex.EncodeToString(hw.h.Sum(nil))
	js, err := marshal(st)
	if err != nil {
		return RankRef{}, err
	}
	if err := writeFile(fsys, path.Join(sd, base+".json"), func(w io.Writer) error { _, err := w.Write(js); return err }); err != nil {
		return RankRef{}, fmt.Errorf("checkpoint: rank %d state: %w", st.Rank, err)
	}
	if err := fsys.SyncDir(sd); err != nil {
		return RankRef{}, fmt.Errorf("checkpoint: %w", err)
	}
	sum := sha256.Sum256(js)
	return RankRef{Rank: st.Rank, State: base + ".json", SHA256: hex.EncodeToString(sum[:])}, nil
}

// Commit completes step after every rank's WriteRank: it writes the manifest and points
// latest at the step. m.Ranks must hold every rank's entry.
func Commit(fsys FS, dir string, m Manifest) error {
	m.Format = FormatVersion
	if len(m.Ranks) != m.World || m.World < 1 {
		return fmt.Errorf("checkpoint: step %d: %d rank entries for a world of %d", m.Step, len(m.Ranks), m.World)
	}
	slices.SortFunc(m.Ranks, func(a, b RankRef) int { return a.Rank - b.Rank })
	for i, r := range m.Ranks {
		if r.Rank != i {
			return fmt.Errorf("checkpoint: step %d: rank entries %v are not ranks 0..%d", m.Step, m.Ranks, m.World-1)
		}
	}
	sd := path.Join(dir, StepDir(m.Step))
	js, err := marshal(m)
	if err != nil {
		return err
	}
	if err := writeFile(fsys, path.Join(sd, ManifestName), func(w io.Writer) error { _, err := w.Write(js); return err }); err != nil {
		return fmt.Errorf("checkpoint: manifest of step %d: %w", m.Step, err)
	}
	if err := fsys.SyncDir(sd); err != nil {
		return err
	}
	if err := writeFile(fsys, path.Join(dir, LatestName), func(w io.Writer) error { _, err := io.WriteString(w, StepDir(m.Step)+"\n"); return err }); err != nil {
		return fmt.Errorf("checkpoint: latest: %w", err)
	}
	return fsys.SyncDir(dir)
}

// Complete checks step's files: the manifest, every rank state it lists (by hash) and every
// tensor file a state lists (by size and hash). It returns the manifest and the states.
func Complete(fsys FS, dir string, step int) (*Manifest, []RankState, error) {
	sd := path.Join(dir, StepDir(step))
	raw, err := fsys.ReadFile(path.Join(sd, ManifestName))
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: step %d has no manifest: %w", step, err)
	}
	var m Manifest
	if err := strictJSON(raw, &m); err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %s: %w", path.Join(sd, ManifestName), err)
	}
	if m.Format != FormatVersion || m.Step != step || len(m.Ranks) != m.World {
		return nil, nil, fmt.Errorf("checkpoint: %s: format %d, step %d, %d ranks of %d", path.Join(sd, ManifestName), m.Format, m.Step, len(m.Ranks), m.World)
	}
	states := make([]RankState, len(m.Ranks))
	for i, r := range m.Ranks {
		p := path.Join(sd, r.State)
		b, err := fsys.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("checkpoint: rank %d: %w", r.Rank, err)
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != r.SHA256 {
			return nil, nil, fmt.Errorf("checkpoint: %s does not match the manifest's hash", p)
		}
		if err := strictJSON(b, &states[i]); err != nil {
			return nil, nil, fmt.Errorf("checkpoint: %s: %w", p, err)
		}
		st := &states[i]
		if strings.ContainsAny(st.File, "/\\") || st.File == "" {
			return nil, nil, fmt.Errorf("checkpoint: %s: bad tensor file name %q", p, st.File)
		}
		tb, err := fsys.ReadFile(path.Join(sd, st.File))
		if err != nil {
			return nil, nil, fmt.Errorf("checkpoint: rank %d tensors: %w", r.Rank, err)
		}
		if h := sha256.Sum256(tb); int64(len(tb)) != st.Bytes || hex.EncodeToString(h[:]) != st.SHA256 {
			return nil, nil, fmt.Errorf("checkpoint: %s: %d bytes, hash mismatch or truncated (want %d bytes)", path.Join(sd, st.File), len(tb), st.Bytes)
		}
	}
	return &m, states, nil
}

func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// Steps lists the step numbers of the step folders in dir, ascending (complete or not).
func Steps(fsys FS, dir string) ([]int, error) {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var steps []int
	for _, n := range names {
		s, ok := strings.CutPrefix(n, "step-")
		if !ok || len(s) != 8 {
			continue
		}
		v, err := strconv.Atoi(s)
		if err != nil || StepDir(v) != n {
			continue
		}
		steps = append(steps, v)
	}
	slices.Sort(steps)
	return steps, nil
}

// ErrNone is returned by Latest when dir holds no complete step.
var ErrNone = errors.New("checkpoint: no complete step")

// Latest returns the newest complete step (checked by content, not by the latest pointer).
func Latest(fsys FS, dir string) (int, *Manifest, []RankState, error) {
	steps, err := Steps(fsys, dir)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	for i := len(steps) - 1; i >= 0; i-- {
		if m, st, err := Complete(fsys, dir, steps[i]); err == nil {
			return steps[i], m, st, nil
		}
	}
	return 0, nil, nil, ErrNone
}

// Prune keeps the newest keep complete steps and removes older step folders (complete or
// not); folders newer than the newest complete step (a save in progress) are left alone.
// Rank 0 only.
func Prune(fsys FS, dir string, keep int) error {
	if keep < 1 {
		return nil
	}
	steps, err := Steps(fsys, dir)
	if err != nil {
		return err
	}
	var complete []int
	for _, s := range steps {
		if _, _, err := Complete(fsys, dir, s); err == nil {
			complete = append(complete, s)
		}
	}
	if len(complete) <= keep {
		return nil
	}
	oldestKept := complete[len(complete)-keep]
	for _, s := range steps {
		if s < oldestKept {
			if err := fsys.RemoveAll(path.Join(dir, StepDir(s))); err != nil {
				return err
			}
		}
	}
	return fsys.SyncDir(dir)
}

// ReadRank loads a rank's tensors of a complete step from an OS directory.
func ReadRank(dir string, step int, st RankState) (map[string]*tensors.Tensor, error) {
	f, err := safetensors.Open(path.Join(dir, StepDir(step), st.File))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]*tensors.Tensor{}
	for _, n := range st.Tensors {
		t, err := f.Tensor(n)
		if err != nil {
			return nil, err
		}
		out[n] = t.Clone()
	}
	if len(f.Names()) != len(st.Tensors) {
		return nil, fmt.Errorf("checkpoint: %s has %d tensors, its state lists %d", st.File, len(f.Names()), len(st.Tensors))
	}
	return out, nil
}
