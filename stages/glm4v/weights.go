package glm4v

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unsafe"

	"github.com/glmflow/glmflow/tensors"
	"github.com/glmflow/glmflow/tensors/safetensors"
)

// ConfigName is the config file of an HF model directory.
const ConfigName = "config.json"

// DefaultMaxShardBytes is the shard size Save and init-model use: 2 GB, as transformers
// parses "2GB" (10^9 bytes per GB).
const DefaultMaxShardBytes = 2_000_000_000

// LoadError lists every tensor that keeps a checkpoint from filling the selected parameters.
type LoadError struct {
	Dir        string
	Missing    []string // expected by the tree, absent from the checkpoint
	Extra      []string // in the checkpoint and inside the selection, but unknown to the tree
	Mismatched []string // "name: BF16[1024 4096], want [1024 4095]"; or "…, want a float dtype"
}

func (e *LoadError) Error() string {
	var parts []string
	for _, l := range []struct {
		what  string
		names []string
	}{{"missing", e.Missing}, {"unexpected", e.Extra}, {"mis-shaped", e.Mismatched}} {
		if len(l.names) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s: %s", len(l.names), l.what, listFirst(l.names, 8)))
		}
	}
	return fmt.Sprintf("glm4v: checkpoint %s does not match the model: %s", e.Dir, strings.Join(parts, "; "))
}

// Load fills the slots sel accepts (nil: all) from the HF model directory dir: a single
// model.safetensors or shards listed by model.safetensors.index.json, of which only the
// shards holding selected tensors are opened. Routed experts may be stored per expert (hub
// layout) or fused (transformers v5: mlp.experts.gate_up_proj [E, 2F, D], down_proj
// [E, D, F]). Values of any float dtype are converted to F32. Missing, unexpected (within the
// selection) and mis-shaped tensors are reported together in a *LoadError before anything is
// read.
func Load(dir string, p *Params, sel Selector) error {
	ck, err := safetensors.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("glm4v: load %s: %w", dir, err)
	}
	defer ck.Close()
	return LoadFrom(ck, p, sel)
}

// source is one checkpoint tensor and where it goes: param's elements [off, off+numel).
type source struct {
	name  string
	shape []int
	param *Param
	off   int64
}

// LoadFrom is Load on an opened checkpoint. The tensors are copied: ck may be closed after.
func LoadFrom(ck *safetensors.Sharded, p *Params, sel Selector) error {
	if sel == nil {
		sel = All
	}
	have := map[string]bool{}
	for _, n := range ck.Names() {
		have[n] = true
	}
	var srcs []source
	lerr := &LoadError{Dir: ck.Dir()}
	for _, s := range p.Select(sel) {
		if s.Fused() && have[s.Name] { // transformers-v5 fused layout
			srcs = append(srcs, source{s.Name, s.Shape, s, 0})
			continue
		}
		for _, h := range s.hub() {
			if have[h.Name] {
				srcs = append(srcs, source{h.Name, h.Shape, s, h.off})
			} else {
				lerr.Missing = append(lerr.Missing, h.Name)
			}
		}
	}
	used := map[string]bool{}
	for _, s := range srcs {
		used[s.name] = true
	}
	for _, n := range ck.Names() {
		if sel(n) && !used[n] && !p.ignored(n) {
			lerr.Extra = append(lerr.Extra, n)
		}
	}
	for _, s := range srcs { // opens only the shards of selected tensors
		info, err := ck.Info(s.name)
		if err != nil {
			return fmt.Errorf("glm4v: load: %w", err)
		}
		switch {
		case !slices.Equal(info.Shape, s.shape):
			lerr.Mismatched = append(lerr.Mismatched, fmt.Sprintf("%s: %v%v, want %v", s.name, info.DType, info.Shape, s.shape))
		case !info.DType.IsFloat():
			lerr.Mismatched = append(lerr.Mismatched, fmt.Sprintf("%s: %v%v, want a float dtype", s.name, info.DType, info.Shape))
		}
	}
	slices.Sort(lerr.Missing)
	slices.Sort(lerr.Mismatched)
	if len(lerr.Missing)+len(lerr.Extra)+len(lerr.Mismatched) > 0 {
		return lerr
	}
	for _, s := range srcs {
		t, err := ck.Tensor(s.name)
		if err != nil {
			return fmt.Errorf("glm4v: load: %w", err)
		}
		dst := s.param.Alloc().F32()
		if err := readInto(dst[s.off:s.off+int64(t.Numel())], t); err != nil {
			return fmt.Errorf("glm4v: load %s: %w", s.name, err)
		}
	}
	return nil
}

// ignored reports checkpoint tensors Load skips silently: the MTP layer
// (layers.{num_hidden_layers}.*) some GLM-4.5 checkpoints carry, which HF also ignores
// (_keys_to_ignore_on_load_unexpected).
func (p *Params) ignored(name string) bool {
	i, ok := LayerIndex(name)
	return ok && i == p.Config.Text.NumHiddenLayers
}

// readInto converts t's values into dst (len(dst) == t.Numel()).
func readInto(dst []float32, t *tensors.Tensor) error {
	switch t.DType() {
	case tensors.F32:
		copy(dst, t.F32())
	case tensors.BF16:
		tensors.BF16ToF32(dst, t.BF16())
	case tensors.F16:
		tensors.F16ToF32(dst, t.F16())
	default:
		f, err := t.ToF32()
		if err != nil {
			return err
		}
		copy(dst, f.F32())
	}
	return nil
}

// Save writes p as an HF model directory: config.json (Config.JSON) and the weights in the hub
// layout (per-expert names, each tensor in its Param.DType), in shards of at most
// maxShardBytes with model.safetensors.index.json when more than one is needed. Every slot
// must be set. Shard files of an earlier save that the new one does not use are removed.
func Save(dir string, p *Params, maxShardBytes int64) error {
	if err := p.Check(nil); err != nil {
		return err
	}
	return writeCheckpoint(dir, p, maxShardBytes, func(h hubTensor) fillFunc {
		src := h.param.T.F32()[h.off : h.off+h.Numel()]
		return func(dst []float32, off int64) error {
			copy(dst, src[off:])
			return nil
		}
	})
}

// fillFunc writes elements [off, off+len(dst)) of one tensor into dst. A tensor's calls come
// in increasing off order, without gaps.
type fillFunc func(dst []float32, off int64) error

var shardRE = regexp.MustCompile(`^model-\d{5}-of-\d{5}\.safetensors$`)

// writeCheckpoint writes config.json and every hub tensor of p, its values streamed from fill.
func writeCheckpoint(dir string, p *Params, maxShardBytes int64, fill func(hubTensor) fillFunc) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("glm4v: save: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, ConfigName), p.Config.JSON()); err != nil {
		return fmt.Errorf("glm4v: save: %w", err)
	}
	hs := p.hubTensors(nil)
	entries := make([]safetensors.Entry, len(hs))
	for i, h := range hs {
		entries[i] = streamEntry(h.Spec, func() fillFunc { return fill(h) })
	}
	files, err := safetensors.WriteShardedEntries(dir, entries, map[string]string{"format": "pt"}, maxShardBytes)
	if err != nil {
		return fmt.Errorf("glm4v: save: %w", err)
	}
	old, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("glm4v: save: %w", err)
	}
	var errs []error
	for _, de := range old {
		n := de.Name()
		stale := n == safetensors.SingleFileName || n == safetensors.IndexName || shardRE.MatchString(n)
		if stale && !slices.Contains(files, n) {
			errs = append(errs, os.Remove(filepath.Join(dir, n)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("glm4v: save: removing stale shards: %w", err)
	}
	return nil
}

const streamChunk = 1 << 16 // elements converted per write

// streamEntry makes a safetensors entry whose bytes are produced chunk by chunk: F32 values
// from the fill function newFill returns (called when the tensor is written), converted to
// spec.DType (round to nearest even for BF16/F16).
func streamEntry(spec Spec, newFill func() fillFunc) safetensors.Entry {
	return safetensors.Entry{Name: spec.Name, DType: spec.DType, Shape: spec.Shape, Data: func(w io.Writer) error {
		fill := newFill()
		n := spec.Numel()
		buf := make([]float32, min(n, streamChunk))
		var half []uint16
		if spec.DType != tensors.F32 {
			half = make([]uint16, len(buf))
		}
		for off := int64(0); off < n; off += streamChunk {
			m := min(n-off, streamChunk)
			if err := fill(buf[:m], off); err != nil {
				return err
			}
			var b []byte
			switch spec.DType {
			case tensors.F32:
				b = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(buf))), 4*m)
			case tensors.BF16:
				tensors.F32ToBF16(half[:m], buf[:m])
				b = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(half))), 2*m)
			case tensors.F16:
				tensors.F32ToF16(half[:m], buf[:m])
				b = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(half))), 2*m)
			default:
				return fmt.Errorf("cannot write dtype %v", spec.DType)
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	}}
}

// writeFileAtomic writes b to path through a temporary file and a rename.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
