// Package bodybudget bounds the bytes of request bodies a gateway holds at
// once, across every connection and stream, whatever each client declares:
// a request is charged as its body's buffer grows and the charge is
// returned when the request ends. Both transports (internal/httpproxy and
// internal/extproc) charge one.
package bodybudget

import "sync/atomic"

// Budget is a byte budget. It is safe for concurrent use.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// New returns a budget of limit bytes.
func New(limit int64) *Budget { return &Budget{limit: limit} }

// Charge takes n bytes from the budget and reports whether they were
// there; nothing is taken when they were not.
func (b *Budget) Charge(n int64) bool {
	for {
		used := b.used.Load()
		if used+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// Release returns n bytes to the budget.
func (b *Budget) Release(n int64) { b.used.Add(-n) }

// Exhausted reports whether no byte is left.
func (b *Budget) Exhausted() bool { return b.used.Load() >= b.limit }

// Used returns the bytes charged now.
func (b *Budget) Used() int64 { return b.used.Load() }
