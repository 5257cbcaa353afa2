package httpproxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/ratelimit"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// processCPU is the CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkClientPolicies compares the gateway without client policies,
// with an API key and a per-client token budget in memory, and with the
// budget in Redis (a real redis-server on loopback); compare the
// sub-benchmarks of one run: cpu-ns/op is the process's CPU per request
// (the in-process upstream included, the same in each).
func BenchmarkClientPolicies(b *testing.B) {
	up := benchUpstream(b)
	target, _ := url.Parse(up.URL)
	port, _ := strconv.Atoi(target.Port())
	budget := config.RateLimitRule{Name: "default/budget/global/0", Limit: 1 << 62, Window: config.Duration(time.Hour),
		Selectors:       []config.RateLimitSelector{{Headers: []config.RateLimitHeaderMatch{{Name: "x-team", Type: config.RateLimitDistinct}}}},
		ResponseCostKey: "llm_total_token"}
	auth := &config.ClientAuth{Policy: "default/keys", APIKey: &config.APIKeyAuthentication{
		Clients: []config.APIKeyClient{{ID: "team-a", Key: "sk-team-a"}}, Headers: []string{"Authorization"}, ForwardClientIDHeader: "x-team"}}
	configure := func(withPolicies bool) *config.Config {
		rule := modelRule("m", ref("default/a", 0))
		cfg := &config.Config{Version: config.Version,
			Backends: []config.Backend{{Name: "default/a", Schema: config.Schema{Name: config.SchemaOpenAI}, Endpoints: []config.Endpoint{{Host: target.Hostname(), Port: int32(port)}}}},
			Routes:   []config.Route{{Name: "default/r", RequestCosts: tokenCosts}},
		}
		if withPolicies {
			rule.RateLimits = []config.RateLimitRule{budget}
			cfg.Gateways = []config.Gateway{{Name: "default/gw", ClientAuth: auth}}
		}
		cfg.Routes[0].Rules = []config.Rule{rule}
		return cfg
	}
	run := func(b *testing.B, g *Gateway) {
		b.ReportAllocs()
		start := processCPU()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(benchChat))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer sk-team-a")
				w := httptest.NewRecorder()
				g.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
	for _, tc := range []struct {
		name  string
		redis bool
		on    bool
	}{{"none", false, false}, {"apikey+budget-memory", false, true}, {"apikey+budget-redis", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			opts := Options{}
			if tc.redis {
				srv := testenv.StartRedis(b)
				store, err := ratelimit.NewRedis(ratelimit.RedisOptions{URL: srv.URL(), Timeout: time.Second})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = store.Close() })
				if opts.RateLimiter, err = ratelimit.New(ratelimit.Options{Global: store, Timeout: time.Second}); err != nil {
					b.Fatal(err)
				}
			}
			g := New(opts)
			b.Cleanup(g.Close)
			if err := g.Apply(configure(tc.on)); err != nil {
				b.Fatal(err)
			}
			run(b, g)
		})
	}
}
