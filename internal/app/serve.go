package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/httpproxy"
	"github.com/aigw-dev/aigw/internal/metrics"
	"github.com/aigw-dev/aigw/internal/standalone"
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
	// reload and watchFiles enable hot reload; reload nil disables it.
	reload     func(context.Context) (*standalone.Result, error)
	watchFiles []string
	// ready, when set, is called with the bound addresses once serving.
	ready func(listeners []net.Addr, admin net.Addr)
}

// runGateway serves until ctx ends, then drains in-flight requests for up
// to shutdownTimeout.
func runGateway(ctx context.Context, p gatewayParams) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rec, err := metrics.NewPrometheus(reg)
	if err != nil {
		return err
	}
	gw := httpproxy.New(httpproxy.Options{Logger: p.logger, AccessLog: p.accessLog, Metrics: rec})
	defer gw.Close()
	if err := gw.Apply(p.initial); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	listeners := p.initial.Listeners
	if len(listeners) == 0 {
		listeners = []config.Listener{{Name: "default", Port: 1975}}
	}

	var ready atomic.Bool
	admin := &http.Server{Handler: adminHandler(reg, &ready), ReadHeaderTimeout: 10 * time.Second}
	adminLn, err := net.Listen("tcp", p.adminAddr)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	var servers []*http.Server
	var lns []net.Listener
	var addrs []net.Addr
	for _, l := range listeners {
		srv, ln, err := listen(l, p.listenHost, gw)
		if err != nil {
			_ = adminLn.Close()
			for _, ln := range lns {
				_ = ln.Close()
			}
			return err
		}
		servers, lns, addrs = append(servers, srv), append(lns, ln), append(addrs, ln.Addr())
	}

	errc := make(chan error, len(servers)+1)
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
				errc <- err
			}
		}()
	}
	serveOn(admin, adminLn)
	for i := range servers {
		p.logger.Info("gateway listening", "listener", listeners[i].Name, "address", lns[i].Addr().String(), "tls", servers[i].TLSConfig != nil)
		serveOn(servers[i], lns[i])
	}
	p.logger.Info("admin listening", "address", adminLn.Addr().String(), "paths", "/metrics /healthz /readyz")
	ready.Store(true)
	if p.ready != nil {
		p.ready(addrs, adminLn.Addr())
	}

	if p.reload != nil && len(p.watchFiles) > 0 {
		w, err := newWatcher(p.watchFiles, p.logger, func(ctx context.Context) {
			reloadConfig(ctx, p, gw)
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

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	ready.Store(false)
	p.logger.Info("shutting down: draining in-flight requests", "timeout", p.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.shutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			p.logger.Warn("drain deadline passed: closing remaining connections", "error", err)
			_ = srv.Close()
		}
	}
	_ = admin.Shutdown(sctx)
	wg.Wait()
	return runErr
}

func reloadConfig(ctx context.Context, p gatewayParams, gw *httpproxy.Gateway) {
	res, err := p.reload(ctx)
	logWarnings(p.logger, res)
	if err == nil {
		err = gw.Apply(res.Config)
	}
	if err != nil {
		p.logger.Error("configuration rejected: keeping the running configuration", "error", err.Error())
		return
	}
	if !sameListeners(p.initial.Listeners, res.Config.Listeners) {
		p.logger.Warn("listener changes take effect after a restart")
	}
	p.logger.Info("configuration reloaded", "routes", len(res.Config.Routes), "backends", len(res.Config.Backends))
}

func sameListeners(a, b []config.Listener) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Port != b[i].Port || a[i].Address != b[i].Address || (a[i].TLS == nil) != (b[i].TLS == nil) {
			return false
		}
	}
	return true
}

// listen opens one client-facing listener.
func listen(l config.Listener, hostOverride string, h http.Handler) (*http.Server, net.Listener, error) {
	host := l.Address
	if hostOverride != "" {
		host = hostOverride
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          nil,
	}
	if l.TLS != nil {
		tc, err := serverTLS(l.TLS)
		if err != nil {
			return nil, nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
		srv.TLSConfig = tc
	}
	ln, err := net.Listen("tcp", joinAddr(host, int(l.Port)))
	if err != nil {
		return nil, nil, fmt.Errorf("listener %s: %w", l.Name, err)
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
