package providertest

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// StreamWords is how many text events every stream of [ChatStreams]
// carries.
const StreamWords = 20

// ChatStreams are the streamed answers of the providers' chat APIs to one
// request, event by event, each in its wire format as the provider sends
// it (IDs, timestamps, padding and per-event usage included): the same
// StreamWords words of text, then the finish and the usage. The benchmarks
// compare translations with passthrough over them.
type ChatStreams struct {
	// OpenAI is an OpenAI-compatible server's (vLLM's, OpenAI's)
	// chat.completion.chunk events, ending with [DONE]; OpenAIUsage the
	// same as stream_options.include_usage makes them: a null usage in each
	// chunk, then the usage-only chunk.
	OpenAI, OpenAIUsage [][]byte
	// Anthropic is the Messages API's typed events.
	Anthropic [][]byte
	// AnthropicOnBedrock is Claude's InvokeModelWithResponseStream on
	// Bedrock: event-stream "chunk" messages, each carrying one of
	// Anthropic's events (its data) base64-encoded.
	AnthropicOnBedrock [][]byte
	// Converse is Bedrock's ConverseStream: event-stream messages, each
	// with the "p" padding field Bedrock adds to hide the text's length.
	Converse [][]byte
	// Gemini is Vertex AI's streamGenerateContent?alt=sse events.
	Gemini [][]byte
}

// NewChatStreams returns the streams, model named as the client asked.
func NewChatStreams() (*ChatStreams, error) {
	s := &ChatStreams{}
	chunk := func(delta, finish, usage string) []byte {
		return fmt.Appendf(nil, `data: {"id":"chatcmpl-5e1b9a3c8f7d4e2a9b6c1d0e","object":"chat.completion.chunk","created":1765150000,"model":"m","choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}]%s}`+"\n\n", delta, finish, usage)
	}
	// With usage asked for, every chunk has a null usage, as OpenAI sends
	// it, before the usage-only chunk.
	for _, usage := range []string{"", `,"usage":null`} {
		chunks := [][]byte{chunk(`{"role":"assistant","content":""}`, "null", usage)}
		for range StreamWords {
			chunks = append(chunks, chunk(`{"content":"word "}`, "null", usage))
		}
		chunks = append(chunks, chunk(`{}`, `"stop"`, usage))
		if usage == "" {
			s.OpenAI = chunks
		} else {
			s.OpenAIUsage = chunks
		}
	}
	s.OpenAIUsage = append(s.OpenAIUsage,
		[]byte(`data: {"id":"chatcmpl-5e1b9a3c8f7d4e2a9b6c1d0e","object":"chat.completion.chunk","created":1765150000,"model":"m","choices":[],"usage":{"prompt_tokens":900,"completion_tokens":20,"total_tokens":920}}`+"\n\n"))
	s.OpenAI = append(s.OpenAI, []byte("data: [DONE]\n\n"))
	s.OpenAIUsage = append(s.OpenAIUsage, []byte("data: [DONE]\n\n"))

	anthropic := func(event, data string) []byte { return []byte("event: " + event + "\ndata: " + data + "\n\n") }
	s.Anthropic = append(s.Anthropic,
		anthropic("message_start", `{"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":900,"output_tokens":1}}}`),
		anthropic("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`))
	for range StreamWords {
		s.Anthropic = append(s.Anthropic, anthropic("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"word "}}`))
	}
	s.Anthropic = append(s.Anthropic,
		anthropic("content_block_stop", `{"type":"content_block_stop","index":0}`),
		anthropic("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":20}}`),
		anthropic("message_stop", `{"type":"message_stop"}`))

	for _, ev := range s.Anthropic {
		_, data, _ := bytes.Cut(bytes.TrimSuffix(ev, []byte("\n\n")), []byte("\ndata: "))
		payload, err := json.Marshal(map[string][]byte{"bytes": data})
		if err != nil {
			return nil, err
		}
		f, err := EncodeAWSEvents([]AWSEvent{{Event: "chunk", Payload: payload}})
		if err != nil {
			return nil, err
		}
		s.AnthropicOnBedrock = append(s.AnthropicOnBedrock, f)
	}

	converse := []AWSEvent{{Event: "messageStart", Payload: []byte(`{"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS","role":"assistant"}`)}}
	for range StreamWords {
		converse = append(converse, AWSEvent{Event: "contentBlockDelta", Payload: []byte(`{"contentBlockIndex":0,"delta":{"text":"word "},"p":"abcdefghijklmnopqrstuvw"}`)})
	}
	converse = append(converse,
		AWSEvent{Event: "contentBlockStop", Payload: []byte(`{"contentBlockIndex":0,"p":"abcdefghijklmnopqrstuvwxyzABCD"}`)},
		AWSEvent{Event: "messageStop", Payload: []byte(`{"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ","stopReason":"end_turn"}`)},
		AWSEvent{Event: "metadata", Payload: []byte(`{"metrics":{"latencyMs":100},"p":"abcdefghijklmnopq","usage":{"inputTokens":900,"outputTokens":20,"totalTokens":920}}`)})
	for _, e := range converse {
		f, err := EncodeAWSEvents([]AWSEvent{e})
		if err != nil {
			return nil, err
		}
		s.Converse = append(s.Converse, f)
	}

	for i := range StreamWords + 1 {
		text, finish, out := "word ", "", i+1
		if i == StreamWords {
			text, finish, out = "", `"finishReason": "STOP",`, StreamWords
		}
		s.Gemini = append(s.Gemini, fmt.Appendf(nil, `data: {"candidates": [{"content": {"role": "model","parts": [{"text": %q}]},%s"index": 0}],"usageMetadata": {"promptTokenCount": 900,"candidatesTokenCount": %d,"totalTokenCount": %d},"modelVersion": "gemini-2.5-flash","createTime": "2026-12-07T10:00:00.000000Z","responseId": "Xk9VaePwKcC-nvgPjLnQ4Q0"}`+"\r\n\r\n",
			text, finish, out, 900+out))
	}
	return s, nil
}
