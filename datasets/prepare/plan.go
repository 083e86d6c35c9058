package prepare

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/glmflow/glmflow/datasets/hub"
	"github.com/glmflow/glmflow/datasets/makers"
	"github.com/glmflow/glmflow/datasets/shard"
)

// Names of the job's own files in the output folder (the shards are <split>-NNNNN-of-NNNNN.parquet).
const (
	DeadLetterName = "dead_letters.jsonl"
	ManifestName   = shard.ManifestName
)

// Input is one input Parquet file of the job.
type Input struct {
	Index int    // position in the job's file order
	Path  string // where the workers open it
	Name  string // its name in samples and dead letters: relative to the input folder given, slash-separated
	Rows  int64  // rows its row groups declare
	First int64  // global index of its first row (rows of the files before it)
}

// Unit is a work unit: rows [Start, End) of one input file. Units are processed independently;
// a unit's output depends only on the unit and the job settings (so a retried or duplicated
// bundle produces the same elements).
type Unit struct {
	ID    int    // position in the job's unit order (file order, then rows)
	File  int    // Input.Index
	Path  string // Input.Path
	Name  string // Input.Name
	Start int64  // first row (0-based, in the file)
	End   int64  // one past the last row
}

// Plan is what the job does, worked out before the pipeline starts.
type Plan struct {
	Inputs []Input
	Units  []Unit
	Rows   int64 // input rows in all
}

// plan resolves the inputs, checks every file's columns against the maker and cuts the rows
// into units. All errors a user can fix (unknown maker or split, missing files, wrong columns)
// surface here, before any pipeline runs.
func plan(o Options) (*Plan, error) {
	m, err := makers.New(o.Maker, o.MakerOptions)
	if err != nil {
		return nil, err
	}
	if err := makers.CheckSplit(m, o.Split); err != nil {
		return nil, err
	}
	p := &Plan{}
	seen := map[string]string{}
	for _, in := range o.Inputs {
		files, err := hub.Resolve([]string{in}, m.Config(), o.Split)
		if err != nil {
			return nil, fmt.Errorf("input %s, split %s: %w", in, o.Split, err)
		}
		st, err := os.Stat(in)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			name := filepath.Base(f)
			if st.IsDir() {
				if name, err = filepath.Rel(in, f); err != nil {
					return nil, err
				}
			}
			name = filepath.ToSlash(name)
			if prev, dup := seen[name]; dup {
				return nil, fmt.Errorf("inputs %s and %s have the same name %q in samples (give distinct files)", prev, f, name)
			}
			seen[name] = f
			rows, err := checkFile(f, m, o.Hub)
			if err != nil {
				return nil, err
			}
			p.Inputs = append(p.Inputs, Input{Index: len(p.Inputs), Path: f, Name: name, Rows: rows, First: p.Rows})
			p.Rows += rows
		}
	}
	unitRows := int64(o.UnitRows)
	for _, in := range p.Inputs {
		for s := int64(0); s < in.Rows; s += unitRows {
			p.Units = append(p.Units, Unit{ID: len(p.Units), File: in.Index, Path: in.Path, Name: in.Name, Start: s, End: min(s+unitRows, in.Rows)})
		}
	}
	return p, nil
}

// checkFile opens path with the maker's columns (types checked, footer bounded) and returns
// its row count.
func checkFile(path string, m makers.Maker, l HubLimits) (int64, error) {
	r, err := hub.Open(path, m.Columns(), l.hub())
	if err != nil {
		return 0, fmt.Errorf("maker %s: %w", m.Name(), err)
	}
	n := r.NumRows()
	if err := r.Close(); err != nil {
		return 0, err
	}
	return n, nil
}

func (l HubLimits) hub() hub.Options {
	return hub.Options{BatchRows: l.BatchRows, MaxRows: l.MaxRows, MaxColumnChunkBytes: l.MaxColumnChunkBytes, MaxValueBytes: l.MaxValueBytes}
}

// shardRe matches the shard names a job writes.
var shardRe = regexp.MustCompile(`^[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)*-\d{5}-of-\d{5}\.parquet$`)

// shardName is the name of shard i of n for split.
func shardName(split string, i, n int) string {
	return fmt.Sprintf("%s-%05d-of-%05d.parquet", split, i, n)
}

// prepareOut creates the output folder, or empties an earlier job's files from it when
// overwrite is set. Files the job would not write are never removed: their presence is an error.
func prepareOut(dir string, overwrite bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	var ours, foreign []string
	for _, e := range entries {
		n := e.Name()
		switch {
		case e.IsDir():
			foreign = append(foreign, n+"/")
		case n == ManifestName || n == DeadLetterName || shardRe.MatchString(n) || strings.HasPrefix(n, "."+ManifestName+".tmp-") || (strings.HasPrefix(n, ".") && strings.Contains(n, ".parquet.tmp-")):
			ours = append(ours, n)
		default:
			foreign = append(foreign, n)
		}
	}
	if len(foreign) > 0 {
		return fmt.Errorf("out %s: holds files a prepare job does not write (%s); choose an empty or new folder", dir, strings.Join(foreign, ", "))
	}
	if len(ours) > 0 && !overwrite {
		return fmt.Errorf("out %s: holds the output of an earlier job (%s, …); pass --overwrite to replace it", dir, ours[0])
	}
	for _, n := range ours {
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}
