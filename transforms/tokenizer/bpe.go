package tokenizer

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// bpe is HF's BPE model (tokenizers/src/models/bpe): a vocabulary, ranked merges and the
// per-word merge loop. Words arrive either raw (the pipeline ends in a ByteLevel
// pre-tokenizer whose byte→character mapping is folded into the model: each byte starts as the
// id of its alphabet character) or as final strings (each character starts as its vocab id).
type bpe struct {
	vocab        map[string]int32  // token as written in the file → id
	merges       map[uint64]uint64 // pairKey(a, b) → rank<<32 | merged id
	unk          int32             // unk_token id, -1 when unset
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix

	// Byte-level fast path: byteID[b] is the id of byte b's alphabet character; byteFast is
	// set when all 256 exist and there is no prefix/suffix, so raw words need no mapping.
	byteID   [256]int32
	byteFast bool
	rawVocab map[string]int32 // raw bytes → id of vocab tokens made only of alphabet characters

	cache wordCache
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// Word cache: memoises the pure function word → ids, so results never depend on it. It stops
// growing at cacheMaxEntries and skips words longer than cacheMaxWord bytes (as HF's does).
const (
	cacheMaxEntries = 1 << 17
	cacheMaxWord    = 256
)

type wordCache struct {
	shards [cacheShards]cacheShard
	n      atomic.Int64
}

// cacheShards spreads goroutines over locks; the shard is picked from cheap word features.
const cacheShards = 16

type cacheShard struct {
	mu sync.RWMutex
	m  map[string][]int32
}

func shardOf(w string) int {
	return (len(w)*31 + int(w[0])*7 + int(w[len(w)-1])) & (cacheShards - 1)
}

func (c *wordCache) get(w string) ([]int32, bool) {
	sh := &c.shards[shardOf(w)]
	sh.mu.RLock()
	ids, ok := sh.m[w]
	sh.mu.RUnlock()
	return ids, ok
}

func (c *wordCache) put(w string, ids []int32) {
	if len(w) > cacheMaxWord || c.n.Load() >= cacheMaxEntries {
		return
	}
	sh := &c.shards[shardOf(w)]
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = map[string][]int32{}
	}
	if _, ok := sh.m[w]; !ok {
		sh.m[strings.Clone(w)] = ids
		c.n.Add(1)
	}
	sh.mu.Unlock()
}

// symbol is one element of the word being merged (HF's Symbol).
type symbol struct {
	id         int32
	prev, next int32 // indices into the symbol slice, -1 at the ends
	size       int32 // bytes covered; 0 once merged into its left neighbour
}

// encodeWord appends the ids of word w. raw says w holds raw bytes under a deferred ByteLevel
// mapping; otherwise w is the final string (already mapped where the file maps).
func (m *bpe) encodeWord(dst []int32, w string, raw bool) []int32 {
	if w == "" {
		return dst
	}
	if m.ignoreMerges {
		v := m.vocab
		if raw {
			v = m.rawVocab
		}
		if id, ok := v[w]; ok {
			return append(dst, id)
		}
	}
	if ids, ok := m.cache.get(w); ok {
		return append(dst, ids...)
	}
	var buf [32]symbol
	syms := buf[:0]
	if raw && m.byteFast {
		for i := 0; i < len(w); i++ {
			syms = appendSymbol(syms, m.byteID[w[i]], 1)
		}
	} else {
		s := w
		if raw {
			s = byteLevelEncode(w)
		}
		syms = m.symbolize(syms, s)
	}
	syms = m.mergeAll(syms)
	start := len(dst)
	for i := 0; i >= 0 && i < len(syms); i = int(syms[i].next) {
		dst = append(dst, syms[i].id)
	}
	m.cache.put(w, append([]int32(nil), dst[start:]...))
	return dst
}

func appendSymbol(syms []symbol, id int32, size int) []symbol {
	n := int32(len(syms))
	if n > 0 {
		syms[n-1].next = n
	}
	return append(syms, symbol{id: id, prev: n - 1, next: -1, size: int32(size)})
}

// symbolize splits s into characters and looks each up (HF's merge_word): continuing-subword
// prefix on all but the first, end-of-word suffix on the last, byte fallback to <0xXX> tokens,
// then the unknown token (fused when fuse_unk), else the character is dropped, as HF drops it.
func (m *bpe) symbolize(syms []symbol, s string) []symbol {
	unkID, unkLen := int32(-1), 0
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		piece := s[i : i+n]
		if i > 0 && m.prefix != "" {
			piece = m.prefix + piece
		}
		if i+n == len(s) && m.suffix != "" {
			piece += m.suffix
		}
		i += n
		if id, ok := m.vocab[piece]; ok {
			if unkID >= 0 {
				syms = appendSymbol(syms, unkID, unkLen)
				unkID = -1
			}
			syms = appendSymbol(syms, id, n)
			continue
		}
		if m.byteFallback {
			ids, ok := m.fallbackIDs(s[i-n : i])
			if ok {
				for _, id := range ids {
					syms = appendSymbol(syms, id, 1)
				}
				continue
			}
		}
		if m.unk >= 0 {
			switch {
			case unkID >= 0 && m.fuseUnk:
				unkLen += n
			case unkID >= 0:
				syms = appendSymbol(syms, unkID, unkLen)
				unkID, unkLen = m.unk, n
			default:
				unkID, unkLen = m.unk, n
			}
		}
	}
	if unkID >= 0 {
		syms = appendSymbol(syms, unkID, unkLen)
	}
	return syms
}

// fallbackIDs returns the ids of the <0xXX> tokens of ch's bytes, if all exist.
func (m *bpe) fallbackIDs(ch string) ([]int32, bool) {
	ids := make([]int32, 0, len(ch))
	for i := 0; i < len(ch); i++ {
		id, ok := m.vocab[fmt.Sprintf("<0x%02X>", ch[i])]
		if !ok {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// mergeEntry is a candidate merge in the priority queue: key = rank<<32 | position of its left
// symbol, so the smallest key is the lowest rank, leftmost first (HF's Merge ordering).
type mergeEntry struct {
	key   uint64
	newID int32
}

// mergeAll applies merges exactly as HF's Word::merge_all: a min-queue of (rank, position),
// stale entries skipped when the pair at that position no longer yields the same id. Merged
// symbols stay in the slice with size 0; walk the result through next from index 0.
func (m *bpe) mergeAll(syms []symbol) []symbol {
	if len(syms) < 2 || len(m.merges) == 0 {
		return syms
	}
	var hbuf [32]mergeEntry
	h := heap(hbuf[:0])
	for i := 0; i+1 < len(syms); i++ {
		if v, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			h.push(mergeEntry{key: v&^0xFFFFFFFF | uint64(i), newID: int32(uint32(v))})
		}
	}
	for len(h) > 0 {
		top := h.pop()
		pos := int32(uint32(top.key))
		cur := &syms[pos]
		if cur.size == 0 || cur.next < 0 {
			continue
		}
		nextPos := cur.next
		right := syms[nextPos]
		v, ok := m.merges[pairKey(cur.id, right.id)]
		if !ok || int32(uint32(v)) != top.newID {
			continue
		}
		cur.id = top.newID
		cur.size += right.size
		cur.next = right.next
		syms[nextPos].size = 0
		if right.next >= 0 {
			syms[right.next].prev = pos
		}
		if cur.prev >= 0 {
			if v, ok := m.merges[pairKey(syms[cur.prev].id, cur.id)]; ok {
				h.push(mergeEntry{key: v&^0xFFFFFFFF | uint64(cur.prev), newID: int32(uint32(v))})
			}
		}
		if cur.next >= 0 {
			if v, ok := m.merges[pairKey(cur.id, syms[cur.next].id)]; ok {
				h.push(mergeEntry{key: v&^0xFFFFFFFF | uint64(pos), newID: int32(uint32(v))})
			}
		}
	}
	return syms
}

// heap is a binary min-heap of merge entries by key.
type heap []mergeEntry

func (h *heap) push(e mergeEntry) {
	*h = append(*h, e)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].key <= s[i].key {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *heap) pop() mergeEntry {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, r, min := 2*i+1, 2*i+2, i
		if l < n && s[l].key < s[min].key {
			min = l
		}
		if r < n && s[r].key < s[min].key {
			min = r
		}
		if min == i {
			break
		}
		s[i], s[min] = s[min], s[i]
		i = min
	}
	*h = s
	return top
}

// reset empties the cache (benchmarks of the uncached path).
func (c *wordCache) reset() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.m = nil
		sh.mu.Unlock()
	}
	c.n.Store(0)
}
