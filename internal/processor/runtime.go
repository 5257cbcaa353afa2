package processor

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/aigw-dev/aigw/internal/backendauth"
	"github.com/aigw-dev/aigw/internal/clientauth"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/costs"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/metrics"
	"github.com/aigw-dev/aigw/internal/pool"
	"github.com/aigw-dev/aigw/internal/ratelimit"
	"github.com/aigw-dev/aigw/internal/router"
	"github.com/aigw-dev/aigw/internal/tracing"
	"github.com/aigw-dev/aigw/internal/translator"
)

// DefaultMaxRequestBodyBytes bounds request bodies when the configuration
// sets no limit (50 MiB, as Envoy AI Gateway's standalone mode).
const DefaultMaxRequestBodyBytes = 50 << 20

// Options configure a [Pipeline].
type Options struct {
	// Logger receives operational logs; AccessLog one line per request.
	// Either may be nil to discard.
	Logger    *slog.Logger
	AccessLog *slog.Logger
	// Metrics records GenAI metrics; nil records nothing.
	Metrics metrics.Recorder
	// Pools keeps pool schedulers and picker connections across
	// configurations; nil makes one (closed by [Pipeline.Close]).
	Pools *pool.Registry
	// MaxEventBytes bounds one event of a streamed response; zero means
	// the translator's default.
	MaxEventBytes int
	// AuthHTTPClient, when set, sends the requests of backend credentials
	// to identity providers (token endpoints); nil uses their libraries'
	// defaults.
	AuthHTTPClient *http.Client
	// Tracing makes a span per request, attempt and pool pick; nil
	// records nothing (the client's trace context still reaches the
	// upstream).
	Tracing trace.TracerProvider
	// TraceContent is what spans record of prompts and completions.
	TraceContent tracing.Content
	// RateLimiter enforces the rules' rate limits and token budgets; nil
	// keeps their buckets in this process's memory.
	RateLimiter *ratelimit.Limiter
}

// Pipeline is what outlives one configuration: logs, metrics, pool state.
// It compiles configurations into [Runtime]s. It is safe for concurrent
// use.
type Pipeline struct {
	logger       *slog.Logger
	accessLog    *slog.Logger
	metrics      metrics.Recorder
	pools        *pool.Registry
	ownPools     bool
	attempt      AttemptOptions
	buffers      sync.Pool
	tracer       trace.Tracer
	traceContent tracing.Content
	limiter      *ratelimit.Limiter
	auth         *shared[config.Auth, llm.Authenticator]
	clients      *shared[config.ClientAuth, *clientauth.Checker]
}

// New returns a pipeline.
func New(opts Options) *Pipeline {
	p := &Pipeline{
		logger:    orDiscard(opts.Logger),
		accessLog: orDiscard(opts.AccessLog),
		metrics:   opts.Metrics,
		pools:     opts.Pools,
		attempt:   AttemptOptions{MaxEventBytes: opts.MaxEventBytes, HeaderBlocks: translator.NewHeaderBlocks()},
	}
	tp := opts.Tracing
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	p.tracer, p.traceContent = tp.Tracer(tracing.InstrumentationName), opts.TraceContent
	p.limiter = opts.RateLimiter
	if p.limiter == nil {
		p.limiter, _ = ratelimit.New(ratelimit.Options{Logger: p.logger}) // registers nothing: cannot fail
	}
	p.auth = newAuthenticators(backendauth.Options{Logger: p.logger, HTTPClient: opts.AuthHTTPClient})
	p.clients = newClientCheckers(clientauth.Options{Logger: p.logger, HTTPClient: opts.AuthHTTPClient})
	if p.pools == nil {
		p.pools, p.ownPools = pool.NewRegistry(p.logger), true
	}
	p.buffers.New = func() any { b := make([]byte, readBufferSize); return &b }
	return p
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Retain keeps the pool state of the configuration in force (cfg) and
// releases the rest: call it after each configuration change, also a
// rejected one.
func (p *Pipeline) Retain(cfg *config.Config) { p.pools.Retain(cfg) }

// Close releases the pool state, when the pipeline made it.
func (p *Pipeline) Close() {
	if p.ownPools {
		p.pools.Close()
	}
	p.clients.retain(nil)
}

// Runtime is one compiled configuration: immutable, safe for concurrent
// use. Requests [Runtime.Start] sessions on it.
type Runtime struct {
	p        *Pipeline
	source   *config.Config
	costs    map[*router.Route]*costs.Calculator
	backends []*Backend
	// listeners are what each listener's requests see, by listener name;
	// unknown serves a request whose listener the transport does not
	// know (ext_proc, or a handler called directly).
	listeners map[string]*listenerView
	unknown   *listenerView
	// none serves a request that matches no listener's hostname: no route.
	none *listenerView
	// limits are the compiled rate limits of the rules that have some;
	// quotas the compiled quotas of the backends that have one.
	limits map[*router.Rule[*Backend]][]*ratelimit.Rule
	quotas map[*Backend]*backendQuota
}

// listenerView is what the requests of one listener see: the routes
// attached to it and its Gateway's settings. Listeners with the same
// routes and Gateway share one.
type listenerView struct {
	// hostname is the listener's (exact or "*.suffix"; empty for any).
	hostname string
	table    *router.Table[*Backend]
	// gatewayAuth checks every request when the Gateway has a policy;
	// routeAuth each route's requests (the route's policy or the
	// Gateway's). routeOnly is true when some route has its own policy,
	// so that a request is checked once its route is known.
	gatewayAuth *clientauth.Checker
	routeAuth   map[*router.Route]*clientauth.Checker
	routeOnly   bool
	maxBody     int64
	// requestReceived bounds the time to receive a whole request; zero: no
	// bound.
	requestReceived time.Duration
}

// Backend is the pipeline's handle for one configured backend.
type Backend struct {
	// Name is "namespace/name" of the AIServiceBackend.
	Name string
	// Schema is the backend's API schema.
	Schema config.Schema
	// Auth is nil for a backend without credentials.
	Auth llm.Authenticator
	// Config is the backend as configured (TLS and protocol for transports).
	Config *config.Backend
	// Pool is set for an InferencePool backend.
	Pool *pool.Pool

	provider  string
	endpoints []Endpoint
	next      atomic.Uint32
}

// Endpoint is where one attempt goes.
type Endpoint struct {
	// BaseURL is "scheme://host:port".
	BaseURL string
	// Host is the Host header the upstream expects: the configured one, or
	// the address without the scheme's default port.
	Host string
}

// endpointAt returns the endpoint of an address.
func endpointAt(scheme, host string, port int32, hostHeader string) Endpoint {
	addr := net.JoinHostPort(host, strconv.Itoa(int(port)))
	ep := Endpoint{BaseURL: scheme + "://" + addr, Host: hostHeader}
	if ep.Host == "" {
		ep.Host = addr
		if (scheme == "https" && port == 443) || (scheme == "http" && port == 80) {
			ep.Host = host
			if strings.Contains(host, ":") {
				ep.Host = "[" + host + "]"
			}
		}
	}
	return ep
}

// nextEndpoint returns a static backend's next endpoint, round robin.
func (b *Backend) nextEndpoint() Endpoint {
	if len(b.endpoints) == 1 {
		return b.endpoints[0]
	}
	return b.endpoints[int(b.next.Add(1)-1)%len(b.endpoints)]
}

// Compile compiles cfg. The result shares the pipeline's pool state.
func (p *Pipeline) Compile(cfg *config.Config) (*Runtime, error) {
	if cfg.Version != config.Version {
		return nil, fmt.Errorf("configuration version %q is not supported (want %q)", cfg.Version, config.Version)
	}
	byName := make(map[string]*Backend, len(cfg.Backends))
	backends := make([]*Backend, 0, len(cfg.Backends))
	credentials := map[configKey]bool{}
	quotas := map[*Backend]*backendQuota{}
	var errs []error
	for i := range cfg.Backends {
		cb := &cfg.Backends[i]
		if _, dup := byName[cb.Name]; dup {
			errs = append(errs, &config.PartError{Part: config.PartBackend, Name: cb.Name, Err: fmt.Errorf("backend %s: defined twice", cb.Name)})
			continue
		}
		auth, key, err := p.auth.get(cb.Auth)
		if err != nil {
			errs = append(errs, &config.PartError{Part: config.PartBackendPolicy, Name: cb.Auth.Policy, Err: fmt.Errorf("backend %s: %w", cb.Name, err)})
			continue
		}
		credentials[key] = true
		b, err := p.newBackend(cb, auth)
		if err != nil {
			errs = append(errs, &config.PartError{Part: config.PartBackend, Name: cb.Name, Err: fmt.Errorf("backend %s: %w", cb.Name, err)})
			continue
		}
		byName[cb.Name] = b
		backends = append(backends, b)
		if cb.Quota != nil {
			q, err := compileQuota(cb.Name, cb.Quota)
			if err != nil {
				errs = append(errs, &config.PartError{Part: config.PartBackend, Name: cb.Name, Err: fmt.Errorf("backend %s: %w", cb.Name, err)})
				continue
			}
			quotas[b] = q
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	policies := map[configKey]bool{}
	checker := func(a *config.ClientAuth) *clientauth.Checker {
		c, key, err := p.clients.get(a)
		if err != nil {
			errs = append(errs, &config.PartError{Part: config.PartClientPolicy, Name: a.Policy, Err: err})
			return nil
		}
		policies[key] = true
		return c
	}
	resolve := func(name string) (*Backend, bool) {
		b, ok := byName[name]
		return b, ok
	}
	views, unknown, tables, err := compileViews(cfg, resolve, checker)
	if err != nil {
		return nil, err
	}
	limits := map[*router.Rule[*Backend]][]*ratelimit.Rule{}
	calcs := map[*router.Route]*costs.Calculator{}
	for _, table := range tables {
		for _, r := range table.Rules() {
			if len(r.RateLimits) == 0 {
				continue
			}
			compiled, err := ratelimit.Compile(r.RateLimits)
			if err != nil {
				errs = append(errs, &config.PartError{Part: config.PartRoute, Name: r.Route.Name, Err: fmt.Errorf("route %s: rule %s: %w", r.Route.Name, r.Name, err)})
				continue
			}
			limits[r] = compiled
		}
		for _, r := range table.Routes() {
			c, err := costs.New(r.RequestCosts)
			if err != nil {
				errs = append(errs, &config.PartError{Part: config.PartRoute, Name: r.Name, Err: fmt.Errorf("route %s: llmRequestCosts: %w", r.Name, err)})
				continue
			}
			calcs[r] = c
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p.auth.retain(credentials)
	p.clients.retain(policies)
	none := &listenerView{table: router.Empty[*Backend](), maxBody: DefaultMaxRequestBodyBytes}
	return &Runtime{p: p, source: cfg, costs: calcs, backends: backends, listeners: views, unknown: unknown, none: none, limits: limits, quotas: quotas}, nil
}

// compileViews compiles what each listener of cfg serves, and what a
// request of an unknown listener does: with one Gateway at most, every
// route with its settings; with more, nothing (no Gateway's policies could
// be told to apply). tables are the distinct router tables compiled.
func compileViews(cfg *config.Config, resolve func(string) (*Backend, bool), checker func(*config.ClientAuth) *clientauth.Checker) (
	views map[string]*listenerView, unknown *listenerView, tables []*router.Table[*Backend], err error) {
	type shape struct {
		gateway int
		routes  string // indexes of the attached routes
	}
	shared := map[shape]*listenerView{}
	view := func(gi int, gw *config.Gateway, attached func(*config.Route) bool) (*listenerView, error) {
		var indexes []int
		var key strings.Builder
		for i := range cfg.Routes {
			if attached(&cfg.Routes[i]) {
				indexes = append(indexes, i)
				key.WriteString(strconv.Itoa(i))
				key.WriteByte(',')
			}
		}
		k := shape{gi, key.String()}
		if v, ok := shared[k]; ok {
			return v, nil
		}
		routes := make([]config.Route, len(indexes))
		for j, i := range indexes {
			routes[j] = cfg.Routes[i]
		}
		table, err := router.New(routes, gw, resolve)
		if err != nil {
			return nil, err
		}
		v := &listenerView{table: table, routeAuth: map[*router.Route]*clientauth.Checker{}, maxBody: DefaultMaxRequestBodyBytes}
		if gw != nil {
			v.gatewayAuth = checker(gw.ClientAuth)
			if gw.MaxRequestBodyBytes > 0 {
				v.maxBody = gw.MaxRequestBodyBytes
			}
			v.requestReceived = gw.Client.RequestReceivedTimeout.Std()
		}
		for _, r := range table.Routes() {
			if r.ClientAuth != nil {
				v.routeAuth[r] = checker(r.ClientAuth)
				v.routeOnly = v.routeOnly || gw == nil || r.ClientAuth != gw.ClientAuth
			}
		}
		shared[k] = v
		tables = append(tables, table)
		return v, nil
	}
	views = map[string]*listenerView{}
	var errs []error
	for gi := range cfg.Gateways {
		gw := &cfg.Gateways[gi]
		for _, l := range gw.Listeners {
			if _, dup := views[l.Name]; dup {
				errs = append(errs, fmt.Errorf("listener %s: defined twice", l.Name))
				continue
			}
			v, err := view(gi, gw, func(r *config.Route) bool { return len(r.Listeners) == 0 || slices.Contains(r.Listeners, l.Name) })
			if err != nil {
				errs = append(errs, err)
				continue
			}
			lv := *v // the same routes and settings, its own hostname
			lv.hostname = strings.ToLower(l.Hostname)
			views[l.Name] = &lv
		}
	}
	if len(errs) > 0 {
		return nil, nil, nil, errors.Join(errs...)
	}
	switch len(cfg.Gateways) {
	case 0:
		unknown, err = view(-1, nil, func(*config.Route) bool { return true })
	case 1:
		unknown, err = view(0, &cfg.Gateways[0], func(*config.Route) bool { return true })
	default:
		unknown, err = view(-1, nil, func(*config.Route) bool { return false })
	}
	return views, unknown, tables, err
}

// newBackend compiles a backend authenticated by auth.
func (p *Pipeline) newBackend(cb *config.Backend, auth llm.Authenticator) (*Backend, error) {
	var err error
	b := &Backend{Name: cb.Name, Schema: cb.Schema, Auth: auth, Config: cb, provider: ProviderName(cb.Schema.Name)}
	if cb.Pool != nil {
		if b.Pool, err = p.pools.New(cb.Pool); err != nil {
			return nil, fmt.Errorf("pool %s: %w", cb.Pool.Name, err)
		}
		return b, nil
	}
	if len(cb.Endpoints) == 0 {
		return nil, errors.New("no endpoints")
	}
	scheme := "http"
	if cb.TLS != nil {
		scheme = "https"
	}
	for _, ep := range cb.Endpoints {
		if ep.Host == "" || ep.Port <= 0 || ep.Port > 65535 {
			return nil, fmt.Errorf("invalid endpoint %q port %d", ep.Host, ep.Port)
		}
		b.endpoints = append(b.endpoints, endpointAt(scheme, ep.Host, ep.Port, ep.HostHeader))
	}
	return b, nil
}

// Config returns the configuration compiled.
func (rt *Runtime) Config() *config.Config { return rt.source }

// Backends returns the compiled backends, in configuration order.
func (rt *Runtime) Backends() []*Backend { return rt.backends }

// SetPoolEndpoints replaces the ready endpoints of the InferencePool named
// "namespace/name"; it reports whether the pool exists.
func (rt *Runtime) SetPoolEndpoints(name string, eps []config.PoolEndpoint) bool {
	found := false
	for _, b := range rt.backends {
		if b.Pool != nil && b.Pool.Name() == name {
			b.Pool.SetEndpoints(eps)
			found = true
		}
	}
	return found
}

// Pools returns the pool state the pipeline keeps.
func (p *Pipeline) Pools() *pool.Registry { return p.pools }
