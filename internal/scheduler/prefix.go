package scheduler

import (
	"encoding/binary"
	"slices"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// hashPrompt is the reference's chained prefix hash (GAIE v1.5.0
// approximateprefix/hashing.go, §6.4): the prompt is cut into blocks of
// blockChars characters (bytes), truncated to maxBlocks blocks, a trailing
// partial block dropped; h0 = xxh64(model ‖ cacheSalt) and
// h_i = xxh64(block_i ‖ littleEndian64(h_{i−1})). A prompt shorter than one
// block has no hashes. The result is appended to dst.
func hashPrompt(dst []uint64, model, cacheSalt, prompt string, blockChars, maxBlocks int) []uint64 {
	if blockChars <= 0 || len(prompt) < blockChars {
		return dst
	}
	if limit := blockChars * maxBlocks; len(prompt) > limit {
		prompt = prompt[:limit]
	}
	var d xxhash.Digest
	d.Reset()
	_, _ = d.WriteString(model)
	_, _ = d.WriteString(cacheSalt)
	prev := d.Sum64()
	var le [8]byte
	for i := 0; i+blockChars <= len(prompt); i += blockChars {
		d.Reset()
		_, _ = d.WriteString(prompt[i : i+blockChars])
		binary.LittleEndian.PutUint64(le[:], prev)
		_, _ = d.Write(le[:])
		prev = d.Sum64()
		dst = append(dst, prev)
	}
	return dst
}

// prefixIndex approximates each endpoint's prefix cache: a bounded LRU of
// the block hashes recently routed to it, plus hash → endpoints holding it.
// Endpoints get small integer ids (reused after removal) so that matching
// counts in a slice, not a map. One mutex guards it all; matching takes the
// read lock.
type prefixIndex struct {
	mu       sync.RWMutex
	capacity int
	ids      map[string]int32
	addrs    []string   // id → address, "" for a free id
	lrus     []*hashLRU // id → LRU, nil for a free id
	free     []int32
	holders  map[uint64][]int32
}

// prefixHit is how many walked hashes an endpoint holds.
type prefixHit struct {
	addr string
	n    int
}

func newPrefixIndex(capacity int) *prefixIndex {
	return &prefixIndex{capacity: capacity, ids: map[string]int32{}, holders: map[uint64][]int32{}}
}

// match walks hashes in order, stopping at the first one no endpoint holds,
// and returns the endpoints holding any walked hash with their counts (in
// id order). As in the reference (matchLongestPrefix) an endpoint counts
// every walked hash it holds, not only an unbroken run from the first.
func (x *prefixIndex) match(hashes []uint64) []prefixHit {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var counts []int32
	for _, h := range hashes {
		hs := x.holders[h]
		if len(hs) == 0 {
			break
		}
		if counts == nil {
			counts = make([]int32, len(x.addrs))
		}
		for _, id := range hs {
			counts[id]++
		}
	}
	var hits []prefixHit
	for id, n := range counts {
		if n > 0 {
			hits = append(hits, prefixHit{addr: x.addrs[id], n: int(n)})
		}
	}
	return hits
}

// add records that hashes were routed to addr, in order, so that the last
// block is the most recently used; older hashes beyond capacity are evicted.
func (x *prefixIndex) add(addr string, hashes []uint64) {
	if len(hashes) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	id, ok := x.ids[addr]
	if !ok {
		if n := len(x.free); n > 0 {
			id, x.free = x.free[n-1], x.free[:n-1]
		} else {
			id = int32(len(x.addrs))
			x.addrs = append(x.addrs, "")
			x.lrus = append(x.lrus, nil)
		}
		x.ids[addr] = id
		x.addrs[id] = addr
		x.lrus[id] = newHashLRU(x.capacity)
	}
	l := x.lrus[id]
	for _, h := range hashes {
		added, evicted, ok := l.touch(h)
		if added {
			x.holders[h] = append(x.holders[h], id)
		}
		if ok {
			x.dropHolder(evicted, id)
		}
	}
}

// remove forgets addr (the endpoint left the pool).
func (x *prefixIndex) remove(addr string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	id, ok := x.ids[addr]
	if !ok {
		return
	}
	for h := range x.lrus[id].nodes {
		x.dropHolder(h, id)
	}
	delete(x.ids, addr)
	x.addrs[id], x.lrus[id] = "", nil
	x.free = append(x.free, id)
}

func (x *prefixIndex) dropHolder(h uint64, id int32) {
	hs := slices.DeleteFunc(x.holders[h], func(v int32) bool { return v == id })
	if len(hs) == 0 {
		delete(x.holders, h)
	} else {
		x.holders[h] = hs
	}
}

// contents returns addr's hashes, most recently used first (for tests and
// debugging).
func (x *prefixIndex) contents(addr string) []uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	id, ok := x.ids[addr]
	if !ok {
		return nil
	}
	l := x.lrus[id]
	var out []uint64
	for n := l.head.next; n != &l.head; n = n.next {
		out = append(out, n.hash)
	}
	return out
}

// hashLRU is a fixed-capacity LRU set of hashes: a map into a circular
// doubly linked list whose sentinel head has the most recent after it.
type hashLRU struct {
	capacity int
	nodes    map[uint64]*lruNode
	head     lruNode
}

type lruNode struct {
	hash       uint64
	prev, next *lruNode
}

func newHashLRU(capacity int) *hashLRU {
	l := &hashLRU{capacity: capacity, nodes: map[uint64]*lruNode{}}
	l.head.prev, l.head.next = &l.head, &l.head
	return l
}

// touch makes h the most recent entry. added reports that h was new;
// evicted (with ok) is the hash that fell out to make room.
func (l *hashLRU) touch(h uint64) (added bool, evicted uint64, ok bool) {
	if n := l.nodes[h]; n != nil {
		l.unlink(n)
		l.pushFront(n)
		return false, 0, false
	}
	var n *lruNode
	if len(l.nodes) >= l.capacity {
		n = l.head.prev // least recent; reuse its node
		l.unlink(n)
		delete(l.nodes, n.hash)
		evicted, ok = n.hash, true
	} else {
		n = &lruNode{}
	}
	n.hash = h
	l.nodes[h] = n
	l.pushFront(n)
	return true, evicted, ok
}

func (l *hashLRU) unlink(n *lruNode) {
	n.prev.next, n.next.prev = n.next, n.prev
}

func (l *hashLRU) pushFront(n *lruNode) {
	n.prev, n.next = &l.head, l.head.next
	l.head.next.prev = n
	l.head.next = n
}
