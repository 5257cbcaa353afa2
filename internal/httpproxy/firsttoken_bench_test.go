package httpproxy

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/providertest"
)

// BenchmarkFirstToken measures, side by side in one run, the time from a
// streamed chat request to its first content chunk at an HTTP client,
// through the gateway to an upstream of each schema that sends its head
// and first token at once and the rest 20 ms later. The difference to
// passthrough is what translation adds to the first token (ttft-µs).
func BenchmarkFirstToken(b *testing.B) {
	aws := func(events ...providertest.AWSEvent) []byte {
		out, err := providertest.EncodeAWSEvents(events)
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	cases := []struct {
		name        string
		schema      config.Schema
		auth        *config.Auth
		contentType string
		first, rest []byte
	}{
		{"openai-passthrough", config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"}, nil, "text/event-stream",
			[]byte(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"}}]}` + "\n\n"),
			[]byte(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n")},
		{"anthropic", config.Schema{Name: config.SchemaAnthropic, Prefix: "v1"}, nil, "text/event-stream",
			[]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"m\",\"usage\":{\"input_tokens\":9}}}\n\n" +
				"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
				"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n"),
			[]byte("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":1}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")},
		{"bedrock-converse", config.Schema{Name: config.SchemaAWSBedrock}, &config.Auth{Policy: "default/aws", Type: config.AuthAWSCredentials,
			AWS: &config.AWSCredentials{Region: "us-east-1", CredentialsFile: "[default]\naws_access_key_id = AKID\naws_secret_access_key = s\n"}},
			"application/vnd.amazon.eventstream",
			aws(providertest.AWSEvent{Event: "messageStart", Payload: []byte(`{"role":"assistant"}`)},
				providertest.AWSEvent{Event: "contentBlockDelta", Payload: []byte(`{"delta":{"text":"Hello"},"contentBlockIndex":0}`)}),
			aws(providertest.AWSEvent{Event: "messageStop", Payload: []byte(`{"stopReason":"end_turn"}`)},
				providertest.AWSEvent{Event: "metadata", Payload: []byte(`{"usage":{"inputTokens":9,"outputTokens":1,"totalTokens":10}}`)})},
		{"gcp-gemini", config.Schema{Name: config.SchemaGCPVertexAI}, &config.Auth{Policy: "default/gcp", Type: config.AuthGCPCredentials,
			GCP: &config.GCPCredentials{ProjectName: "p", Region: "r"}, Override: &config.CredentialOverride{Header: "x-aigw-gcp-access-token"}}, "text/event-stream",
			[]byte(`data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hello"}]},"index":0}]}` + "\n\n"),
			[]byte(`data: {"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":1,"totalTokenCount":10}}` + "\n\n")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.contentType)
				_, _ = w.Write(c.first)
				w.(http.Flusher).Flush()
				select {
				case <-time.After(20 * time.Millisecond):
				case <-r.Context().Done():
					return
				}
				_, _ = w.Write(c.rest)
			}))
			b.Cleanup(up.Close)
			host, port := hostPortOf(up.URL)
			g := New(Options{})
			b.Cleanup(g.Close)
			if err := g.Apply(&config.Config{Version: config.Version,
				Backends: []config.Backend{{Name: "default/b", Schema: c.schema, Auth: c.auth, Endpoints: []config.Endpoint{{Host: host, Port: port}}}},
				Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ref("default/b", 0))}}},
			}); err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(g)
			b.Cleanup(srv.Close)
			var total time.Duration
			for b.Loop() {
				ctx, cancel := context.WithCancel(context.Background())
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/chat/completions",
					strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Aigw-Gcp-Access-Token", "ya29.bench")
				start := time.Now()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				sc := bufio.NewScanner(resp.Body)
				found := false
				for !found && sc.Scan() {
					data, ok := strings.CutPrefix(sc.Text(), "data: ")
					if !ok {
						continue
					}
					var chunk struct {
						Choices []struct {
							Delta struct {
								Content string `json:"content"`
							} `json:"delta"`
						} `json:"choices"`
					}
					if json.Unmarshal([]byte(data), &chunk) == nil && len(chunk.Choices) > 0 && chunk.Choices[0].Delta.Content == "Hello" {
						found = true
					}
				}
				total += time.Since(start)
				if !found {
					b.Fatalf("no first token: %v", sc.Err())
				}
				cancel()
				_ = resp.Body.Close()
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "ttft-µs")
		})
	}
}
