package hub

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// MaxShards bounds the shard count a file name may declare (the hub's names have five digits).
const MaxShards = 99999

// Shard is one file of a split named in the hub's convention.
type Shard struct {
	Path  string // path of the file
	Split string // e.g. "train"
	Index int    // 0-based shard index (NNNNN)
	Count int    // number of shards of the split (MMMMM); 0 for the NNNN.parquet conversion layout
}

// ParseShardName parses a base name "<split>-NNNNN-of-MMMMM.parquet" or
// "<split>-NNNNN-of-MMMMM-<hex>.parquet". ok is false for other names.
func ParseShardName(base string) (split string, index, count int, ok bool) {
	name, found := strings.CutSuffix(base, ".parquet")
	if !found {
		return "", 0, 0, false
	}
	parts := strings.Split(name, "-")
	// Find the "of" separator from the right: split names may contain '-'.
	for i := len(parts) - 2; i >= 1; i-- {
		if parts[i] != "of" {
			continue
		}
		rest := parts[i+1:]
		if len(rest) == 2 {
			if !isHex(rest[1]) {
				continue
			}
		} else if len(rest) != 1 {
			continue
		}
		idx, err1 := parseDigits(parts[i-1])
		cnt, err2 := parseDigits(rest[0])
		if err1 != nil || err2 != nil || i-1 < 1 {
			continue
		}
		split = strings.Join(parts[:i-1], "-")
		if split == "" || cnt < 1 || cnt > MaxShards || idx >= cnt {
			return "", 0, 0, false
		}
		return split, idx, cnt, true
	}
	return "", 0, 0, false
}

func parseDigits(s string) (int, error) {
	if len(s) < 5 || len(s) > 5 {
		return 0, errors.New("not five digits")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("not a digit")
		}
	}
	return strconv.Atoi(s)
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// SplitFiles returns the Parquet files of split under dir, in shard order, after checking that
// the split is complete. config selects the subset folder (the_cauldron's "raven"); with config
// empty the folders searched are dir/data and dir itself. The first folder holding files of the
// split is used.
func SplitFiles(dir, config, split string) ([]string, error) {
	if split == "" {
		return nil, fmt.Errorf("%s: empty split name", dir)
	}
	var folders []string
	if config != "" {
		folders = []string{filepath.Join(dir, config), filepath.Join(dir, "data", config)}
	} else {
		folders = []string{filepath.Join(dir, "data"), dir}
	}
	for _, f := range folders {
		files, err := splitIn(f, split)
		if err != nil {
			return nil, err
		}
		if files != nil {
			return files, nil
		}
	}
	return nil, fmt.Errorf("%s: no parquet files for split %q (looked in %s)", dir, split, strings.Join(folders, ", "))
}

// splitIn returns the split's files in folder, nil (no error) when it has none.
func splitIn(folder, split string) ([]string, error) {
	entries, err := os.ReadDir(folder)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var shards []Shard
	for _, e := range entries { // ReadDir sorts by name
		if e.IsDir() {
			if e.Name() == split {
				return conversionFiles(filepath.Join(folder, split))
			}
			continue
		}
		s, idx, cnt, ok := ParseShardName(e.Name())
		if ok && s == split {
			shards = append(shards, Shard{Path: filepath.Join(folder, e.Name()), Split: s, Index: idx, Count: cnt})
		}
	}
	if len(shards) == 0 {
		return nil, nil
	}
	return checkShards(folder, split, shards)
}

// checkShards verifies that shards are exactly 0..M-1 of one count M and returns their paths.
func checkShards(folder, split string, shards []Shard) ([]string, error) {
	count := shards[0].Count
	for _, s := range shards[1:] {
		if s.Count != count {
			return nil, fmt.Errorf("%s: split %q: shard counts disagree: %s says %d shards, %s says %d",
				folder, split, filepath.Base(shards[0].Path), count, filepath.Base(s.Path), s.Count)
		}
	}
	byIndex := make([]string, count)
	for _, s := range shards {
		if byIndex[s.Index] != "" {
			return nil, fmt.Errorf("%s: split %q: shard %d appears twice: %s and %s",
				folder, split, s.Index, filepath.Base(byIndex[s.Index]), filepath.Base(s.Path))
		}
		byIndex[s.Index] = s.Path
	}
	for i, p := range byIndex {
		if p == "" {
			return nil, fmt.Errorf("%s: split %q: shard %s-%05d-of-%05d.parquet is missing (%d of %d present)",
				folder, split, split, i, count, len(shards), count)
		}
	}
	return byIndex, nil
}

// conversionFiles lists <config>/<split>/NNNN.parquet (the hub's parquet conversion), which must
// be numbered 0000, 0001, … without gaps.
func conversionFiles(folder string) ([]string, error) {
	entries, err := os.ReadDir(folder)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".parquet")
		if e.IsDir() || !ok {
			continue
		}
		n, err := strconv.Atoi(name)
		if err != nil || len(name) != 4 {
			continue
		}
		if n != len(files) {
			return nil, fmt.Errorf("%s: shard %04d.parquet is missing", folder, len(files))
		}
		files = append(files, filepath.Join(folder, e.Name()))
	}
	if len(files) == 0 {
		return nil, nil
	}
	return files, nil
}

// Splits lists the split names found under dir (same folders as SplitFiles), sorted.
func Splits(dir, config string) ([]string, error) {
	var folders []string
	if config != "" {
		folders = []string{filepath.Join(dir, config), filepath.Join(dir, "data", config)}
	} else {
		folders = []string{filepath.Join(dir, "data"), dir}
	}
	seen := map[string]bool{}
	for _, f := range folders {
		entries, err := os.ReadDir(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() { // the hub's parquet conversion: <config>/<split>/NNNN.parquet
				if files, err := conversionFiles(filepath.Join(f, e.Name())); err == nil && len(files) > 0 {
					seen[e.Name()] = true
				}
				continue
			}
			if s, _, _, ok := ParseShardName(e.Name()); ok {
				seen[s] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// Resolve turns inputs into Parquet files: a folder is searched for split (see SplitFiles), a
// file is taken as given. The order of inputs is kept.
func Resolve(inputs []string, config, split string) ([]string, error) {
	var out []string
	for _, in := range inputs {
		st, err := os.Stat(in)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, in)
			continue
		}
		files, err := SplitFiles(in, config, split)
		if err != nil {
			return nil, err
		}
		out = append(out, files...)
	}
	if len(out) == 0 {
		return nil, errors.New("no input files")
	}
	return out, nil
}
