package labels

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{name: "short", in: "gpt-4o", n: 128, want: "gpt-4o"},
		{name: "exact", in: "abcd", n: 4, want: "abcd"},
		{name: "ascii cut", in: "abcdef", n: 4, want: "abcd"},
		{name: "zero", in: "abc", n: 0, want: ""},
		{name: "two-byte rune straddles", in: "aé", n: 2, want: "a"},
		{name: "three-byte rune straddles", in: "ab€", n: 4, want: "ab"},
		{name: "four-byte rune straddles", in: "a😀b", n: 4, want: "a"},
		{name: "cut after a rune", in: "a😀b", n: 5, want: "a😀"},
		{name: "invalid bytes cut at n", in: "\x80\x80\x80\x80\x80\x80", n: 4, want: "\x80\x80\x80\x80"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Truncate(tc.in, tc.n)
			require.Equal(t, tc.want, got)
			require.LessOrEqual(t, len(got), max(tc.n, 0))
			if utf8.ValidString(tc.in) {
				require.True(t, utf8.ValidString(got), "a valid string stays valid")
			}
		})
	}
}

func TestSetValue(t *testing.T) {
	long := strings.Repeat("é", 1<<20) // 2 MB
	tests := []struct {
		name string
		max  int
		// in are the values given in order; want the label values returned.
		in   []string
		want []string
	}{
		{name: "within the bound", max: 2, in: []string{"a", "b", "a", "b"}, want: []string{"a", "b", "a", "b"}},
		{name: "beyond the bound", max: 2, in: []string{"a", "b", "c", "a", "d"}, want: []string{"a", "b", Other, "a", Other}},
		{name: "empty is not counted", max: 1, in: []string{"", "a", "", "b"}, want: []string{"", "a", "", Other}},
		{name: "default bound", max: 0, in: []string{"a"}, want: []string{"a"}},
		{name: "long value cut on a rune boundary", max: 2, in: []string{long}, want: []string{strings.Repeat("é", MaxValueBytes/2)}},
		{name: "values equal after the cut share a label", max: 1, in: []string{long, long + "x", "b"}, want: []string{strings.Repeat("é", MaxValueBytes/2), strings.Repeat("é", MaxValueBytes/2), Other}},
		{name: "invalid UTF-8 made valid", max: 2, in: []string{"a\xffb"}, want: []string{"a\uFFFDb"}},
		{name: "long invalid UTF-8 stays bounded", max: 2, in: []string{strings.Repeat("a\xff", 1000)}, want: []string{strings.Repeat("a\uFFFD", MaxValueBytes/4)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSet(tc.max)
			got := make([]string, len(tc.in))
			for i, v := range tc.in {
				got[i] = s.Value(v)
				require.LessOrEqual(t, len(got[i]), MaxValueBytes)
				require.True(t, utf8.ValidString(got[i]))
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestSetDefaultBound(t *testing.T) {
	s := NewSet(0)
	for i := range DefaultMaxValues {
		v := fmt.Sprintf("m-%d", i)
		require.Equal(t, v, s.Value(v))
	}
	require.Equal(t, Other, s.Value("one-too-many"))
}

// TestSetConcurrent admits values from many goroutines at once (run with
// -race): exactly max distinct values are admitted, every goroutine sees
// the same answer for the same value, and the rest are Other.
func TestSetConcurrent(t *testing.T) {
	const maxValues, distinct, workers = 50, 500, 8
	s := NewSet(maxValues)
	results := make([]map[string]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		results[w] = map[string]string{}
		wg.Go(func() {
			for i := range distinct {
				// Each worker walks the values in its own order.
				v := fmt.Sprintf("model-%d", (i*7+w*31)%distinct)
				results[w][v] = s.Value(v)
			}
		})
	}
	wg.Wait()
	admitted := map[string]bool{}
	for w := range workers {
		require.Len(t, results[w], distinct)
		for v, l := range results[w] {
			require.Equal(t, results[0][v], l, "worker %d disagrees on %q", w, v)
			if l != Other {
				require.Equal(t, v, l)
				admitted[v] = true
			}
		}
	}
	require.Len(t, admitted, maxValues)
}

func BenchmarkSetValue(b *testing.B) {
	s := NewSet(DefaultMaxValues)
	for i := range DefaultMaxValues {
		s.Value(fmt.Sprintf("model-%d", i))
	}
	b.Run("admitted", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Value("model-7")
			}
		})
	})
	b.Run("beyond the bound", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Value("nomatch-0f9c0d52-2a53-4a8e-9d0e-5a6a0d7f1c2b")
			}
		})
	})
	long := strings.Repeat("x", 1<<20)
	b.Run("1 MB value", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Value(long)
		}
	})
}
