package app

import (
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigw-dev/aigw/internal/ratelimit"
)

// rateLimitFlags configure where rate limit buckets live and what happens
// when that store fails.
type rateLimitFlags struct {
	redisURL   string
	failClosed bool
	timeout    time.Duration
	maxBuckets int
}

func (f *rateLimitFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.redisURL, "redis-url", envOr("AIGW_REDIS_URL", ""), "Redis holding the buckets of global rate limit rules, shared by the replicas that use it: redis://[user:password@]host:port[/db], rediss:// for TLS (default $AIGW_REDIS_URL; empty: in this process's memory)")
	fs.BoolVar(&f.failClosed, "ratelimit-fail-closed", false, "refuse requests (500) while the rate limit store fails, instead of letting them pass")
	fs.DurationVar(&f.timeout, "ratelimit-timeout", ratelimit.DefaultTimeout, "bound of each rate limit store call; a slower one is a store failure")
	fs.IntVar(&f.maxBuckets, "ratelimit-max-buckets", ratelimit.DefaultMaxBuckets, "buckets the in-memory store holds at most (each distinct client of each rule and window is one); when full, new ones are store failures")
}

// limiter returns the rate limiter the flags configure, its metrics in reg,
// and how to close its store.
func (f *rateLimitFlags) limiter(reg prometheus.Registerer, logger *slog.Logger) (*ratelimit.Limiter, func(), error) {
	opts := ratelimit.Options{FailClosed: f.failClosed, Timeout: f.timeout, MaxLocalBuckets: f.maxBuckets, Registerer: reg, Logger: logger}
	closeStore := func() {}
	if f.redisURL != "" {
		r, err := ratelimit.NewRedis(ratelimit.RedisOptions{URL: f.redisURL, Timeout: f.timeout})
		if err != nil {
			return nil, nil, fmt.Errorf("--redis-url: %w", err)
		}
		opts.Global = r
		closeStore = func() { _ = r.Close() }
		logger.Info("ratelimit: global rules share their buckets in Redis", "redis", redisHost(f.redisURL), "fail_closed", f.failClosed)
	}
	l, err := ratelimit.New(opts)
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	return l, closeStore, nil
}

// redisHost is the URL's host, without its credentials, for logs.
func redisHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return u.Host
}
