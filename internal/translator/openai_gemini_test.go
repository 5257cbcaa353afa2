package translator

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/sse"
)

var vertexSchema = config.Schema{Name: config.SchemaGCPVertexAI}

func geminiTranslator(t testing.TB, opts Options) *openAIToGemini {
	t.Helper()
	tr, err := New(llm.OperationChat, vertexSchema, opts)
	require.NoError(t, err)
	g := tr.(*openAIToGemini)
	g.now = func() time.Time { return time.Unix(1700000000, 0) }
	return g
}

// TestGeminiRequest: a chat completion using every translated feature
// (system and developer prompts, images by data URL and URL, audio, tool
// calls and results named after their calls, stop, n, seed, logprobs, a
// JSON schema, reasoning, a forced function, the user as a label) becomes
// the generateContent request of the golden file; a vendor field
// (safetySettings) passes through, top_k joins the generation config.
func TestGeminiRequest(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "gemini", "chat_full.openai.json"))
	require.NoError(t, err)
	tr := geminiTranslator(t, Options{ModelOverride: "gemini-2.5-flash"})
	up, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Body: body, Model: "gemini", Stream: true})
	require.NoError(t, err)
	require.Equal(t, "/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse", up.Path)
	golden(t, "gemini/chat_full.gemini.json", indentJSON(t, up.Body))
}

// TestGeminiRequestRefusals: what Gemini cannot honour is refused with the
// field named.
func TestGeminiRequestRefusals(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		param      string
	}{
		{"logit_bias", `{"model":"m","messages":[{"role":"user","content":"hi"}],"logit_bias":{"1":2}}`, 422, "logit_bias"},
		{"parallel off", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":false}`, 422, "parallel_tool_calls"},
		{"orphan tool result", `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"x","content":"r"}]}`, 400, "messages[1].tool_call_id"},
		{"file id", `{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]}`, 422, "messages[0].content[0].file"},
		{"top_logprobs alone", `{"model":"m","messages":[{"role":"user","content":"hi"}],"top_logprobs":3}`, 400, "top_logprobs"},
		{"unknown effort", `{"model":"m","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"max"}`, 400, "reasoning_effort"},
		{"participant name", `{"model":"m","messages":[{"role":"assistant","content":"hi","name":"bot"},{"role":"user","content":"hi"}]}`, 422, "messages[0].name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := geminiTranslator(t, Options{}).Request(&llm.Request{Operation: llm.OperationChat, Body: []byte(tc.body), Model: "m"})
			var e *apierror.Error
			require.True(t, errors.As(err, &e), "%v", err)
			require.Equal(t, tc.status, e.Status, e.Message)
			require.Equal(t, tc.param, e.Param)
		})
	}
}

// TestGeminiResponse: a generateContent response (a thought, text, two
// function calls, log probabilities) becomes a chat completion; usage
// counts thoughts as output and reasoning, and cached input.
func TestGeminiResponse(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "gemini", "response_tools.gemini.json"))
	require.NoError(t, err)
	tr := geminiTranslator(t, Options{})
	_, err = tr.Request(&llm.Request{Operation: llm.OperationChat, Body: []byte(`{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`), Model: "gemini-2.5-flash"})
	require.NoError(t, err)
	require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}}))
	var out []byte
	for i := 0; i < len(in); i += 40 {
		b, err := tr.ResponseBody(in[i:min(i+40, len(in))], i+40 >= len(in))
		require.NoError(t, err)
		out = append(out, b...)
	}
	golden(t, "gemini/response_tools.openai.json", indentJSON(t, out))
	require.Equal(t, llm.Usage{InputTokens: 40, OutputTokens: 42, TotalTokens: 82, CachedInputTokens: 10, ReasoningTokens: 12}, tr.Usage())
	require.True(t, tr.Complete())
}

// TestGeminiStream feeds a streamGenerateContent SSE stream in chunks of
// every size: the OpenAI chunks are those of the golden file.
func TestGeminiStream(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "gemini", "stream_tools.gemini.sse"))
	require.NoError(t, err)
	var first []byte
	for _, size := range []int{1, 7, 64, len(in)} {
		tr := geminiTranslator(t, Options{})
		_, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "gemini-2.5-flash", Stream: true, IncludeUsage: true,
			Body: []byte(`{"model":"gemini-2.5-flash","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)})
		require.NoError(t, err)
		require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream"}}))
		var out []byte
		for i := 0; i < len(in); i += size {
			b, err := tr.ResponseBody(in[i:min(i+size, len(in))], i+size >= len(in))
			require.NoError(t, err)
			out = append(out, b...)
		}
		if first == nil {
			first = out
			golden(t, "gemini/stream_tools.openai.sse", out)
		}
		require.Equal(t, string(first), string(out), "chunk size %d", size)
		require.Equal(t, llm.Usage{InputTokens: 35, OutputTokens: 42, TotalTokens: 77, CachedInputTokens: 10, ReasoningTokens: 12}, tr.Usage())
		require.True(t, tr.Complete())
	}
}

// TestGeminiArrayStream: streamGenerateContent answered as a JSON array
// (without alt=sse) is translated element by element into the same SSE
// chunks as its SSE form, whatever the chunk size.
func TestGeminiArrayStream(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "gemini", "stream_tools.gemini.sse"))
	require.NoError(t, err)
	var elems [][]byte
	sp := sse.Splitter{}
	require.NoError(t, sp.Feed(in, func(ev []byte) { elems = append(elems, bytes.Clone(sse.Data(ev))) }))
	array := append(append([]byte("["), bytes.Join(elems, []byte(",\r\n"))...), ']')
	want, err := os.ReadFile(filepath.Join("testdata", "gemini", "stream_tools.openai.sse"))
	require.NoError(t, err)
	for _, size := range []int{1, 7, 64, len(array)} {
		tr := geminiTranslator(t, Options{})
		_, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "gemini-2.5-flash", Stream: true, IncludeUsage: true,
			Body: []byte(`{"model":"gemini-2.5-flash","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)})
		require.NoError(t, err)
		h := http.Header{"Content-Type": {"application/json; charset=UTF-8"}}
		require.NoError(t, tr.ResponseHeaders(200, h))
		require.Equal(t, "text/event-stream", h.Get("Content-Type"))
		var out []byte
		for i := 0; i < len(array); i += size {
			b, err := tr.ResponseBody(array[i:min(i+size, len(array))], i+size >= len(array))
			require.NoError(t, err)
			out = append(out, b...)
		}
		require.Equal(t, string(want), string(out), "chunk size %d", size)
		require.True(t, tr.Complete())
	}
}

// TestGeminiErrors: Google's error body (an object, or a stream's array)
// keeps its message and status; an error event ends a stream; a stream
// without a finish reason is a failure.
func TestGeminiErrors(t *testing.T) {
	for _, body := range []string{
		`{"error":{"code":429,"message":"Resource exhausted, please try again later.","status":"RESOURCE_EXHAUSTED"}}`,
		`[{"error":{"code":429,"message":"Resource exhausted, please try again later.","status":"RESOURCE_EXHAUSTED"}}]`,
	} {
		tr := geminiTranslator(t, Options{})
		require.NoError(t, tr.ResponseHeaders(429, http.Header{"Content-Type": {"application/json"}}))
		out, err := tr.ResponseBody([]byte(body), true)
		require.NoError(t, err)
		require.JSONEq(t, `{"error":{"message":"Resource exhausted, please try again later.","type":"RESOURCE_EXHAUSTED","param":null,"code":null}}`, string(out))
	}
	stream := func() *openAIToGemini {
		tr := geminiTranslator(t, Options{})
		_, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "m", Stream: true, Body: []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)})
		require.NoError(t, err)
		require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream"}}))
		return tr
	}
	out, err := stream().ResponseBody([]byte("data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hel\"}]},\"index\":0}]}\n\ndata: {\"error\":{\"code\":503,\"message\":\"overloaded\",\"status\":\"UNAVAILABLE\"}}\n\n"), false)
	var e *apierror.Error
	require.True(t, errors.As(err, &e), "%v", err)
	require.Equal(t, http.StatusServiceUnavailable, e.Status)
	require.Equal(t, "Hel", streamedContent(t, out))

	_, err = stream().ResponseBody([]byte("data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hel\"}]},\"index\":0}]}\n\n"), true)
	require.ErrorContains(t, err, "before a finish reason")
}

// TestVertexEmbeddings: OpenAI embeddings become a text embedding model's
// predict, one instance per input.
func TestVertexEmbeddings(t *testing.T) {
	tr, err := New(llm.OperationEmbeddings, vertexSchema, Options{})
	require.NoError(t, err)
	up, err := tr.Request(&llm.Request{Operation: llm.OperationEmbeddings, Model: "text-embedding-005",
		Body: []byte(`{"model":"text-embedding-005","input":["a","b"],"dimensions":2}`)})
	require.NoError(t, err)
	require.Equal(t, "/publishers/google/models/text-embedding-005:predict", up.Path)
	require.JSONEq(t, `{"instances":[{"content":"a"},{"content":"b"}],"parameters":{"outputDimensionality":2}}`, string(up.Body))
	require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}}))
	out, err := tr.ResponseBody([]byte(`{"predictions":[{"embeddings":{"values":[0.5,-1],"statistics":{"token_count":1,"truncated":false}}},{"embeddings":{"values":[1,0],"statistics":{"token_count":2,"truncated":false}}}]}`), true)
	require.NoError(t, err)
	require.JSONEq(t, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-1]},{"object":"embedding","index":1,"embedding":[1,0]}],
		"model":"text-embedding-005","usage":{"prompt_tokens":3,"total_tokens":3}}`, string(out))
}

// TestGCPAnthropic: Claude on Vertex takes the Messages body with the
// version instead of the model, at rawPredict's path; chat and the
// Messages front door both reach it; count_tokens names the model in the
// body.
func TestGCPAnthropic(t *testing.T) {
	schema := config.Schema{Name: config.SchemaGCPAnthropic}
	tr, err := New(llm.OperationChat, schema, Options{ModelOverride: "claude-sonnet-4-5@20250929"})
	require.NoError(t, err)
	up, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "claude", Stream: true,
		Body: []byte(`{"model":"claude","stream":true,"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	require.Equal(t, "/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict", up.Path)
	require.JSONEq(t, `{"anthropic_version":"vertex-2023-10-16","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"stream":true}`, string(up.Body))

	m, err := New(llm.OperationMessages, schema, Options{})
	require.NoError(t, err)
	up, err = m.Request(&llm.Request{Operation: llm.OperationMessages, Model: "claude-haiku-4-5@20251001",
		Body: []byte(`{"model":"claude-haiku-4-5@20251001","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	require.Equal(t, "/publishers/anthropic/models/claude-haiku-4-5@20251001:rawPredict", up.Path)
	require.JSONEq(t, `{"max_tokens":10,"messages":[{"role":"user","content":"hi"}],"anthropic_version":"vertex-2023-10-16"}`, string(up.Body))

	c, err := New(llm.OperationCountTokens, schema, Options{})
	require.NoError(t, err)
	up, err = c.Request(&llm.Request{Operation: llm.OperationCountTokens, Model: "claude-haiku-4-5@20251001",
		Body: []byte(`{"model":"claude-haiku-4-5@20251001","messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	require.Equal(t, "/publishers/anthropic/models/count-tokens:rawPredict", up.Path)
	require.JSONEq(t, `{"model":"claude-haiku-4-5@20251001","messages":[{"role":"user","content":"hi"}]}`, string(up.Body))

	// Vertex's own errors reach Anthropic clients in Anthropic's shape.
	m, err = New(llm.OperationMessages, schema, Options{})
	require.NoError(t, err)
	_, err = m.Request(&llm.Request{Operation: llm.OperationMessages, Model: "c", Body: []byte(`{"model":"c","max_tokens":1,"messages":[]}`)})
	require.NoError(t, err)
	h := http.Header{"Content-Type": {"application/json"}, "Content-Length": {"99"}}
	require.NoError(t, m.ResponseHeaders(429, h))
	require.Empty(t, h.Get("Content-Length"))
	out, err := m.ResponseBody([]byte(`{"error":{"code":429,"message":"Quota exceeded for aiplatform.googleapis.com","status":"RESOURCE_EXHAUSTED"}}`), true)
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"error","error":{"type":"rate_limit_error","message":"Quota exceeded for aiplatform.googleapis.com"}}`, string(out))
}

func FuzzGeminiStream(f *testing.F) {
	in, _ := os.ReadFile(filepath.Join("testdata", "gemini", "stream_tools.gemini.sse"))
	f.Add(in, uint8(13))
	f.Fuzz(func(t *testing.T, data []byte, size uint8) {
		tr := geminiTranslator(t, Options{MaxEventBytes: 1 << 16})
		_, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "m", Stream: true, IncludeUsage: true,
			Body: []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)})
		require.NoError(t, err)
		require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream"}}))
		step := int(size) + 1
		for i := 0; i < len(data); i += step {
			end := min(i+step, len(data))
			out, err := tr.ResponseBody(data[i:end], end == len(data))
			requireJSONChunks(t, out)
			if err != nil {
				return
			}
		}
	})
}
