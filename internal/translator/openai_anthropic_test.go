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
		{"participant name", `{"model":"m","messages":[{"role":"user","content":"hi","name":"alice"}]}`, 422, "messages[0].name"},
		{"seed", `{"model":"m","messages":[{"role":"user","content":"hi"}],"seed":7}`, 422, "seed"},
		{"json schema with tools", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}}}`, 422, "response_format"},
		{"json schema without schema", `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}`, 400, "response_format.json_schema.schema"},
		{"reasoning with temperature", `{"model":"m","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"low","temperature":0.5}`, 422, "temperature"},
		{"reasoning with a forced tool", `{"model":"m","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"low","response_format":{"type":"json_object"}}`, 422, "reasoning_effort"},
		{"unknown effort", `{"model":"m","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"max"}`, 400, "reasoning_effort"},
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

// TestAnthropicStructuredOutput: a JSON schema response_format is forced
// through a tool of that schema; the tool's input comes back as the
// message's content, streamed as content deltas, finished with "stop".
func TestAnthropicStructuredOutput(t *testing.T) {
	body := `{"model":"m","messages":[{"role":"user","content":"Paris?"}],"response_format":{"type":"json_schema","json_schema":{"name":"city","schema":{"type":"object","properties":{"name":{"type":"string"}}}}}}`
	tr := anthropicTranslator(t, Options{})
	up, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Body: []byte(body), Model: "m"})
	require.NoError(t, err)
	var sent map[string]any
	require.NoError(t, json.Unmarshal(up.Body, &sent))
	require.Equal(t, map[string]any{"type": "tool", "name": "city"}, sent["tool_choice"])
	require.Equal(t, "city", sent["tools"].([]any)[0].(map[string]any)["name"])

	require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}}))
	out, err := tr.ResponseBody([]byte(`{"id":"msg","type":"message","role":"assistant","model":"c","content":[{"type":"tool_use","id":"t","name":"city","input":{"name":"Paris"}}],"stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":7}}`), true)
	require.NoError(t, err)
	var got struct {
		Choices []struct {
			Message struct {
				Content   string `json:"content"`
				ToolCalls []any  `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	require.NoError(t, json.Unmarshal(out, &got))
	require.JSONEq(t, `{"name":"Paris"}`, got.Choices[0].Message.Content)
	require.Empty(t, got.Choices[0].Message.ToolCalls)
	require.Equal(t, "stop", got.Choices[0].FinishReason)

	stream := anthropicTranslator(t, Options{})
	_, err = stream.Request(&llm.Request{Operation: llm.OperationChat, Body: []byte(strings.Replace(body, `"model":"m"`, `"model":"m","stream":true`, 1)), Model: "m", Stream: true})
	require.NoError(t, err)
	require.NoError(t, stream.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream"}}))
	sseOut, err := stream.ResponseBody([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg\",\"model\":\"c\",\"usage\":{\"input_tokens\":5}}}\n\n"+
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"city\",\"input\":{}}}\n\n"+
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"name\\\": \"}}\n\n"+
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n"+
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":7}}\n\n"+
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"), true)
	require.NoError(t, err)
	var content strings.Builder
	for _, ev := range strings.Split(string(sseOut), "\n\n") {
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct {
					Content   string `json:"content"`
					ToolCalls []any  `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		require.NoError(t, json.Unmarshal([]byte(data), &c), data)
		for _, ch := range c.Choices {
			require.Empty(t, ch.Delta.ToolCalls)
			content.WriteString(ch.Delta.Content)
			if ch.FinishReason != nil {
				require.Equal(t, "stop", *ch.FinishReason)
			}
		}
	}
	require.JSONEq(t, `{"name":"Paris"}`, content.String())
}

// TestAnthropicReasoning: reasoning_effort turns extended thinking on with
// a budget, leaving the client's max_tokens for the answer.
func TestAnthropicReasoning(t *testing.T) {
	for effort, budget := range map[string]float64{"low": 1024, "medium": 2048, "high": 4096} {
		body := `{"model":"m","max_tokens":500,"reasoning_effort":"` + effort + `","messages":[{"role":"user","content":"hi"}]}`
		up, err := anthropicTranslator(t, Options{}).Request(&llm.Request{Operation: llm.OperationChat, Body: []byte(body), Model: "m"})
		require.NoError(t, err)
		var sent map[string]any
		require.NoError(t, json.Unmarshal(up.Body, &sent))
		require.Equal(t, map[string]any{"type": "enabled", "budget_tokens": budget}, sent["thinking"], effort)
		require.InDelta(t, 500+budget, sent["max_tokens"], 0)
		require.NotContains(t, sent, "reasoning_effort")
	}
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
