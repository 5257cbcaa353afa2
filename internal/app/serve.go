package app

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/httpproxy"
	"github.com/aigw-dev/aigw/internal/metrics"
	"github.com/aigw-dev/aigw/internal/standalone"
	"github.com/aigw-dev/aigw/internal/tracing"
)

// gatewayParams describe one gateway process.
type gatewayParams struct {
	initial   *config.Config
	logger    *slog.Logger
	accessLog *slog.Logger
	// adminAddr is host:port of the admin listener.
	adminAddr string
	// listenHost, when set, replaces every listener's bind address.
	listenHost      string
	shutdownTimeout time.Duration
	// limits bound what clients can make the gateway hold, and drain.
	limits limitFlags
	// reload and watchFiles enable hot reload; reload nil disables it.
	// changes, when set, signals when to reload instead of files.
	reload     func(context.Context) (*standalone.Result, error)
	watchFiles []string
	changes    <-chan struct{}
	// applied, when set, is told each configuration the gateway takes.
	applied func(*config.Config)
	// refused, when set, is told why the gateway refused a configuration
	// it loaded; it reports whether a reload would leave out what was
	// refused (then the gateway also loads again at start, instead of
	// exiting).
	refused func(error) bool
	// listenerFailures, when set, is told after each configuration which
	// listeners could not be started or updated (by name: why), and the
	// gateway starts with the others rather than exiting.
	listenerFailures func(map[string]string)
	// endpointChanges, when set, signals that poolEndpoints has fresher
	// endpoints for some pools (without a configuration to compile).
	endpointChanges <-chan struct{}
	poolEndpoints   func(context.Context) map[string][]config.PoolEndpoint
	// guard, when set, rejects a reload that empties a file (see
	// truncationGuard).
	guard *truncationGuard
	// ready, when set, is called with the bound addresses once serving.
	ready func(listeners []net.Addr, admin net.Addr)
	// metrics configure the GenAI metrics (zero: the defaults).
	metrics metrics.Options
	// trace is where tracing is configured from (zero: the process).
	trace tracing.Env
	// rateLimit configures the rate limit store (zero: in memory).
	rateLimit rateLimitFlags
}

// runGateway serves until ctx ends, then drains in-flight requests for up
// to shutdownTimeout.
func runGateway(ctx context.Context, p gatewayParams) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rec, err := metrics.NewPrometheus(reg, p.metrics)
	if err != nil {
		return err
	}
	tp, err := startTracing(ctx, p.logger, p.trace, "aigw")
	if err != nil {
		return err
	}
	defer stopTracing(tp, p.logger)
	limiter, closeLimiter, err := p.rateLimit.limiter(reg, p.logger)
	if err != nil {
		return err
	}
	defer closeLimiter()
	gw := httpproxy.New(httpproxy.Options{Logger: p.logger, AccessLog: p.accessLog, Metrics: rec, Limits: p.limits.gatewayLimits(),
		Tracing: tp, TraceContent: tp.Content, RateLimiter: limiter})
	defer gw.Close()
	for {
		err := gw.Apply(p.initial)
		if err == nil {
			break
		}
		if p.refused == nil || p.reload == nil || !p.refused(err) {
			return fmt.Errorf("invalid configuration: %w", err)
		}
		// Each round leaves out at least one more resource: it ends.
		p.logger.Error("configuration refused: loading it again without what was refused", "error", err.Error())
		res, lerr := p.reload(ctx)
		if lerr != nil || res.Config == nil {
			return fmt.Errorf("invalid configuration: %w", cmp.Or(lerr, err))
		}
		p.initial = res.Config
	}
	if p.applied != nil {
		p.applied(p.initial)
	}

	var ready atomic.Bool
	admin := &http.Server{Handler: adminHandler(reg, &ready), ReadHeaderTimeout: 10 * time.Second}
	adminLn, err := net.Listen("tcp", p.adminAddr)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	// Requests' contexts derive from base: cancelling it with
	// apierror.ErrShutdown when the drain time runs out tells what cut
	// them (logged 503 shutting_down, not a client's 499).
	base, cancelBase := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelBase(nil)
	var handlers inFlight
	errc := make(chan error, 16)
	var wg sync.WaitGroup
	serveOn := func(srv *http.Server, ln net.Listener) {
		wg.Add(1)
		useTLS := srv.TLSConfig != nil // read before Serve: ServeTLS writes the field
		go func() {
			defer wg.Done()
			var err error
			if useTLS {
				err = srv.ServeTLS(ln, "", "")
			} else {
				err = srv.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				select {
				case errc <- err:
				default: // one error ends the gateway; the others are its echoes
				}
			}
		}()
	}
	listeners := &listenerSet{settings: listenSettings{host: p.listenHost, limits: p.limits, base: base}, handler: handlers.track(gw),
		logger: p.logger, serve: serveOn, drain: p.shutdownTimeout}
	if err := listeners.reconcile(p.initial); err != nil && p.listenerFailures != nil {
		p.logger.Error("listeners not started: the others serve", "error", err.Error())
	} else if err != nil {
		_ = adminLn.Close()
		for _, srv := range listeners.servers() {
			_ = srv.Close()
		}
		wg.Wait()
		return err
	}
	if p.listenerFailures != nil {
		p.listenerFailures(listeners.failures())
	}
	addrs := listeners.addrs()
	serveOn(admin, adminLn)
	p.logger.Info("admin listening", "address", adminLn.Addr().String(), "paths", "/metrics /healthz /readyz")
	p.logger.Info("configuration loaded", summarize(p.initial).attrs()...)
	if e, exposed := credentialExposure(servedListeners(p.initial), p.listenHost, p.initial); exposed {
		warnExposure(p.logger, e)
	}
	ready.Store(true)
	if p.ready != nil {
		p.ready(addrs, adminLn.Addr())
	}

	// Reloads and endpoint updates take turns: the endpoints read after a
	// reload are the newest, and apply to its pools.
	var applying sync.Mutex
	if p.reload != nil && len(p.watchFiles) > 0 {
		w, err := newWatcher(p.watchFiles, p.logger, func(ctx context.Context) {
			applying.Lock()
			defer applying.Unlock()
			reloadConfig(ctx, p, gw, listeners)
		})
		if err != nil {
			p.logger.Warn("hot reload disabled", "error", err)
		} else {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(ctx)
			}()
		}
	}

	if p.endpointChanges != nil {
		onSignal(ctx, &wg, p.endpointChanges, func() {
			applying.Lock()
			defer applying.Unlock()
			for pool, eps := range p.poolEndpoints(ctx) {
				gw.SetPoolEndpoints(pool, eps)
				p.logger.Debug("pool endpoints updated", "pool", pool, "endpoints", len(eps))
			}
		})
	}
	if p.reload != nil && p.changes != nil {
		onSignal(ctx, &wg, p.changes, func() {
			applying.Lock()
			defer applying.Unlock()
			reloadConfig(ctx, p, gw, listeners)
		})
	}
	// Listeners that could not be bound (a port taken) are tried again
	// until they are.
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(listenerRetry)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			tried, err := listeners.retry()
			if err != nil {
				p.logger.Debug("listeners still not started", "error", err.Error())
			}
			if tried && p.listenerFailures != nil {
				p.listenerFailures(listeners.failures())
			}
		}
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	// As Envoy drains: first tell load balancers (readyz 503) while still
	// accepting, and ask clients to reconnect elsewhere (HTTP/1
	// "Connection: close", HTTP/2 GOAWAY on shutdown), then stop accepting
	// and let in-flight requests finish.
	ready.Store(false)
	if d := p.limits.drainDelay; d > 0 && runErr == nil {
		p.logger.Info("shutting down: readiness is 503, still accepting for the drain delay", "drain_delay", d)
		for _, srv := range listeners.servers() {
			srv.SetKeepAlivesEnabled(false)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case runErr = <-errc:
		}
		t.Stop()
	}
	p.logger.Info("shutting down: draining in-flight requests", "timeout", p.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.shutdownTimeout)
	defer cancel()
	var wgShut sync.WaitGroup
	for _, srv := range listeners.servers() {
		wgShut.Add(1)
		go func() {
			defer wgShut.Done()
			if err := srv.Shutdown(sctx); err != nil {
				p.logger.Warn("drain deadline passed: closing remaining connections", "error", err)
				cancelBase(apierror.ErrShutdown)
				_ = srv.Close()
			}
		}()
	}
	wgShut.Wait()
	// Closing connections does not wait for their handlers: let them
	// finish writing their access-log lines before the process ends.
	if !handlers.wait(handlerExitWait) {
		p.logger.Warn("some requests were still running at exit", "waited", handlerExitWait)
	}
	_ = admin.Shutdown(sctx)
	wg.Wait()
	return runErr
}

// reloadConfig loads the configuration again and applies it, or logs why
// not and keeps the running one; then it starts, stops or updates the
// listeners that changed, and warns when upstream credentials became lent
// to other hosts.
func reloadConfig(ctx context.Context, p gatewayParams, gw *httpproxy.Gateway, listeners *listenerSet) {
	running := gw.Config()
	next, ok := applyReload(ctx, p.logger, p.reload, p.guard, gw, p.refused)
	if !ok {
		return
	}
	if p.applied != nil {
		p.applied(next)
	}
	if err := listeners.reconcile(next); err != nil {
		p.logger.Error("listeners not started or updated: the others serve", "error", err.Error())
	}
	if p.listenerFailures != nil {
		p.listenerFailures(listeners.failures())
	}
	if e, exposed := credentialExposure(servedListeners(next), p.listenHost, next); exposed {
		if _, was := credentialExposure(servedListeners(running), p.listenHost, running); !was {
			warnExposure(p.logger, e)
		}
	}
}

// onSignal runs do on each signal of ch, in a goroutine of wg, until ctx
// ends.
func onSignal(ctx context.Context, wg *sync.WaitGroup, ch <-chan struct{}, do func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				do()
			}
		}
	}()
}

// configured is what a reload applies a configuration to.
type configured interface {
	Apply(*config.Config) error
	Config() *config.Config
}

// applyReload loads the configuration again and applies it to target
// (guard, when set, first rejects a truncated file), or logs why not and
// keeps the running one (and tells refused, when set, why target refused
// it). It logs the summary of what now runs and warns when the reload
// removed every route.
func applyReload(ctx context.Context, logger *slog.Logger, load func(context.Context) (*standalone.Result, error), guard *truncationGuard, target configured,
	refused func(error) bool) (*config.Config, bool) {
	res, err := load(ctx)
	logWarnings(logger, res)
	running := target.Config()
	if err == nil && guard != nil {
		err = guard.check(res)
	}
	if err == nil {
		if err = target.Apply(res.Config); err != nil && refused != nil && refused(err) {
			logger.Error("configuration refused: loading it again without what was refused", "error", err.Error())
			return nil, false
		}
	}
	if err != nil {
		logger.Error("configuration rejected: keeping the running configuration", "error", err.Error())
		return nil, false
	}
	if guard != nil {
		guard.accept(res)
	}
	next := res.Config
	logger.Info("configuration reloaded", summarize(next).attrs()...)
	if len(next.Routes) == 0 && len(running.Routes) > 0 {
		logger.Warn("the reloaded configuration has no routes: every request now gets 404", "removed", boundedList(routeNames(running)))
	}
	return next, true
}

// listenerRetry is how often listeners that could not be bound are tried
// again.
const listenerRetry = 2 * time.Second

// handlerExitWait bounds the wait for handlers cut by a forced shutdown.
const handlerExitWait = 5 * time.Second

// inFlight counts the client requests being handled.
type inFlight struct{ wg sync.WaitGroup }

// track returns h counting its requests.
func (f *inFlight) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.wg.Add(1)
		defer f.wg.Done()
		h.ServeHTTP(w, r)
	})
}

// wait waits, up to d, until no request is being handled; the listeners
// must be closed (no request starts any more).
func (f *inFlight) wait(d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// listenSettings are what every client-facing listener shares.
type listenSettings struct {
	// host, when set, replaces every listener's bind address.
	host   string
	limits limitFlags
	client config.ClientSettings
	// base is the context requests derive from.
	base context.Context //nolint:containedctx // the servers' base context, cancelled on a forced shutdown
}

// listen opens one client-facing listener: HTTP/1.1 and HTTP/2 (h2c with
// prior knowledge on plain listeners, ALPN with TLS), with Envoy's header
// limits, the header read timeout, and the ClientTrafficPolicy's idle
// timeout and connection limit.
func listen(l config.Listener, s listenSettings, h http.Handler) (*http.Server, net.Listener, error) {
	host := l.Address
	if s.host != "" {
		host = s.host
	}
	idle := 5 * time.Minute
	if d := s.client.IdleTimeout.Std(); d > 0 {
		idle = d
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.limits.headerReadTimeout,
		IdleTimeout:       idle,
		// net/http allows 4 KiB over this; the handler enforces the exact
		// limit and the header count.
		MaxHeaderBytes: s.limits.maxHeaderBytes,
		Protocols:      new(http.Protocols),
		BaseContext:    func(net.Listener) context.Context { return s.base },
	}
	if srv.ReadHeaderTimeout <= 0 {
		srv.ReadHeaderTimeout = defaultHeaderReadTimeout
	}
	srv.Protocols.SetHTTP1(true)
	if l.TLS != nil {
		tc, err := serverTLS(l.TLS)
		if err != nil {
			return nil, nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
		srv.TLSConfig = tc
		srv.Protocols.SetHTTP2(true)
	} else {
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	if srv.MaxHeaderBytes <= 0 {
		srv.MaxHeaderBytes = httpproxy.DefaultMaxRequestHeaderBytes
	}
	ln, err := net.Listen("tcp", joinAddr(host, int(l.Port)))
	if err != nil {
		return nil, nil, fmt.Errorf("listener %s: %w", l.Name, err)
	}
	if n := s.client.ConnectionLimit; n > 0 {
		ln = netutil.LimitListener(ln, int(min(n, math.MaxInt32)))
	}
	return srv, ln, nil
}

func serverTLS(t *config.ListenerTLS) (*tls.Config, error) {
	if len(t.Certificates) == 0 {
		return nil, errors.New("tls: no certificate")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	for _, c := range t.Certificates {
		pair, err := tls.X509KeyPair([]byte(c.CertPEM), []byte(c.KeyPEM.Reveal()))
		if err != nil {
			return nil, fmt.Errorf("tls: certificate %s: %w", c.Name, err)
		}
		tc.Certificates = append(tc.Certificates, pair)
	}
	return tc, nil
}

func joinAddr(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// adminHandler serves /metrics, /healthz (the process is up) and /readyz
// (listeners are serving and not shutting down).
func adminHandler(reg *prometheus.Registry, ready *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
