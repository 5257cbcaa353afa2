package translator

import (
	"bytes"
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

// benchTurns are the five turns of the benchmarks' 4 KB requests, as JSON
// strings: user, assistant, user, assistant, user.
func benchTurns() []any {
	turn := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 18)
	return []any{turn, turn, turn, turn, turn}
}

// chatBody4K is a 4 KB chat request: a system prompt, a few turns and a
// tool.
func chatBody4K(stream bool) []byte {
	return fmt.Appendf(nil, `{"model":"m","stream":%t,"max_tokens":256,"messages":[{"role":"system","content":"You are a helpful assistant."},`+
		`{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q}],`+
		`"tools":[{"type":"function","function":{"name":"weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`,
		append([]any{stream}, benchTurns()...)...)
}

// benchInputs are a benchmark's request, parsed as the pipeline parses it,
// and providertest's streams.
func benchInputs(b *testing.B, body []byte) (*jsonobj.Object, *providertest.ChatStreams) {
	b.Helper()
	parsed, err := jsonobj.Parse(body)
	if err != nil {
		b.Fatal(err)
	}
	streams, err := providertest.NewChatStreams()
	if err != nil {
		b.Fatal(err)
	}
	return parsed, streams
}

// BenchmarkTranslation measures one request and its streamed response
// (providertest's chat streams, 20 words) through each translation: OpenAI
// passthrough as the baseline, Azure OpenAI (a path), Anthropic (both
// bodies rewritten), Bedrock's Converse and Claude on Bedrock (event-stream
// frames).
func BenchmarkTranslation(b *testing.B) {
	body := chatBody4K(true)
	parsed, streams := benchInputs(b, body)
	openAIStream, anthropicStream := bytes.Join(streams.OpenAIUsage, nil), bytes.Join(streams.Anthropic, nil)
	converseStream, geminiStream := bytes.Join(streams.Converse, nil), bytes.Join(streams.Gemini, nil)
	claudeStream := bytes.Join(streams.AnthropicOnBedrock, nil)
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

// BenchmarkGeminiEvent measures reading one streamed Gemini event (a text
// delta with its usage), the most frequent work of a Gemini stream.
func BenchmarkGeminiEvent(b *testing.B) {
	streams, err := providertest.NewChatStreams()
	if err != nil {
		b.Fatal(err)
	}
	data := sse.Data(bytes.TrimRight(streams.Gemini[3], "\r\n"))
	var e geminiEvent
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := e.read(data); err != nil || len(e.candidates) != 1 {
			b.Fatal(err)
		}
	}
}

// messagesBody4K is a 4 KB Messages request: a system prompt, a few turns
// and a tool, as chatBody4K.
func messagesBody4K(stream bool) []byte {
	return fmt.Appendf(nil, `{"model":"m","stream":%t,"max_tokens":256,"system":"You are a helpful assistant.","messages":[`+
		`{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q}],`+
		`"tools":[{"name":"weather","description":"Weather of a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}`,
		append([]any{stream}, benchTurns()...)...)
}

// BenchmarkMessagesTranslation measures the Messages front door as
// BenchmarkTranslation measures chat: a 4 KB request and its streamed
// response, to Anthropic (the baseline: the body goes as it came) and to
// each schema it is translated to. The request sub-benchmarks measure
// the request alone, the stream ones the request and its response.
func BenchmarkMessagesTranslation(b *testing.B) {
	body := messagesBody4K(true)
	parsed, streams := benchInputs(b, body)
	eventStream := http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}}
	sseStream := http.Header{"Content-Type": {"text/event-stream"}}
	headerBlocks := NewHeaderBlocks()
	for _, c := range []struct {
		name    string
		schema  config.Schema
		headers http.Header
		stream  []byte
	}{
		{"anthropic", config.Schema{Name: config.SchemaAnthropic, Prefix: "v1"}, sseStream, bytes.Join(streams.Anthropic, nil)},
		{"aws-anthropic", config.Schema{Name: config.SchemaAWSAnthropic}, eventStream, bytes.Join(streams.AnthropicOnBedrock, nil)},
		{"bedrock-converse", config.Schema{Name: config.SchemaAWSBedrock}, eventStream, bytes.Join(streams.Converse, nil)},
		{"gcp-gemini", config.Schema{Name: config.SchemaGCPVertexAI}, sseStream, bytes.Join(streams.Gemini, nil)},
		{"openai", config.Schema{Name: config.SchemaOpenAI}, sseStream, bytes.Join(streams.OpenAIUsage, nil)},
	} {
		newRequest := func(b *testing.B) Translator {
			tr, err := New(llm.OperationMessages, c.schema, Options{Parsed: parsed, HeaderBlocks: headerBlocks, ForceUsage: true})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tr.Request(&llm.Request{Operation: llm.OperationMessages, Body: body, Model: "m", Stream: true}); err != nil {
				b.Fatal(err)
			}
			return tr
		}
		respond := func(b *testing.B, tr Translator) {
			if err := tr.ResponseHeaders(200, c.headers.Clone()); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < len(c.stream); i += 512 {
				if _, err := tr.ResponseBody(c.stream[i:min(i+512, len(c.stream))], i+512 >= len(c.stream)); err != nil {
					b.Fatal(err)
				}
			}
			if !tr.Complete() {
				b.Fatal("the stream did not complete")
			}
		}
		b.Run(c.name+"/request", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				newRequest(b)
			}
		})
		b.Run(c.name+"/stream", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				respond(b, newRequest(b))
			}
		})
	}
}
