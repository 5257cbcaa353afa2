package sim

// blockPool models vLLM v1's KV-cache block manager with prefix caching:
//
//   - a fixed number of blocks of blockSize tokens;
//   - a running sequence holds the blocks for the tokens computed so far and
//     grows one block at a time;
//   - a full prompt block is registered under its chained hash when it is
//     scheduled, so later requests with the same prefix reuse it (a hit) and
//     prefill only the rest;
//   - freed blocks keep their hash and go to the tail of an LRU free list; a new
//     allocation takes the head and evicts its hash. Blocks without a hash go to
//     the head, so cached prefixes are evicted last;
//   - usage is the fraction of blocks not on the free list, as vLLM reports
//     vllm:kv_cache_usage_perc.
//
// It is owned by the engine's scheduler goroutine and is not safe for
// concurrent use.
type blockPool struct {
	blockSize int
	blocks    []block
	byHash    map[uint64]int32
	free      int     // blocks on the free list
	hits      []int32 // scratch: block ids matched by the last match call
}

type block struct {
	hash       uint64
	hashed     bool
	ref        int32
	prev, next int32 // free-list links; -1 when not on the list
}

// sentinel is the index of the free list's sentinel node, stored after the
// real blocks.
func (p *blockPool) sentinel() int32 { return int32(len(p.blocks) - 1) }

func newBlockPool(numBlocks, blockSize int) *blockPool {
	p := &blockPool{
		blockSize: blockSize,
		blocks:    make([]block, numBlocks+1),
		byHash:    make(map[uint64]int32),
	}
	s := p.sentinel()
	p.blocks[s].prev, p.blocks[s].next = s, s
	for i := range int32(numBlocks) {
		p.pushTail(i)
	}
	return p
}

// numBlocks is the number of usable blocks.
func (p *blockPool) numBlocks() int { return len(p.blocks) - 1 }

// used is the number of blocks held by sequences.
func (p *blockPool) used() int { return p.numBlocks() - p.free }

// usage is used()/numBlocks(), between 0 and 1.
func (p *blockPool) usage() float64 { return float64(p.used()) / float64(p.numBlocks()) }

func (p *blockPool) pushTail(id int32) {
	s := p.sentinel()
	last := p.blocks[s].prev
	p.blocks[id].prev, p.blocks[id].next = last, s
	p.blocks[last].next = id
	p.blocks[s].prev = id
	p.free++
}

func (p *blockPool) pushHead(id int32) {
	s := p.sentinel()
	first := p.blocks[s].next
	p.blocks[id].prev, p.blocks[id].next = s, first
	p.blocks[first].prev = id
	p.blocks[s].next = id
	p.free++
}

func (p *blockPool) unlink(id int32) {
	b := &p.blocks[id]
	p.blocks[b.prev].next = b.next
	p.blocks[b.next].prev = b.prev
	b.prev, b.next = -1, -1
	p.free--
}

// take removes the least recently freed block from the free list, evicting
// its cached hash. The caller has checked that p.free > 0.
func (p *blockPool) take() int32 {
	id := p.blocks[p.sentinel()].next
	p.unlink(id)
	b := &p.blocks[id]
	if b.hashed {
		if p.byHash[b.hash] == id {
			delete(p.byHash, b.hash)
		}
		b.hashed = false
	}
	b.ref = 1
	return id
}

// blocksFor is how many blocks n tokens need.
func (p *blockPool) blocksFor(n int) int { return (n + p.blockSize - 1) / p.blockSize }

// match looks up the longest cached prefix of s's prompt blocks and returns
// how many blocks hit, at most maxBlocks (vLLM always recomputes at least the
// last token). The matched ids stay in p.hits for admit.
func (p *blockPool) match(hashes []uint64, maxBlocks int) int {
	p.hits = p.hits[:0]
	for i, h := range hashes {
		if i >= maxBlocks {
			break
		}
		id, ok := p.byHash[h]
		if !ok {
			break
		}
		p.hits = append(p.hits, id)
	}
	return len(p.hits)
}

// admit gives a waiting sequence the first hits blocks matched by the last
// match call plus fresh blocks for tokens tokens in total. It changes nothing
// and returns false when the free blocks do not suffice.
func (p *blockPool) admit(s *seq, hits, tokens int) bool {
	need := p.blocksFor(tokens) - hits
	freeHits := 0
	for _, id := range p.hits[:hits] {
		if p.blocks[id].ref == 0 {
			freeHits++
		}
	}
	if need > p.free-freeHits {
		return false
	}
	for _, id := range p.hits[:hits] {
		if p.blocks[id].ref == 0 {
			p.unlink(id)
		}
		p.blocks[id].ref++
		s.blocks = append(s.blocks, id)
	}
	s.hashedBlocks = hits
	for range need {
		s.blocks = append(s.blocks, p.take())
	}
	p.register(s, tokens)
	return true
}

// grow makes s hold blocks for tokens tokens. It changes nothing and returns
// false when the free blocks do not suffice.
func (p *blockPool) grow(s *seq, tokens int) bool {
	need := p.blocksFor(tokens) - len(s.blocks)
	if need > p.free {
		return false
	}
	for range need {
		s.blocks = append(s.blocks, p.take())
	}
	p.register(s, tokens)
	return true
}

// register caches the prompt blocks of s that tokens tokens fill completely.
func (p *blockPool) register(s *seq, tokens int) {
	full := min(tokens/p.blockSize, len(s.hashes), len(s.blocks))
	for ; s.hashedBlocks < full; s.hashedBlocks++ {
		h := s.hashes[s.hashedBlocks]
		if _, ok := p.byHash[h]; ok {
			continue // an equal block is already cached
		}
		id := s.blocks[s.hashedBlocks]
		b := &p.blocks[id]
		b.hash, b.hashed = h, true
		p.byHash[h] = id
	}
}

// release returns the blocks of s, last block first, so that a prefix's
// first blocks are the last to be evicted.
func (p *blockPool) release(s *seq) {
	for i := len(s.blocks) - 1; i >= 0; i-- {
		id := s.blocks[i]
		b := &p.blocks[id]
		b.ref--
		if b.ref > 0 {
			continue
		}
		if b.hashed {
			p.pushTail(id)
		} else {
			p.pushHead(id)
		}
	}
	s.blocks = s.blocks[:0]
	s.hashedBlocks = 0
}
