package httpproxy

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/aigw-dev/aigw/internal/bodybudget"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/metrics"
	"github.com/aigw-dev/aigw/internal/processor"
	"github.com/aigw-dev/aigw/internal/ratelimit"
	"github.com/aigw-dev/aigw/internal/tracing"
)

// Options configure a Gateway.
type Options struct {
	// Logger receives operational logs; AccessLog one line per request.
	// Either may be nil to discard.
	Logger    *slog.Logger
	AccessLog *slog.Logger
	// Metrics records GenAI metrics; nil records nothing.
	Metrics metrics.Recorder
	// Limits bound what clients can make the gateway hold.
	Limits Limits
	// AuthHTTPClient, when set, sends the requests of backend credentials
	// to identity providers; nil uses their libraries' defaults.
	AuthHTTPClient *http.Client
	// Tracing makes a span per request, attempt and pool pick; nil
	// records nothing.
	Tracing trace.TracerProvider
	// TraceContent is what spans record of prompts and completions.
	TraceContent tracing.Content
	// RateLimiter enforces rate limits and token budgets; nil keeps their
	// buckets in memory.
	RateLimiter *ratelimit.Limiter
}

// Limits bound the resources one client can make the gateway hold,
// whatever it declares. Zero values mean the defaults.
type Limits struct {
	// BodyBudget bounds the bytes of request bodies held at once across
	// every connection; a request that does not fit gets 503 overloaded
	// (DefaultBodyBudget).
	BodyBudget int64
	// BodyReadTimeout bounds the time a request body may make no progress
	// (DefaultBodyReadTimeout); negative disables it.
	BodyReadTimeout time.Duration
	// MaxEventBytes bounds one event of a streamed response
	// (translator.DefaultMaxEventBytes).
	MaxEventBytes int
	// MaxRequestHeaders bounds the header fields of a request, and
	// MaxRequestHeaderBytes their size (names, values and separators), as
	// Envoy's max_headers_count and max_request_headers_kb: over either,
	// 431 (DefaultMaxRequestHeaders, DefaultMaxRequestHeaderBytes).
	MaxRequestHeaders     int
	MaxRequestHeaderBytes int
}

// withDefaults returns l with its zero values replaced by the defaults.
func (l Limits) withDefaults() Limits {
	if l.BodyBudget <= 0 {
		l.BodyBudget = DefaultBodyBudget
	}
	if l.BodyReadTimeout == 0 {
		l.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if l.MaxRequestHeaders <= 0 {
		l.MaxRequestHeaders = DefaultMaxRequestHeaders
	}
	if l.MaxRequestHeaderBytes <= 0 {
		l.MaxRequestHeaderBytes = DefaultMaxRequestHeaderBytes
	}
	return l
}

// Gateway serves AI traffic from a configuration swapped atomically by
// Apply. It is safe for concurrent use.
type Gateway struct {
	logger     *slog.Logger
	pipeline   *processor.Pipeline
	current    atomic.Pointer[runtimeConfig]
	transports *transportCache
	proxy      *httputil.ReverseProxy
	limits     Limits
	budget     *bodybudget.Budget
}

// runtimeConfig is one compiled configuration with the transport of each
// backend.
type runtimeConfig struct {
	*processor.Runtime
	transports map[*processor.Backend]roundTripper
}

// New returns a Gateway with no routes: every request gets 404 until Apply.
func New(opts Options) *Gateway {
	g := &Gateway{
		logger:     orDiscard(opts.Logger),
		transports: newTransportCache(),
		limits:     opts.Limits.withDefaults(),
	}
	g.pipeline = processor.New(processor.Options{Logger: g.logger, AccessLog: opts.AccessLog, Metrics: opts.Metrics,
		MaxEventBytes: g.limits.MaxEventBytes, AuthHTTPClient: opts.AuthHTTPClient, Tracing: opts.Tracing, TraceContent: opts.TraceContent, RateLimiter: opts.RateLimiter})
	g.budget = bodybudget.New(g.limits.BodyBudget)
	g.proxy = newReverseProxy(g.logger)
	rc, _ := g.compile(&config.Config{Version: config.Version}) // an empty config always compiles
	g.current.Store(rc)
	return g
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Apply compiles cfg and, if it compiles, makes it the configuration of new
// requests. On error the running configuration stays.
func (g *Gateway) Apply(cfg *config.Config) error {
	rc, err := g.compile(cfg)
	if err == nil {
		g.current.Store(rc)
	}
	// Keep the pool state of the configuration in force (the old one when
	// the new one was rejected).
	g.pipeline.Retain(g.current.Load().Config())
	return err
}

// Config returns the configuration in force.
func (g *Gateway) Config() *config.Config { return g.current.Load().Config() }

// Close releases idle upstream connections and the pools' state.
func (g *Gateway) Close() {
	g.transports.closeIdle()
	g.pipeline.Close()
}

// SetPoolEndpoints replaces the ready endpoints of the InferencePool named
// "namespace/name" in the configuration in force; it is how a control plane
// that watches Pods keeps endpoints fresh between configurations. It
// reports whether the pool exists.
func (g *Gateway) SetPoolEndpoints(pool string, eps []config.PoolEndpoint) bool {
	return g.current.Load().SetPoolEndpoints(pool, eps)
}

func (g *Gateway) compile(cfg *config.Config) (*runtimeConfig, error) {
	rt, err := g.pipeline.Compile(cfg)
	if err != nil {
		return nil, err
	}
	rc := &runtimeConfig{Runtime: rt, transports: make(map[*processor.Backend]roundTripper, len(rt.Backends()))}
	for _, b := range rt.Backends() {
		var t roundTripper
		var err error
		if b.Pool != nil {
			t, err = g.transports.get(nil, b.Pool.H2C())
		} else {
			t, err = g.transports.get(b.Config.TLS, b.Config.HTTP2)
		}
		if err != nil {
			return nil, fmt.Errorf("backend %s: %w", b.Name, err)
		}
		rc.transports[b] = t
	}
	return rc, nil
}
