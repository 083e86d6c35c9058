package loader

import (
	"container/list"
	"context"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/glmflow/glmflow/datasets/shard"
)

// maxOpenShards bounds the shard files held open at once.
const maxOpenShards = 32

// source gives random access to the samples of a manifest by global index (shards in
// manifest order, rows in file order), through an LRU cache of decoded row groups.
type source struct {
	dir    string
	m      *shard.Manifest
	hash   string
	first  []int64 // [shards + 1] global index of each shard's first row, then the total
	open   map[int]*list.Element
	openLR *list.List // of *openShard, most recent first
	cache  map[rgKey]*list.Element
	lru    *list.List // of *rgEntry, most recent first
	bytes  int64
	limit  int64
}

type openShard struct {
	idx int
	r   *shard.Reader
}

type rgKey struct{ shard, rg int }

type rgEntry struct {
	key     rgKey
	first   int64 // row of samples[0] in the shard
	samples []shard.Sample
	bytes   int64
}

func openSource(o *Options) (*source, error) {
	m, err := shard.ReadManifest(o.Dir)
	if err != nil {
		return nil, err
	}
	hash, err := m.Hash()
	if err != nil {
		return nil, err
	}
	s := &source{dir: o.Dir, m: m, hash: hash, open: map[int]*list.Element{}, openLR: list.New(),
		cache: map[rgKey]*list.Element{}, lru: list.New(), limit: o.CacheBytes}
	s.first = make([]int64, 0, len(m.Shards)+1)
	var n int64
	for _, info := range m.Shards {
		if !o.SkipVerify {
			if err := shard.VerifyShard(o.Dir, info); err != nil {
				return nil, err
			}
		}
		s.first = append(s.first, n)
		n += info.Rows
	}
	s.first = append(s.first, n)
	return s, nil
}

// n is the number of samples.
func (s *source) n() int64 { return s.first[len(s.first)-1] }

func (s *source) close() error {
	var err error
	for e := s.openLR.Front(); e != nil; e = e.Next() {
		if cerr := e.Value.(*openShard).r.Close(); err == nil {
			err = cerr
		}
	}
	s.open, s.openLR = nil, list.New()
	return err
}

// reader returns the open reader of shard k, opening (and checking) it if needed.
func (s *source) reader(k int) (*shard.Reader, error) {
	if e, ok := s.open[k]; ok {
		s.openLR.MoveToFront(e)
		return e.Value.(*openShard).r, nil
	}
	info := s.m.Shards[k]
	r, err := shard.Open(filepath.Join(s.dir, info.Name))
	if err != nil {
		return nil, err
	}
	if r.Layout() != s.m.Layout {
		r.Close()
		return nil, fmt.Errorf("shard %s: layout %+v, manifest says %+v", r.Name(), r.Layout(), s.m.Layout)
	}
	if r.NumRows() != info.Rows {
		r.Close()
		return nil, fmt.Errorf("shard %s: %d rows, manifest says %d", r.Name(), r.NumRows(), info.Rows)
	}
	if s.openLR.Len() >= maxOpenShards {
		old := s.openLR.Remove(s.openLR.Back()).(*openShard)
		delete(s.open, old.idx)
		old.r.Close()
	}
	s.open[k] = s.openLR.PushFront(&openShard{idx: k, r: r})
	return r, nil
}

// sample returns sample g (global index). The result is shared with the cache: read only.
func (s *source) sample(ctx context.Context, g int64) (*shard.Sample, error) {
	if g < 0 || g >= s.n() {
		return nil, fmt.Errorf("loader: sample %d outside [0, %d)", g, s.n())
	}
	k := sort.Search(len(s.first)-1, func(i int) bool { return s.first[i+1] > g })
	row := g - s.first[k]
	r, err := s.reader(k)
	if err != nil {
		return nil, err
	}
	rg := sort.Search(r.NumRowGroups(), func(i int) bool {
		first, n := r.RowGroupRange(i)
		return first+n > row
	})
	key := rgKey{k, rg}
	if e, ok := s.cache[key]; ok {
		s.lru.MoveToFront(e)
		ent := e.Value.(*rgEntry)
		return &ent.samples[row-ent.first], nil
	}
	samples, err := r.ReadRowGroup(ctx, rg)
	if err != nil {
		return nil, err
	}
	first, _ := r.RowGroupRange(rg)
	ent := &rgEntry{key: key, first: first, samples: samples}
	for i := range samples {
		ent.bytes += sampleBytes(&samples[i])
	}
	for s.lru.Len() > 0 && s.bytes+ent.bytes > s.limit {
		old := s.lru.Remove(s.lru.Back()).(*rgEntry)
		delete(s.cache, old.key)
		s.bytes -= old.bytes
	}
	s.cache[key] = s.lru.PushFront(ent)
	s.bytes += ent.bytes
	return &ent.samples[row-ent.first], nil
}

func sampleBytes(s *shard.Sample) int64 {
	n := int64(8*len(s.InputIDs) + 12*len(s.Grids) + len(s.SourceFile) + 64)
	for _, p := range s.Pixels {
		n += int64(len(p)) + 24
	}
	return n
}
