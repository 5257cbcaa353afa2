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
	"github.com/aigw-dev/aigw/internal/providertest"
)

var bedrockSchema = config.Schema{Name: config.SchemaAWSBedrock}

func bedrockTranslator(t testing.TB, opts Options) *openAIToBedrock {
	t.Helper()
	tr, err := New(llm.OperationChat, bedrockSchema, opts)
	require.NoError(t, err)
	b := tr.(*openAIToBedrock)
	b.now = func() time.Time { return time.Unix(1700000000, 0) }
	return b
}

// bedrockStream is the golden stream's events, framed.
func bedrockStream(t testing.TB, name string) []byte {
	t.Helper()
	events, err := providertest.ReadAWSEvents(filepath.Join("testdata", "bedrock", name))
	require.NoError(t, err)
	b, err := providertest.EncodeAWSEvents(events)
	require.NoError(t, err)
	return b
}

var eventStreamHeader = http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}, "X-Amzn-Requestid": {"req-1"}}

// TestBedrockRequest: a chat completion using every translated feature
// (system and developer prompts, a data-URL image, tool calls and their
// results merged into the user turn, stop, max tokens, tools with a
// forced choice, reasoning for a non-Claude model, the user) becomes the
// Converse request of the golden file; a vendor field (top_k) goes to
// additionalModelRequestFields; the model (an ID with a colon) is escaped
// in the path.
func TestBedrockRequest(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "bedrock", "chat_full.openai.json"))
	require.NoError(t, err)
	tr := bedrockTranslator(t, Options{ModelOverride: "us.amazon.nova-pro-v1:0"})
	up, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Body: body, Model: "nova", Stream: true})
	require.NoError(t, err)
	require.Equal(t, "/model/us.amazon.nova-pro-v1%3A0/converse-stream", up.Path)
	golden(t, "bedrock/chat_full.bedrock.json", indentJSON(t, up.Body))

	up, err = bedrockTranslator(t, Options{}).Request(&llm.Request{Operation: llm.OperationChat, Model: "arn:aws:bedrock:us-east-1:1:inference-profile/x",
		Body: []byte(`{"model":"arn:aws:bedrock:us-east-1:1:inference-profile/x","messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	require.Equal(t, "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fx/converse", up.Path)
	require.JSONEq(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`, string(up.Body))
}

// TestBedrockRequestClaudeThinking: for a Claude model reasoning_effort is
// Anthropic's thinking budget, with max tokens above it.
func TestBedrockRequestClaudeThinking(t *testing.T) {
	up, err := bedrockTranslator(t, Options{}).Request(&llm.Request{Operation: llm.OperationChat, Model: "anthropic.claude-sonnet-4-5-v1:0",
		Body: []byte(`{"model":"anthropic.claude-sonnet-4-5-v1:0","max_tokens":500,"reasoning_effort":"medium","messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	require.JSONEq(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":2548},
		"additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":2048}}}`, string(up.Body))
}

// TestBedrockRequestRefusals: what Converse cannot honour is refused with
// the field named, never dropped.
func TestBedrockRequestRefusals(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		param      string
	}{
		{"n", `{"model":"m","messages":[{"role":"user","content":"hi"}],"n":2}`, 422, "n"},
		{"participant name", `{"model":"m","messages":[{"role":"user","content":"hi","name":"alice"}]}`, 422, "messages[0].name"},
		{"logprobs", `{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true}`, 422, "logprobs"},
		{"image URL", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}`, 422, "messages[0].content[0].image_url.url"},
		{"image type", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,AA=="}}]}]}`, 422, "messages[0].content[0].image_url.url"},
		{"parallel off", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":false}`, 422, "parallel_tool_calls"},
		{"none with tool history", `{"model":"m","tool_choice":"none","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"x"}]}`, 422, "tool_choice"},
		{"json with tools", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"response_format":{"type":"json_object"}}`, 422, "response_format"},
		{"claude thinking with temperature", `{"model":"anthropic.claude-3-7-sonnet","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"low","temperature":0.3}`, 422, "temperature"},
		{"late system", `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"system","content":"x"}]}`, 422, "messages[1].role"},
		{"bad tool_choice", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tool_choice":"sometimes"}`, 400, "tool_choice"},
		{"no messages", `{"model":"m","messages":[]}`, 400, "messages"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model := "m"
			if strings.Contains(tc.body, "claude") {
				model = "anthropic.claude-3-7-sonnet"
			}
			_, err := bedrockTranslator(t, Options{}).Request(&llm.Request{Operation: llm.OperationChat, Body: []byte(tc.body), Model: model})
			var e *apierror.Error
			require.True(t, errors.As(err, &e), "%v", err)
			require.Equal(t, tc.status, e.Status, e.Message)
			require.Equal(t, tc.param, e.Param)
		})
	}
	up, err := bedrockTranslator(t, Options{}).Request(&llm.Request{Operation: llm.OperationChat, Model: "m",
		Body: []byte(`{"model":"m","tool_choice":"none","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	require.NotContains(t, string(up.Body), "toolConfig", `"none" offers no tool`)
}

// TestBedrockResponse: a Converse response (reasoning, text, two tool
// calls) becomes a chat completion; usage counts cached input.
func TestBedrockResponse(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "bedrock", "response_tools.bedrock.json"))
	require.NoError(t, err)
	tr := bedrockTranslator(t, Options{})
	_, err = tr.Request(&llm.Request{Operation: llm.OperationChat, Body: []byte(`{"model":"nova","messages":[{"role":"user","content":"hi"}]}`), Model: "nova"})
	require.NoError(t, err)
	h := http.Header{"Content-Type": {"application/json"}, "Content-Length": {"500"}, "X-Amzn-Requestid": {"req-1"}}
	require.NoError(t, tr.ResponseHeaders(200, h))
	require.Empty(t, h.Get("Content-Length"))
	var out []byte
	for i := 0; i < len(in); i += 40 {
		b, err := tr.ResponseBody(in[i:min(i+40, len(in))], i+40 >= len(in))
		require.NoError(t, err)
		out = append(out, b...)
	}
	golden(t, "bedrock/response_tools.openai.json", indentJSON(t, out))
	require.Equal(t, llm.Usage{InputTokens: 40, OutputTokens: 42, TotalTokens: 82, CachedInputTokens: 10, CacheCreationInputTokens: 5}, tr.Usage())
	require.Equal(t, "nova", tr.ResponseModel())
	require.True(t, tr.Complete())
}

// TestBedrockStream feeds a ConverseStream in chunks of every size: the
// OpenAI chunks are those of the golden file whatever the framing.
func TestBedrockStream(t *testing.T) {
	in := bedrockStream(t, "stream_tools.bedrock.jsonl")
	var first []byte
	for _, size := range []int{1, 7, 64, len(in)} {
		tr := bedrockTranslator(t, Options{})
		_, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "nova", Stream: true, IncludeUsage: true,
			Body: []byte(`{"model":"nova","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)})
		require.NoError(t, err)
		h := eventStreamHeader.Clone()
		require.NoError(t, tr.ResponseHeaders(200, h))
		require.Equal(t, "text/event-stream", h.Get("Content-Type"))
		var out []byte
		for i := 0; i < len(in); i += size {
			b, err := tr.ResponseBody(in[i:min(i+size, len(in))], i+size >= len(in))
			require.NoError(t, err)
			out = append(out, b...)
		}
		if first == nil {
			first = out
			golden(t, "bedrock/stream_tools.openai.sse", out)
		}
		require.Equal(t, string(first), string(out), "chunk size %d", size)
		require.Equal(t, llm.Usage{InputTokens: 35, OutputTokens: 42, TotalTokens: 77, CachedInputTokens: 10}, tr.Usage())
		require.True(t, tr.Complete())
	}
}

// TestBedrockStructuredOutput: a JSON schema response_format is a forced
// tool; its input streams back as content.
func TestBedrockStructuredOutput(t *testing.T) {
	tr := bedrockTranslator(t, Options{})
	up, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "m", Stream: true, Body: []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"Paris?"}],
		"response_format":{"type":"json_schema","json_schema":{"name":"city","schema":{"type":"object"}}}}`)})
	require.NoError(t, err)
	require.Contains(t, string(up.Body), `"toolChoice":{"tool":{"name":"city"}}`)
	require.NoError(t, tr.ResponseHeaders(200, eventStreamHeader.Clone()))
	stream, err := providertest.EncodeAWSEvents([]providertest.AWSEvent{
		{Event: "messageStart", Payload: json.RawMessage(`{"role":"assistant"}`)},
		{Event: "contentBlockStart", Payload: json.RawMessage(`{"start":{"toolUse":{"toolUseId":"t","name":"city"}},"contentBlockIndex":0}`)},
		{Event: "contentBlockDelta", Payload: json.RawMessage(`{"delta":{"toolUse":{"input":"{\"name\":"}},"contentBlockIndex":0}`)},
		{Event: "contentBlockDelta", Payload: json.RawMessage(`{"delta":{"toolUse":{"input":"\"Paris\"}"}},"contentBlockIndex":0}`)},
		{Event: "messageStop", Payload: json.RawMessage(`{"stopReason":"tool_use"}`)},
		{Event: "metadata", Payload: json.RawMessage(`{"usage":{"inputTokens":3,"outputTokens":4}}`)},
	})
	require.NoError(t, err)
	out, err := tr.ResponseBody(stream, true)
	require.NoError(t, err)
	require.Equal(t, `{"name":"Paris"}`, streamedContent(t, out))
	require.Contains(t, string(out), `"finish_reason":"stop"`)
	require.NotContains(t, string(out), "tool_calls")
}

// streamedContent joins the content deltas of an OpenAI chunk stream.
func streamedContent(t *testing.T, out []byte) string {
	t.Helper()
	var content strings.Builder
	for _, ev := range strings.Split(string(out), "\n\n") {
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		require.NoError(t, json.Unmarshal([]byte(data), &c), data)
		for _, ch := range c.Choices {
			content.WriteString(ch.Delta.Content)
		}
	}
	return content.String()
}

// TestBedrockErrors: an error status keeps the exception's name and
// message in OpenAI's shape; an exception in the stream ends it with the
// mapped status; a stream cut before messageStop, a corrupted frame and
// an oversized frame are failures.
func TestBedrockErrors(t *testing.T) {
	tr := bedrockTranslator(t, Options{})
	require.NoError(t, tr.ResponseHeaders(400, http.Header{"Content-Type": {"application/json"},
		"X-Amzn-Errortype": {"ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"}}))
	out, err := tr.ResponseBody([]byte(`{"message":"The provided model identifier is invalid."}`), true)
	require.NoError(t, err)
	require.JSONEq(t, `{"error":{"message":"The provided model identifier is invalid.","type":"ValidationException","param":null,"code":null}}`, string(out))

	stream := func(opts Options) *openAIToBedrock {
		tr := bedrockTranslator(t, opts)
		_, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "m", Stream: true, Body: []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)})
		require.NoError(t, err)
		require.NoError(t, tr.ResponseHeaders(200, eventStreamHeader.Clone()))
		return tr
	}
	frames, err := providertest.EncodeAWSEvents([]providertest.AWSEvent{
		{Event: "messageStart", Payload: json.RawMessage(`{"role":"assistant"}`)},
		{Event: "contentBlockDelta", Payload: json.RawMessage(`{"delta":{"text":"Hel"},"contentBlockIndex":0}`)},
		{Exception: "throttlingException", Payload: json.RawMessage(`{"message":"Too many tokens, please wait."}`)},
	})
	require.NoError(t, err)
	out, err = stream(Options{}).ResponseBody(frames, false)
	var e *apierror.Error
	require.True(t, errors.As(err, &e), "%v", err)
	require.Equal(t, http.StatusTooManyRequests, e.Status)
	require.Equal(t, "Bedrock: Too many tokens, please wait.", e.Message)
	require.Equal(t, "Hel", streamedContent(t, out), "the chunks before the exception go out")

	start, err := providertest.EncodeAWSEvents([]providertest.AWSEvent{{Event: "messageStart", Payload: json.RawMessage(`{"role":"assistant"}`)}})
	require.NoError(t, err)
	_, err = stream(Options{}).ResponseBody(start, true)
	require.ErrorContains(t, err, "before messageStop")

	corrupt := bytes.Clone(start)
	corrupt[len(corrupt)-1] ^= 0xff // the message CRC
	_, err = stream(Options{}).ResponseBody(corrupt, false)
	require.ErrorIs(t, err, errFrame)

	_, err = stream(Options{MaxEventBytes: 32}).ResponseBody(start, false)
	require.ErrorContains(t, err, "limit 32")
}

// TestTitanEmbeddings: an OpenAI embedding request of one text becomes a
// Titan InvokeModel; the vector comes back as floats or base64.
func TestTitanEmbeddings(t *testing.T) {
	for _, format := range []string{"float", "base64"} {
		tr, err := New(llm.OperationEmbeddings, bedrockSchema, Options{})
		require.NoError(t, err)
		up, err := tr.Request(&llm.Request{Operation: llm.OperationEmbeddings, Model: "amazon.titan-embed-text-v2:0",
			Body: []byte(`{"model":"amazon.titan-embed-text-v2:0","input":["hello"],"dimensions":256,"encoding_format":"` + format + `"}`)})
		require.NoError(t, err)
		require.Equal(t, "/model/amazon.titan-embed-text-v2%3A0/invoke", up.Path)
		require.JSONEq(t, `{"inputText":"hello","dimensions":256}`, string(up.Body))
		require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}}))
		out, err := tr.ResponseBody([]byte(`{"embedding":[0.5,-1],"inputTextTokenCount":2}`), true)
		require.NoError(t, err)
		vec := `[0.5,-1]`
		if format == "base64" {
			vec = `"AAAAPwAAgL8="`
		}
		require.JSONEq(t, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":`+vec+`}],"model":"amazon.titan-embed-text-v2:0","usage":{"prompt_tokens":2,"total_tokens":2}}`, string(out))
		require.Equal(t, llm.Usage{InputTokens: 2, TotalTokens: 2}, tr.Usage())
	}
	tr, err := New(llm.OperationEmbeddings, bedrockSchema, Options{})
	require.NoError(t, err)
	_, err = tr.Request(&llm.Request{Operation: llm.OperationEmbeddings, Model: "t", Body: []byte(`{"model":"t","input":["a","b"]}`)})
	var e *apierror.Error
	require.True(t, errors.As(err, &e))
	require.Equal(t, "input", e.Param)
}

func FuzzBedrockStream(f *testing.F) {
	f.Add(bedrockStream(f, "stream_tools.bedrock.jsonl"), uint8(13))
	f.Fuzz(func(t *testing.T, data []byte, size uint8) {
		tr := bedrockTranslator(t, Options{MaxEventBytes: 1 << 16})
		_, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "m", Stream: true, IncludeUsage: true,
			Body: []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)})
		require.NoError(t, err)
		require.NoError(t, tr.ResponseHeaders(200, eventStreamHeader.Clone()))
		step := int(size) + 1
		for i := 0; i < len(data); i += step {
			end := min(i+step, len(data))
			out, err := tr.ResponseBody(data[i:end], end == len(data))
			requireJSONChunks(t, out)
			require.LessOrEqual(t, cap(tr.frames.buf), 2*(1<<16)+2*step, "at most one message is held")
			if err != nil {
				return
			}
		}
	})
}

// requireJSONChunks checks that every data event of a translated stream is
// JSON.
func requireJSONChunks(t *testing.T, out []byte) {
	t.Helper()
	for _, line := range bytes.Split(out, []byte("\n")) {
		if p, ok := bytes.CutPrefix(line, []byte("data: ")); ok && len(p) > 0 && p[0] == '{' {
			require.True(t, json.Valid(p), "every chunk is JSON: %s", p)
		}
	}
}
