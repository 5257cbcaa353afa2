package translator

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/providertest"
)

// hideSink hides the inner translation's streamTo: the Messages front door
// then reads back the chunks it writes, as it reads an OpenAI upstream's.
type hideSink struct{ Translator }

// messagesStream is what the Messages front door sends its client for a
// stream from schema fed step bytes at a time, and the stream's error;
// readBack makes it read back the chunks the chat translation under it
// writes instead of taking them as values. The usage of message_start is
// left out: when the bytes are read back, it is what the inner translation
// knew when the front door read its first chunk, which depends on how the
// upstream's bytes were cut. So are random message IDs (an upstream that
// gave none).
func messagesStream(t testing.TB, schema config.Schema, contentType string, data []byte, step int, readBack bool) (string, error) {
	t.Helper()
	tr, err := New(llm.OperationMessages, schema, Options{MaxEventBytes: 1 << 16})
	require.NoError(t, err)
	if readBack {
		tr.(*anthropicToOpenAI).inner = hideSink{tr.(*anthropicToOpenAI).inner}
	}
	_, err = tr.Request(&llm.Request{Operation: llm.OperationMessages, Model: "m", Stream: true,
		Body: []byte(`{"model":"m","stream":true,"max_tokens":9,"messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	h := http.Header{"Content-Type": {contentType}, "X-Amzn-Requestid": {"req-1"}}
	require.NoError(t, tr.ResponseHeaders(200, h))
	require.Equal(t, !readBack, tr.(*anthropicToOpenAI).sunk)
	var out []byte
	for i := 0; i < len(data) || i == 0; i += step {
		end := min(i+step, len(data))
		b, err := tr.ResponseBody(data[i:end], end == len(data))
		out = append(out, b...)
		if err != nil {
			return normalizeStart(out), err
		}
	}
	return normalizeStart(out), nil
}

// normalizeStart leaves out message_start's usage and random IDs.
func normalizeStart(out []byte) string {
	out = startUsage.ReplaceAll(out, []byte(`$1{}`))
	return string(randomID.ReplaceAll(out, []byte(`chatcmpl-random`)))
}

var (
	// startUsage is message_start's usage.
	startUsage = regexp.MustCompile(`(?m)^(data: \{"message":.*"usage":)\{[^{}]*\}`)
	// randomID is a chat completion's ID of 12 random bytes.
	randomID = regexp.MustCompile(`chatcmpl-[0-9a-f]{24}\b`)
)

// TestMessagesChatSink: the Messages front door over Bedrock's Converse and
// Vertex's Gemini takes the chat translation's chunks as values; what its
// client receives is what reading the chunks back gives, whatever the
// upstream's chunk size.
func TestMessagesChatSink(t *testing.T) {
	streams, err := providertest.NewChatStreams()
	require.NoError(t, err)
	gemini, err := os.ReadFile(filepath.Join("testdata", "gemini", "stream_tools.gemini.sse"))
	require.NoError(t, err)
	for _, c := range []struct {
		name        string
		schema      config.Schema
		contentType string
		data        []byte
	}{
		{"converse tools", bedrockSchema, eventStreamType, bedrockStream(t, "stream_tools.bedrock.jsonl")},
		{"converse text", bedrockSchema, eventStreamType, bytes.Join(streams.Converse, nil)},
		{"converse cut short", bedrockSchema, eventStreamType, bytes.Join(streams.Converse[:4], nil)},
		{"gemini tools", vertexSchema, "text/event-stream", gemini},
		{"gemini text", vertexSchema, "text/event-stream", bytes.Join(streams.Gemini, nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, step := range []int{1, 7, 64, len(c.data)} {
				want, wantErr := messagesStream(t, c.schema, c.contentType, c.data, step, true)
				got, err := messagesStream(t, c.schema, c.contentType, c.data, step, false)
				require.Equal(t, want, got, "chunk size %d", step)
				require.Equal(t, wantErr, err)
				require.Contains(t, got, "event: content_block_delta")
			}
		})
	}
}

// FuzzMessagesChatSink: for any upstream bytes, the Messages front door's
// client receives the same events and error whether it takes the chat
// translation's chunks as values or reads them back.
func FuzzMessagesChatSink(f *testing.F) {
	gemini, err := os.ReadFile(filepath.Join("testdata", "gemini", "stream_tools.gemini.sse"))
	require.NoError(f, err)
	f.Add(bedrockStream(f, "stream_tools.bedrock.jsonl"), uint8(13), false)
	f.Add(gemini, uint8(200), true)
	f.Fuzz(func(t *testing.T, data []byte, size uint8, isGemini bool) {
		schema, contentType := bedrockSchema, eventStreamType
		if isGemini {
			schema, contentType = vertexSchema, "text/event-stream"
		}
		step := int(size) + 1
		want, wantErr := messagesStream(t, schema, contentType, data, step, true)
		got, err := messagesStream(t, schema, contentType, data, step, false)
		require.Equal(t, want, got)
		require.Equal(t, wantErr, err)
	})
}
