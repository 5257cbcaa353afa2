package sse

import (
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
		s.Feed([]byte(stream[:cut]), fn)
		s.Feed([]byte(stream[cut:]), fn)
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
		var whole, split Splitter
		var a, b []string
		whole.Feed(stream, func(ev []byte) { a = append(a, string(ev)) })
		split.Feed(stream[:cut], func(ev []byte) { b = append(b, string(ev)) })
		split.Feed(stream[cut:], func(ev []byte) { b = append(b, string(ev)) })
		// A trailing "\r" is ambiguous until more bytes come; compare only
		// what both emitted plus what is pending.
		require.Equal(t, strings.Join(a, "")+string(whole.Pending()), strings.Join(b, "")+string(split.Pending()))
		for _, ev := range a {
			_ = Data([]byte(ev))
		}
	})
}
