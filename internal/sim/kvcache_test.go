package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seqWithBlocks returns a seq whose prompt has the given block hashes.
func seqWithBlocks(hashes ...uint64) *seq {
	s := newSeq()
	s.hashes = hashes
	s.prompt = 4 * len(hashes)
	return s
}

func TestBlockPoolPrefixHitsAndRelease(t *testing.T) {
	p := newBlockPool(8, 4)
	a := seqWithBlocks(1, 2, 3)
	require.Equal(t, 0, p.match(a.hashes, 3))
	require.True(t, p.admit(a, 0, 12))
	assert.Equal(t, 3, p.used())

	// A second request with the same first two blocks hits them while a runs:
	// the blocks are shared, not copied.
	b := seqWithBlocks(1, 2, 9)
	require.Equal(t, 2, p.match(b.hashes, 3))
	require.True(t, p.admit(b, 2, 12))
	assert.Equal(t, 4, p.used(), "shared blocks count once")
	assert.Equal(t, a.blocks[:2], b.blocks[:2])

	p.release(a)
	assert.Equal(t, 3, p.used(), "b still holds the shared blocks")
	p.release(b)
	assert.Equal(t, 0, p.used())
	assert.InDelta(t, 0.0, p.usage(), 1e-9)

	// Freed blocks stay cached.
	c := seqWithBlocks(1, 2, 3)
	assert.Equal(t, 3, p.match(c.hashes, 3))
	assert.Equal(t, 2, p.match(c.hashes, 2), "the hit is capped (vLLM recomputes the last token)")
}

func TestBlockPoolEvictsLeastRecentlyUsed(t *testing.T) {
	p := newBlockPool(4, 4)
	old := seqWithBlocks(1, 2)
	require.True(t, p.admit(old, 0, 8))
	p.release(old)
	recent := seqWithBlocks(3, 4)
	require.True(t, p.admit(recent, 0, 8))
	p.release(recent)

	// Two fresh blocks evict the least recently freed prefix first, and
	// within a prefix its last block first.
	fresh := seqWithBlocks(5)
	require.True(t, p.admit(fresh, 0, 8))
	assert.Equal(t, 0, p.match([]uint64{1, 2}, 2), "the older prefix is evicted")
	assert.Equal(t, 2, p.match([]uint64{3, 4}, 2), "the recent prefix survives")
}

func TestBlockPoolRefusesWhenFull(t *testing.T) {
	p := newBlockPool(4, 4)
	a := seqWithBlocks()
	require.True(t, p.admit(a, 0, 12))
	b := seqWithBlocks()
	assert.False(t, p.admit(b, 0, 8), "3 of 4 blocks are held")
	assert.Empty(t, b.blocks, "a refused admission changes nothing")
	assert.True(t, p.grow(a, 16))
	assert.False(t, p.grow(a, 17))
	assert.InDelta(t, 1.0, p.usage(), 1e-9)
}
