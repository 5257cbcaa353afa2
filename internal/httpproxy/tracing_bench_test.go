package httpproxy

import (
	"context"
	"net/url"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/metrics"
)

// discardExporter drops spans: what is measured is the gateway's side of
// tracing (spans, attributes, the batch processor), not an exporter's I/O.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkTracing compares the gateway without tracing, with the SDK and
// a sampler at 0, and with every request sampled (batched to an exporter
// that discards); compare the sub-benchmarks of one run.
func BenchmarkTracing(b *testing.B) {
	up := benchUpstream(b)
	target, _ := url.Parse(up.URL)
	port, _ := strconv.Atoi(target.Port())
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{{Name: "default/a", Schema: config.Schema{Name: config.SchemaOpenAI}, Endpoints: []config.Endpoint{{Host: target.Hostname(), Port: int32(port)}}}},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ref("default/a", 0))}, RequestCosts: tokenCosts}},
	}
	for _, tc := range []struct {
		name    string
		sampler sdktrace.Sampler
	}{{"off", nil}, {"sampler=0", sdktrace.NeverSample()}, {"sampler=1", sdktrace.AlwaysSample()}} {
		b.Run(tc.name, func(b *testing.B) {
			var tp trace.TracerProvider
			if tc.sampler != nil {
				sdk := sdktrace.NewTracerProvider(sdktrace.WithSampler(tc.sampler), sdktrace.WithBatcher(discardExporter{}))
				b.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
				tp = sdk
			}
			m, _ := metrics.NewPrometheus(prometheus.NewRegistry(), metrics.Options{})
			g := New(Options{Metrics: m, Tracing: tp})
			b.Cleanup(g.Close)
			if err := g.Apply(cfg); err != nil {
				b.Fatal(err)
			}
			runBench(b, g)
		})
	}
}
