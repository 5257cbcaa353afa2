package translator

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

var anthropicSchema = config.Schema{Name: config.SchemaAnthropic, Prefix: "v1"}

func anthropicTranslator(t *testing.T, opts Options) *openAIToAnthropic {
	t.Helper()
	tr, err := New(llm.OperationChat, anthropicSchema, opts)
	require.NoError(t, err)
	a := tr.(*openAIToAnthropic)
	a.now = func() time.Time { return time.Unix(1700000000, 0) }
	return a
}

func indentJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, json.Indent(&out, b, "", "  "), "%s", b)
	return append(out.Bytes(), '\n')
}

// TestAnthropicRequest: a chat completion using every translated feature
// (system and developer prompts, images by data URL and URL, tool calls
// and their results, stop, temperature, tools, a forced tool choice
// without parallel calls, the user) becomes the Messages request in the
// golden file; a vendor field (top_k) passes through.
func TestAnthropicRequest(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "anthropic", "chat_full.openai.json"))
	require.NoError(t, err)
	tr := anthropicTranslator(t, Options{ModelOverride: "claude-sonnet-4-5"})
	up, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Body: body, Model: "claude", Stream: true, IncludeUsage: true})
	require.NoError(t, err)
	require.Equal(t, "/v1/messages", up.Path)
	require.Contains(t, up.SetHeaders, config.HeaderValue{Name: "Anthropic-Version", Value: "2023-06-01"})
	golden(t, "anthropic/chat_full.anthropic.json", indentJSON(t, up.Body))
}

// TestAnthropicRequestRefusals: what Anthropic cannot honour is refused
// with the field named, never dropped; no-op values of OpenAI-only fields
// pass.
func TestAnthropicRequestRefusals(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		param      string
	}{
		{"n", `{"model":"m","messages":[{"role":"user","content":"hi"}],"n":2}`, 422, "n"},
		{"seed", `{"model":"m","messages":[{"role":"user","content":"hi"}],"seed":7}`, 422, "seed"},
		{"json schema", `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}}}`, 422, "response_format"},
		{"temperature", `{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":1.5}`, 422, "temperature"},
		{"late system", `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"system","content":"x"}]}`, 422, "messages[1].role"},
		{"audio part", `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}`, 422, "messages[0].content[0].type"},
		{"bad arguments", `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}`, 400, "messages[1].tool_calls[0].function.arguments"},
		{"bad image", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x"}}]}]}`, 400, "messages[0].content[0].image_url.url"},
		{"no messages", `{"model":"m","messages":[{"role":"system","content":"x"}]}`, 400, "messages"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := anthropicTranslator(t, Options{}).Request(&llm.Request{Operation: llm.OperationChat, Body: []byte(tc.body), Model: "m"})
			var e *apierror.Error
			require.True(t, errors.As(err, &e), "%v", err)
			require.Equal(t, tc.status, e.Status)
			require.Equal(t, tc.param, e.Param)
		})
	}
	ok := `{"model":"m","messages":[{"role":"user","content":"hi"}],"n":1,"presence_penalty":0,"frequency_penalty":0,"logprobs":false,"seed":null,"response_format":{"type":"text"},"store":false}`
	_, err := anthropicTranslator(t, Options{}).Request(&llm.Request{Operation: llm.OperationChat, Body: []byte(ok), Model: "m"})
	require.NoError(t, err, "no-op values of OpenAI-only fields are accepted")
}

// TestAnthropicResponse: a Messages response (thinking, text, a tool call)
// becomes a chat completion; usage counts cached input.
func TestAnthropicResponse(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "anthropic", "response_tools.anthropic.json"))
	require.NoError(t, err)
	tr := anthropicTranslator(t, Options{})
	_, err = tr.Request(&llm.Request{Operation: llm.OperationChat, Body: []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`), Model: "m"})
	require.NoError(t, err)
	h := http.Header{"Content-Type": {"application/json"}, "Content-Length": {"500"}}
	require.NoError(t, tr.ResponseHeaders(200, h))
	require.Empty(t, h.Get("Content-Length"))
	var out []byte
	for i := 0; i < len(in); i += 40 {
		b, err := tr.ResponseBody(in[i:min(i+40, len(in))], i+40 >= len(in))
		require.NoError(t, err)
		out = append(out, b...)
	}
	golden(t, "anthropic/response_tools.openai.json", indentJSON(t, out))
	require.Equal(t, llm.Usage{InputTokens: 40, OutputTokens: 42, TotalTokens: 82, CachedInputTokens: 10, CacheCreationInputTokens: 5}, tr.Usage())
	require.Equal(t, "claude-sonnet-4-5", tr.ResponseModel())
	require.True(t, tr.Complete())
}

// TestAnthropicStream feeds a recorded Messages stream in chunks of every
// size: the OpenAI chunks are those of the golden file whatever the
// framing, with the usage chunk the client asked for.
func TestAnthropicStream(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "anthropic", "stream_tools.anthropic.sse"))
	require.NoError(t, err)
	var first []byte
	for _, size := range []int{1, 7, 64, len(in)} {
		tr := anthropicTranslator(t, Options{})
		_, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "m", Stream: true, IncludeUsage: true,
			Body: []byte(`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)})
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
			golden(t, "anthropic/stream_tools.openai.sse", out)
		}
		require.Equal(t, string(first), string(out), "chunk size %d", size)
		require.Equal(t, llm.Usage{InputTokens: 35, OutputTokens: 42, TotalTokens: 77, CachedInputTokens: 10}, tr.Usage())
		require.True(t, tr.Complete())
	}
}

// TestAnthropicErrors: an error body keeps the provider's message and
// type in OpenAI's shape; an error event ends a stream with an error; a
// stream cut before message_stop is a failure.
func TestAnthropicErrors(t *testing.T) {
	tr := anthropicTranslator(t, Options{})
	require.NoError(t, tr.ResponseHeaders(429, http.Header{"Content-Type": {"application/json"}}))
	out, err := tr.ResponseBody([]byte(`{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}}`), true)
	require.NoError(t, err)
	require.JSONEq(t, `{"error":{"message":"Number of requests has exceeded your rate limit","type":"rate_limit_error","param":null,"code":null}}`, string(out))

	stream := func() *openAIToAnthropic {
		tr := anthropicTranslator(t, Options{})
		_, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "m", Stream: true, Body: []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)})
		require.NoError(t, err)
		require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream"}}))
		return tr
	}
	tr = stream()
	out, err = tr.ResponseBody([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":1}}}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"), false)
	var e *apierror.Error
	require.True(t, errors.As(err, &e), "%v", err)
	require.Equal(t, "Anthropic: Overloaded", e.Message)
	require.True(t, strings.HasPrefix(string(out), "data: {"), "the chunks before the error go out")

	tr = stream()
	_, err = tr.ResponseBody([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n"), true)
	require.ErrorContains(t, err, "before message_stop")
}

func FuzzAnthropicStream(f *testing.F) {
	in, _ := os.ReadFile(filepath.Join("testdata", "anthropic", "stream_tools.anthropic.sse"))
	f.Add(in, uint8(13))
	f.Fuzz(func(t *testing.T, data []byte, size uint8) {
		tr, err := New(llm.OperationChat, anthropicSchema, Options{MaxEventBytes: 1 << 16})
		require.NoError(t, err)
		_, err = tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "m", Stream: true, IncludeUsage: true,
			Body: []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)})
		require.NoError(t, err)
		require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream"}}))
		step := int(size) + 1
		for i := 0; i < len(data); i += step {
			end := min(i+step, len(data))
			out, err := tr.ResponseBody(data[i:end], end == len(data))
			for _, ev := range bytes.Split(out, []byte("\n\n")) {
				if p, ok := bytes.CutPrefix(ev, []byte("data: ")); ok && len(p) > 0 && p[0] == '{' {
					require.True(t, json.Valid(p), "every chunk is JSON: %s", p)
				}
			}
			if err != nil {
				return
			}
		}
	})
}
