package httpproxy

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/providertest"
)

// providerCase is one schema of the provider benchmarks: a gateway whose
// only route goes to an upstream answering that schema's stream, called on
// one of the client endpoints.
type providerCase struct {
	name string
	g    *Gateway
	// front is the client endpoint: /v1/chat/completions or the Messages
	// front door.
	front string
}

// Client endpoints of the provider benchmarks, each with its own
// passthrough baseline.
const (
	chatEndpoint     = "/v1/chat/completions"
	messagesEndpoint = "/anthropic/v1/messages"
)

// providerBody is the benchmarks' streamed 4 KB request to front.
func providerBody(front string) string {
	turn := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 18)
	if front == messagesEndpoint {
		return fmt.Sprintf(`{"model":"m","stream":true,"max_tokens":256,"system":"You are a helpful assistant.","messages":[`+
			`{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q}]}`,
			turn, turn, turn, turn, turn)
	}
	return fmt.Sprintf(`{"model":"m","stream":true,"max_tokens":256,"messages":[{"role":"system","content":"You are a helpful assistant."},`+
		`{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q}]}`,
		turn, turn, turn, turn, turn)
}

// providerCases sets up the gateways of the provider benchmarks: for chat
// completions, OpenAI passthrough (the baseline), Anthropic, Bedrock's
// Converse signed with SigV4 and Vertex AI's Gemini; for the Messages front
// door, Anthropic passthrough (its baseline), Claude on Bedrock, Converse
// and an OpenAI-compatible server. Each upstream answers providertest's
// stream (20 words) from its own process (the CPU time measured is the
// gateway's and its in-process client's).
func providerCases(b *testing.B) []providerCase {
	streams, err := providertest.NewChatStreams()
	if err != nil {
		b.Fatal(err)
	}
	join := func(events [][]byte) string { return string(bytes.Join(events, nil)) }
	openAIStream, anthropicStream, converseStream, geminiStream := join(streams.OpenAI), join(streams.Anthropic), join(streams.Converse), join(streams.Gemini)
	claudeOnBedrockStream, openAIUsageStream := join(streams.AnthropicOnBedrock), join(streams.OpenAIUsage)
	awsAuth := &config.Auth{Policy: "default/aws", Type: config.AuthAWSCredentials, AWS: &config.AWSCredentials{Region: "us-east-1",
		CredentialsFile: "[default]\naws_access_key_id = AKIDBENCH\naws_secret_access_key = bench-secret\n"}}
	// A Google token that is already cached: the benchmark measures the
	// translation, not the token endpoint.
	gcpAuth := &config.Auth{Policy: "default/gcp", Type: config.AuthGCPCredentials, GCP: &config.GCPCredentials{ProjectName: "p", Region: "r"},
		Override: &config.CredentialOverride{Header: "x-aigw-gcp-access-token"}}
	var cases []providerCase
	const sse, eventStream = "text/event-stream", "application/vnd.amazon.eventstream"
	for _, c := range []struct {
		name, front string
		schema      config.Schema
		auth        *config.Auth
		contentType string
		stream      string
	}{
		{"openai-passthrough", chatEndpoint, config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"}, nil, sse, openAIStream},
		{"anthropic", chatEndpoint, config.Schema{Name: config.SchemaAnthropic, Prefix: "v1"}, nil, sse, anthropicStream},
		{"bedrock-converse-sigv4", chatEndpoint, config.Schema{Name: config.SchemaAWSBedrock}, awsAuth, eventStream, converseStream},
		{"gcp-gemini", chatEndpoint, config.Schema{Name: config.SchemaGCPVertexAI}, gcpAuth, sse, geminiStream},
		{"messages-anthropic-passthrough", messagesEndpoint, config.Schema{Name: config.SchemaAnthropic, Prefix: "v1"}, nil, sse, anthropicStream},
		{"messages-aws-anthropic-sigv4", messagesEndpoint, config.Schema{Name: config.SchemaAWSAnthropic}, awsAuth, eventStream, claudeOnBedrockStream},
		{"messages-bedrock-converse-sigv4", messagesEndpoint, config.Schema{Name: config.SchemaAWSBedrock}, awsAuth, eventStream, converseStream},
		{"messages-openai", messagesEndpoint, config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"}, nil, sse, openAIUsageStream},
	} {
		host, port := hostPortOf(startUpstreamProcess(b, c.contentType, []byte(c.stream)))
		cfg := &config.Config{Version: config.Version,
			Backends: []config.Backend{{Name: "default/b", Schema: c.schema, Auth: c.auth, Endpoints: []config.Endpoint{{Host: host, Port: port}}}},
			Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ref("default/b", 0))}}},
		}
		g := New(Options{})
		b.Cleanup(g.Close)
		if err := g.Apply(cfg); err != nil {
			b.Fatal(err)
		}
		cases = append(cases, providerCase{c.name, g, c.front})
	}
	return cases
}

// serveProviderRequest sends the benchmark's request (body, to c's
// endpoint) through c's gateway.
func serveProviderRequest(c providerCase, body string) error {
	req := httptest.NewRequest(http.MethodPost, c.front, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Aigw-Gcp-Access-Token", "ya29.bench")
	w := httptest.NewRecorder()
	c.g.ServeHTTP(w, req)
	end := "[DONE]"
	if c.front == messagesEndpoint {
		end = "message_stop"
	}
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), end) {
		return fmt.Errorf("status %d: %s", w.Code, w.Body)
	}
	return nil
}

// BenchmarkProviders measures a streamed 4 KB request through the gateway
// to each schema's upstream (see providerCases), one schema after the
// other; the ratio to its endpoint's passthrough is the translation's cost
// per request. cpu-µs/op is the process's CPU time (user and system: the
// gateway and its in-process client; the upstreams run apart) per request: the wall time per op of a
// parallel run that waits on sockets is not CPU. BenchmarkProviderCPU
// gives the ratios on a noisy machine.
func BenchmarkProviders(b *testing.B) {
	for _, c := range providerCases(b) {
		body := providerBody(c.front)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			cpuBefore := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := serveProviderRequest(c, body); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64((processCPU()-cpuBefore).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// BenchmarkProviderCPU interleaves the schemas of BenchmarkProviders: each
// iteration sends a round of requests (two clients in parallel) to every
// schema in turn and charges each round's process CPU time to its schema,
// so that a noisy neighbour weighs on all of them alike. It reports each
// translated schema's CPU per request as a ratio to its endpoint's
// passthrough (the first case of the endpoint).
func BenchmarkProviderCPU(b *testing.B) {
	const round = 100
	bodies := map[string]string{chatEndpoint: providerBody(chatEndpoint), messagesEndpoint: providerBody(messagesEndpoint)}
	cases := providerCases(b)
	cpu := make([]time.Duration, len(cases))
	for b.Loop() {
		for i, c := range cases {
			before := processCPU()
			// The schema's label tells its samples apart in a CPU profile
			// (-cpuprofile, then pprof -tagfocus schema=NAME).
			pprof.Do(b.Context(), pprof.Labels("schema", c.name), func(context.Context) {
				var wg sync.WaitGroup
				for range 2 {
					wg.Go(func() {
						for range round / 2 {
							if err := serveProviderRequest(c, bodies[c.front]); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
			})
			cpu[i] += processCPU() - before
		}
	}
	for i, c := range cases {
		b.ReportMetric(float64(cpu[i].Microseconds())/float64(b.N*round), c.name+"-cpu-µs/req")
		if base := slices.IndexFunc(cases, func(p providerCase) bool { return p.front == c.front }); base != i {
			b.ReportMetric(float64(cpu[i])/float64(cpu[base]), c.name+"-cpu-ratio")
		}
	}
}
