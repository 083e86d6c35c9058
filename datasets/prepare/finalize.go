package prepare

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/transforms/chat"
)

// finalizeFn runs once, after every unit and shard: it checks that the counts add up, writes
// the dead-letter file sorted by (file order, row) and then the manifest. The manifest is
// written last, so its presence means the job finished.
type finalizeFn struct {
	Settings Settings
	Out      string
	Units    int
	Rows     int64 // input rows the plan counted
}

func (f *finalizeFn) ProcessElement(ctx context.Context, _ []byte, counts func(*unitCount) bool, shards func(*shardResult) bool, dead func(*DeadLetter) bool) error {
	var rows, samples, deadN int64
	var c unitCount
	seen := make([]bool, f.Units)
	for counts(&c) {
		if c.Unit < 0 || c.Unit >= f.Units || seen[c.Unit] {
			return fmt.Errorf("prepare: unit count for unit %d: unknown or repeated", c.Unit)
		}
		seen[c.Unit] = true
		rows, samples, deadN = rows+c.Rows, samples+c.Samples, deadN+c.Dead
	}
	if i := slices.Index(seen, false); i >= 0 {
		return fmt.Errorf("prepare: unit %d reported no counts", i)
	}
	if rows != f.Rows || samples+deadN != rows {
		return fmt.Errorf("prepare: counts do not add up: %d input rows planned, %d read, %d samples + %d dead letters", f.Rows, rows, samples, deadN)
	}

	var letters []DeadLetter
	var d DeadLetter
	for dead(&d) {
		letters = append(letters, d)
	}
	if int64(len(letters)) != deadN {
		return fmt.Errorf("prepare: %d dead letters, the units counted %d", len(letters), deadN)
	}
	slices.SortFunc(letters, func(a, b DeadLetter) int {
		return cmp.Or(cmp.Compare(a.FileIndex, b.FileIndex), cmp.Compare(a.Row, b.Row))
	})
	if err := writeDeadLetters(filepath.Join(f.Out, DeadLetterName), letters); err != nil {
		return err
	}

	m := shard.NewManifest(f.Settings.Layout)
	var got []shardResult
	var r shardResult
	for shards(&r) {
		got = append(got, r)
	}
	slices.SortFunc(got, func(a, b shardResult) int { return cmp.Compare(a.Index, b.Index) })
	var inShards int64
	for i, r := range got {
		if r.Index != i {
			return fmt.Errorf("prepare: shard %d missing or repeated (have %d shards)", i, len(got))
		}
		inShards += r.Rows
		m.Add(shard.ShardInfo{Name: r.Name, Rows: r.Rows, Bytes: r.Bytes, SHA256: r.SHA256, Tokens: r.Tokens, LossTokens: r.LossTokens, Images: r.Images})
	}
	if inShards != samples {
		return fmt.Errorf("prepare: shards hold %d samples, the units made %d", inShards, samples)
	}
	m.Totals.DeadLetters = deadN
	if err := f.describe(m); err != nil {
		return err
	}
	return shard.WriteManifest(f.Out, m)
}

// describe records the settings that made the samples.
func (f *finalizeFn) describe(m *shard.Manifest) error {
	s := f.Settings
	m.Tokenizer.Hash = s.TokenizerHash
	proc, err := json.Marshal(s.Image)
	if err != nil {
		return err
	}
	m.Processor = shard.Processor{Hash: s.Image.Hash(), Settings: proc}
	ch := s.Chat
	if ch == (chat.Options{}) {
		ch = chat.DefaultOptions()
	}
	opts, err := json.Marshal(jobRecord{
		Prompt:       s.Prompt,
		Split:        s.Split,
		SeqLength:    s.SeqLength,
		RowsPerShard: s.RowsPerShard,
		Chat:         chatRecord{Hash: ch.Hash(), Settings: ch.String(), Convention: ch.Convention.String()},
	})
	if err != nil {
		return err
	}
	m.Maker = shard.Maker{Name: s.Maker, Options: opts}
	return nil
}

// jobRecord is the manifest's maker.options object: the maker's prompt ("" = its default) and
// the job settings that shaped the samples, including the chat-template options and their hash
// (shard.Manifest has no field of its own for them).
type jobRecord struct {
	Prompt       string     `json:"prompt"`
	Split        string     `json:"split"`
	SeqLength    int        `json:"seq_length"`
	RowsPerShard int        `json:"rows_per_shard"`
	Chat         chatRecord `json:"chat"`
}

type chatRecord struct {
	Hash       string `json:"hash"`     // chat.Options.Hash
	Settings   string `json:"settings"` // chat.Options.String
	Convention string `json:"convention"`
}

// writeDeadLetters writes one JSON object per line, atomically.
func writeDeadLetters(path string, letters []DeadLetter) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range letters {
		if err = enc.Encode(&letters[i]); err != nil {
			break
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("dead letters %s: %w", path, err)
	}
	return nil
}
