package scheduler

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aigw-dev/aigw/internal/flowcontrol"
)

// BenchmarkPick is one decision of the default profile over 256 endpoints
// with fresh metrics and a 2 KB prompt whose prefix the index has seen
// (issue #5 target: ≤ 20 µs). The baseline sub-benchmark is the gateway's
// least-request-only profile on the same endpoints; default+flowcontrol
// adds flow control's admission (GAIE's flowControl gate) before each pick.
func BenchmarkPick(b *testing.B) {
	const n = 256
	prompt := strings.Repeat("You are a careful assistant; answer in JSON. ", 46)[:2048]
	profiles := map[string]Profile{
		"default":      DefaultProfile(),
		"leastrequest": {Scorers: []WeightedScorer{{Scorer: LeastRequestScorer{}}}, Fallbacks: 2},
	}
	profiles["default+flowcontrol"] = DefaultProfile()
	for _, name := range []string{"default", "leastrequest", "default+flowcontrol"} {
		b.Run(name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Profile = profiles[name]
			if strings.HasSuffix(name, "+flowcontrol") {
				// Admit before each pick: the unsaturated pool's fast path.
				cfg.FlowControl = &flowcontrol.Config{}
			}
			addrs := make([]string, n)
			for i := range addrs {
				addrs[i] = fmt.Sprintf("10.0.%d.%d:8000", i/250, i%250+1)
			}
			s := newTestScheduler(b, cfg, addrs...)
			for i, a := range addrs {
				setMetrics(b, s, a, Metrics{WaitingQueue: i % 7, Running: i % 11, KVCacheUsage: float64(i%10) / 10})
			}
			ctx := context.Background()
			// Warm the prefix index: a few endpoints hold the prompt's prefix.
			for i := range 8 {
				s.prefix.add(addrs[i*31], hashPrompt(nil, "m", "", prompt[:1024+i*64], 64, 256))
			}
			r := &Request{Model: "m", Prompt: prompt}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				done, err := s.Admit(ctx, r)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Pick(ctx, r); err != nil {
					b.Fatal(err)
				}
				done()
			}
		})
	}
}
