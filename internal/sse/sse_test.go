package sse

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitterFeed(t *testing.T) {
	stream := "data: a\n\n: comment\n\ndata: b\r\n\r\ndata: c1\ndata: c2\n\ndata: d\r\rdata: tail"
	want := []string{"data: a\n\n", ": comment\n\n", "data: b\r\n\r\n", "data: c1\ndata: c2\n\n", "data: d\r\r"}
	// Every split of the stream into two feeds must give the same events.
	for cut := 0; cut <= len(stream); cut++ {
		var s Splitter
		var got []string
		fn := func(ev []byte) { got = append(got, string(ev)) }
		require.NoError(t, s.Feed([]byte(stream[:cut]), fn))
		require.NoError(t, s.Feed([]byte(stream[cut:]), fn))
		require.Equal(t, want, got, "cut at %d", cut)
		require.Equal(t, "data: tail", string(s.Pending()), "cut at %d", cut)
	}
}

func TestSplitterByteByByte(t *testing.T) {
	stream := strings.Repeat("data: {\"x\":1}\n\n", 50)
	var s Splitter
	n := 0
	for i := range len(stream) {
		s.Feed([]byte{stream[i]}, func(ev []byte) {
			require.Equal(t, "data: {\"x\":1}\n\n", string(ev))
			n++
		})
	}
	require.Equal(t, 50, n)
	require.Empty(t, s.Pending())
}

func TestData(t *testing.T) {
	tests := []struct {
		name, event string
		want        []byte
	}{
		{"single", "data: {\"a\":1}\n\n", []byte(`{"a":1}`)},
		{"no space", "data:[DONE]\n\n", []byte("[DONE]")},
		{"multi line", "data: a\ndata: b\n\n", []byte("a\nb")},
		{"with event field", "event: message\ndata: x\n\n", []byte("x")},
		{"comment only", ": ping\n\n", nil},
		{"crlf", "data: y\r\n\r\n", []byte("y")},
		{"not data field", "database: z\n\n", nil},
		{"empty data", "data\n\n", []byte{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Data([]byte(tc.event))
			if tc.want == nil {
				require.Nil(t, got)
				return
			}
			require.Equal(t, string(tc.want), string(got))
		})
	}
}

func FuzzSplitter(f *testing.F) {
	f.Add([]byte("data: a\n\ndata: b\r\n\r\n"), 3)
	f.Add([]byte("\r\r\n\n"), 1)
	f.Fuzz(func(t *testing.T, stream []byte, cut int) {
		if cut < 0 || cut > len(stream) {
			cut = len(stream) / 2
		}
		var whole, split, bytewise Splitter
		var a, b, c []string
		require.NoError(t, whole.Feed(stream, func(ev []byte) { a = append(a, string(ev)) }))
		require.NoError(t, split.Feed(stream[:cut], func(ev []byte) { b = append(b, string(ev)) }))
		require.NoError(t, split.Feed(stream[cut:], func(ev []byte) { b = append(b, string(ev)) }))
		for i := range stream {
			require.NoError(t, bytewise.Feed(stream[i:i+1], func(ev []byte) { c = append(c, string(ev)) }))
		}
		// A trailing "\r" is ambiguous until more bytes come; compare only
		// what both emitted plus what is pending.
		require.Equal(t, strings.Join(a, "")+string(whole.Pending()), strings.Join(b, "")+string(split.Pending()))
		require.Equal(t, strings.Join(a, "")+string(whole.Pending()), strings.Join(c, "")+string(bytewise.Pending()))
		// Resuming a scan must find each event end exactly where a scan
		// of the whole stream does.
		require.Equal(t, a, b[:min(len(a), len(b))])
		require.Equal(t, a, c[:min(len(a), len(c))])
		for _, ev := range a {
			_ = Data([]byte(ev))
		}
	})
}

func TestSplitterLimit(t *testing.T) {
	s := Splitter{Limit: 10}
	var got []string
	fn := func(ev []byte) { got = append(got, string(ev)) }
	require.NoError(t, s.Feed([]byte("data: 12\n\nda"), fn))
	require.Equal(t, []string{"data: 12\n\n"}, got)
	require.NoError(t, s.Feed([]byte("ta: 1234"), fn), "10 bytes pending is within the limit")
	err := s.Feed([]byte("5"), fn)
	require.ErrorIs(t, err, ErrEventTooLarge)
	require.Empty(t, s.Pending(), "the oversized event is dropped")

	// A whole event in one feed is not held back, whatever its size.
	s = Splitter{Limit: 10}
	got = nil
	require.NoError(t, s.Feed([]byte("data: 0123456789\n\n"), fn))
	require.Equal(t, []string{"data: 0123456789\n\n"}, got)
}

// TestSplitterLargeEventChunked feeds one large event in small chunks, as
// an upstream body arrives, with line ends of every kind cut at every
// chunk boundary.
func TestSplitterLargeEventChunked(t *testing.T) {
	for _, sep := range []string{"\n\n", "\r\n\r\n", "\r\r", "\n\r\n"} {
		event := "data: " + strings.Repeat("x", 100_000) + sep
		stream := event + "data: after" + sep
		for _, chunk := range []int{1, 7, 4096} {
			var s Splitter
			var got []string
			for i := 0; i < len(stream); i += chunk {
				require.NoError(t, s.Feed([]byte(stream[i:min(i+chunk, len(stream))]), func(ev []byte) { got = append(got, string(ev)) }))
			}
			if sep == "\r\r" {
				// The last "\r" could still be followed by "\n".
				require.Equal(t, []string{event}, got, "chunk %d", chunk)
				continue
			}
			require.Equal(t, []string{event, "data: after" + sep}, got, "sep %q chunk %d", sep, chunk)
		}
	}
}

// BenchmarkSplitterLargeEvent feeds one event of each size in 16 KiB
// chunks (an upstream read): the cost per byte must not grow with the
// event's size.
func BenchmarkSplitterLargeEvent(b *testing.B) {
	for _, size := range []int{2 << 20, 8 << 20, 32 << 20} {
		event := []byte("data: " + strings.Repeat("x", size) + "\n\n")
		b.Run(strconv.Itoa(size>>20)+"MiB", func(b *testing.B) {
			b.SetBytes(int64(len(event)))
			for b.Loop() {
				var s Splitter
				n := 0
				for i := 0; i < len(event); i += 16 << 10 {
					_ = s.Feed(event[i:min(i+16<<10, len(event))], func([]byte) { n++ })
				}
				if n != 1 {
					b.Fatalf("%d events", n)
				}
			}
		})
	}
}

// eventEndByteByByte is eventEnd as the specification reads: a scan of one
// byte at a time for line ends.
func eventEndByteByByte(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		c := b[i]
		if c != '\n' && c != '\r' {
			continue
		}
		j := i + 1
		if c == '\r' && j < len(b) && b[j] == '\n' {
			j++
		}
		if j >= len(b) {
			return -1
		}
		switch b[j] {
		case '\n':
			return j + 1
		case '\r':
			if j+1 < len(b) && b[j+1] == '\n' {
				return j + 2
			}
			if j+1 >= len(b) {
				return -1
			}
			return j + 1
		}
		i = j - 1
	}
	return -1
}

// FuzzEventEnd: eventEnd's vectorised searches find the event end a scan
// of one byte at a time finds, for any bytes and starting point.
func FuzzEventEnd(f *testing.F) {
	f.Add([]byte("data: a\r\n\r\ndata: b\n\n"), 0)
	f.Add([]byte("data: a\rb\r\r"), 2)
	f.Add([]byte("x\r\ny\n\r\n"), 1)
	f.Fuzz(func(t *testing.T, b []byte, from int) {
		if from < 0 || from > len(b) {
			from = 0
		}
		require.Equal(t, eventEndByteByByte(b, from), eventEnd(b, from))
	})
}
