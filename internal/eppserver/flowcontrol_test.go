package eppserver

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/aigw-dev/aigw/internal/epp"
	"github.com/aigw-dev/aigw/internal/flowcontrol"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

// switchableServer serves vLLM metrics of a saturated or an idle server.
func switchableServer(t *testing.T, busy *atomic.Bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		waiting, kv := 0, 0.1
		if busy.Load() {
			waiting, kv = 50, 0.95
		}
		fmt.Fprintf(w, "vllm:num_requests_waiting{model_name=\"m\"} %d\nvllm:num_requests_running{model_name=\"m\"} 8\nvllm:kv_cache_usage_perc{model_name=\"m\"} %g\n", waiting, kv)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// startRequest sends a request phase and returns the first answer (a pick
// or an immediate response) on a channel, read in the background.
func startRequest(t *testing.T, f *fixture, hdr map[string]string) <-chan *extprocv3.ProcessingResponse {
	t.Helper()
	s, err := f.client.Process(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*extprocv3.ProcessingRequest{headersMsg("/v1/completions", false, hdr, nil), bodyMsg(`{"model":"m","prompt":"x"}`, true)} {
		if err := s.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	out := make(chan *extprocv3.ProcessingResponse, 1)
	go func() {
		for {
			resp, err := s.Recv()
			if err != nil {
				close(out)
				return
			}
			if _, ack := resp.GetResponse().(*extprocv3.ProcessingResponse_RequestBody); !ack {
				out <- resp
				return
			}
		}
	}()
	return out
}

func immediateStatus(resp *extprocv3.ProcessingResponse) int {
	return int(resp.GetImmediateResponse().GetStatus().GetCode())
}

func TestFlowControlQueuesWhileSaturated(t *testing.T) {
	var busy atomic.Bool
	busy.Store(true)
	addr := switchableServer(t, &busy)
	cfg := noFallbacks()
	cfg.ScrapeInterval = 10 * time.Millisecond
	cfg.FlowControl = &flowcontrol.Config{Limits: flowcontrol.Limits{MaxRequests: 1}, PollInterval: time.Millisecond}
	f := newFixture(t, Options{AckRequestBody: true, Policy: scheduler.Policy{Objectives: map[string]int{"batch": -1}}}, cfg, addr)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = f.sched.Start(ctx) }()
	waitFor(t, func() bool { return f.sched.Endpoints()[0].Metrics != nil })

	held := startRequest(t, f, nil)
	waitFor(t, func() bool { return f.sched.Queued()[0] == 1 })
	if n := testutil.ToFloat64(f.metrics.requests.WithLabelValues(outcomePicked, "m", "m")); n != 0 {
		t.Fatalf("picked = %v while the pool is saturated", n)
	}
	if got := testutil.CollectAndCount(f.reg, "aigw_epp_flow_control_queue_size"); got != 1 {
		t.Errorf("queue size series = %d, want 1", got)
	}

	// The queue holds one request: the next gets 429; a sheddable one is
	// dropped as before.
	for _, tc := range []struct {
		hdr  map[string]string
		code string
	}{{nil, "queue_full"}, {map[string]string{epp.ObjectiveHeader: "batch"}, "pool_saturated"}} {
		resp := <-startRequest(t, f, tc.hdr)
		if immediateStatus(resp) != http.StatusTooManyRequests || !strings.Contains(string(resp.GetImmediateResponse().GetBody()), tc.code) {
			t.Errorf("%v: got %v, want 429 %s", tc.hdr, resp, tc.code)
		}
	}

	busy.Store(false) // the server drains: the held request is picked
	select {
	case resp := <-held:
		if resp.GetRequestHeaders() == nil {
			t.Fatalf("held request answered %v, want a pick", resp)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the held request was never dispatched")
	}
	for outcome, want := range map[string]float64{outcomeQueueFull: 1, outcomeSaturated: 1} {
		if got := settledCount(f.metrics.requests.WithLabelValues(outcome, "m", "m"), want); got != want {
			t.Errorf("%s decisions = %v, want %v", outcome, got, want)
		}
	}
	if got := testutil.CollectAndCount(f.metrics.queueWait); got != 2 {
		t.Errorf("queue wait series = %d, want dispatched and rejected", got)
	}
}

func TestFlowControlTimesOut(t *testing.T) {
	var busy atomic.Bool
	busy.Store(true)
	cfg := noFallbacks()
	cfg.ScrapeInterval = 10 * time.Millisecond
	cfg.FlowControl = &flowcontrol.Config{DefaultTTL: 50 * time.Millisecond}
	f := newFixture(t, Options{AckRequestBody: true}, cfg, switchableServer(t, &busy))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = f.sched.Start(ctx) }()
	waitFor(t, func() bool { return f.sched.Endpoints()[0].Metrics != nil })

	resp := <-startRequest(t, f, nil)
	if immediateStatus(resp) != http.StatusServiceUnavailable || !strings.Contains(string(resp.GetImmediateResponse().GetBody()), "timed out waiting") {
		t.Errorf("got %v, want 503 after the TTL", resp)
	}
	if got := settledCount(f.metrics.requests.WithLabelValues(outcomeQueueTTL, "m", "m"), 1); got != 1 {
		t.Errorf("queue_timeout decisions = %v, want 1", got)
	}
}
