package translator

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/providertest"
)

// allocatedBy returns the bytes allocated by calling f n times: the least
// of three measures, since the process's allocation counter also counts
// what other goroutines (the runtime, tests in parallel) allocate
// meanwhile, and that noise only adds.
func allocatedBy(n int, f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range n {
			f()
		}
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// TestStreamMemoryPerChunk: each translation of a stream allocates per
// chunk what the chunk needs, however long the stream already is: the
// thousand chunks after 20,000 cost what the first thousand did.
func TestStreamMemoryPerChunk(t *testing.T) {
	awsChunk := func(data string) []byte {
		payload, _ := json.Marshal(map[string]string{"bytes": base64.StdEncoding.EncodeToString([]byte(data))})
		b, err := providertest.EncodeAWSEvents([]providertest.AWSEvent{{Event: "chunk", Payload: payload}})
		require.NoError(t, err)
		return b
	}
	converse, err := providertest.EncodeAWSEvents([]providertest.AWSEvent{{Event: "contentBlockDelta", Payload: []byte(`{"delta":{"text":"word "},"contentBlockIndex":0}`)}})
	require.NoError(t, err)
	anthropicDelta := `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"word "}}`
	cases := []struct {
		name    string
		op      llm.Operation
		schema  config.Schema
		headers http.Header
		event   []byte
	}{
		{"openai", llm.OperationChat, config.Schema{Name: config.SchemaOpenAI}, http.Header{"Content-Type": {"text/event-stream"}},
			[]byte(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"word "}}]}` + "\n\n")},
		{"anthropic", llm.OperationChat, config.Schema{Name: config.SchemaAnthropic}, http.Header{"Content-Type": {"text/event-stream"}},
			[]byte("event: content_block_delta\ndata: " + anthropicDelta + "\n\n")},
		{"bedrock", llm.OperationChat, config.Schema{Name: config.SchemaAWSBedrock}, http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}}, converse},
		{"aws-anthropic", llm.OperationChat, config.Schema{Name: config.SchemaAWSAnthropic}, http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}}, awsChunk(anthropicDelta)},
		{"gemini", llm.OperationChat, config.Schema{Name: config.SchemaGCPVertexAI}, http.Header{"Content-Type": {"text/event-stream"}},
			[]byte(`data: {"candidates":[{"content":{"role":"model","parts":[{"text":"word "}]},"index":0}],"usageMetadata":{"promptTokenCount":9}}` + "\n\n")},
		{"messages-from-openai", llm.OperationMessages, config.Schema{Name: config.SchemaOpenAI}, http.Header{"Content-Type": {"text/event-stream"}},
			[]byte(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"word "}}]}` + "\n\n")},
		{"messages-to-aws-anthropic", llm.OperationMessages, config.Schema{Name: config.SchemaAWSAnthropic}, http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}}, awsChunk(anthropicDelta)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := New(c.op, c.schema, Options{})
			require.NoError(t, err)
			body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
			if c.op == llm.OperationMessages {
				body = `{"model":"m","stream":true,"max_tokens":9,"messages":[{"role":"user","content":"hi"}]}`
			}
			_, err = tr.Request(&llm.Request{Operation: c.op, Model: "m", Stream: true, Body: []byte(body)})
			require.NoError(t, err)
			require.NoError(t, tr.ResponseHeaders(200, c.headers.Clone()))
			feed := func() {
				if _, err := tr.ResponseBody(c.event, false); err != nil {
					t.Fatal(err)
				}
			}
			for range 100 { // past the stream's head
				feed()
			}
			early := allocatedBy(1000, feed)
			for range 20000 {
				feed()
			}
			late := allocatedBy(1000, feed)
			require.LessOrEqual(t, late, early+early/4+4096, "allocation per chunk grows with the stream: %d then %d bytes per 1000 chunks", early, late)
		})
	}
}
