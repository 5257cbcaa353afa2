package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/httpproxy"
)

// listenerSet runs one server per bind address of the configuration in
// force and follows every reload: a new listener starts, a removed one
// drains, a listener's certificates change for the next handshakes, and
// one whose protocol or client settings changed starts again. Listeners of
// one address (a Gateway's listeners told apart by hostname) share its
// server; HTTPS ones pool their certificates, picked by SNI.
type listenerSet struct {
	settings listenSettings
	handler  http.Handler
	logger   *slog.Logger
	// serve runs a server on its listener until it is shut down.
	serve func(srv *http.Server, ln net.Listener)
	// drain bounds the shutdown of a removed listener.
	drain time.Duration

	mu      sync.Mutex
	running map[string]*boundListener // by bind address
	// failed are the listeners the last reconcile could not start or
	// update, by name: why.
	failed map[string]string
	// cfg is the configuration last reconciled, which retry serves.
	cfg *config.Config
}

// boundListener is a server bound to an address.
type boundListener struct {
	// names are the listeners served, swapped on reload: the handler
	// tells them apart by hostname.
	names  atomic.Pointer[[]string]
	srv    *http.Server
	ln     *signalingListener
	tls    bool
	client config.ClientSettings
	// certs is the TLS configuration handshakes use, swapped on reload.
	certs atomic.Pointer[tls.Config]
}

// addressListeners groups the listeners of cfg by bind address, in order.
func (s *listenerSet) addressListeners(cfg *config.Config) ([]string, map[string][]config.Listener) {
	var order []string
	by := map[string][]config.Listener{}
	for _, l := range servedListeners(cfg) {
		host := l.Address
		if s.settings.host != "" {
			host = s.settings.host
		}
		addr := joinAddr(host, int(l.Port))
		if _, seen := by[addr]; !seen {
			order = append(order, addr)
		}
		by[addr] = append(by[addr], l)
	}
	return order, by
}

// reconcile makes the running servers those of cfg. It returns the
// errors of the listeners it could not start or update (the others are
// served); a listener it could not update keeps serving as it was.
func (s *listenerSet) reconcile(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reconcileLocked(cfg)
}

// retry reconciles the last configuration again when some of its
// listeners could not be started, and reports whether it tried.
func (s *listenerSet) retry() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failed) == 0 || s.cfg == nil {
		return false, nil
	}
	return true, s.reconcileLocked(s.cfg)
}

func (s *listenerSet) reconcileLocked(cfg *config.Config) error {
	s.cfg = cfg
	if s.running == nil {
		s.running = map[string]*boundListener{}
	}
	order, want := s.addressListeners(cfg)
	for addr, b := range s.running {
		if _, ok := want[addr]; !ok {
			s.stop(addr, b, "removed")
		}
	}
	var errs []error
	s.failed = map[string]string{}
	fail := func(ls []config.Listener, err error) {
		errs = append(errs, err)
		for _, l := range ls {
			s.failed[l.Name] = err.Error()
		}
	}
	for _, addr := range order {
		ls := want[addr]
		tlsConf, err := listenerTLS(ls)
		if err != nil {
			fail(ls, err)
			continue
		}
		b := s.running[addr]
		client := clientSettings(cfg, ls[0].Name)
		if b != nil && b.tls == (tlsConf != nil) && b.client == client {
			names := listenerNames(ls)
			b.names.Store(&names)
			if tlsConf != nil {
				b.certs.Store(tlsConf)
			}
			continue
		}
		if b != nil {
			s.stop(addr, b, "changed")
		}
		if err := s.start(addr, ls, tlsConf, client); err != nil {
			fail(ls, err)
		}
	}
	return errors.Join(errs...)
}

// failures returns the listeners the last reconcile could not start or
// update, by name: why.
func (s *listenerSet) failures() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.failed)
}

// start binds addr and serves the listeners ls on it.
func (s *listenerSet) start(addr string, ls []config.Listener, tlsConf *tls.Config, client config.ClientSettings) error {
	settings := s.settings
	settings.client = client
	b := &boundListener{tls: tlsConf != nil, client: client}
	names := listenerNames(ls)
	b.names.Store(&names)
	l := ls[0]
	l.TLS = nil // the certificates are b's, swapped on reload
	srv, inner, err := listen(l, settings, s.handler)
	if err != nil {
		return err
	}
	base := srv.BaseContext
	srv.BaseContext = func(l net.Listener) context.Context {
		return httpproxy.WithListeners(base(l), func() []string { return *b.names.Load() })
	}
	ln := &signalingListener{Listener: inner, closed: make(chan struct{})}
	if tlsConf != nil {
		b.certs.Store(tlsConf)
		srv.Protocols.SetHTTP2(true)
		srv.Protocols.SetUnencryptedHTTP2(false)
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12,
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return b.certs.Load(), nil }}
	}
	b.srv, b.ln = srv, ln
	s.running[addr] = b
	s.logger.Info("gateway listening", "listeners", names, "address", ln.Addr().String(), "tls", b.tls)
	s.serve(srv, ln)
	return nil
}

// stop stops accepting on addr (the address is free again when it
// returns) and drains its requests in the background.
func (s *listenerSet) stop(addr string, b *boundListener, why string) {
	delete(s.running, addr)
	s.logger.Info("gateway listener stopped: draining its requests", "listeners", *b.names.Load(), "address", addr, "why", why)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.drain)
		defer cancel()
		if err := b.srv.Shutdown(ctx); err != nil {
			_ = b.srv.Close()
		}
	}()
	select { // Shutdown closes the listener first
	case <-b.ln.closed:
	case <-time.After(5 * time.Second):
		_ = b.ln.Close()
	}
}

// signalingListener closes closed when it is closed: the server stopped
// accepting.
type signalingListener struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func (l *signalingListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.closed) })
	return err
}

// servers returns the running servers.
func (s *listenerSet) servers() []*http.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*http.Server, 0, len(s.running))
	for _, b := range s.running {
		out = append(out, b.srv)
	}
	return out
}

// addrs returns the addresses bound, in no particular order.
func (s *listenerSet) addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, 0, len(s.running))
	for _, b := range s.running {
		out = append(out, b.ln.Addr())
	}
	return out
}

// listenerTLS is the TLS configuration of the listeners of one address:
// nil when they are plain, their certificates pooled when they are HTTPS
// (Go picks one by SNI), an error when they mix both.
func listenerTLS(ls []config.Listener) (*tls.Config, error) {
	var pooled *config.ListenerTLS
	plain := 0
	for _, l := range ls {
		if l.TLS == nil {
			plain++
			continue
		}
		if pooled == nil {
			pooled = &config.ListenerTLS{}
		}
		pooled.Certificates = append(pooled.Certificates, l.TLS.Certificates...)
	}
	switch {
	case pooled == nil:
		return nil, nil
	case plain > 0:
		return nil, fmt.Errorf("listeners %v share a port but not its protocol (HTTP and HTTPS)", listenerNames(ls))
	}
	tc, err := serverTLS(pooled)
	if err != nil {
		return nil, fmt.Errorf("listeners %v: %w", listenerNames(ls), err)
	}
	// The configuration a handshake gets is used as it is: ALPN included.
	tc.NextProtos = []string{"h2", "http/1.1"}
	return tc, nil
}

func listenerNames(ls []config.Listener) []string {
	names := make([]string, 0, len(ls))
	for _, l := range ls {
		names = append(names, l.Name)
	}
	return slices.Compact(names)
}

// clientSettings are the client settings of the Gateway of the listener
// named listener (ClientTrafficPolicy); the defaults when none has it.
func clientSettings(cfg *config.Config, listener string) config.ClientSettings {
	for i := range cfg.Gateways {
		for _, l := range cfg.Gateways[i].Listeners {
			if l.Name == listener {
				return cfg.Gateways[i].Client
			}
		}
	}
	return config.ClientSettings{}
}
