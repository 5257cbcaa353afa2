package scheduler

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fixed returns a scorer giving each address a fixed score.
func fixed(byAddr map[string]float64) Scorer {
	return ScorerFunc(func(_ context.Context, _ *Request, cands []Candidate, scores []float64) {
		for i, c := range cands {
			scores[i] = byAddr[c.Endpoint.Address]
		}
	})
}

func profileConfig(p Profile) Config {
	cfg := DefaultConfig()
	cfg.Profile = p
	return cfg
}

func TestEngineWeighting(t *testing.T) {
	a, b, c := "10.0.0.1:8000", "10.0.0.2:8000", "10.0.0.3:8000"
	s1 := fixed(map[string]float64{a: 1, b: 0, c: 0.5})
	s2 := fixed(map[string]float64{a: 0, b: 1, c: 0.5})
	tests := []struct {
		name   string
		w1, w2 float64
		want   []string
		totals map[string]float64
	}{
		// a: 3·1+1·0 = 3; b: 3·0+1·1 = 1; c: 3·.5+1·.5 = 2.
		{"first scorer dominates", 3, 1, []string{a, c, b}, map[string]float64{a: 3, c: 2, b: 1}},
		// a: 1; b: 3; c: 2.
		{"second scorer dominates", 1, 3, []string{b, c, a}, map[string]float64{b: 3, c: 2, a: 1}},
		// weight 0 means 1 (GAIE default): a 1, b 1, c 1 → all tie; in-flight decides (see below).
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestScheduler(t, profileConfig(Profile{
				Scorers:   []WeightedScorer{{Scorer: s1, Weight: tc.w1}, {Scorer: s2, Weight: tc.w2}},
				Fallbacks: 2,
			}), a, b, c)
			res, err := s.Pick(context.Background(), &Request{})
			require.NoError(t, err)
			require.Equal(t, tc.want, res.Endpoints)
			require.InDeltaMapValues(t, tc.totals, res.Scores, 1e-12)
		})
	}
}

func TestEngineClampsScores(t *testing.T) {
	a, b := "10.0.0.1:1", "10.0.0.2:1"
	// a scores 5 (clamped to 1), b scores −3 (clamped to 0) and NaN-free.
	s := newTestScheduler(t, profileConfig(Profile{
		Scorers: []WeightedScorer{{Scorer: fixed(map[string]float64{a: 5, b: -3}), Weight: 2}}, Fallbacks: 1,
	}), a, b)
	res, err := s.Pick(context.Background(), &Request{})
	require.NoError(t, err)
	require.Equal(t, []string{a, b}, res.Endpoints)
	require.Equal(t, map[string]float64{a: 2, b: 0}, res.Scores)
}

func TestTieBreaking(t *testing.T) {
	a, b, c := "10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"
	flat := fixed(map[string]float64{a: 0.5, b: 0.5, c: 0.5})

	t.Run("fewest in-flight wins a tie", func(t *testing.T) {
		s := newTestScheduler(t, profileConfig(Profile{Scorers: []WeightedScorer{{Scorer: flat}}, Fallbacks: 2}), a, b, c)
		s.Started(a)
		s.Started(a)
		s.Started(c)
		res, err := s.Pick(context.Background(), &Request{})
		require.NoError(t, err)
		require.Equal(t, []string{b, c, a}, res.Endpoints)
	})
	t.Run("then chance", func(t *testing.T) {
		// A deterministic "random" source: the candidate drawing the larger
		// number wins, so the draw order decides.
		for _, tc := range []struct {
			draws []uint64
			want  []string
		}{
			{[]uint64{1, 2, 3}, []string{c, b, a}},
			{[]uint64{3, 1, 2}, []string{a, c, b}},
		} {
			i := 0
			p := &MaxScorePicker{Rand: func() uint64 { i++; return tc.draws[i-1] }}
			s := newTestScheduler(t, profileConfig(Profile{Scorers: []WeightedScorer{{Scorer: flat}}, Picker: p, Fallbacks: 5}), a, b, c)
			res, err := s.Pick(context.Background(), &Request{})
			require.NoError(t, err)
			require.Equal(t, tc.want, res.Endpoints, "fallbacks capped at the candidate count")
		}
	})
	t.Run("score beats in-flight", func(t *testing.T) {
		s := newTestScheduler(t, profileConfig(Profile{Scorers: []WeightedScorer{{Scorer: fixed(map[string]float64{a: 0.6, b: 0.5})}}}), a, b)
		s.Started(a)
		res, err := s.Pick(context.Background(), &Request{})
		require.NoError(t, err)
		require.Equal(t, []string{a}, res.Endpoints)
	})
}

func TestMaxScorePickerTopN(t *testing.T) {
	totals := []float64{0.1, 0.9, 0.5, 0.9, 0.7, 0.2, 0.8, 0.3, 0.6, 0.4}
	cands := make([]Candidate, len(totals))
	for i := range cands {
		cands[i] = Candidate{Endpoint: &Endpoint{}, InFlight: int64(i)}
	}
	p := &MaxScorePicker{Rand: func() uint64 { return 0 }}
	require.Equal(t, []int{1, 3, 6, 4}, p.Pick(context.Background(), nil, cands, totals, 4))
	require.Equal(t, []int{1}, p.Pick(context.Background(), nil, cands, totals, 1))
	require.Len(t, p.Pick(context.Background(), nil, cands, totals, 20), 10)
	require.Empty(t, p.Pick(context.Background(), nil, nil, nil, 3))
}

func TestDefaultProfileEndToEnd(t *testing.T) {
	a, b, c := "10.0.0.1:8000", "10.0.0.2:8000", "10.0.0.3:8000"
	s := newTestScheduler(t, DefaultConfig(), a, b, c)
	setMetrics(t, s, a, Metrics{WaitingQueue: 4, KVCacheUsage: 0.5})
	setMetrics(t, s, b, Metrics{WaitingQueue: 0, KVCacheUsage: 0.5})
	setMetrics(t, s, c, Metrics{WaitingQueue: 2, KVCacheUsage: 0.1})
	// No prefix yet (short prompt). queue: a 0, b 1, c 0.5; kv: a .5, b .5, c .9.
	// totals: a 2·0+2·.5 = 1; b 2·1+2·.5 = 3; c 2·.5+2·.9 = 2.8.
	res, err := s.Pick(context.Background(), &Request{Model: "m", Prompt: "hi"})
	require.NoError(t, err)
	require.Equal(t, []string{b, c, a}, res.Endpoints)
	require.InDeltaMapValues(t, map[string]float64{a: 1, b: 3, c: 2.8}, res.Scores, 1e-12)
	// b is scraped again after that request (else it would count as queued
	// there: see TestQueueScorerCountsPicksSinceScrape).
	setMetrics(t, s, b, Metrics{WaitingQueue: 0, KVCacheUsage: 0.5})

	// A long prompt routed to b once makes b win it again by prefix (+3)
	// even when c becomes better on load: c 2·1+2·.9 = 3.8 vs b 2·.5+2·.5+3 = 5.
	long := strings.Repeat("You are a helpful assistant that answers in French. ", 20)
	res, err = s.Pick(context.Background(), &Request{Model: "m", Prompt: long})
	require.NoError(t, err)
	require.Equal(t, b, res.Endpoints[0])
	setMetrics(t, s, b, Metrics{WaitingQueue: 1, KVCacheUsage: 0.5})
	setMetrics(t, s, c, Metrics{WaitingQueue: 0, KVCacheUsage: 0.1})
	setMetrics(t, s, a, Metrics{WaitingQueue: 2, KVCacheUsage: 0.5})
	res, err = s.Pick(context.Background(), &Request{Model: "m", Prompt: long + " Question: why?"})
	require.NoError(t, err)
	require.Equal(t, []string{b, c, a}, res.Endpoints)
	require.InDelta(t, 5.0, res.Scores[b], 1e-12)
	require.InDelta(t, 3.8, res.Scores[c], 1e-12)
	// Another model does not share the prefix: c wins on load.
	res, err = s.Pick(context.Background(), &Request{Model: "other", Prompt: long})
	require.NoError(t, err)
	require.Equal(t, c, res.Endpoints[0])
}

func TestSaturation(t *testing.T) {
	a, b := "10.0.0.1:1", "10.0.0.2:1"
	tests := []struct {
		name     string
		ma, mb   *Metrics // nil: unknown
		priority int
		wantErr  error
		want     string
	}{
		{"queue and kv saturated, sheddable", &Metrics{WaitingQueue: 5}, &Metrics{KVCacheUsage: 0.8}, -1, ErrSaturated, ""},
		{"queue and kv saturated, critical picks least bad", &Metrics{WaitingQueue: 9}, &Metrics{WaitingQueue: 6, KVCacheUsage: 0.85}, 0, nil, b},
		{"one below thresholds", &Metrics{WaitingQueue: 4, KVCacheUsage: 0.79}, &Metrics{WaitingQueue: 50}, -1, nil, a},
		{"unknown counts as saturated", nil, &Metrics{WaitingQueue: 5}, -1, ErrSaturated, ""},
		{"unknown, critical", nil, nil, 1, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestScheduler(t, DefaultConfig(), a, b)
			if tc.ma != nil {
				setMetrics(t, s, a, *tc.ma)
			}
			if tc.mb != nil {
				setMetrics(t, s, b, *tc.mb)
			}
			res, err := s.Pick(context.Background(), &Request{Priority: tc.priority})
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			if tc.want != "" {
				require.Equal(t, tc.want, res.Endpoints[0])
			}
		})
	}
}

func TestSubsetHint(t *testing.T) {
	eps := []string{"10.0.0.1:8000", "10.0.0.1:8001", "10.0.0.2:8000", "[fd00::1]:8000"}
	tests := []struct {
		name    string
		subset  []string
		want    []string // the candidate set
		wantErr error
	}{
		{"no hint", nil, eps, nil},
		{"exact", []string{"10.0.0.2:8000"}, []string{"10.0.0.2:8000"}, nil},
		{"bare ip: all its ports", []string{"10.0.0.1"}, []string{"10.0.0.1:8000", "10.0.0.1:8001"}, nil},
		{"ipv6 bare and exact", []string{"fd00::1"}, []string{"[fd00::1]:8000"}, nil},
		{"unknown entries ignored", []string{"10.9.9.9:1", "10.0.0.2:8000"}, []string{"10.0.0.2:8000"}, nil},
		{"large hint", []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "10.0.0.1:8001"}, []string{"10.0.0.1:8001"}, nil},
		{"empty hint", []string{}, nil, ErrNoEndpoints},
		{"none eligible", []string{"10.0.0.3:8000", "10.0.0.1:9"}, nil, ErrNoEndpoints},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seen []string
			spy := ScorerFunc(func(_ context.Context, _ *Request, cands []Candidate, _ []float64) {
				for _, c := range cands {
					seen = append(seen, c.Endpoint.Address)
				}
			})
			s := newTestScheduler(t, profileConfig(Profile{Scorers: []WeightedScorer{{Scorer: spy}}, Fallbacks: 10}), eps...)
			res, err := s.Pick(context.Background(), &Request{Subset: tc.subset})
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, seen)
			require.ElementsMatch(t, tc.want, res.Endpoints)
		})
	}
}

func TestNoEndpoints(t *testing.T) {
	s := newTestScheduler(t, DefaultConfig())
	_, err := s.Pick(context.Background(), &Request{})
	require.ErrorIs(t, err, ErrNoEndpoints)

	drop := FilterFunc(func(context.Context, *Request, []Candidate) []Candidate { return nil })
	cfg := DefaultConfig()
	cfg.Profile.Filters = []Filter{drop}
	s = newTestScheduler(t, cfg, "10.0.0.1:1")
	_, err = s.Pick(context.Background(), &Request{})
	require.ErrorIs(t, err, ErrNoEndpoints)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Pick(ctx, &Request{})
	require.ErrorIs(t, err, context.Canceled)
}

func TestFilterKeepsSome(t *testing.T) {
	a, b := "10.0.0.1:1", "10.0.0.2:1"
	onlyB := FilterFunc(func(_ context.Context, _ *Request, cands []Candidate) []Candidate {
		out := cands[:0]
		for _, c := range cands {
			if c.Endpoint.Address == b {
				out = append(out, c)
			}
		}
		return out
	})
	cfg := DefaultConfig()
	cfg.Profile.Filters = []Filter{onlyB}
	s := newTestScheduler(t, cfg, a, b)
	res, err := s.Pick(context.Background(), &Request{})
	require.NoError(t, err)
	require.Equal(t, []string{b}, res.Endpoints)
}

func TestStartedAndSetEndpoints(t *testing.T) {
	a, b := "10.0.0.1:1", "10.0.0.2:1"
	s := newTestScheduler(t, DefaultConfig(), a, b)
	doneA := s.Started(a)
	s.Started(b)()
	s.Started("10.9.9.9:1")() // unknown: no-op
	inflight := func() map[string]int64 {
		out := map[string]int64{}
		for _, e := range s.Endpoints() {
			out[e.Endpoint.Address] = e.InFlight
		}
		return out
	}
	require.Equal(t, map[string]int64{a: 1, b: 0}, inflight())

	// a stays (counts and metrics kept), b goes (its prefix index too), c comes.
	setMetrics(t, s, a, Metrics{WaitingQueue: 3})
	s.prefix.add(b, []uint64{42})
	c := "10.0.0.3:1"
	s.SetEndpoints([]Endpoint{{Address: a, Labels: map[string]string{"x": "y"}}, {Address: c}, {Address: c}})
	require.Equal(t, map[string]int64{a: 1, c: 0}, inflight())
	require.Equal(t, 3, s.Endpoints()[0].Metrics.WaitingQueue)
	require.Empty(t, s.prefix.match([]uint64{42}))

	doneA()
	doneA() // idempotent
	require.Equal(t, map[string]int64{a: 0, c: 0}, inflight())
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"no scorers":       func(c *Config) { c.Profile.Scorers = nil },
		"nil scorer":       func(c *Config) { c.Profile.Scorers = []WeightedScorer{{}} },
		"negative weight":  func(c *Config) { c.Profile.Scorers[0].Weight = -1 },
		"zero interval":    func(c *Config) { c.ScrapeInterval = 0 },
		"kv threshold > 1": func(c *Config) { c.KVCacheThreshold = 1.5 },
		"zero block size":  func(c *Config) { c.Prefix.BlockSizeTokens = 0 },
		"neg fallbacks":    func(c *Config) { c.Profile.Fallbacks = -1 },
	} {
		cfg := DefaultConfig()
		mut(&cfg)
		_, err := New(cfg, nil)
		require.Error(t, err, name)
	}
	_, err := New(DefaultConfig(), nil)
	require.NoError(t, err)
	require.False(t, errors.Is(err, ErrNoEndpoints))
}
