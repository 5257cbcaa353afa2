package scheduler

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseMetricsGolden(t *testing.T) {
	tests := []struct {
		file   string
		engine string // label; "" = detect
		want   Metrics
	}{
		// Hand-computed: counts summed over engines, usage averaged,
		// kv_cache_usage_perc preferred over gpu_cache_usage_perc, LoRA
		// from the series with the newest timestamp value.
		{"vllm", "", Metrics{WaitingQueue: 7, Running: 7, KVCacheUsage: 0.5,
			ActiveAdapters: []string{"sql-lora", "chat-lora"}, WaitingAdapters: []string{"tool-lora"}, MaxLoRAs: 4,
			BlockSize: 16, NumBlocks: 27000}},
		{"vllm_legacy", "", Metrics{Running: 1, KVCacheUsage: 0.42}},
		{"sglang", "", Metrics{WaitingQueue: 3, Running: 6, KVCacheUsage: 0.61, BlockSize: 1, NumBlocks: 120000}},
		{"sglang", EngineSGLang, Metrics{WaitingQueue: 3, Running: 6, KVCacheUsage: 0.61, BlockSize: 1, NumBlocks: 120000}},
		{"trtllm", "", Metrics{WaitingQueue: 7, Running: 12, KVCacheUsage: 0.875, BlockSize: 32, NumBlocks: 4096}},
		{"triton", "", Metrics{WaitingQueue: 2, Running: 9, KVCacheUsage: 0.3, BlockSize: 64, NumBlocks: 1000}},
		{"triton", EngineTriton, Metrics{WaitingQueue: 2, Running: 9, KVCacheUsage: 0.3, BlockSize: 64, NumBlocks: 1000}},
	}
	for _, tc := range tests {
		t.Run(tc.file+"/"+tc.engine, func(t *testing.T) {
			f, err := os.Open("testdata/" + tc.file + ".prom")
			require.NoError(t, err)
			defer f.Close()
			got, err := parseMetrics(f, tc.engine)
			require.NoError(t, err)
			require.Equal(t, tc.want, *got)
			golden(t, tc.file+".metrics.json", got)
		})
	}
}

func TestParseMetricsErrors(t *testing.T) {
	for name, tc := range map[string]struct{ text, engine string }{
		"unknown engine metrics":   {"# TYPE foo gauge\nfoo 1\n", ""},
		"label names wrong engine": {"vllm:num_requests_waiting 1\n", EngineSGLang},
		"unknown engine label":     {"vllm:num_requests_waiting 1\n", "tgi"},
		"malformed":                {"vllm:num_requests_waiting{ 1\n", ""},
	} {
		_, err := parseMetrics(strings.NewReader(tc.text), tc.engine)
		require.Error(t, err, name)
	}
}

// servePromFile serves testdata/<file>.prom at /metrics, or status when set.
func servePromFile(t *testing.T, file string, status *atomic.Int32) *httptest.Server {
	t.Helper()
	body, err := os.ReadFile("testdata/" + file + ".prom")
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		if status != nil && status.Load() != 0 {
			w.WriteHeader(int(status.Load()))
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func addr(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

func TestScrapeEngines(t *testing.T) {
	var failing atomic.Int32
	vllm := servePromFile(t, "vllm", nil)
	sglang := servePromFile(t, "sglang", nil)
	trt := servePromFile(t, "trtllm", nil)
	triton := servePromFile(t, "triton", nil)
	flaky := servePromFile(t, "vllm", &failing)

	s, err := New(DefaultConfig(), nil)
	require.NoError(t, err)
	s.SetEndpoints([]Endpoint{
		{Address: addr(vllm)},
		{Address: addr(sglang), Labels: map[string]string{EngineTypeLabel: EngineSGLang}},
		{Address: addr(trt)},
		{Address: addr(triton)},
		{Address: addr(flaky)},
		{Address: "127.0.0.1:1"}, // nothing listens
	})
	ctx := context.Background()
	for _, st := range s.snap.Load().list {
		s.scrapeOnce(ctx, st)
	}
	status := map[string]EndpointStatus{}
	for _, e := range s.Endpoints() {
		status[e.Endpoint.Address] = e
	}
	require.Equal(t, 7, status[addr(vllm)].Metrics.WaitingQueue)
	require.Equal(t, 3, status[addr(sglang)].Metrics.WaitingQueue)
	require.Equal(t, 7, status[addr(trt)].Metrics.WaitingQueue)
	require.Equal(t, 2, status[addr(triton)].Metrics.WaitingQueue)
	require.False(t, status[addr(flaky)].Failing)
	require.True(t, status["127.0.0.1:1"].Failing)
	require.Contains(t, status["127.0.0.1:1"].LastError, "127.0.0.1:1")
	require.Nil(t, status["127.0.0.1:1"].Metrics)

	// Fresh metrics reach the scorers; a failing endpoint's do not.
	snap := s.snap.Load()
	now := time.Now()
	require.NotNil(t, s.candidate(snap.get(addr(flaky)), now).Metrics)
	failing.Store(http.StatusServiceUnavailable)
	s.scrapeOnce(ctx, snap.get(addr(flaky)))
	c := s.candidate(snap.get(addr(flaky)), now)
	require.True(t, c.Failing)
	require.Nil(t, c.Metrics, "failing endpoint: metrics unknown")
	require.Contains(t, s.Endpoints()[4].LastError, "503")
	require.NotNil(t, s.Endpoints()[4].Metrics, "the last good scrape stays visible in status")
	// Recovery.
	failing.Store(0)
	s.scrapeOnce(ctx, snap.get(addr(flaky)))
	require.NotNil(t, s.candidate(snap.get(addr(flaky)), time.Now()).Metrics)

	// Staleness: the same metrics, seen Staleness+1ns later, are unknown.
	st := snap.get(addr(vllm))
	upd := st.metrics.Load().UpdateTime
	require.NotNil(t, s.candidate(st, upd.Add(s.cfg.Staleness)).Metrics)
	require.Nil(t, s.candidate(st, upd.Add(s.cfg.Staleness+1)).Metrics)
}

func TestStalenessMakesScoresNeutral(t *testing.T) {
	srv := servePromFile(t, "vllm", nil)
	cfg := DefaultConfig()
	cfg.Staleness = time.Nanosecond // every scrape is stale by the time Pick runs
	s, err := New(cfg, nil)
	require.NoError(t, err)
	s.SetEndpoints([]Endpoint{{Address: addr(srv)}})
	s.scrapeOnce(context.Background(), s.snap.Load().list[0])
	require.NotNil(t, s.Endpoints()[0].Metrics)
	res, err := s.Pick(context.Background(), &Request{})
	require.NoError(t, err)
	// queue 2·0.5 + kv 2·0.5 + prefix 0 = 2 (neutral), not the fresh 2·1 + 2·0.5 = 3.
	require.InDelta(t, 2.0, res.Scores[addr(srv)], 1e-12)
	_, err = s.Pick(context.Background(), &Request{Priority: -1})
	require.ErrorIs(t, err, ErrSaturated, "stale metrics count as saturated")
}

func TestStartFollowsEndpoints(t *testing.T) {
	a := servePromFile(t, "vllm", nil)
	b := servePromFile(t, "sglang", nil)
	cfg := DefaultConfig()
	cfg.ScrapeInterval = time.Millisecond
	s, err := New(cfg, nil)
	require.NoError(t, err)
	s.SetEndpoints([]Endpoint{{Address: addr(a)}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()

	scraped := func(address string) func() bool {
		return func() bool {
			for _, e := range s.Endpoints() {
				if e.Endpoint.Address == address && e.Metrics != nil {
					return true
				}
			}
			return false
		}
	}
	require.Eventually(t, scraped(addr(a)), 10*time.Second, time.Millisecond)
	s.SetEndpoints([]Endpoint{{Address: addr(a)}, {Address: addr(b)}})
	require.Eventually(t, scraped(addr(b)), 10*time.Second, time.Millisecond)
	require.Error(t, s.Start(ctx), "second Start")
	cancel()
	require.NoError(t, <-done)
}
