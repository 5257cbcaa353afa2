package translator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/providertest"
	"github.com/aigw-dev/aigw/internal/sse"
)

// chatBody4K is a 4 KB chat request: a system prompt, a few turns and a
// tool.
func chatBody4K(stream bool) []byte {
	turn := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 18)
	return fmt.Appendf(nil, `{"model":"m","stream":%t,"max_tokens":256,"messages":[{"role":"system","content":"You are a helpful assistant."},`+
		`{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q}],`+
		`"tools":[{"type":"function","function":{"name":"weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`,
		stream, turn, turn, turn, turn, turn)
}

// BenchmarkTranslation measures one request and its streamed response (20
// events) through each translation: OpenAI passthrough as the baseline,
// Azure OpenAI (a path), Anthropic (both bodies rewritten), Bedrock's
// Converse and Claude on Bedrock (event-stream frames).
func BenchmarkTranslation(b *testing.B) {
	body := chatBody4K(true)
	parsed, err := jsonobj.Parse(body)
	if err != nil {
		b.Fatal(err)
	}
	openAIStream := []byte(strings.Repeat(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"word "}}]}`+"\n\n", 20) +
		`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":900,"completion_tokens":20,"total_tokens":920}}` + "\n\ndata: [DONE]\n\n")
	anthropicStream := []byte(`event: message_start` + "\n" + `data: {"type":"message_start","message":{"id":"msg","model":"m","usage":{"input_tokens":900,"output_tokens":1}}}` + "\n\n" +
		strings.Repeat(`event: content_block_delta`+"\n"+`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"word "}}`+"\n\n", 20) +
		`event: message_delta` + "\n" + `data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":20}}` + "\n\n" +
		`event: message_stop` + "\n" + `data: {"type":"message_stop"}` + "\n\n")
	converse := []providertest.AWSEvent{{Event: "messageStart", Payload: []byte(`{"role":"assistant"}`)}}
	var claudeOnBedrock []providertest.AWSEvent
	sp := sse.Splitter{Limit: 1 << 20}
	_ = sp.Feed(anthropicStream, func(ev []byte) {
		payload, _ := json.Marshal(map[string][]byte{"bytes": sse.Data(ev)})
		claudeOnBedrock = append(claudeOnBedrock, providertest.AWSEvent{Event: "chunk", Payload: payload})
	})
	for range 20 {
		converse = append(converse, providertest.AWSEvent{Event: "contentBlockDelta", Payload: []byte(`{"delta":{"text":"word "},"contentBlockIndex":0}`)})
	}
	converse = append(converse, providertest.AWSEvent{Event: "contentBlockStop", Payload: []byte(`{"contentBlockIndex":0}`)},
		providertest.AWSEvent{Event: "messageStop", Payload: []byte(`{"stopReason":"end_turn"}`)},
		providertest.AWSEvent{Event: "metadata", Payload: []byte(`{"usage":{"inputTokens":900,"outputTokens":20,"totalTokens":920},"metrics":{"latencyMs":100}}`)})
	converseStream, err := providertest.EncodeAWSEvents(converse)
	if err != nil {
		b.Fatal(err)
	}
	claudeStream, err := providertest.EncodeAWSEvents(claudeOnBedrock)
	if err != nil {
		b.Fatal(err)
	}
	geminiStream := []byte(strings.Repeat(`data: {"candidates": [{"content": {"role": "model","parts": [{"text": "word "}]},"index": 0}],"usageMetadata": {"promptTokenCount": 900,"candidatesTokenCount": 5,"totalTokenCount": 905},"modelVersion": "gemini-2.5-flash","responseId": "r1"}`+"\n\n", 20) +
		`data: {"candidates": [{"content": {"role": "model","parts": [{"text": ""}]},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 900,"candidatesTokenCount": 20,"totalTokenCount": 920},"modelVersion": "gemini-2.5-flash","responseId": "r1"}` + "\n\n")
	eventStream := http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}}
	sseStream := http.Header{"Content-Type": {"text/event-stream"}}
	headerBlocks := NewHeaderBlocks() // as the pipeline shares them
	for _, c := range []struct {
		name    string
		schema  config.Schema
		headers http.Header
		stream  []byte
	}{
		{"openai-passthrough", config.Schema{Name: config.SchemaOpenAI}, sseStream, openAIStream},
		{"azure-openai", config.Schema{Name: config.SchemaAzureOpenAI, Version: "2024-10-21"}, sseStream, openAIStream},
		{"anthropic", config.Schema{Name: config.SchemaAnthropic, Prefix: "v1"}, sseStream, anthropicStream},
		{"bedrock-converse", config.Schema{Name: config.SchemaAWSBedrock}, eventStream, converseStream},
		{"aws-anthropic", config.Schema{Name: config.SchemaAWSAnthropic}, eventStream, claudeStream},
		{"gcp-gemini", config.Schema{Name: config.SchemaGCPVertexAI}, sseStream, geminiStream},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				tr, err := New(llm.OperationChat, c.schema, Options{Parsed: parsed, HeaderBlocks: headerBlocks})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Body: body, Model: "m", Stream: true}); err != nil {
					b.Fatal(err)
				}
				if err := tr.ResponseHeaders(200, c.headers.Clone()); err != nil {
					b.Fatal(err)
				}
				for i := 0; i < len(c.stream); i += 512 {
					if _, err := tr.ResponseBody(c.stream[i:min(i+512, len(c.stream))], i+512 >= len(c.stream)); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
