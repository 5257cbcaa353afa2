package httpproxy

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/providertest"
)

// providerCase is one schema of the provider benchmarks: a gateway whose
// only route goes to an upstream answering that schema's stream.
type providerCase struct {
	name string
	g    *Gateway
}

// providerBody is the benchmarks' streamed 4 KB chat request.
func providerBody() string {
	turn := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 18)
	return fmt.Sprintf(`{"model":"m","stream":true,"max_tokens":256,"messages":[{"role":"system","content":"You are a helpful assistant."},`+
		`{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q}]}`,
		turn, turn, turn, turn, turn)
}

// providerCases sets up the gateways of the provider benchmarks: OpenAI
// passthrough, Anthropic, Bedrock's Converse signed with SigV4 and Vertex
// AI's Gemini, each upstream answering providertest's chat stream (20
// words) from its own process (the CPU time measured is the gateway's and
// its in-process client's).
func providerCases(b *testing.B) []providerCase {
	streams, err := providertest.NewChatStreams()
	if err != nil {
		b.Fatal(err)
	}
	join := func(events [][]byte) string { return string(bytes.Join(events, nil)) }
	openAIStream, anthropicStream, converseStream, geminiStream := join(streams.OpenAI), join(streams.Anthropic), join(streams.Converse), join(streams.Gemini)
	awsAuth := &config.Auth{Policy: "default/aws", Type: config.AuthAWSCredentials, AWS: &config.AWSCredentials{Region: "us-east-1",
		CredentialsFile: "[default]\naws_access_key_id = AKIDBENCH\naws_secret_access_key = bench-secret\n"}}
	// A Google token that is already cached: the benchmark measures the
	// translation, not the token endpoint.
	gcpAuth := &config.Auth{Policy: "default/gcp", Type: config.AuthGCPCredentials, GCP: &config.GCPCredentials{ProjectName: "p", Region: "r"},
		Override: &config.CredentialOverride{Header: "x-aigw-gcp-access-token"}}
	var cases []providerCase
	for _, c := range []struct {
		name        string
		schema      config.Schema
		auth        *config.Auth
		contentType string
		stream      string
	}{
		{"openai-passthrough", config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"}, nil, "text/event-stream", openAIStream},
		{"anthropic", config.Schema{Name: config.SchemaAnthropic, Prefix: "v1"}, nil, "text/event-stream", anthropicStream},
		{"bedrock-converse-sigv4", config.Schema{Name: config.SchemaAWSBedrock}, awsAuth, "application/vnd.amazon.eventstream", converseStream},
		{"gcp-gemini", config.Schema{Name: config.SchemaGCPVertexAI}, gcpAuth, "text/event-stream", geminiStream},
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
		cases = append(cases, providerCase{c.name, g})
	}
	return cases
}

// serveProviderRequest sends the benchmark's request through g.
func serveProviderRequest(g *Gateway, body string) error {
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Aigw-Gcp-Access-Token", "ya29.bench")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, req)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "[DONE]") {
		return fmt.Errorf("status %d: %s", w.Code, w.Body)
	}
	return nil
}

// BenchmarkProviders measures a streamed 4 KB chat request through the
// gateway to each schema's upstream (see providerCases), one schema after
// the other; the ratio to passthrough is the translation's cost per
// request. cpu-µs/op is the process's CPU time (user and system: the
// gateway and its in-process client; the upstreams run apart) per request: the wall time per op of a
// parallel run that waits on sockets is not CPU. BenchmarkProviderCPU
// gives the ratios on a noisy machine.
func BenchmarkProviders(b *testing.B) {
	body := providerBody()
	for _, c := range providerCases(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			cpuBefore := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := serveProviderRequest(c.g, body); err != nil {
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
// translated schema's CPU per request as a ratio to passthrough's.
func BenchmarkProviderCPU(b *testing.B) {
	const round = 100
	body := providerBody()
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
							if err := serveProviderRequest(c.g, body); err != nil {
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
		if i > 0 {
			b.ReportMetric(float64(cpu[i])/float64(cpu[0]), c.name+"-cpu-ratio")
		}
	}
}
