package scheduler

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func cand(m *Metrics) Candidate { return Candidate{Endpoint: &Endpoint{}, Metrics: m} }

func TestScorers(t *testing.T) {
	q := func(n int) *Metrics { return &Metrics{WaitingQueue: n} }
	kv := func(u float64) *Metrics { return &Metrics{KVCacheUsage: u} }
	lora := func(active, waiting []string, max int) *Metrics {
		return &Metrics{ActiveAdapters: active, WaitingAdapters: waiting, MaxLoRAs: max}
	}
	inflight := func(n int64) Candidate { return Candidate{Endpoint: &Endpoint{}, InFlight: n} }
	prefix := func(m, total int) Candidate {
		return Candidate{Endpoint: &Endpoint{}, PrefixMatched: m, PrefixTotal: total}
	}
	tests := []struct {
		name   string
		scorer Scorer
		req    Request
		cands  []Candidate
		want   []float64
	}{
		// queue: (maxQ − q)/(maxQ − minQ); min 0, max 8.
		{"queue min-max", QueueScorer{}, Request{}, []Candidate{cand(q(0)), cand(q(2)), cand(q(8))}, []float64{1, 0.75, 0}},
		{"queue all equal", QueueScorer{}, Request{}, []Candidate{cand(q(3)), cand(q(3))}, []float64{1, 1}},
		{"queue unknown neutral", QueueScorer{}, Request{}, []Candidate{cand(q(4)), cand(nil), cand(q(6))}, []float64{1, 0.5, 0}},
		{"queue all unknown", QueueScorer{}, Request{}, []Candidate{cand(nil), cand(nil)}, []float64{0.5, 0.5}},
		{"queue single", QueueScorer{}, Request{}, []Candidate{cand(q(9))}, []float64{1}},
		// kv: 1 − usage.
		{"kv", KVCacheScorer{}, Request{}, []Candidate{cand(kv(0)), cand(kv(0.25)), cand(kv(1)), cand(nil)}, []float64{1, 0.75, 0, 0.5}},
		// least request: (max − n)/(max − min) on in-flight; min 1, max 5.
		{"least request", LeastRequestScorer{}, Request{}, []Candidate{inflight(1), inflight(5), inflight(2)}, []float64{1, 0, 0.75}},
		{"least request equal", LeastRequestScorer{}, Request{}, []Candidate{inflight(0), inflight(0)}, []float64{1, 1}},
		// LoRA: active 1, room 0.8, waiting 0.6, else 0; base model 1.
		{"lora", LoRAAffinityScorer{}, Request{LoRA: "a"}, []Candidate{
			cand(lora([]string{"b", "a"}, nil, 2)),      // active
			cand(lora([]string{"b"}, nil, 4)),           // room: 1+0 < 4
			cand(lora([]string{"b"}, []string{"a"}, 2)), // waiting, no room: 1+1 = 2
			cand(lora([]string{"b", "c"}, nil, 2)),      // full, absent
			cand(lora(nil, nil, 0)),                     // max unknown: no room
			cand(nil),                                   // unknown
		}, []float64{1, 0.8, 0.6, 0, 0, 0.5}},
		{"lora room beats waiting", LoRAAffinityScorer{}, Request{LoRA: "a"}, []Candidate{
			cand(lora(nil, []string{"a"}, 4)), // waiting but room: 0+1 < 4 → 0.8 (reference order)
		}, []float64{0.8}},
		{"lora base model", LoRAAffinityScorer{}, Request{}, []Candidate{cand(lora(nil, nil, 0)), cand(nil)}, []float64{1, 1}},
		// prefix: matched / total.
		{"prefix", PrefixScorer{}, Request{}, []Candidate{prefix(0, 4), prefix(1, 4), prefix(4, 4), prefix(0, 0)}, []float64{0, 0.25, 1, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]float64, len(tc.cands))
			tc.scorer.Score(context.Background(), &tc.req, tc.cands, got)
			require.InDeltaSlice(t, tc.want, got, 1e-12)
		})
	}
}

func TestClamp01(t *testing.T) {
	for in, want := range map[float64]float64{-1: 0, 0: 0, 0.3: 0.3, 1: 1, 7: 1} {
		require.InDelta(t, want, clamp01(in), 0, "clamp01(%v)", in)
	}
	var zero float64
	require.Zero(t, clamp01(zero/zero)) // NaN
}

// TestQueueScorerCountsPicksSinceScrape checks that requests picked since an
// endpoint's last scrape count as queued there: a burst within one scrape
// interval spreads instead of landing on the endpoint that looked idlest.
func TestQueueScorerCountsPicksSinceScrape(t *testing.T) {
	a, b := "10.0.0.1:8000", "10.0.0.2:8000"
	cfg := DefaultConfig()
	cfg.Profile = Profile{Scorers: []WeightedScorer{{Scorer: QueueScorer{}, Weight: 1}}, Picker: &MaxScorePicker{Rand: func() uint64 { return 0 }}}
	s := newTestScheduler(t, cfg, a, b)
	setMetrics(t, s, a, Metrics{WaitingQueue: 0})
	setMetrics(t, s, b, Metrics{WaitingQueue: 2})
	var got []string
	for range 6 {
		res, err := s.Pick(context.Background(), &Request{})
		require.NoError(t, err)
		got = append(got, res.Endpoints[0])
		s.Started(res.Endpoints[0]) // still running at the next pick
	}
	// a counts 0, then 1 with its pick; at 2 it ties b's scraped 2 and the
	// fewer in-flight requests win (b); then they alternate.
	require.Equal(t, []string{a, a, b, a, b, a}, got)
	// A fresh scrape of a accounts for what was sent before it.
	setMetrics(t, s, a, Metrics{WaitingQueue: 5})
	res, err := s.Pick(context.Background(), &Request{})
	require.NoError(t, err)
	require.Equal(t, b, res.Endpoints[0], "b: 2 queued + 2 picked since its scrape < a: 5")

	// Picked requests that already finished are no load.
	cfg.Profile.Fallbacks = 1 // both endpoints' scores in the result
	c := newTestScheduler(t, cfg, a, b)
	setMetrics(t, c, a, Metrics{WaitingQueue: 1})
	setMetrics(t, c, b, Metrics{WaitingQueue: 1})
	for range 3 {
		res, err := c.Pick(context.Background(), &Request{})
		require.NoError(t, err)
		c.Started(res.Endpoints[0])() // done at once
	}
	res, err = c.Pick(context.Background(), &Request{})
	require.NoError(t, err)
	require.InDeltaMapValues(t, map[string]float64{a: 1, b: 1}, res.Scores, 1e-12, "queues equal again")
}

// TestLoRAOnlyForKnownAdapters checks that a model name counts as a LoRA
// adapter only once a server reported an adapter of that name: base-model
// requests are not steered away from servers whose adapter slots are full.
func TestLoRAOnlyForKnownAdapters(t *testing.T) {
	full, room := "10.0.0.1:8000", "10.0.0.2:8000"
	cfg := DefaultConfig()
	cfg.Profile = Profile{Scorers: []WeightedScorer{{Scorer: LoRAAffinityScorer{}, Weight: 1}}, Fallbacks: 1}
	s := newTestScheduler(t, cfg, full, room)
	setMetrics(t, s, full, Metrics{ActiveAdapters: []string{"sql-lora"}, MaxLoRAs: 1})
	setMetrics(t, s, room, Metrics{MaxLoRAs: 1})

	res, err := s.Pick(context.Background(), &Request{Model: "sql-lora", LoRA: "sql-lora"})
	require.NoError(t, err)
	require.Equal(t, full, res.Endpoints[0], "the adapter is resident there")
	require.InDeltaMapValues(t, map[string]float64{full: 1, room: 0.8}, res.Scores, 1e-12)

	res, err = s.Pick(context.Background(), &Request{Model: "llama-base", LoRA: "llama-base"})
	require.NoError(t, err)
	require.InDeltaMapValues(t, map[string]float64{full: 1, room: 1}, res.Scores, 1e-12, "the base model scores the same everywhere")
}
