package ratelimit

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/testenv"
)

func rule(name string, limit uint64, sel ...config.RateLimitSelector) config.RateLimitRule {
	return config.RateLimitRule{Name: name, Selectors: sel, Limit: limit, Window: config.Duration(time.Minute), RequestCost: 0, ResponseCostKey: "tokens"}
}

func header(name string, typ config.RateLimitMatchType, value string) config.RateLimitSelector {
	return config.RateLimitSelector{Headers: []config.RateLimitHeaderMatch{{Name: name, Type: typ, Value: value}}}
}

func compile(t *testing.T, rules ...config.RateLimitRule) []*Rule {
	t.Helper()
	out, err := Compile(rules)
	require.NoError(t, err)
	return out
}

func TestRuleSelects(t *testing.T) {
	req := func(h map[string]string) *Request {
		r := &Request{Route: "default/r", Header: http.Header{}, Method: "POST", Path: "/v1/chat/completions", Client: netip.MustParseAddr("10.0.0.7")}
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return r
	}
	for _, tc := range []struct {
		name  string
		sel   []config.RateLimitSelector
		req   *Request
		apply bool
	}{
		{"no selector: every request", nil, req(nil), true},
		{"exact header", []config.RateLimitSelector{header("x-ai-eg-model", config.RateLimitExact, "m")}, req(map[string]string{"x-ai-eg-model": "m"}), true},
		{"exact header, other value", []config.RateLimitSelector{header("x-ai-eg-model", config.RateLimitExact, "m")}, req(map[string]string{"x-ai-eg-model": "n"}), false},
		{"regex", []config.RateLimitSelector{header("x-team", config.RateLimitRegex, "a|b")}, req(map[string]string{"x-team": "b"}), true},
		{"regex is anchored", []config.RateLimitSelector{header("x-team", config.RateLimitRegex, "a")}, req(map[string]string{"x-team": "ab"}), false},
		{"distinct needs the header", []config.RateLimitSelector{header("x-user-id", config.RateLimitDistinct, "")}, req(nil), false},
		{"distinct", []config.RateLimitSelector{header("x-user-id", config.RateLimitDistinct, "")}, req(map[string]string{"x-user-id": "u"}), true},
		{"inverted", []config.RateLimitSelector{{Headers: []config.RateLimitHeaderMatch{{Name: "x-team", Type: config.RateLimitExact, Value: "a", Invert: true}}}}, req(map[string]string{"x-team": "b"}), true},
		{"source CIDR", []config.RateLimitSelector{{SourceCIDR: &config.RateLimitSourceMatch{CIDR: "10.0.0.0/8"}}}, req(nil), true},
		{"source CIDR outside", []config.RateLimitSelector{{SourceCIDR: &config.RateLimitSourceMatch{CIDR: "192.168.0.0/16"}}}, req(nil), false},
		{"method", []config.RateLimitSelector{{Methods: []config.RateLimitValueMatch{{Value: "GET"}}}}, req(nil), false},
		{"path prefix", []config.RateLimitSelector{{Path: &config.RateLimitPathMatch{Type: config.RateLimitPrefix, Value: "/v1/chat"}}}, req(nil), true},
		{"path prefix is by segment", []config.RateLimitSelector{{Path: &config.RateLimitPathMatch{Type: config.RateLimitPrefix, Value: "/v1/ch"}}}, req(nil), false},
		{"all selectors must hold", []config.RateLimitSelector{header("x-ai-eg-model", config.RateLimitExact, "m"), header("x-team", config.RateLimitExact, "a")}, req(map[string]string{"x-ai-eg-model": "m"}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := compile(t, rule("p/0", 10, tc.sel...))[0]
			_, ok := r.bucket(tc.req, time.Unix(0, 0))
			require.Equal(t, tc.apply, ok)
		})
	}
}

func TestBucketKeys(t *testing.T) {
	r := compile(t, rule("ns/p/global/0", 10, header("x-user-id", config.RateLimitDistinct, "")))[0]
	key := func(route, user string) string {
		k, ok := r.bucket(&Request{Route: route, Header: http.Header{"X-User-Id": {user}}}, time.Unix(60, 0))
		require.True(t, ok)
		return k
	}
	require.Equal(t, key("a", "u1"), key("a", "u1"))
	require.NotEqual(t, key("a", "u1"), key("a", "u2"), "each distinct value its bucket")
	require.NotEqual(t, key("a", "u1"), key("b", "u1"), "buckets are per route")
	require.Less(t, len(key("a", strings.Repeat("x", 1<<20))), 100, "a client's value is hashed: keys stay short")
	r.Shared = true
	require.Equal(t, key("a", "u1"), key("b", "u1"), "a shared rule's bucket is common to its routes")
}

func TestCompileRejects(t *testing.T) {
	_, err := Compile([]config.RateLimitRule{{Name: "p", Limit: 1, Window: config.Duration(time.Minute), Selectors: []config.RateLimitSelector{header("x", config.RateLimitRegex, "(")}}})
	require.ErrorContains(t, err, "rate limit p: header x")
	_, err = Compile([]config.RateLimitRule{{Name: "p", Limit: 1, Window: config.Duration(time.Millisecond)}})
	require.ErrorContains(t, err, "at least a second")
}

// stores runs f against the in-memory store and a real Redis.
func stores(t *testing.T, f func(t *testing.T, s Store)) {
	t.Run("memory", func(t *testing.T) { f(t, NewMemory(0)) })
	t.Run("redis", func(t *testing.T) {
		srv := testenv.StartRedis(t)
		r, err := NewRedis(RedisOptions{URL: srv.URL(), Timeout: time.Second})
		require.NoError(t, err)
		t.Cleanup(func() { _ = r.Close() })
		f(t, r)
	})
}

func TestStoreTakeAndAdd(t *testing.T) {
	stores(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		exp := time.Now().Add(time.Minute)
		used, ok, err := s.Take(ctx, "k", 10, 0, exp)
		require.NoError(t, err)
		require.True(t, ok)
		require.Zero(t, used)
		require.NoError(t, s.Add(ctx, "k", 7, exp))
		used, ok, err = s.Take(ctx, "k", 10, 3, exp)
		require.NoError(t, err)
		require.True(t, ok, "a cost that fits passes")
		require.Equal(t, uint64(10), used)
		used, ok, err = s.Take(ctx, "k", 10, 0, exp)
		require.NoError(t, err)
		require.False(t, ok, "a spent bucket refuses")
		require.Equal(t, uint64(10), used)
		_, ok, err = s.Take(ctx, "k2", 10, 11, exp)
		require.NoError(t, err)
		require.False(t, ok, "a cost above the limit never fits")
		// An expired bucket starts over.
		require.NoError(t, s.Add(ctx, "k3", 5, time.Now().Add(50*time.Millisecond)))
		require.Eventually(t, func() bool {
			used, ok, err := s.Take(ctx, "k3", 5, 0, time.Now().Add(time.Minute))
			return err == nil && ok && used == 0
		}, 5*time.Second, 20*time.Millisecond)
	})
}

func TestStoreIsAtomic(t *testing.T) {
	stores(t, func(t *testing.T, s Store) {
		exp := time.Now().Add(time.Minute)
		var wg sync.WaitGroup
		var mu sync.Mutex
		passed := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					_, ok, err := s.Take(context.Background(), "k", 100, 1, exp)
					if err == nil && ok {
						mu.Lock()
						passed++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		require.Equal(t, 100, passed, "exactly the limit passes, however the takes interleave")
	})
}

func TestMemoryIsBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	m := NewMemory(3)
	m.now = func() time.Time { return now }
	for i := range 3 {
		require.NoError(t, m.Add(context.Background(), fmt.Sprint(i), 1, now.Add(time.Second)))
	}
	_, _, err := m.Take(context.Background(), "new", 10, 0, now.Add(time.Second))
	require.ErrorIs(t, err, ErrFull)
	now = now.Add(2 * time.Second) // the three expire: room again
	_, ok, err := m.Take(context.Background(), "new", 10, 0, now.Add(time.Second))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 1, m.Len())
}

func TestLimiterBudget(t *testing.T) {
	now := time.Unix(1_700_000_000, 0) // 20 s into a minute
	reg := prometheus.NewRegistry()
	l, err := New(Options{Registerer: reg, Now: func() time.Time { return now }})
	require.NoError(t, err)
	rules := compile(t, rule("ns/p/global/0", 100, header("x-user-id", config.RateLimitDistinct, "")))
	req := &Request{Route: "default/r", Header: http.Header{"X-User-Id": {"alice"}}}
	ctx := context.Background()

	tk, err := l.Check(ctx, rules, req)
	require.NoError(t, err)
	h := http.Header{}
	tk.WriteHeader(h)
	require.Equal(t, "100", h.Get("X-Ratelimit-Remaining"))
	require.Equal(t, "100, 100;w=60", h.Get("X-Ratelimit-Limit"))
	require.Equal(t, "40", h.Get("X-Ratelimit-Reset"))
	tk.Charge(ctx, func(key string) (uint64, bool) { return map[string]uint64{"tokens": 120}[key], key == "tokens" })

	_, err = l.Check(ctx, rules, req)
	ae := asAPIError(t, err)
	require.Equal(t, http.StatusTooManyRequests, ae.Status)
	require.Equal(t, "rate_limit_exceeded", ae.Code)
	require.Equal(t, "0", ae.Header.Get("X-Ratelimit-Remaining"))
	require.Equal(t, "40", ae.Header.Get("Retry-After"))

	_, err = l.Check(ctx, rules, &Request{Route: "default/r", Header: http.Header{"X-User-Id": {"bob"}}})
	require.NoError(t, err, "another user has a budget of their own")
	_, err = l.Check(ctx, rules, &Request{Route: "default/r", Header: http.Header{}})
	require.NoError(t, err, "without the header the rule does not apply")

	now = now.Add(time.Minute) // the next window
	_, err = l.Check(ctx, rules, req)
	require.NoError(t, err)
	require.Equal(t, 1.0, testutil.ToFloat64(l.decisions.WithLabelValues("ns/p/global/0", OutcomeOverLimit)))
	require.Equal(t, 3.0, testutil.ToFloat64(l.decisions.WithLabelValues("ns/p/global/0", OutcomeOK)), "a rule that does not apply decides nothing")
}

func TestLimiterShadowAndRequestCost(t *testing.T) {
	l, err := New(Options{})
	require.NoError(t, err)
	shadow := rule("p/shadow", 1)
	shadow.Shadow = true
	shadow.RequestCost, shadow.ResponseCostKey = 1, ""
	requests := rule("p/requests", 2)
	requests.RequestCost, requests.ResponseCostKey = 1, ""
	// Real time: an hour's window, which the test does not cross (a
	// minute's, aligned on the clock, it could).
	shadow.Window, requests.Window = config.Duration(time.Hour), config.Duration(time.Hour)
	rules := compile(t, shadow, requests)
	for i := range 2 {
		_, err := l.Check(context.Background(), rules, &Request{Header: http.Header{}})
		require.NoError(t, err, "request %d: a shadow rule never refuses", i)
	}
	_, err = l.Check(context.Background(), rules, &Request{Header: http.Header{}})
	require.Error(t, err, "a request-count rule refuses its third request")
	require.Equal(t, 2.0, testutil.ToFloat64(l.decisions.WithLabelValues("p/shadow", OutcomeShadowOverLimit)))
}

// TestLimiterFailureModes kills Redis under a limiter: failing open lets
// requests pass, counts errors and logs once; failing closed refuses them;
// once Redis is back, enforcement resumes.
func TestLimiterFailureModes(t *testing.T) {
	srv := testenv.StartRedis(t)
	for _, failClosed := range []bool{false, true} {
		t.Run(fmt.Sprint("failClosed=", failClosed), func(t *testing.T) {
			store, err := NewRedis(RedisOptions{URL: srv.URL(), Timeout: 200 * time.Millisecond, Prefix: fmt.Sprint("t", failClosed, ":")})
			require.NoError(t, err)
			defer store.Close()
			var logs bytes.Buffer
			var logMu sync.Mutex
			l, err := New(Options{Global: store, FailClosed: failClosed, Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))})
			require.NoError(t, err)
			r := rule("p/0", 1)
			r.Window = config.Duration(time.Hour) // real time: a window the test does not cross
			r.RequestCost, r.ResponseCostKey = 1, ""
			rules := compile(t, r)
			ctx := context.Background()
			_, err = l.Check(ctx, rules, &Request{Header: http.Header{}})
			require.NoError(t, err)
			_, err = l.Check(ctx, rules, &Request{Header: http.Header{}})
			require.Error(t, err, "over the limit")

			srv.Kill()
			for range 3 {
				_, err = l.Check(ctx, rules, &Request{Header: http.Header{}})
				if failClosed {
					require.Equal(t, http.StatusInternalServerError, asAPIError(t, err).Status)
				} else {
					require.NoError(t, err, "Redis down, failing open: requests pass")
				}
			}
			require.Equal(t, 3.0, testutil.ToFloat64(l.storeErrors.WithLabelValues("redis", "take")))
			logMu.Lock()
			require.Equal(t, 1, strings.Count(logs.String(), "the store fails"), "logged once, not per request:\n%s", logs.String())
			logMu.Unlock()

			srv.Start() // back, empty: enforcement resumes
			_, err = l.Check(ctx, rules, &Request{Header: http.Header{}})
			require.NoError(t, err)
			_, err = l.Check(ctx, rules, &Request{Header: http.Header{}})
			require.Error(t, err)
			logMu.Lock()
			require.Contains(t, logs.String(), "answers again")
			logMu.Unlock()
		})
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
