package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// words is how many text events every stream carries.
const words = 20

// streams are the providers' answers, event by event, in each one's wire
// format as its API reference shows it: the same 20 words of text, then
// the finish and the usage.
type streams struct {
	openAI, openAIUsage, anthropic, converse, gemini [][]byte
}

func newStreams() (*streams, error) {
	s := &streams{}
	// What an OpenAI-compatible server (vLLM, OpenAI) sends.
	chunk := func(delta, finish string) []byte {
		return fmt.Appendf(nil, `data: {"id":"chatcmpl-5e1b9a3c8f7d4e2a9b6c1d0e","object":"chat.completion.chunk","created":1765150000,"model":"gpt-bench","choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}]}`+"\n\n", delta, finish)
	}
	s.openAI = append(s.openAI, chunk(`{"role":"assistant","content":""}`, "null"))
	for range words {
		s.openAI = append(s.openAI, chunk(`{"content":"word "}`, "null"))
	}
	s.openAI = append(s.openAI, chunk(`{}`, `"stop"`))
	s.openAIUsage = append(append([][]byte(nil), s.openAI...),
		[]byte(`data: {"id":"chatcmpl-5e1b9a3c8f7d4e2a9b6c1d0e","object":"chat.completion.chunk","created":1765150000,"model":"gpt-bench","choices":[],"usage":{"prompt_tokens":900,"completion_tokens":20,"total_tokens":920}}`+"\n\n"))
	s.openAI = append(s.openAI, []byte("data: [DONE]\n\n"))
	s.openAIUsage = append(s.openAIUsage, []byte("data: [DONE]\n\n"))

	anthropic := func(event, data string) []byte { return []byte("event: " + event + "\ndata: " + data + "\n\n") }
	s.anthropic = append(s.anthropic,
		anthropic("message_start", `{"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-bench","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":900,"output_tokens":1}}}`),
		anthropic("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`))
	for range words {
		s.anthropic = append(s.anthropic, anthropic("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"word "}}`))
	}
	s.anthropic = append(s.anthropic,
		anthropic("content_block_stop", `{"type":"content_block_stop","index":0}`),
		anthropic("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":20}}`),
		anthropic("message_stop", `{"type":"message_stop"}`))

	// Bedrock's ConverseStream: event-stream frames, encoded with the AWS
	// SDK's encoder.
	frame := func(event, payload string) ([]byte, error) {
		var b bytes.Buffer
		err := eventstream.NewEncoder().Encode(&b, eventstream.Message{
			Headers: eventstream.Headers{
				{Name: ":event-type", Value: eventstream.StringValue(event)},
				{Name: ":content-type", Value: eventstream.StringValue("application/json")},
				{Name: ":message-type", Value: eventstream.StringValue("event")},
			},
			Payload: []byte(payload),
		})
		return b.Bytes(), err
	}
	converse := [][2]string{{"messageStart", `{"role":"assistant","p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"}`}}
	for range words {
		converse = append(converse, [2]string{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"word "},"p":"abcdefghijklmnopqrstuvw"}`})
	}
	converse = append(converse,
		[2]string{"contentBlockStop", `{"contentBlockIndex":0,"p":"abcdefghijklmnopqrstuvwxyzABCD"}`},
		[2]string{"messageStop", `{"stopReason":"end_turn","p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"}`},
		[2]string{"metadata", `{"usage":{"inputTokens":900,"outputTokens":20,"totalTokens":920},"metrics":{"latencyMs":100},"p":"abcdefghijklmnopq"}`})
	for _, e := range converse {
		f, err := frame(e[0], e[1])
		if err != nil {
			return nil, err
		}
		s.converse = append(s.converse, f)
	}

	// Vertex AI's streamGenerateContent?alt=sse.
	for i := range words + 1 {
		text, finish, out := "word ", "", i+1
		if i == words {
			text, finish, out = "", `"finishReason": "STOP",`, words
		}
		s.gemini = append(s.gemini, fmt.Appendf(nil, `data: {"candidates": [{"content": {"role": "model","parts": [{"text": %q}]},%s"index": 0}],"usageMetadata": {"promptTokenCount": 900,"candidatesTokenCount": %d,"totalTokenCount": %d},"modelVersion": "gemini-2.5-flash","createTime": "2026-12-07T10:00:00.000000Z","responseId": "Xk9VaePwKcC-nvgPjLnQ4Q0"}`+"\r\n\r\n", text, finish, out, 900+out))
	}
	return s, nil
}

// serveUpstream is the child process of the fake providers: every schema's
// stream by its path, and a Google token endpoint, until standard input
// closes. Each event is written and flushed on its own, gap apart (or the
// whole stream at once with burst), as a model server streams tokens.
func serveUpstream(port string, gap time.Duration, burst bool) error {
	s, err := newStreams()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return err
	}
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		_ = ln.Close()
	}()
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var events [][]byte
		contentType := "text/event-stream"
		switch p := r.URL.Path; {
		case p == "/token":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "ya29.bench", "expires_in": 3600, "token_type": "Bearer"})
			return
		case strings.HasSuffix(p, "/chat/completions"):
			events = s.openAI
			if bytes.Contains(body, []byte(`"include_usage":true`)) {
				events = s.openAIUsage
			}
		case strings.HasSuffix(p, "/messages"):
			events = s.anthropic
		case strings.HasSuffix(p, "/converse-stream"):
			events, contentType = s.converse, "application/vnd.amazon.eventstream"
			if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
				http.Error(w, "unsigned", http.StatusForbidden)
				return
			}
		case strings.HasSuffix(p, ":streamGenerateContent"):
			events = s.gemini
			if r.Header.Get("Authorization") != "Bearer ya29.bench" {
				http.Error(w, "no token", http.StatusUnauthorized)
				return
			}
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentType)
		rc := http.NewResponseController(w)
		if burst {
			_, _ = w.Write(bytes.Join(events, nil))
			return
		}
		for i, ev := range events {
			if i > 0 && gap > 0 {
				time.Sleep(gap)
			}
			_, _ = w.Write(ev)
			_ = rc.Flush()
		}
	})}
	err = srv.Serve(ln)
	if err != nil && !strings.Contains(err.Error(), "use of closed") {
		return err
	}
	return nil
}
