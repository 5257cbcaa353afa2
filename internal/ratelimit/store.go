package ratelimit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Store keeps buckets: counts that expire with their window.
type Store interface {
	// Take checks the bucket key against limit and, when cost fits in
	// what is left, adds it: ok reports whether the request may pass (a
	// cost of 0 passes while the bucket is under its limit), used is the
	// bucket's count after. Check and add are one atomic step.
	Take(ctx context.Context, key string, limit, cost uint64, expire time.Time) (used uint64, ok bool, err error)
	// Add adds cost to the bucket key, which may go over its limit (the
	// actual usage of requests that passed).
	Add(ctx context.Context, key string, cost uint64, expire time.Time) error
}

// ErrFull is the error of a [Memory] store that holds its maximum of
// buckets, none expired.
var ErrFull = errors.New("ratelimit: the in-memory store holds its maximum of buckets")

// DefaultMaxBuckets bounds the buckets a [Memory] store holds.
const DefaultMaxBuckets = 100_000

// Memory is a Store in this process's memory: the default of a single
// replica, and the store of local rules. It holds at most a fixed number
// of buckets, so clients cannot grow it by sending new distinct values.
type Memory struct {
	mu      sync.Mutex
	buckets map[string]*memBucket
	max     int
	now     func() time.Time
}

type memBucket struct {
	count  uint64
	expire time.Time
}

// NewMemory returns a store of at most maxBuckets buckets
// (DefaultMaxBuckets when 0).
func NewMemory(maxBuckets int) *Memory {
	if maxBuckets <= 0 {
		maxBuckets = DefaultMaxBuckets
	}
	return &Memory{buckets: map[string]*memBucket{}, max: maxBuckets, now: time.Now}
}

// bucket returns key's live bucket, making it when there is room; m.mu is
// held.
func (m *Memory) bucket(key string, expire time.Time) (*memBucket, error) {
	now := m.now()
	if b, ok := m.buckets[key]; ok && now.Before(b.expire) {
		return b, nil
	}
	if len(m.buckets) >= m.max {
		for k, b := range m.buckets {
			if !now.Before(b.expire) {
				delete(m.buckets, k)
			}
		}
		if len(m.buckets) >= m.max {
			return nil, ErrFull
		}
	}
	b := &memBucket{expire: expire}
	m.buckets[key] = b
	return b, nil
}

// Take implements [Store].
func (m *Memory) Take(_ context.Context, key string, limit, cost uint64, expire time.Time) (uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(key, expire)
	if err != nil {
		return 0, false, err
	}
	if b.count >= limit || cost > limit-b.count {
		return b.count, false, nil
	}
	b.count += cost
	return b.count, true, nil
}

// Add implements [Store].
func (m *Memory) Add(_ context.Context, key string, cost uint64, expire time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(key, expire)
	if err != nil {
		return err
	}
	b.count += cost
	return nil
}

// Len is the number of buckets held, expired ones not yet swept included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.buckets)
}
