package ratelimit

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// BenchmarkCheckAndCharge is one request's work against a token budget:
// the check before it and the charge after, in memory and in a real Redis
// on loopback; p50/p99 are the latencies of the pair.
func BenchmarkCheckAndCharge(b *testing.B) {
	rules, err := Compile([]config.RateLimitRule{{Name: "p/0", Limit: 1 << 62, Window: config.Duration(time.Hour), ResponseCostKey: "tokens",
		Selectors: []config.RateLimitSelector{{Headers: []config.RateLimitHeaderMatch{{Name: "x-user-id", Type: config.RateLimitDistinct}}}}}})
	if err != nil {
		b.Fatal(err)
	}
	req := &Request{Route: "default/r/rule-0", Header: http.Header{"X-User-Id": {"alice"}}}
	cost := func(string) (uint64, bool) { return 17, true }
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			opts := Options{Timeout: time.Second}
			if name == "redis" {
				srv := testenv.StartRedis(b)
				store, err := NewRedis(RedisOptions{URL: srv.URL(), Timeout: time.Second})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = store.Close() })
				opts.Global = store
			}
			l, err := New(opts)
			if err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				began := time.Now()
				t, err := l.Check(context.Background(), rules, req)
				if err != nil {
					b.Fatal(err)
				}
				t.Charge(context.Background(), cost)
				lat = append(lat, time.Since(began))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
