package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigw-dev/aigw/internal/apierror"
)

// Decision outcomes, the outcome label of aigw_ratelimit_decisions_total.
const (
	OutcomeOK              = "ok"
	OutcomeOverLimit       = "over_limit"
	OutcomeShadowOverLimit = "shadow_over_limit"
	OutcomeError           = "error"
)

// DefaultTimeout bounds one store call when Options.Timeout is 0.
const DefaultTimeout = 100 * time.Millisecond

// Options configure a [Limiter].
type Options struct {
	// Global holds the buckets of global rules; nil keeps them in this
	// process's memory (one replica's budget).
	Global Store
	// FailClosed refuses requests (500) while the global store fails;
	// false, the default as in Envoy Gateway, lets them pass.
	FailClosed bool
	// Timeout bounds each store call; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxLocalBuckets bounds the in-memory buckets (0: DefaultMaxBuckets).
	MaxLocalBuckets int
	// Registerer receives the limiter's metrics; nil registers none.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Limiter checks requests against rules before their upstream and charges
// their cost after the response. It is safe for concurrent use.
type Limiter struct {
	global     Store
	local      *Memory
	failClosed bool
	timeout    time.Duration
	logger     *slog.Logger
	now        func() time.Time
	down       atomic.Bool // the last global store call failed

	decisions   *prometheus.CounterVec
	storeTime   *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec
}

// New returns a limiter.
func New(opts Options) (*Limiter, error) {
	l := &Limiter{
		global: opts.Global, local: NewMemory(opts.MaxLocalBuckets), failClosed: opts.FailClosed,
		timeout: opts.Timeout, logger: opts.Logger, now: opts.Now,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigw_ratelimit_decisions_total",
			Help: "Rate limit decisions by rule and outcome (ok, over_limit, shadow_over_limit, error)."}, []string{"rule", "outcome"}),
		storeTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "aigw_ratelimit_store_duration_seconds",
			Help:    "Time of calls to the shared rate limit store (take: check before the request; add: charge after the response).",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25}}, []string{"store", "op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigw_ratelimit_store_errors_total",
			Help: "Rate limit store calls that failed (the request passed unless failing closed)."}, []string{"store", "op"}),
	}
	if l.global == nil {
		l.global = l.local
	}
	if l.timeout <= 0 {
		l.timeout = DefaultTimeout
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.local.now = l.now
	if r := opts.Registerer; r != nil {
		for _, c := range []prometheus.Collector{l.decisions, l.storeTime, l.storeErrors} {
			if err := r.Register(c); err != nil {
				return nil, fmt.Errorf("ratelimit metrics: %w", err)
			}
		}
	}
	return l, nil
}

// Ticket is what a request passed with: the buckets its response is
// charged to, and the tightest rule with headers (least left).
type Ticket struct {
	l       *Limiter
	charges []charge
	one     [1]charge // charges' array for the usual single rule
	tight   *Rule
	least   uint64        // what the tightest rule has left
	reset   time.Duration // until its window ends
}

type charge struct {
	rule   *Rule
	key    string
	expire time.Time
}

// Check checks req against each rule that selects it, charging their
// request costs, and returns the request's ticket; the error is an
// [apierror.Error]: 429 rate_limit_exceeded for a rule over its limit,
// or 500 when the store fails and the limiter fails closed.
func (l *Limiter) Check(ctx context.Context, rules []*Rule, req *Request) (*Ticket, error) {
	t := &Ticket{l: l}
	t.charges = t.one[:0]
	now := l.now()
	for _, r := range rules {
		c, used, passed, ok, err := l.probe(ctx, r, req, now)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		t.charges = append(t.charges, c)
		remaining := uint64(0)
		if used < r.Limit {
			remaining = r.Limit - used
		}
		if !r.NoHeaders && (t.tight == nil || remaining < t.least) {
			t.tight, t.least, t.reset = r, remaining, c.expire.Sub(now)
		}
		if !passed && !r.Shadow {
			h := http.Header{}
			writeRateLimitHeader(h, r, 0, c.expire.Sub(now))
			h["Retry-After"] = h["X-Ratelimit-Reset"]
			return nil, apierror.RateLimited("rate limit exceeded: the budget of this route for this client is spent until the window resets", h)
		}
	}
	return t, nil
}

// probe takes r's bucket for req (checking it, adding the request cost)
// and counts the decision. ok is false when r does not select req, or
// when the store failed and the limiter fails open (as if r did not
// apply); err is the 500 of a store failure when failing closed.
func (l *Limiter) probe(ctx context.Context, r *Rule, req *Request, now time.Time) (c charge, used uint64, passed, ok bool, err error) {
	start, end := windowOf(now, r.window)
	key, applies := r.bucket(req, start)
	if !applies {
		return charge{}, 0, false, false, nil
	}
	store, storeName := l.storeOf(r)
	used, passed, err = l.take(ctx, store, key, r, end)
	if err != nil {
		l.storeFailed(storeName, "take", err)
		l.decisions.WithLabelValues(r.Name, OutcomeError).Inc()
		if l.failClosed && !r.Shadow {
			return charge{}, 0, false, false, &apierror.Error{Status: http.StatusInternalServerError, Type: apierror.TypeInternal,
				Code: "rate_limit_unavailable", Message: "the rate limit service is unavailable", Err: err}
		}
		return charge{}, 0, false, false, nil
	}
	if storeName == "redis" {
		l.storeOK()
	}
	switch {
	case passed:
		l.decisions.WithLabelValues(r.Name, OutcomeOK).Inc()
	case r.Shadow:
		l.decisions.WithLabelValues(r.Name, OutcomeShadowOverLimit).Inc()
	default:
		l.decisions.WithLabelValues(r.Name, OutcomeOverLimit).Inc()
	}
	return charge{rule: r, key: key, expire: end}, used, passed, true, nil
}

// take runs Store.Take; a remote store's call is bounded by the
// limiter's timeout and timed.
func (l *Limiter) take(ctx context.Context, store Store, key string, r *Rule, end time.Time) (uint64, bool, error) {
	if store == Store(l.local) {
		return l.local.Take(ctx, key, r.Limit, r.RequestCost, end)
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	began := time.Now()
	defer func() { l.storeTime.WithLabelValues("redis", "take").Observe(time.Since(began).Seconds()) }()
	return store.Take(ctx, key, r.Limit, r.RequestCost, end)
}

func (l *Limiter) storeOf(r *Rule) (Store, string) {
	if r.Local || l.global == Store(l.local) {
		return l.local, "memory"
	}
	return l.global, "redis"
}

// storeFailed counts a failed call and logs the first of a run of them.
func (l *Limiter) storeFailed(store, op string, err error) {
	l.storeErrors.WithLabelValues(store, op).Inc()
	if errors.Is(err, ErrFull) {
		return // the memory store is full: counted, not logged per request
	}
	if l.down.CompareAndSwap(false, true) {
		mode := "requests pass (fail open)"
		if l.failClosed {
			mode = "requests are refused (fail closed)"
		}
		l.logger.Warn("ratelimit: the store fails; until it answers again "+mode, "store", store, "error", err)
	}
}

func (l *Limiter) storeOK() {
	if l.down.CompareAndSwap(true, false) {
		l.logger.Info("ratelimit: the store answers again; limits are enforced")
	}
}

// writeRateLimitHeader sets Envoy's x-ratelimit-* headers (draft 03) of
// r in h.
func writeRateLimitHeader(h http.Header, r *Rule, remaining uint64, reset time.Duration) {
	limit := strconv.FormatUint(r.Limit, 10)
	secs := int64((reset + time.Second - 1) / time.Second)
	h["X-Ratelimit-Limit"] = []string{limit + ", " + limit + ";w=" + strconv.FormatInt(int64(r.window/time.Second), 10)}
	h["X-Ratelimit-Remaining"] = []string{strconv.FormatUint(remaining, 10)}
	h["X-Ratelimit-Reset"] = []string{strconv.FormatInt(secs, 10)}
}

// WriteHeader sets the x-ratelimit-* headers of the request's tightest
// rule in h (none when no rule with headers applied).
func (t *Ticket) WriteHeader(h http.Header) {
	if t == nil || t.tight == nil {
		return
	}
	writeRateLimitHeader(h, t.tight, t.least, t.reset)
}

// Charge adds the response's cost to each bucket the request was checked
// against: the value costOf gives for the rule's llmRequestCosts key, or
// its fixed response cost. It is called once per request, after the
// response (a request that fell back to another backend is charged once,
// with the usage of the response the client got).
func (t *Ticket) Charge(ctx context.Context, costOf func(key string) (uint64, bool)) {
	if t == nil {
		return
	}
	for _, c := range t.charges {
		cost := c.rule.ResponseCost
		if c.rule.ResponseCostKey != "" {
			v, ok := costOf(c.rule.ResponseCostKey)
			if !ok {
				continue
			}
			cost = v
		}
		if cost == 0 {
			continue
		}
		store, storeName := t.l.storeOf(c.rule)
		err := t.l.add(ctx, store, c.key, cost, c.expire)
		if err != nil {
			t.l.storeFailed(storeName, "add", err)
		} else if storeName == "redis" {
			t.l.storeOK()
		}
	}
}

// add runs Store.Add, bounded by the limiter's timeout when the store is
// remote, and not cut by the request's end.
func (l *Limiter) add(ctx context.Context, store Store, key string, cost uint64, expire time.Time) error {
	if store == Store(l.local) {
		return l.local.Add(ctx, key, cost, expire)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	began := time.Now()
	defer func() { l.storeTime.WithLabelValues("redis", "add").Observe(time.Since(began).Seconds()) }()
	return store.Add(ctx, key, cost, expire)
}

// ErrQuotaExhausted marks a backend whose quota for the request is spent:
// another backend may serve it.
var ErrQuotaExhausted = errors.New("the backend's quota is exhausted")

// CheckQuota checks req against a backend's quota: every rule of service
// must have quota left, and, among the model's rules that select req and
// are not in shadow mode, one at least (Envoy AI Gateway's Shared mode). It
// returns the ticket charging all of them after the response; the error
// is a 429 wrapping [ErrQuotaExhausted], or a store failure's as in
// [Limiter.Check].
func (l *Limiter) CheckQuota(ctx context.Context, service, model []*Rule, req *Request) (*Ticket, error) {
	t := &Ticket{l: l}
	now := l.now()
	var enforced, left bool
	for i, group := range [2][]*Rule{service, model} {
		for _, r := range group {
			c, _, passed, ok, err := l.probe(ctx, r, req, now)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			t.charges = append(t.charges, c)
			switch {
			case r.Shadow:
			case i == 0 && !passed:
				return nil, quotaExhausted()
			case i == 1:
				enforced, left = true, left || passed
			}
		}
	}
	if enforced && !left {
		return nil, quotaExhausted()
	}
	return t, nil
}

func quotaExhausted() error {
	return &apierror.Error{Status: http.StatusTooManyRequests, Type: apierror.TypeRateLimit, Code: "quota_exceeded",
		Message: "the quota of every backend that serves this model is exhausted", Err: ErrQuotaExhausted}
}
