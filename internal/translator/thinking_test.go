package translator

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// history is a conversation whose assistant turn carries signed thinking
// (and a redacted block), and whose user parts mark a cache point.
const history = `{"model":"m","max_tokens":100,"messages":[
 {"role":"system","content":[{"type":"text","text":"Long instructions.","cache_control":{"type":"ephemeral"}}]},
 {"role":"user","content":"Weather?"},
 {"role":"assistant","content":"Checking.","thinking_blocks":[{"type":"thinking","thinking":"Use the tool.","signature":"sig-1"},{"type":"redacted_thinking","data":"ENC"}],
  "tool_calls":[{"id":"t1","type":"function","function":{"name":"weather","arguments":"{}"}}]},
 {"role":"tool","tool_call_id":"t1","content":"sunny"},
 {"role":"user","content":[{"type":"text","text":"Long document.","cache_control":{"type":"ephemeral","ttl":"1h"}},{"type":"text","text":"Summarize."}]}]}`

// TestThinkingAndCacheAcrossTurns: signed thinking a client sends back
// (thinking_blocks) returns to Anthropic and to Bedrock first in the
// assistant turn, signature and all; cache_control becomes Anthropic's on
// the block and a Bedrock cache point after it.
func TestThinkingAndCacheAcrossTurns(t *testing.T) {
	tr, err := New(llm.OperationChat, anthropicSchema, Options{})
	require.NoError(t, err)
	up, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "m", Body: []byte(history)})
	require.NoError(t, err)
	var a struct {
		System   []map[string]any `json:"system"`
		Messages []struct {
			Role    string           `json:"role"`
			Content []map[string]any `json:"content"`
		} `json:"messages"`
	}
	require.NoError(t, json.Unmarshal(up.Body, &a))
	require.Equal(t, map[string]any{"type": "ephemeral"}, a.System[0]["cache_control"])
	require.Equal(t, []map[string]any{
		{"type": "thinking", "thinking": "Use the tool.", "signature": "sig-1"},
		{"type": "redacted_thinking", "data": "ENC"},
		{"type": "text", "text": "Checking."},
		{"type": "tool_use", "id": "t1", "name": "weather", "input": map[string]any{}},
	}, a.Messages[1].Content)
	require.Equal(t, map[string]any{"type": "ephemeral", "ttl": "1h"}, a.Messages[2].Content[1]["cache_control"])

	tr, err = New(llm.OperationChat, bedrockSchema, Options{})
	require.NoError(t, err)
	up, err = tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "m", Body: []byte(history)})
	require.NoError(t, err)
	require.JSONEq(t, `{"messages":[
	 {"role":"user","content":[{"text":"Weather?"}]},
	 {"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"Use the tool.","signature":"sig-1"}}},{"reasoningContent":{"redactedContent":"ENC"}},
	  {"text":"Checking."},{"toolUse":{"toolUseId":"t1","name":"weather","input":{}}}]},
	 {"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"sunny"}]}},{"text":"Long document."},{"cachePoint":{"type":"default"}},{"text":"Summarize."}]}],
	 "system":[{"text":"Long instructions."},{"cachePoint":{"type":"default"}}],
	 "inferenceConfig":{"maxTokens":100}}`, string(up.Body))
}

// TestMessagesThinkingToConverse: an Anthropic client's signed thinking
// and cache_control reach Converse through the chat translation.
func TestMessagesThinkingToConverse(t *testing.T) {
	tr, err := New(llm.OperationMessages, config.Schema{Name: config.SchemaAWSBedrock}, Options{})
	require.NoError(t, err)
	up, err := tr.Request(&llm.Request{Operation: llm.OperationMessages, Model: "m", Body: []byte(`{"model":"m","max_tokens":100,"messages":[
	 {"role":"user","content":[{"type":"text","text":"Doc.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Weather?"}]},
	 {"role":"assistant","content":[{"type":"thinking","thinking":"Hmm.","signature":"sig-9"},{"type":"text","text":"Sunny."}]},
	 {"role":"user","content":"Thanks"}]}`)})
	require.NoError(t, err)
	require.JSONEq(t, `{"messages":[
	 {"role":"user","content":[{"text":"Doc."},{"cachePoint":{"type":"default"}},{"text":"Weather?"}]},
	 {"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"Hmm.","signature":"sig-9"}}},{"text":"Sunny."}]},
	 {"role":"user","content":[{"text":"Thanks"}]}],
	 "inferenceConfig":{"maxTokens":100}}`, string(up.Body))
}

// TestGeminiThoughtSignatures: a function call's thought signature rides
// in its call ID to the client and back to Gemini on the call in the next
// turn, streamed or not; the tool result still names the function.
func TestGeminiThoughtSignatures(t *testing.T) {
	tr := geminiTranslator(t, Options{})
	_, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Model: "g", Body: []byte(`{"model":"g","messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}}))
	out, err := tr.ResponseBody([]byte(`{"candidates":[{"index":0,"content":{"role":"model","parts":[{"functionCall":{"name":"weather","args":{}},"thoughtSignature":"c2lnLTE="}]},"finishReason":"STOP"}]}`), true)
	require.NoError(t, err)
	var resp struct {
		Choices []struct {
			Message struct {
				ToolCalls []struct {
					ID string `json:"id"`
				} `json:"tool_calls"`
			} `json:"message"`
		} `json:"choices"`
	}
	require.NoError(t, json.Unmarshal(out, &resp))
	id := resp.Choices[0].Message.ToolCalls[0].ID
	require.Equal(t, "call_1~sig~c2lnLTE=", id)

	stream := geminiTranslator(t, Options{})
	_, err = stream.Request(&llm.Request{Operation: llm.OperationChat, Model: "g", Stream: true, Body: []byte(`{"model":"g","stream":true,"messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	require.NoError(t, stream.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream"}}))
	sout, err := stream.ResponseBody([]byte("data: {\"candidates\":[{\"index\":0,\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"weather\",\"args\":{}},\"thoughtSignature\":\"c2lnLTE=\"}]},\"finishReason\":\"STOP\"}]}\n\n"), true)
	require.NoError(t, err)
	require.Contains(t, string(sout), `"id":"call_1~sig~c2lnLTE="`)

	next := geminiTranslator(t, Options{})
	up, err := next.Request(&llm.Request{Operation: llm.OperationChat, Model: "g", Body: []byte(`{"model":"g","messages":[{"role":"user","content":"hi"},
	 {"role":"assistant","tool_calls":[{"id":"` + id + `","type":"function","function":{"name":"weather","arguments":"{}"}}]},
	 {"role":"tool","tool_call_id":"` + id + `","content":"sunny"}]}`)})
	require.NoError(t, err)
	require.JSONEq(t, `{"contents":[{"role":"user","parts":[{"text":"hi"}]},
	 {"role":"model","parts":[{"functionCall":{"name":"weather","args":{}},"thoughtSignature":"c2lnLTE="}]},
	 {"role":"user","parts":[{"functionResponse":{"name":"weather","response":{"content":"sunny"}}}]}]}`, string(up.Body))
}
