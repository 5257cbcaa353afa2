package translator

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/providertest"
	"github.com/aigw-dev/aigw/internal/sse"
)

var awsAnthropicSchema = config.Schema{Name: config.SchemaAWSAnthropic}

// anthropicOnBedrock frames an Anthropic SSE file as Bedrock's
// InvokeModelWithResponseStream does: one "chunk" message per event, its
// data base64 in "bytes".
func anthropicOnBedrock(t testing.TB, name string) []byte {
	t.Helper()
	in, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var events []providertest.AWSEvent
	sp := sse.Splitter{Limit: 1 << 20}
	require.NoError(t, sp.Feed(in, func(ev []byte) {
		payload, _ := json.Marshal(map[string]string{"bytes": base64.StdEncoding.EncodeToString(sse.Data(ev))})
		events = append(events, providertest.AWSEvent{Event: "chunk", Payload: payload})
	}))
	b, err := providertest.EncodeAWSEvents(events)
	require.NoError(t, err)
	return b
}

// TestAWSAnthropicChat: a chat completion to Claude on Bedrock is the
// Messages body with the version instead of the model and no stream
// flag, at InvokeModel's path; the streamed answer, chunk messages of
// Anthropic events, translates to the same chunks as Anthropic's own SSE.
func TestAWSAnthropicChat(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "anthropic", "chat_full.openai.json"))
	require.NoError(t, err)
	tr, err := New(llm.OperationChat, awsAnthropicSchema, Options{ModelOverride: "anthropic.claude-sonnet-4-5-20250929-v1:0"})
	require.NoError(t, err)
	up, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Body: body, Model: "claude", Stream: true, IncludeUsage: true})
	require.NoError(t, err)
	require.Equal(t, "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream", up.Path)
	var sent, direct map[string]any
	require.NoError(t, json.Unmarshal(up.Body, &sent))
	want, err := os.ReadFile(filepath.Join("testdata", "anthropic", "chat_full.anthropic.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(want, &direct))
	delete(direct, "model")
	delete(direct, "stream")
	direct["anthropic_version"] = "bedrock-2023-05-31"
	require.Equal(t, direct, sent)

	for _, size := range []int{1, 13, 1 << 20} {
		tr, err := New(llm.OperationChat, awsAnthropicSchema, Options{})
		require.NoError(t, err)
		a := tr.(*openAIToAnthropic)
		a.now = func() time.Time { return time.Unix(1700000000, 0) }
		_, err = tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "m", Stream: true, IncludeUsage: true,
			Body: []byte(`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)})
		require.NoError(t, err)
		require.NoError(t, tr.ResponseHeaders(200, eventStreamHeader.Clone()))
		in := anthropicOnBedrock(t, "anthropic/stream_tools.anthropic.sse")
		var out []byte
		for i := 0; i < len(in); i += size {
			b, err := tr.ResponseBody(in[i:min(i+size, len(in))], i+size >= len(in))
			require.NoError(t, err)
			out = append(out, b...)
		}
		golden(t, "anthropic/stream_tools.openai.sse", out)
		require.Equal(t, llm.Usage{InputTokens: 35, OutputTokens: 42, TotalTokens: 77, CachedInputTokens: 10}, tr.Usage())
	}
}

// TestMessagesToAWSAnthropic: the Messages front door reaches Claude on
// Bedrock: the body loses model and stream; the stream comes back as the
// very events Anthropic sends; count_tokens is Bedrock's CountTokens;
// errors are Anthropic-shaped.
func TestMessagesToAWSAnthropic(t *testing.T) {
	tr, err := New(llm.OperationMessages, awsAnthropicSchema, Options{})
	require.NoError(t, err)
	up, err := tr.Request(&llm.Request{Operation: llm.OperationMessages, Model: "anthropic.claude-3-haiku", Stream: true,
		Body: []byte(`{"model":"anthropic.claude-3-haiku","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	require.Equal(t, "/model/anthropic.claude-3-haiku/invoke-with-response-stream", up.Path)
	require.JSONEq(t, `{"max_tokens":10,"messages":[{"role":"user","content":"hi"}],"anthropic_version":"bedrock-2023-05-31"}`, string(up.Body))
	h := eventStreamHeader.Clone()
	require.NoError(t, tr.ResponseHeaders(200, h))
	require.Equal(t, "text/event-stream", h.Get("Content-Type"))
	in := anthropicOnBedrock(t, "anthropic/stream_tools.anthropic.sse")
	var out []byte
	for i := 0; i < len(in); i += 9 {
		b, err := tr.ResponseBody(in[i:min(i+9, len(in))], i+9 >= len(in))
		require.NoError(t, err)
		out = append(out, b...)
	}
	original, err := os.ReadFile(filepath.Join("testdata", "anthropic", "stream_tools.anthropic.sse"))
	require.NoError(t, err)
	require.Equal(t, string(original), string(out))
	require.Equal(t, llm.Usage{InputTokens: 35, OutputTokens: 42, TotalTokens: 77, CachedInputTokens: 10}, tr.Usage())
	require.True(t, tr.Complete())

	beta, err := New(llm.OperationMessages, awsAnthropicSchema, Options{AnthropicBeta: []string{"context-1m-2025-08-07", "interleaved-thinking-2025-05-14"}})
	require.NoError(t, err)
	up, err = beta.Request(&llm.Request{Operation: llm.OperationMessages, Model: "m", Body: []byte(`{"model":"m","max_tokens":10,"messages":[]}`)})
	require.NoError(t, err)
	require.JSONEq(t, `{"max_tokens":10,"messages":[],"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["context-1m-2025-08-07","interleaved-thinking-2025-05-14"]}`,
		string(up.Body), "the client's anthropic-beta header goes in Bedrock's body")

	ct, err := New(llm.OperationCountTokens, awsAnthropicSchema, Options{})
	require.NoError(t, err)
	up, err = ct.Request(&llm.Request{Operation: llm.OperationCountTokens, Model: "anthropic.claude-3-haiku",
		Body: []byte(`{"model":"anthropic.claude-3-haiku","messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	require.Equal(t, "/model/anthropic.claude-3-haiku/count-tokens", up.Path)
	var wrapped struct {
		Input struct {
			InvokeModel struct {
				Body []byte `json:"body"`
			} `json:"invokeModel"`
		} `json:"input"`
	}
	require.NoError(t, json.Unmarshal(up.Body, &wrapped))
	require.JSONEq(t, `{"messages":[{"role":"user","content":"hi"}],"anthropic_version":"bedrock-2023-05-31"}`, string(wrapped.Input.InvokeModel.Body))
	require.NoError(t, ct.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}}))
	out, err = ct.ResponseBody([]byte(`{"inputTokens":12}`), true)
	require.NoError(t, err)
	require.JSONEq(t, `{"input_tokens":12}`, string(out))

	e, err := New(llm.OperationMessages, awsAnthropicSchema, Options{})
	require.NoError(t, err)
	_, err = e.Request(&llm.Request{Operation: llm.OperationMessages, Model: "m", Body: []byte(`{"model":"m","max_tokens":1,"messages":[]}`)})
	require.NoError(t, err)
	require.NoError(t, e.ResponseHeaders(429, http.Header{"Content-Type": {"application/json"}, "X-Amzn-Errortype": {"ThrottlingException"}}))
	out, err = e.ResponseBody([]byte(`{"message":"Too many requests, please wait before trying again."}`), true)
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"error","error":{"type":"rate_limit_error","message":"Too many requests, please wait before trying again."}}`, string(out))
}

// TestMessagesToConverse: the Messages front door reaches any Bedrock
// model through Converse: a Converse stream becomes Messages events.
func TestMessagesToConverse(t *testing.T) {
	tr, err := New(llm.OperationMessages, bedrockSchema, Options{ModelOverride: "amazon.nova-pro-v1:0"})
	require.NoError(t, err)
	up, err := tr.Request(&llm.Request{Operation: llm.OperationMessages, Model: "claude", Stream: true,
		Body: []byte(`{"model":"claude","max_tokens":64,"stream":true,"system":"Be brief.","messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	require.Equal(t, "/model/amazon.nova-pro-v1%3A0/converse-stream", up.Path)
	require.JSONEq(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"system":[{"text":"Be brief."}],"inferenceConfig":{"maxTokens":64}}`, string(up.Body))
	require.NoError(t, tr.ResponseHeaders(200, eventStreamHeader.Clone()))
	out, err := tr.ResponseBody(bedrockStream(t, "stream_tools.bedrock.jsonl"), true)
	require.NoError(t, err)
	golden(t, "bedrock/stream_tools.messages.sse", out)
	require.Equal(t, llm.Usage{InputTokens: 35, OutputTokens: 42, TotalTokens: 77, CachedInputTokens: 10}, tr.Usage())
	require.Equal(t, "amazon.nova-pro-v1:0", tr.ResponseModel())
	require.True(t, tr.Complete())
}

// FuzzAWSAnthropicStream feeds arbitrary bytes, cut anywhere, to both
// translations of Claude's stream on Bedrock (to chat chunks, and back to
// Messages events): no panic, every chunk JSON, one message held at most.
func FuzzAWSAnthropicStream(f *testing.F) {
	f.Add(anthropicOnBedrock(f, "anthropic/stream_tools.anthropic.sse"), uint8(13), false)
	f.Add(anthropicOnBedrock(f, "anthropic/stream_tools.anthropic.sse"), uint8(200), true)
	f.Fuzz(func(t *testing.T, data []byte, size uint8, messages bool) {
		op, body := llm.OperationChat, `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		if messages {
			op, body = llm.OperationMessages, `{"model":"m","stream":true,"max_tokens":9,"messages":[{"role":"user","content":"hi"}]}`
		}
		tr, err := New(op, awsAnthropicSchema, Options{MaxEventBytes: 1 << 16})
		require.NoError(t, err)
		_, err = tr.Request(&llm.Request{Operation: op, Model: "m", Stream: true, Body: []byte(body)})
		require.NoError(t, err)
		require.NoError(t, tr.ResponseHeaders(200, eventStreamHeader.Clone()))
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
