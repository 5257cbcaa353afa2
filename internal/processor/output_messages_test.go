package processor

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOutputMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		sse  bool
		want map[string]string
	}{{
		name: "openai",
		body: `{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}]}`,
		want: map[string]string{"0.message.role": "assistant", "0.message.content": "Hi there",
			"0.message.tool_calls.0.tool_call.id": "call_1", "0.message.tool_calls.0.tool_call.function.name": "get",
			"0.message.tool_calls.0.tool_call.function.arguments": `{"a":1}`},
	}, {
		name: "openai stream, two choices and streamed tool arguments, the last event cut",
		sse:  true,
		body: "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}},{\"index\":1,\"delta\":{\"role\":\"assistant\"}}]}\n\n" +
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}},{\"index\":1,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\"\"}}]}}]}\r\n\r\n" +
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}},{\"index\":1,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":2}\"}}]}}]}\n\n" +
			"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\ndata: [DONE]\n\n" +
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"cut",
		want: map[string]string{"0.message.role": "assistant", "0.message.content": "Hello", "1.message.role": "assistant",
			"1.message.tool_calls.0.tool_call.id": "c1", "1.message.tool_calls.0.tool_call.function.name": "f",
			"1.message.tool_calls.0.tool_call.function.arguments": `{"x":2}`},
	}, {
		name: "anthropic",
		body: `{"id":"msg","type":"message","role":"assistant","content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"Hi"},{"type":"tool_use","id":"tu","name":"get","input":{"q":"x"}}]}`,
		want: map[string]string{"0.message.role": "assistant", "0.message.content": "Hi",
			"0.message.tool_calls.0.tool_call.id": "tu", "0.message.tool_calls.0.tool_call.function.name": "get",
			"0.message.tool_calls.0.tool_call.function.arguments": `{"q":"x"}`},
	}, {
		name: "anthropic stream",
		sse:  true,
		body: "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"role\":\"assistant\",\"content\":[]}}\n\n" +
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \"}}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"you\"}}\n\n" +
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"tu\",\"name\":\"get\",\"input\":{}}}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\":\"}}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n" +
			"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
		want: map[string]string{"0.message.role": "assistant", "0.message.content": "Hi you",
			"0.message.tool_calls.0.tool_call.id": "tu", "0.message.tool_calls.0.tool_call.function.name": "get",
			"0.message.tool_calls.0.tool_call.function.arguments": `{"q":1}`},
	}, {
		name: "not a chat response",
		body: `{"error":{"message":"nope"}}`,
		want: map[string]string{},
	}, {
		name: "not JSON",
		body: `<html>`,
		want: map[string]string{},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for _, kv := range outputMessages([]byte(tc.body), tc.sse) {
				got[strings.TrimPrefix(string(kv.Key), "llm.output_messages.")] = kv.Value.AsString()
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// TestOutputMessagesBounded: a client's response with more choices and
// tool calls than a span records keeps to the bounds.
func TestOutputMessagesBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"choices":[`)
	for i := range 200 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"index":` + strconv.Itoa(i) + `,"message":{"role":"assistant","tool_calls":[`)
		for j := range 40 {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"index":` + strconv.Itoa(j) + `,"function":{"name":"f"}}`)
		}
		b.WriteString(`]}}`)
	}
	b.WriteString(`]}`)
	attrs := outputMessages([]byte(b.String()), false)
	require.Len(t, attrs, maxTracedMessages*(1+maxTracedToolCalls))
}

// FuzzOutputMessages: any response, whole or streamed, gives attributes
// within the bounds and no panic.
func FuzzOutputMessages(f *testing.F) {
	f.Add([]byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"x"}}]}`), false)
	f.Add([]byte("data: {\"choices\":[{\"index\":3,\"delta\":{\"tool_calls\":[{\"index\":2,\"function\":{\"arguments\":\"{\"}}]}}]}\n\n"), true)
	f.Add([]byte("data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1\"}}\n"), true)
	f.Fuzz(func(t *testing.T, body []byte, sse bool) {
		attrs := outputMessages(body, sse)
		if len(attrs) > maxTracedMessages*(2+3*maxTracedToolCalls) {
			t.Fatalf("%d attributes", len(attrs))
		}
		for _, kv := range attrs {
			if len(kv.Value.AsString()) > maxTracedContent {
				t.Fatalf("%s: %d bytes", kv.Key, len(kv.Value.AsString()))
			}
		}
	})
}
