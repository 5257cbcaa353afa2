package metrics

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/labels"
	"github.com/aigw-dev/aigw/internal/llm"
)

// record records one successful streamed request of model, echoed by the
// upstream as the response model.
func record(p *Prometheus, model string) {
	a := Attributes{Operation: "chat", Provider: "openai", OriginalModel: model, RequestModel: model, ResponseModel: model}
	p.RequestDone(a, "", 10*time.Millisecond)
	p.Tokens(a, llm.Usage{InputTokens: 3, OutputTokens: 2, TotalTokens: 5})
	p.StreamTimings(a, 5*time.Millisecond, 10*time.Millisecond, 2)
}

// seriesByFamily gathers reg and returns, per family, the label sets of its
// series (a histogram's buckets are one series here).
func seriesByFamily(t *testing.T, reg *prometheus.Registry) map[string][]map[string]string {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string][]map[string]string{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			out[mf.GetName()] = append(out[mf.GetName()], l)
		}
	}
	return out
}

func TestModelLabelsBounded(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		distinct int
		// wantSeries is the number of series of each family with one label
		// set per model (the token histogram has two token types).
		wantSeries int
	}{
		{name: "below the bound", opts: Options{MaxModelLabels: 10}, distinct: 5, wantSeries: 5},
		{name: "at the bound", opts: Options{MaxModelLabels: 10}, distinct: 10, wantSeries: 10},
		{name: "beyond the bound", opts: Options{MaxModelLabels: 10}, distinct: 500, wantSeries: 11},
		{name: "default bound", opts: Options{}, distinct: 1000, wantSeries: DefaultMaxModelLabels + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			p, err := NewPrometheus(reg, tc.opts)
			require.NoError(t, err)
			for i := range tc.distinct {
				record(p, fmt.Sprintf("nomatch-%08d", i))
			}
			series := seriesByFamily(t, reg)
			require.Len(t, series["gen_ai_server_request_duration_seconds"], tc.wantSeries)
			require.Len(t, series["gen_ai_server_time_to_first_token_seconds"], tc.wantSeries)
			require.Len(t, series["gen_ai_server_time_per_output_token_seconds"], tc.wantSeries)
			require.Len(t, series["gen_ai_client_token_usage"], 2*tc.wantSeries, "input and output")
			others := 0
			for _, l := range series["gen_ai_server_request_duration_seconds"] {
				if l["gen_ai_original_model"] == labels.Other {
					others++
					require.Equal(t, labels.Other, l["gen_ai_request_model"])
					require.Equal(t, labels.Other, l["gen_ai_response_model"])
				}
			}
			if tc.distinct > tc.wantSeries {
				require.Equal(t, 1, others, "models beyond the bound share one series")
			}
		})
	}
}

// TestModelLabelsBoundedPerLabel: each model label has its own bound, so a
// flood of client names does not push the upstream's response models out.
func TestModelLabelsBoundedPerLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, err := NewPrometheus(reg, Options{MaxModelLabels: 3})
	require.NoError(t, err)
	for i := range 100 {
		a := Attributes{Operation: "chat", Provider: "openai", OriginalModel: fmt.Sprintf("junk-%d", i), RequestModel: "gpt", ResponseModel: "gpt-2025"}
		p.RequestDone(a, "", time.Millisecond)
	}
	series := seriesByFamily(t, reg)["gen_ai_server_request_duration_seconds"]
	require.Len(t, series, 4)
	for _, l := range series {
		require.Equal(t, "gpt", l["gen_ai_request_model"])
		require.Equal(t, "gpt-2025", l["gen_ai_response_model"])
	}
}

func TestLongModelNameIsCut(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, err := NewPrometheus(reg, Options{})
	require.NoError(t, err)
	huge := strings.Repeat("m", 1<<20)
	record(p, huge)
	record(p, "bad-utf8-\xff\xfe")
	for name, series := range seriesByFamily(t, reg) {
		for _, l := range series {
			for k, v := range l {
				require.LessOrEqual(t, len(v), labels.MaxValueBytes, "%s{%s}", name, k)
			}
		}
	}
	series := seriesByFamily(t, reg)["gen_ai_server_request_duration_seconds"]
	require.Len(t, series, 2)
	require.Equal(t, huge[:labels.MaxValueBytes], series[1]["gen_ai_original_model"])
}

// TestConcurrentRecording records from several goroutines at once (run
// with -race): the bound holds exactly.
func TestConcurrentRecording(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, err := NewPrometheus(reg, Options{MaxModelLabels: 20})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				record(p, fmt.Sprintf("m-%d", (i+w*17)%200))
			}
		})
	}
	wg.Wait()
	series := seriesByFamily(t, reg)
	require.Len(t, series["gen_ai_server_request_duration_seconds"], 21)
	require.Len(t, series["gen_ai_client_token_usage"], 42)
}

// BenchmarkRequestDone records a request the way the gateway did before
// model labels were bounded (label values used as given) beside the
// bounded recording, in one run.
func BenchmarkRequestDone(b *testing.B) {
	a := Attributes{Operation: "chat", Provider: "openai", OriginalModel: "gpt-4o", RequestModel: "gpt-4o", ResponseModel: "gpt-4o-2024-08-06"}
	b.Run("unbounded (before)", func(b *testing.B) {
		p, err := NewPrometheus(prometheus.NewRegistry(), Options{})
		require.NoError(b, err)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				v := []string{a.Operation, a.Provider, a.OriginalModel, a.RequestModel, a.ResponseModel}
				p.duration.WithLabelValues(append(v, "")...).Observe(0.1)
			}
		})
	})
	b.Run("bounded", func(b *testing.B) {
		p, err := NewPrometheus(prometheus.NewRegistry(), Options{})
		require.NoError(b, err)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p.RequestDone(a, "", 100*time.Millisecond)
			}
		})
	})
}
