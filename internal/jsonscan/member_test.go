package jsonscan

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMayHaveMember: only a member that is not null may need decoding.
func TestMayHaveMember(t *testing.T) {
	for data, want := range map[string]bool{
		`{"choices":[]}`:              false,
		`{"choices":[],"usage":null}`: false,
		`{"usage" : null,"choices":[{"delta":{"content":"usage"}}]}`: false,
		`{"choices":[{"delta":{"content":"\"usage\":1"}}]}`:          false,
		`{"usage":{"prompt_tokens":1}}`:                              true,
		`{"usage":null,"x":{"usage":{}}}`:                            true,
		`{"usage":5}`:                                                true,
		"{\"usage\"\n:\tnull}":                                       false,
		`{"usage":`:                                                  true,
	} {
		require.Equal(t, want, MayHaveMember([]byte(data), "usage"), data)
	}
}

func BenchmarkMayHaveMember(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-5e1b9a3c8f7d4e2a9b6c1d0e","object":"chat.completion.chunk","created":1765150000,"model":"m","choices":[{"index":0,"delta":{"content":"word "},"logprobs":null,"finish_reason":null}],"usage":null}`)
	b.ReportAllocs()
	for b.Loop() {
		if MayHaveMember(chunk, "usage") {
			b.Fatal("a null usage")
		}
	}
}
