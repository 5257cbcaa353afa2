package translator

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/llm"
)

// TestMessagesToOpenAIRequest: a Messages request (system blocks, an
// image, a tool use and its result, tools, a forced tool, thinking) becomes
// the chat completion an OpenAI-compatible server expects.
func TestMessagesToOpenAIRequest(t *testing.T) {
	body := `{"model":"claude","max_tokens":100,"system":[{"type":"text","text":"Be brief."}],"stream":true,
"messages":[
 {"role":"user","content":[{"type":"text","text":"Weather?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAA="}}]},
 {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Checking."},{"type":"tool_use","id":"t1","name":"weather","input":{"city":"Paris"}}]},
 {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny"},{"type":"text","text":"Thanks"}]}],
"tools":[{"name":"weather","description":"d","input_schema":{"type":"object"}}],
"tool_choice":{"type":"tool","name":"weather","disable_parallel_tool_use":true},
"thinking":{"type":"enabled","budget_tokens":2048},"stop_sequences":["X"],"top_k":3,"metadata":{"user_id":"u"}}`
	tr, err := New(llm.OperationMessages, config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"}, Options{ModelOverride: "llama"})
	require.NoError(t, err)
	up, err := tr.Request(&llm.Request{Operation: llm.OperationMessages, Body: []byte(body), Model: "claude", Stream: true})
	require.NoError(t, err)
	require.Equal(t, "/v1/chat/completions", up.Path)
	require.JSONEq(t, `{
 "model":"llama","max_tokens":100,"stop":["X"],"stream":true,"stream_options":{"include_usage":true},"user":"u","reasoning_effort":"medium",
 "tools":[{"type":"function","function":{"name":"weather","description":"d","parameters":{"type":"object"}}}],
 "tool_choice":{"type":"function","function":{"name":"weather"}},"parallel_tool_calls":false,
 "messages":[
  {"role":"system","content":"Be brief."},
  {"role":"user","content":[{"type":"text","text":"Weather?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAA="}}]},
  {"role":"assistant","content":"Checking.","tool_calls":[{"id":"t1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
  {"role":"tool","tool_call_id":"t1","content":"sunny"},
  {"role":"user","content":[{"type":"text","text":"Thanks"}]}],
 "top_k":3}`, string(up.Body))

	_, err = tr.Request(&llm.Request{Operation: llm.OperationMessages, Model: "claude",
		Body: []byte(`{"model":"claude","max_tokens":1,"messages":[{"role":"user","content":"x"}],"mcp_servers":[{"url":"u"}]}`)})
	require.ErrorContains(t, err, "mcp_servers")
}

// TestMessagesFromOpenAIStream: a chat completion stream (text, a tool
// call in fragments, usage) becomes Messages events a client accumulates
// into the message.
func TestMessagesFromOpenAIStream(t *testing.T) {
	stream := `data: {"id":"c1","model":"llama","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}

data: {"id":"c1","model":"llama","choices":[{"index":0,"delta":{"content":"Hel"}}]}

data: {"id":"c1","model":"llama","choices":[{"index":0,"delta":{"content":"lo"}}]}

data: {"id":"c1","model":"llama","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"weather","arguments":""}}]}}]}

data: {"id":"c1","model":"llama","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}

data: {"id":"c1","model":"llama","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}]}

data: {"id":"c1","model":"llama","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: {"id":"c1","model":"llama","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}

data: [DONE]

`
	for _, size := range []int{1, 17, len(stream)} {
		tr, err := New(llm.OperationMessages, config.Schema{Name: config.SchemaOpenAI}, Options{})
		require.NoError(t, err)
		_, err = tr.Request(&llm.Request{Operation: llm.OperationMessages, Model: "m", Stream: true,
			Body: []byte(`{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)})
		require.NoError(t, err)
		require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream"}}))
		var out strings.Builder
		for i := 0; i < len(stream); i += size {
			b, err := tr.ResponseBody([]byte(stream[i:min(i+size, len(stream))]), i+size >= len(stream))
			require.NoError(t, err)
			out.Write(b)
		}
		var types []string
		var text, args string
		for _, ev := range strings.Split(strings.TrimSpace(out.String()), "\n\n") {
			lines := strings.SplitN(ev, "\n", 2)
			require.Len(t, lines, 2, ev)
			var e struct {
				Type  string `json:"type"`
				Delta struct {
					Type, Text, PartialJSON, StopReason string
				} `json:"delta"`
			}
			data := strings.TrimPrefix(lines[1], "data: ")
			require.NoError(t, json.Unmarshal([]byte(data), &e), data)
			require.Equal(t, "event: "+e.Type, lines[0])
			types = append(types, e.Type)
			var d map[string]any
			_ = json.Unmarshal([]byte(data), &d)
			if delta, ok := d["delta"].(map[string]any); ok {
				if s, ok := delta["text"].(string); ok {
					text += s
				}
				if s, ok := delta["partial_json"].(string); ok {
					args += s
				}
				if s, ok := delta["stop_reason"].(string); ok {
					require.Equal(t, "tool_use", s)
				}
			}
		}
		require.Equal(t, []string{"message_start", "content_block_start", "content_block_delta", "content_block_delta",
			"content_block_stop", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
			"message_delta", "message_stop"}, types, "chunk size %d", size)
		require.Equal(t, "Hello", text)
		require.JSONEq(t, `{"city":"Paris"}`, args)
		require.Equal(t, llm.Usage{InputTokens: 11, OutputTokens: 7, TotalTokens: 18}, tr.Usage())
		require.True(t, tr.Complete())
	}
}

// TestMessagesFromOpenAIResponse: a chat completion and an error become a
// Message and an Anthropic error.
func TestMessagesFromOpenAIResponse(t *testing.T) {
	tr, err := New(llm.OperationMessages, config.Schema{Name: config.SchemaOpenAI}, Options{})
	require.NoError(t, err)
	_, err = tr.Request(&llm.Request{Operation: llm.OperationMessages, Model: "m", Body: []byte(`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}}))
	out, err := tr.ResponseBody([]byte(`{"id":"c","model":"llama","choices":[{"index":0,"message":{"role":"assistant","content":"Hi","tool_calls":[{"id":"k","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":3}}}`), true)
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"c","type":"message","role":"assistant","model":"llama","stop_reason":"max_tokens","stop_sequence":null,
"content":[{"type":"text","text":"Hi"},{"type":"tool_use","id":"k","name":"f","input":{"a":1}}],
"usage":{"input_tokens":2,"output_tokens":2,"cache_creation_input_tokens":0,"cache_read_input_tokens":3}}`, string(out))

	tr, err = New(llm.OperationMessages, config.Schema{Name: config.SchemaOpenAI}, Options{})
	require.NoError(t, err)
	_, err = tr.Request(&llm.Request{Operation: llm.OperationMessages, Model: "m", Body: []byte(`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	require.NoError(t, tr.ResponseHeaders(429, http.Header{"Content-Type": {"application/json"}}))
	out, err = tr.ResponseBody([]byte(`{"error":{"message":"slow down","type":"rate_limit_error"}}`), true)
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`, string(out))
}

func FuzzMessagesFromOpenAIStream(f *testing.F) {
	f.Add([]byte("data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\",\"tool_calls\":[{\"index\":0,\"id\":\"x\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, size uint8) {
		tr, err := New(llm.OperationMessages, config.Schema{Name: config.SchemaOpenAI}, Options{MaxEventBytes: 1 << 16})
		require.NoError(t, err)
		_, err = tr.Request(&llm.Request{Operation: llm.OperationMessages, Model: "m", Stream: true,
			Body: []byte(`{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)})
		require.NoError(t, err)
		require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream"}}))
		step := int(size) + 1
		for i := 0; i < len(data); i += step {
			end := min(i+step, len(data))
			out, err := tr.ResponseBody(data[i:end], end == len(data))
			for _, ev := range strings.Split(string(out), "\n\n") {
				if _, d, ok := strings.Cut(ev, "\ndata: "); ok {
					require.True(t, json.Valid([]byte(d)), "every event is JSON: %s", d)
				}
			}
			if err != nil {
				return
			}
		}
	})
}

// TestReadPlainChunk: the one-pass read takes chunks of text, a finish
// reason or nothing, and leaves every other chunk to encoding/json.
func TestReadPlainChunk(t *testing.T) {
	for _, c := range []struct {
		chunk, text, finish string
		ok                  bool
	}{
		{`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi \"you\""},"logprobs":null,"finish_reason":null}]}`, `"Hi \"you\""`, "", true},
		{`{"choices":[{"delta":{"role":"assistant","content":""}}],"usage":null}`, `""`, "", true},
		{` { "choices" : [ { "delta" : { "content" : "x" } } ] } `, `"x"`, "", true},
		{`{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`, "", "stop", true},
		{`{"choices":[{"delta":{"content":"x"},"finish_reason":"length"}]}`, `"x"`, "length", true},
		{`{"id":"c","choices":[]}`, "", "", true},
		{`{"choices":[],"usage":{"prompt_tokens":1}}`, "", "", false},
		{`{"choices":[{"delta":{"content":"x"}}],"usage":{"prompt_tokens":1}}`, "", "", false},
		{`{"choices":[{"delta":{"content":"x"},"finish_reason":5}]}`, "", "", false},
		{`{"choices":[{"delta":{"content":"x"},"logprobs":{"content":[]}}]}`, "", "", false},
		{`{"choices":[{"delta":{"content":"x","reasoning_content":"r"}}]}`, "", "", false},
		{`{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}`, "", "", false},
		{`{"choices":[{"delta":{"content":null}}]}`, "", "", false},
		{`{"choices":[{"delta":null}]}`, "", "", false},
		{`{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}`, "", "", false},
		{`{"ID":5,"choices":[{"delta":{"content":"x"}}]}`, "", "", false},
		{`{"ID":"c","choices":[{"delta":{"content":"x"}}]}`, "", "", false},
		{`{"id":5,"choices":[{"delta":{"content":"x"}}]}`, "", "", false},
		{`{"Choices":[],"choices":[{"delta":{"content":"x"}}]}`, "", "", false},
		{`{"choices":[{"delta":{"content":"x"}}]`, "", "", false},
		{`{"choices":[{"delta":{"content":"x\u"}}]}`, "", "", false},
		// The last of duplicate members wins, as with encoding/json.
		{`{"choices":[{"delta":{"content":"x"},"finish_reason":"stop","finish_reason":null}],"choices":[{"delta":{"content":"y"}}]}`, `"y"`, "", true},
		{`{"choices":[{"delta":{"content":"x"},"finish_reason":"stop","finish_reason":null}]}`, `"x"`, "", true},
	} {
		got, ok := readPlainChunk([]byte(c.chunk))
		require.Equal(t, c.ok, ok, c.chunk)
		if ok {
			require.Equal(t, c.text, string(got.text), c.chunk)
			require.Equal(t, c.finish, got.finish, c.chunk)
		}
	}
	// The ID and model, escapes resolved; null leaves them as they were.
	got, ok := readPlainChunk([]byte(`{"id":"a\u00e9","id":null,"model":"m","choices":[{"delta":{"role":"assistant","content":""}}]}`))
	require.True(t, ok)
	require.Equal(t, plainChunk{id: "aé", model: "m", text: json.RawMessage(`""`)}, got)
}

// FuzzReadPlainChunk checks the one-pass read against encoding/json's
// reading of chatChunk: a chunk it takes decodes, has no choice or one
// whose delta is the text alone, and the same text and finish reason.
func FuzzReadPlainChunk(f *testing.F) {
	f.Add([]byte(`{"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]}`))
	f.Add([]byte(`{"choices":[{"delta":{"content":"x"},"finish_reason":"stop"}],"usage":null}`))
	f.Add([]byte(`{"Model":null,"choices":[]}`))
	f.Add([]byte(`{"id":"a\u00e9","id":null,"model":"m","model":"n","choices":[]}`))
	f.Fuzz(func(t *testing.T, chunk []byte) {
		got, ok := readPlainChunk(chunk)
		if !ok {
			return
		}
		var c chatChunk
		require.NoError(t, json.Unmarshal(chunk, &c), "%q", chunk)
		require.Equal(t, c.ID, got.id)
		require.Equal(t, c.Model, got.model)
		require.Nil(t, c.Usage)
		require.LessOrEqual(t, len(c.Choices), 1)
		if len(c.Choices) == 0 {
			require.Nil(t, got.text)
			require.Empty(t, got.finish)
			return
		}
		ch := c.Choices[0]
		require.Empty(t, ch.Delta.ReasoningContent)
		require.Empty(t, ch.Delta.ThinkingBlocks)
		require.Empty(t, ch.Delta.ToolCalls)
		if ch.FinishReason == nil {
			require.Empty(t, got.finish)
		} else {
			require.Equal(t, *ch.FinishReason, got.finish)
		}
		if ch.Delta.Content == nil {
			require.Nil(t, got.text)
			return
		}
		var text string
		require.NoError(t, json.Unmarshal(got.text, &text))
		require.Equal(t, *ch.Delta.Content, text)
	})
}

// TestMessagesToOpenAIPlainText: turns of text alone (strings) reach the
// chat completion as they came, escapes and all.
func TestMessagesToOpenAIPlainText(t *testing.T) {
	body := `{"model":"claude","max_tokens":10,"system":"Be \"brief\".","messages":[{"role":"user","content":"Hi\n<there>"},` +
		`{"role":"assistant","content":"Hello \u00e9"},{"role":"user","content":""},{"role":"user","content":[{"type":"text","text":"Bye"}]}]}`
	tr, err := New(llm.OperationMessages, config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"}, Options{})
	require.NoError(t, err)
	up, err := tr.Request(&llm.Request{Operation: llm.OperationMessages, Body: []byte(body), Model: "claude"})
	require.NoError(t, err)
	require.JSONEq(t, `{"model":"claude","max_tokens":10,"messages":[{"role":"system","content":"Be \"brief\"."},{"role":"user","content":"Hi\n<there>"},
		{"role":"assistant","content":"Hello é"},{"role":"user","content":[{"type":"text","text":""}]},{"role":"user","content":[{"type":"text","text":"Bye"}]}]}`, string(up.Body))
	require.Contains(t, string(up.Body), `"content":"Hello \u00e9"`) // copied, not re-encoded
}

// FuzzDecodeMessagesRequest checks the one-pass decoding of a Messages
// request against encoding/json's.
func FuzzDecodeMessagesRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","max_tokens":5,"system":"s","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"text","text":"x"}]}]}`))
	f.Add([]byte(`{"messages":[{"role":"user","Content":"hi"}],"Messages":[]}`))
	f.Add([]byte(`{"messages":[{"role":1}]}`))
	f.Add([]byte(`{"model":"m","max_tokens":5,"stop_sequences":["a",null],"temperature":0.5,"top_p":null,"stream":true,"metadata":{"user_id":"u"},` +
		`"thinking":{"type":"enabled","budget_tokens":2048},"tools":[{"name":"f","description":"d","input_schema":{"type":"object"},"cache_control":null},null],` +
		`"tool_choice":{"type":"tool","name":"f"},"messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"tools":[{"name":"a","description":"x"}],"tools":[{"name":"b"}],"messages":[]}`))
	f.Add([]byte(`{"Tools":[{"NAME":"a"}],"max_tokens":1.5,"temperature":1e400,"system":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		obj, err := jsonobj.Parse(body)
		if err != nil {
			return
		}
		got, gotErr := decodeMessagesRequest(body, obj)
		var want messagesRequest
		wantErr := json.Unmarshal(body, &want)
		require.Equal(t, wantErr == nil, gotErr == nil, "%q: %v / %v", body, wantErr, gotErr)
		if wantErr == nil {
			require.Equal(t, want, got, "%q", body)
		}
	})
}
