package httpproxy

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aigw-dev/aigw/internal/backendauth"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/costs"
	"github.com/aigw-dev/aigw/internal/epp"
	"github.com/aigw-dev/aigw/internal/metrics"
	"github.com/aigw-dev/aigw/internal/processor"
	"github.com/aigw-dev/aigw/internal/router"
)

// DefaultMaxRequestBodyBytes bounds request bodies when the configuration
// sets no limit (50 MiB, as Envoy AI Gateway's standalone mode).
const DefaultMaxRequestBodyBytes = 50 << 20

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
	accessLog  *slog.Logger
	metrics    metrics.Recorder
	current    atomic.Pointer[runtimeConfig]
	transports *transportCache
	pickers    *epp.Conns
	schedulers *schedulers
	proxy      *proxy
	limits     Limits
	budget     *bodyBudget
}

// runtimeConfig is the compiled, immutable form of one config.Config.
type runtimeConfig struct {
	source   *config.Config
	table    *router.Table[*backend]
	costs    map[*router.Route]*costs.Calculator
	backends map[string]*backend
	maxBody  int64
	// requestReceived bounds the time to receive a whole request; zero:
	// no bound but the body read timeout.
	requestReceived time.Duration
}

// New returns a Gateway with no routes: every request gets 404 until Apply.
func New(opts Options) *Gateway {
	g := &Gateway{
		logger:     orDiscard(opts.Logger),
		accessLog:  orDiscard(opts.AccessLog),
		metrics:    opts.Metrics,
		transports: newTransportCache(),
		limits:     opts.Limits.withDefaults(),
	}
	g.budget = &bodyBudget{limit: g.limits.BodyBudget}
	g.pickers = epp.NewConns(g.logger)
	g.schedulers = newSchedulers(g.logger)
	g.proxy = newProxy(g)
	empty := &config.Config{Version: config.Version}
	rc, _ := g.compile(empty) // an empty config always compiles
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
	// Keep the schedulers of the pools in force (the old configuration's
	// when the new one was rejected).
	inForce := g.current.Load().source
	g.schedulers.retain(schedulerKeys(inForce))
	g.pickers.Retain(pickerConfigs(inForce))
	return err
}

// pickerConfigs returns the endpoint pickers cfg's pools use.
func pickerConfigs(cfg *config.Config) []*config.EndpointPicker {
	var out []*config.EndpointPicker
	for _, b := range cfg.Backends {
		if b.Pool != nil && b.Pool.EndpointPicker != nil {
			out = append(out, b.Pool.EndpointPicker)
		}
	}
	return out
}

// schedulerKeys returns the scheduler keys of cfg's pools.
func schedulerKeys(cfg *config.Config) map[string]bool {
	keys := map[string]bool{}
	for _, b := range cfg.Backends {
		if b.Pool != nil {
			keys[schedKey(b.Pool)] = true
		}
	}
	return keys
}

// Config returns the configuration in force.
func (g *Gateway) Config() *config.Config { return g.current.Load().source }

// Close releases idle upstream connections and picker connections.
func (g *Gateway) Close() {
	g.transports.closeIdle()
	g.pickers.Close()
	g.schedulers.close()
}

// SetPoolEndpoints replaces the ready endpoints of the InferencePool named
// "namespace/name" in the configuration in force; it is how a control plane
// that watches Pods keeps endpoints fresh between configurations. It
// reports whether the pool exists.
func (g *Gateway) SetPoolEndpoints(pool string, eps []config.PoolEndpoint) bool {
	found := false
	for _, b := range g.current.Load().backends {
		if b.pool != nil && b.pool.name == pool {
			b.pool.setEndpoints(eps)
			found = true
		}
	}
	return found
}

func (g *Gateway) compile(cfg *config.Config) (*runtimeConfig, error) {
	if cfg.Version != config.Version {
		return nil, fmt.Errorf("configuration version %q is not supported (want %q)", cfg.Version, config.Version)
	}
	backends := make(map[string]*backend, len(cfg.Backends))
	var errs []error
	for i := range cfg.Backends {
		cb := &cfg.Backends[i]
		if _, dup := backends[cb.Name]; dup {
			errs = append(errs, fmt.Errorf("backend %s: defined twice", cb.Name))
			continue
		}
		b, err := g.newBackend(cb)
		if err != nil {
			errs = append(errs, fmt.Errorf("backend %s: %w", cb.Name, err))
			continue
		}
		backends[cb.Name] = b
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	table, err := router.New(cfg, func(name string) (*backend, bool) {
		b, ok := backends[name]
		return b, ok
	})
	if err != nil {
		return nil, err
	}
	calcs := make(map[*router.Route]*costs.Calculator, len(table.Routes()))
	for _, r := range table.Routes() {
		c, err := costs.New(r.RequestCosts)
		if err != nil {
			errs = append(errs, fmt.Errorf("route %s: llmRequestCosts: %w", r.Name, err))
			continue
		}
		calcs[r] = c
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	maxBody := cfg.MaxRequestBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxRequestBodyBytes
	}
	return &runtimeConfig{source: cfg, table: table, costs: calcs, backends: backends, maxBody: maxBody,
		requestReceived: cfg.Client.RequestReceivedTimeout.Std()}, nil
}

// backend is the data plane's handle for a config.Backend.
type backend struct {
	pipeline  processor.Backend
	provider  string
	endpoints []upstreamEndpoint
	next      atomic.Uint32
	transport roundTripper
	// pool is set for an InferencePool backend.
	pool *poolRuntime
}

type upstreamEndpoint struct {
	baseURL    string // scheme://host:port
	hostHeader string
}

func (g *Gateway) newBackend(cb *config.Backend) (*backend, error) {
	tc := g.transports
	auth, err := backendauth.New(cb.Auth)
	if err != nil {
		return nil, err
	}
	if cb.Pool != nil {
		pool, err := newPoolRuntime(cb.Pool, g.logger, tc, g.pickers, g.schedulers)
		if err != nil {
			return nil, fmt.Errorf("pool %s: %w", cb.Pool.Name, err)
		}
		return &backend{
			pipeline: processor.Backend{Name: cb.Name, Schema: cb.Schema, Auth: auth},
			provider: processor.ProviderName(cb.Schema.Name),
			pool:     pool,
		}, nil
	}
	if len(cb.Endpoints) == 0 {
		return nil, errors.New("no endpoints")
	}
	rt, err := tc.get(cb.TLS, cb.HTTP2)
	if err != nil {
		return nil, err
	}
	b := &backend{
		pipeline:  processor.Backend{Name: cb.Name, Schema: cb.Schema, Auth: auth},
		provider:  processor.ProviderName(cb.Schema.Name),
		transport: rt,
	}
	scheme := "http"
	if cb.TLS != nil {
		scheme = "https"
	}
	for _, ep := range cb.Endpoints {
		if ep.Host == "" || ep.Port <= 0 || ep.Port > 65535 {
			return nil, fmt.Errorf("invalid endpoint %q port %d", ep.Host, ep.Port)
		}
		b.endpoints = append(b.endpoints, upstreamEndpoint{
			baseURL:    scheme + "://" + joinHostPort(ep.Host, ep.Port),
			hostHeader: ep.HostHeader,
		})
	}
	return b, nil
}

// pick returns the next endpoint, round robin.
func (b *backend) pick() upstreamEndpoint {
	if len(b.endpoints) == 1 {
		return b.endpoints[0]
	}
	return b.endpoints[int(b.next.Add(1)-1)%len(b.endpoints)]
}
