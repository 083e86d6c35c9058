package shard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ManifestName is the manifest's file name inside a shard directory.
const ManifestName = "manifest.json"

// ManifestVersion is the manifest format version.
const ManifestVersion = 1

// maxManifestBytes bounds the manifest read from disk.
const maxManifestBytes = 64 << 20

// Manifest describes a directory of shards made by one preprocessing job.
type Manifest struct {
	FormatVersion int           `json:"format_version"`
	SampleSchema  int           `json:"sample_schema_version"`
	Schema        []SchemaField `json:"schema"`
	Layout        Layout        `json:"layout"`
	Shards        []ShardInfo   `json:"shards"` // sorted by name
	Totals        Totals        `json:"totals"`
	Tokenizer     Tokenizer     `json:"tokenizer"`
	Processor     Processor     `json:"processor"`
	Maker         Maker         `json:"maker"`
}

// Totals are the sums over the shards, plus the rows the job set aside.
type Totals struct {
	Samples     int64 `json:"samples"`
	Tokens      int64 `json:"tokens"`
	LossTokens  int64 `json:"loss_tokens"`
	Images      int64 `json:"images"`
	DeadLetters int64 `json:"dead_letters"` // rows that failed and went to the dead-letter file
}

// Tokenizer identifies the tokenizer.json used (tokenizer.Tokenizer.Hash).
type Tokenizer struct {
	Hash string `json:"hash"`
}

// Processor records the image-processor settings (JSON of imageproc.Options) and their hash
// (imageproc.Options.Hash). The loader reads the normalisation constants from Settings.
type Processor struct {
	Hash     string          `json:"hash"`
	Settings json.RawMessage `json:"settings"`
}

// Maker names the dataset maker and its options (a JSON object).
type Maker struct {
	Name    string          `json:"name"`
	Options json.RawMessage `json:"options"`
}

// NewManifest starts a manifest for shards written with layout l; add shards with Add.
func NewManifest(l Layout) *Manifest {
	return &Manifest{FormatVersion: ManifestVersion, SampleSchema: SchemaVersion, Schema: SchemaFields(), Layout: l}
}

// Add records a written shard.
func (m *Manifest) Add(info ShardInfo) { m.Shards = append(m.Shards, info) }

// finish sorts the shards and recomputes the totals (dead letters are kept).
func (m *Manifest) finish() {
	slices.SortFunc(m.Shards, func(a, b ShardInfo) int { return strings.Compare(a.Name, b.Name) })
	dl := m.Totals.DeadLetters
	m.Totals = Totals{DeadLetters: dl}
	for _, s := range m.Shards {
		m.Totals.Samples += s.Rows
		m.Totals.Tokens += s.Tokens
		m.Totals.LossTokens += s.LossTokens
		m.Totals.Images += s.Images
	}
}

// Validate checks the manifest's own consistency.
func (m *Manifest) Validate() error {
	if m.FormatVersion != ManifestVersion {
		return fmt.Errorf("format_version %d, this build reads %d", m.FormatVersion, ManifestVersion)
	}
	if m.SampleSchema != SchemaVersion {
		return fmt.Errorf("sample_schema_version %d, this build reads %d", m.SampleSchema, SchemaVersion)
	}
	if !slices.Equal(m.Schema, SchemaFields()) {
		return fmt.Errorf("schema %v differs from this build's %v", m.Schema, SchemaFields())
	}
	if err := m.Layout.Validate(); err != nil {
		return err
	}
	var t Totals
	for i, s := range m.Shards {
		if s.Name == "" || s.Name != filepath.Base(s.Name) || s.Name == "." || s.Name == ".." || s.Name == ManifestName {
			return fmt.Errorf("shards[%d]: invalid name %q (a file name in the manifest's directory)", i, s.Name)
		}
		if i > 0 && m.Shards[i-1].Name >= s.Name {
			return fmt.Errorf("shards[%d]: %q not after %q (names must be unique and sorted)", i, s.Name, m.Shards[i-1].Name)
		}
		if s.Rows < 0 || s.Bytes < 0 || s.Tokens < 0 || s.LossTokens < 0 || s.Images < 0 || s.LossTokens > s.Tokens {
			return fmt.Errorf("shards[%d] %s: negative or inconsistent counts", i, s.Name)
		}
		if len(s.SHA256) != 64 {
			return fmt.Errorf("shards[%d] %s: sha256 %q is not 64 hex digits", i, s.Name, s.SHA256)
		}
		if _, err := hex.DecodeString(s.SHA256); err != nil {
			return fmt.Errorf("shards[%d] %s: sha256: %v", i, s.Name, err)
		}
		t.Samples += s.Rows
		t.Tokens += s.Tokens
		t.LossTokens += s.LossTokens
		t.Images += s.Images
	}
	t.DeadLetters = m.Totals.DeadLetters
	if t != m.Totals || t.DeadLetters < 0 {
		return fmt.Errorf("totals %+v, shards add up to %+v", m.Totals, t)
	}
	if m.Processor.Settings != nil && !json.Valid(m.Processor.Settings) {
		return fmt.Errorf("processor.settings is not valid JSON")
	}
	if m.Maker.Options != nil && !json.Valid(m.Maker.Options) {
		return fmt.Errorf("maker.options is not valid JSON")
	}
	return nil
}

// Encode returns the canonical bytes: every object's keys sorted, two-space indent, a final
// newline. Shards are sorted and totals recomputed first.
func (m *Manifest) Encode() ([]byte, error) {
	m.finish()
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return canonicalJSON(m)
}

// Hash is the hex sha256 of the canonical encoding: it identifies the dataset (loader cursors
// record it).
func (m *Manifest) Hash() (string, error) {
	c := *m
	c.Shards = slices.Clone(m.Shards)
	b, err := c.Encode()
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// canonicalJSON marshals v, then re-encodes through a generic tree so every object (raw
// messages included) has sorted keys; numbers keep their exact text.
func canonicalJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(tree); err != nil { // maps are written with sorted keys
		return nil, err
	}
	return out.Bytes(), nil
}

// WriteManifest writes dir/manifest.json atomically (temporary file, fsync, rename).
func WriteManifest(dir string, m *Manifest) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	path := filepath.Join(dir, ManifestName)
	f, err := os.CreateTemp(dir, "."+ManifestName+".tmp-*")
	if err != nil {
		return fmt.Errorf("manifest %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o644) // CreateTemp makes 0600; a manifest is for everyone to read
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("manifest %s: %w", path, err)
	}
	return nil
}

// ReadManifest reads and validates dir/manifest.json (unknown keys are an error).
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("manifest %s: larger than %d bytes", path, maxManifestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("manifest %s: trailing data after the JSON object", path)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	return &m, nil
}

// VerifyShard checks that the file of info in dir has the recorded size and sha256.
func VerifyShard(dir string, info ShardInfo) error {
	path := filepath.Join(dir, info.Name)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("shard %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("shard %s: %w", path, err)
	}
	if n != info.Bytes {
		return fmt.Errorf("shard %s: %d bytes, manifest says %d (truncated or replaced)", path, n, info.Bytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != info.SHA256 {
		return fmt.Errorf("shard %s: sha256 %s, manifest says %s (corrupted or replaced)", path, got, info.SHA256)
	}
	return nil
}
