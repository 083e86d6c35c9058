package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/glmflow/glmflow/tensors"
)

// File names of a Hugging Face checkpoint directory.
const (
	IndexName      = "model.safetensors.index.json"
	SingleFileName = "model.safetensors"
)

// Sharded is a checkpoint spread over shard files listed by an index
// ({"metadata": {"total_size": N}, "weight_map": {tensor: shard file}}). Shard files are opened
// on first access to one of their tensors; opening one checks that it holds exactly the
// tensors the index assigns to it. Methods are safe for concurrent use, except Close.
type Sharded struct {
	dir       string
	index     string            // index path, "" for the single-file fallback
	weightMap map[string]string // tensor → shard base name
	names     []string          // sorted
	metadata  map[string]string
	totalSize int64 // -1 when the index gives none

	mu     sync.Mutex
	shards map[string]*shardState
	closed bool
}

type shardState struct {
	f   *File
	err error
}

// OpenDir opens the checkpoint in dir: model.safetensors.index.json if present, otherwise the
// single file model.safetensors.
func OpenDir(dir string) (*Sharded, error) {
	idx := filepath.Join(dir, IndexName)
	if _, err := os.Stat(idx); err == nil {
		return OpenIndex(idx)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	single := filepath.Join(dir, SingleFileName)
	f, err := Open(single)
	if err != nil {
		return nil, err
	}
	s := &Sharded{dir: dir, weightMap: map[string]string{}, names: f.Names(), metadata: f.Metadata(),
		totalSize: f.h.dataLen, shards: map[string]*shardState{SingleFileName: {f: f}}}
	for _, n := range s.names {
		s.weightMap[n] = SingleFileName
	}
	return s, nil
}

// OpenIndex reads a model.safetensors.index.json and checks that every shard it names exists.
// No shard is opened yet.
func OpenIndex(indexPath string) (*Sharded, error) {
	f, err := os.Open(indexPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxHeaderSize+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxHeaderSize {
		return nil, errf(indexPath, "", BadIndex, "index larger than %d bytes", MaxHeaderSize)
	}
	s := &Sharded{dir: filepath.Dir(indexPath), index: indexPath, totalSize: -1, shards: map[string]*shardState{}}
	if err := s.parseIndex(raw); err != nil {
		return nil, err
	}
	// Every shard must exist; name the first tensor that points at a missing one.
	checked := map[string]bool{}
	for _, name := range s.names {
		file := s.weightMap[name]
		if checked[file] {
			continue
		}
		checked[file] = true
		fi, err := os.Stat(filepath.Join(s.dir, file))
		if err != nil || !fi.Mode().IsRegular() {
			return nil, &FormatError{File: filepath.Join(s.dir, file), Tensor: name, Kind: MissingShard,
				Detail: "listed in " + indexPath, Err: err}
		}
	}
	return s, nil
}

func (s *Sharded) parseIndex(raw []byte) error {
	p := &jsonWalk{file: s.index, dec: json.NewDecoder(bytes.NewReader(raw))}
	p.dec.UseNumber()
	if err := p.delim('{', ""); err != nil {
		return err
	}
	seen := map[string]bool{}
	for p.dec.More() {
		key, err := p.key("")
		if err != nil {
			return err
		}
		if seen[key] {
			return errf(s.index, "", DuplicateKey, "key %q appears twice", key)
		}
		seen[key] = true
		switch key {
		case "weight_map":
			if s.weightMap, err = p.stringMap(BadIndex, ""); err != nil {
				return err
			}
		case "metadata":
			if err := s.parseIndexMetadata(p); err != nil {
				return err
			}
		default: // other top-level keys are tolerated and ignored
			var skip json.RawMessage
			if err := p.dec.Decode(&skip); err != nil {
				return &FormatError{File: s.index, Kind: InvalidJSON, Err: err}
			}
		}
	}
	if err := p.delim('}', ""); err != nil {
		return err
	}
	if rest := raw[p.dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return errf(s.index, "", InvalidJSON, "trailing bytes after the index object")
	}
	if s.weightMap == nil {
		return errf(s.index, "", BadIndex, "no weight_map")
	}
	for name, file := range s.weightMap {
		if file == "" || file != filepath.Base(file) || file == "." || file == ".." || strings.ContainsAny(file, `/\`) {
			return errf(s.index, name, BadIndex, "shard name %q is not a plain file name", file)
		}
	}
	s.names = slices.Sorted(maps.Keys(s.weightMap))
	return nil
}

// parseIndexMetadata reads the index's "metadata" object; values are kept as strings (JSON
// text for non-strings), total_size is parsed.
func (s *Sharded) parseIndexMetadata(p *jsonWalk) error {
	if err := p.delim('{', ""); err != nil {
		return errf(s.index, "", BadIndex, "metadata is not an object")
	}
	s.metadata = map[string]string{}
	for p.dec.More() {
		key, err := p.key("")
		if err != nil {
			return err
		}
		if _, dup := s.metadata[key]; dup {
			return errf(s.index, "", DuplicateKey, "metadata key %q appears twice", key)
		}
		var v json.RawMessage
		if err := p.dec.Decode(&v); err != nil {
			return &FormatError{File: s.index, Kind: InvalidJSON, Err: err}
		}
		var str string
		if json.Unmarshal(v, &str) == nil {
			s.metadata[key] = str
		} else {
			s.metadata[key] = string(v)
		}
		if key == "total_size" {
			n, err := strconv.ParseInt(strings.TrimSuffix(string(v), ".0"), 10, 64)
			if err != nil || n < 0 {
				return errf(s.index, "", BadIndex, "total_size %s is not a non-negative integer", v)
			}
			s.totalSize = n
		}
	}
	return p.delim('}', "")
}

// Dir is the checkpoint directory.
func (s *Sharded) Dir() string { return s.dir }

// Names returns every tensor name in the index, sorted. No shard is opened.
func (s *Sharded) Names() []string { return slices.Clone(s.names) }

// ShardOf returns the shard file (base name) that holds name.
func (s *Sharded) ShardOf(name string) (string, bool) {
	f, ok := s.weightMap[name]
	return f, ok
}

// Shards returns the distinct shard file names, sorted.
func (s *Sharded) Shards() []string {
	return slices.Compact(slices.Sorted(maps.Values(s.weightMap)))
}

// Opened returns the shard files opened so far, sorted.
func (s *Sharded) Opened() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name, st := range s.shards {
		if st.f != nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Metadata returns the index's metadata (strings; other JSON values as their text), or the
// single file's __metadata__.
func (s *Sharded) Metadata() map[string]string { return maps.Clone(s.metadata) }

// TotalSize is the index's metadata.total_size, or -1 when absent.
func (s *Sharded) TotalSize() int64 { return s.totalSize }

// shard opens (once) and checks the shard file holding name.
func (s *Sharded) shard(name string) (*File, error) {
	file, ok := s.weightMap[name]
	if !ok {
		return nil, errf(s.where(), name, TensorNotFound, "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("safetensors: %s: checkpoint is closed", s.dir)
	}
	if st, ok := s.shards[file]; ok {
		return st.f, st.err
	}
	f, err := s.openShard(file)
	s.shards[file] = &shardState{f: f, err: err}
	return f, err
}

func (s *Sharded) where() string {
	if s.index != "" {
		return s.index
	}
	return filepath.Join(s.dir, SingleFileName)
}

func (s *Sharded) openShard(file string) (*File, error) {
	path := filepath.Join(s.dir, file)
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	for _, in := range f.h.infos {
		switch want, ok := s.weightMap[in.Name]; {
		case !ok:
			err = errf(path, in.Name, IndexMismatch, "tensor is not listed in %s", s.index)
		case want != file:
			err = errf(path, in.Name, DuplicateTensor, "the index assigns it to %s", want)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
	}
	for _, name := range s.names { // sorted: the first missing tensor is reported
		if s.weightMap[name] == file {
			if _, ok := f.h.byName[name]; !ok {
				f.Close()
				return nil, errf(path, name, IndexMismatch, "listed for this shard in %s but absent", s.index)
			}
		}
	}
	return f, nil
}

// Info returns name's header entry, opening its shard if needed.
func (s *Sharded) Info(name string) (Info, error) {
	f, err := s.shard(name)
	if err != nil {
		return Info{}, err
	}
	return f.Info(name)
}

// Tensor returns name's data (see File.Tensor), opening its shard if needed.
func (s *Sharded) Tensor(name string) (*tensors.Tensor, error) {
	f, err := s.shard(name)
	if err != nil {
		return nil, err
	}
	return f.Tensor(name)
}

// Validate opens every shard, checking each against the index.
func (s *Sharded) Validate() error {
	for _, file := range s.Shards() {
		for _, name := range s.names {
			if s.weightMap[name] == file {
				if _, err := s.shard(name); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

// Close closes every opened shard. Views from Tensor are invalid afterwards.
func (s *Sharded) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, st := range s.shards {
		if st.f != nil {
			errs = append(errs, st.f.Close())
		}
	}
	s.shards = map[string]*shardState{}
	s.closed = true
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("safetensors: closing %s: %w", s.dir, err)
	}
	return nil
}
