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
	redisURL     string
	envoyGateway string
	failClosed   bool
	timeout      time.Duration
	maxBuckets   int
	fs           *flag.FlagSet // to tell the flags given from their defaults
	redisFrom    string        // where redisURL came from, for errors
}

func (f *rateLimitFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.redisURL, "redis-url", envOr("AIGW_REDIS_URL", ""), "Redis holding the buckets of global rate limit rules, shared by the replicas that use it: redis://[user:password@]host:port[/db], rediss:// for TLS (default $AIGW_REDIS_URL; empty: in this process's memory)")
	fs.StringVar(&f.envoyGateway, "envoy-gateway-config", envOr("AIGW_ENVOY_GATEWAY_CONFIG", ""), "Envoy Gateway's startup configuration file (an EnvoyGateway document, as its envoy-gateway-config ConfigMap holds): its rateLimit's Redis, timeout and failClosed apply, unless the flags here set them (default $AIGW_ENVOY_GATEWAY_CONFIG)")
	fs.BoolVar(&f.failClosed, "ratelimit-fail-closed", false, "refuse requests (500) while the rate limit store fails, instead of letting them pass")
	fs.DurationVar(&f.timeout, "ratelimit-timeout", ratelimit.DefaultTimeout, "bound of each rate limit store call; a slower one is a store failure")
	fs.IntVar(&f.maxBuckets, "ratelimit-max-buckets", ratelimit.DefaultMaxBuckets, "buckets the in-memory store holds at most (each distinct client of each rule and window is one); when full, new ones are store failures")
	f.fs = fs
}

// applyEnvoyGateway takes the store, its timeout and failure mode from
// Envoy Gateway's configuration file, where the flags leave them unset.
func (f *rateLimitFlags) applyEnvoyGateway() error {
	if f.envoyGateway == "" {
		return nil
	}
	eg, err := readEnvoyGatewayRateLimit(f.envoyGateway)
	if err != nil {
		return fmt.Errorf("--envoy-gateway-config: %w", err)
	}
	given := map[string]bool{}
	if f.fs != nil {
		f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	}
	if eg.RedisURL != "" {
		if f.redisURL != "" {
			return fmt.Errorf("--envoy-gateway-config %s names a Redis, and so does --redis-url (or $AIGW_REDIS_URL): keep one", f.envoyGateway)
		}
		f.redisURL, f.redisFrom = eg.RedisURL, "--envoy-gateway-config "+f.envoyGateway
	}
	if eg.Timeout > 0 && !given["ratelimit-timeout"] {
		f.timeout = eg.Timeout
	}
	if !given["ratelimit-fail-closed"] {
		f.failClosed = eg.FailClosed
	}
	return nil
}

// limiter returns the rate limiter the flags configure, its metrics in reg,
// and how to close its store.
func (f *rateLimitFlags) limiter(reg prometheus.Registerer, logger *slog.Logger) (*ratelimit.Limiter, func(), error) {
	if err := f.applyEnvoyGateway(); err != nil {
		return nil, nil, err
	}
	opts := ratelimit.Options{FailClosed: f.failClosed, Timeout: f.timeout, MaxLocalBuckets: f.maxBuckets, Registerer: reg, Logger: logger}
	closeStore := func() {}
	if f.redisURL != "" {
		r, err := ratelimit.NewRedis(ratelimit.RedisOptions{URL: f.redisURL, Timeout: f.timeout})
		if err != nil {
			from := f.redisFrom
			if from == "" {
				from = "--redis-url"
			}
			return nil, nil, fmt.Errorf("%s: %w", from, err)
		}
		opts.Global = r
		closeStore = func() { _ = r.Close() }
		logger.Info("ratelimit: global rules share their buckets in Redis", "redis", redisHost(f.redisURL), "fail_closed", f.failClosed, "timeout", f.timeout)
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
