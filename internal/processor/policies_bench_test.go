package processor

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aigw-dev/aigw/internal/config"
)

// BenchmarkClientPolicyCost runs whole requests through the pipeline, no
// network (request headers, body, attempt, a JSON response, finish), with
// no client policy and with an API key plus a per-client token budget in
// memory: the difference of the two sub-benchmarks of one run is what the
// policies cost a request (the budget is checked before and charged
// after).
func BenchmarkClientPolicyCost(b *testing.B) {
	body := []byte(`{"model":"m","messages":[{"role":"system","content":"` + strings.Repeat("be brief. ", 40) +
		`"},{"role":"user","content":"hello there"}],"max_tokens":64}`)
	resp := []byte(`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":2,"total_tokens":122}}`)
	costs := []config.RequestCost{{MetadataKey: "llm_total_token", Type: config.CostTotalToken}}
	for _, tc := range []struct {
		name string
		on   bool
	}{{"none", false}, {"apikey+budget", true}} {
		b.Run(tc.name, func(b *testing.B) {
			rule := config.Rule{Name: "r0",
				Matches:     []config.Match{{Headers: []config.HeaderMatch{{Name: "x-ai-eg-model", Value: "m"}}}},
				BackendRefs: []config.BackendRef{{Backend: "default/a", Weight: 1}}}
			cfg := &config.Config{Version: config.Version,
				Backends: []config.Backend{{Name: "default/a", Schema: config.Schema{Name: config.SchemaOpenAI},
					Endpoints: []config.Endpoint{{Host: "127.0.0.1", Port: 9}}}},
				Routes: []config.Route{{Name: "default/r", RequestCosts: costs, Rules: []config.Rule{rule}}}}
			if tc.on {
				cfg.Gateways = []config.Gateway{{Name: "default/gw"}}
				cfg.Gateways[0].ClientAuth = &config.ClientAuth{Policy: "default/keys", APIKey: &config.APIKeyAuthentication{
					Clients: []config.APIKeyClient{{ID: "team-a", Key: "sk-team-a"}, {ID: "team-b", Key: "sk-team-b"}, {ID: "team-c", Key: "sk-team-c"}},
					Headers: []string{"Authorization"}, ForwardClientIDHeader: "x-team"}}
				cfg.Routes[0].Rules[0].RateLimits = []config.RateLimitRule{{Name: "default/budget/global/0", Limit: 1 << 62,
					Window:          config.Duration(time.Hour),
					Selectors:       []config.RateLimitSelector{{Headers: []config.RateLimitHeaderMatch{{Name: "x-team", Type: config.RateLimitDistinct}}}},
					ResponseCostKey: "llm_total_token"}}
			}
			p := New(Options{AccessLog: slog.New(slog.DiscardHandler)})
			b.Cleanup(p.Close)
			rt, err := p.Compile(cfg)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			client := netip.MustParseAddr("127.0.0.1")
			b.ReportAllocs()
			for b.Loop() {
				h := http.Header{}
				h.Set("Content-Type", "application/json")
				h.Set("Authorization", "Bearer sk-team-b")
				s := rt.Start(RequestInfo{Method: http.MethodPost, Path: "/v1/chat/completions", URI: "/v1/chat/completions",
					Host: "gw", Header: h, Start: time.Now(), RemoteAddr: client})
				if _, err := s.RequestHeaders(); err != nil {
					b.Fatal(err)
				}
				if err := s.RequestBody(body); err != nil {
					b.Fatal(err)
				}
				if _, err := s.NextAttempt(ctx); err != nil {
					b.Fatal(err)
				}
				rh := http.Header{}
				rh.Set("Content-Type", "application/json")
				if err := s.ResponseHeaders(http.StatusOK, rh); err != nil {
					b.Fatal(err)
				}
				if _, err := s.ResponseBody(resp, true); err != nil {
					b.Fatal(err)
				}
				s.Finish(ctx, nil)
			}
		})
	}
}
