package labels

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Other is the label value that stands for every value beyond a [Set]'s
// bound.
const Other = "__other__"

// DefaultMaxValues is the number of distinct values a [Set] admits when
// none is given.
const DefaultMaxValues = 200

// MaxValueBytes bounds the length of a label value a [Set] returns.
const MaxValueBytes = 128

// Bounds of client-chosen strings in a log line (with [Truncate]), so that
// no request can make one line unbounded: identifiers, names and paths, and
// error messages, which may quote them.
const (
	MaxLogValueBytes = 256
	MaxLogErrorBytes = 1024
)

// Truncate returns s cut to at most n bytes, without splitting a UTF-8
// sequence: a multi-byte character that would straddle the cut is
// dropped whole.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	// Back off over at most utf8.UTFMax-1 continuation bytes to the
	// start of the character that straddles the cut.
	i := n
	for j := 0; j < utf8.UTFMax-1 && i > 0 && !utf8.RuneStart(s[i]); j++ {
		i--
	}
	if utf8.RuneStart(s[i]) {
		return s[:i]
	}
	return s[:n] // not UTF-8 here anyway: cut at n
}

// Set admits the first Max distinct values as label values and returns
// [Other] for any later one. Values are cut to [MaxValueBytes] and made
// valid UTF-8 (Prometheus rejects invalid label values) before they are
// compared. A Set never forgets a value, so a series, once created, keeps
// its label. It is safe for concurrent use; a value already admitted, and
// any value once the Set is full, costs one lock-free map lookup.
type Set struct {
	max  int
	seen sync.Map // truncated input → label value
	full atomic.Bool

	mu sync.Mutex // serialises admissions
	n  int
}

// NewSet returns a Set that admits max distinct values; max <= 0 means
// [DefaultMaxValues].
func NewSet(maxValues int) *Set {
	if maxValues <= 0 {
		maxValues = DefaultMaxValues
	}
	return &Set{max: maxValues}
}

// Value returns the label value for v: v itself (cut to
// [MaxValueBytes] and made valid UTF-8) while it is or can become one of
// the admitted values, else [Other]. The empty string is returned as is
// and not counted.
func (s *Set) Value(v string) string {
	if v == "" {
		return ""
	}
	v = Truncate(v, MaxValueBytes)
	if l, ok := s.seen.Load(v); ok {
		return l.(string)
	}
	if s.full.Load() {
		return Other
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.seen.Load(v); ok {
		return l.(string)
	}
	if s.n >= s.max {
		s.full.Store(true)
		return Other
	}
	// The key is copied: v may point into a large request body that the
	// Set must not keep alive.
	key := strings.Clone(v)
	l := key
	if !utf8.ValidString(l) {
		// A run of invalid bytes becomes one U+FFFD (3 bytes), which can
		// make the value longer: cut again.
		l = Truncate(strings.ToValidUTF8(l, "\uFFFD"), MaxValueBytes)
	}
	s.seen.Store(key, l)
	s.n++
	return l
}
