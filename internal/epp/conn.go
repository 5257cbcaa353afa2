package epp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/grpcmem"
)

// DefaultMessageTimeout bounds each wait for a picker answer when the
// configuration sets none (GAIE's reference proxy uses a 10 s gRPC timeout).
const DefaultMessageTimeout = 10 * time.Second

// healthInterval is how often a picker's gRPC health service is checked
// (GAIE's reference Envoy configuration checks every 10 s).
const healthInterval = 10 * time.Second

// Conns keeps one gRPC connection, and one health checker, per picker
// setting, shared by every request and across configuration reloads. It is
// safe for concurrent use.
type Conns struct {
	logger *slog.Logger
	mu     sync.Mutex
	m      map[string]*shared
	closed bool
}

// shared is the connection state of one picker address and TLS setting.
type shared struct {
	conn *grpc.ClientConn
	// notServing is set while the health service says NOT_SERVING.
	notServing atomic.Bool
	stop       context.CancelFunc
	// inflight counts open exchanges; a retired connection closes when it
	// reaches zero.
	inflight  atomic.Int64
	retired   atomic.Bool
	closeOnce sync.Once
}

// acquire counts an exchange starting on the connection.
func (sh *shared) acquire() { sh.inflight.Add(1) }

// release counts an exchange ending; the last one on a retired connection
// closes it.
func (sh *shared) release() {
	if sh.inflight.Add(-1) == 0 && sh.retired.Load() {
		sh.close()
	}
}

// retire closes the connection once no exchange uses it.
func (sh *shared) retire() {
	sh.retired.Store(true)
	if sh.inflight.Load() == 0 {
		sh.close()
	}
}

func (sh *shared) close() {
	sh.closeOnce.Do(func() {
		if sh.stop != nil {
			sh.stop()
		}
		if sh.conn != nil {
			_ = sh.conn.Close()
		}
	})
}

// NewConns returns an empty connection set.
func NewConns(logger *slog.Logger) *Conns {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Conns{logger: logger, m: map[string]*shared{}}
}

// Picker is one configured endpoint picker over a shared connection. It is
// immutable and safe for concurrent use.
type Picker struct {
	cfg     config.EndpointPicker
	timeout time.Duration
	*shared
}

// Get returns the picker for cfg, connecting lazily (gRPC dials on first
// use). An empty Address is an unresolvable picker: every exchange fails.
func (c *Conns) Get(cfg *config.EndpointPicker) (*Picker, error) {
	key := connKey(cfg)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("connections closed")
	}
	sh, ok := c.m[key]
	if !ok {
		sh = &shared{}
		if cfg.Address != "" {
			creds, err := transportCredentials(cfg.TLS)
			if err != nil {
				return nil, fmt.Errorf("endpoint picker %s: %w", cfg.Name, err)
			}
			// Request bodies of hundreds of kilobytes cross this stream.
			conn, err := grpc.NewClient(cfg.Address, append(grpcmem.DialOptions(), grpc.WithTransportCredentials(creds))...)
			if err != nil {
				return nil, fmt.Errorf("endpoint picker %s: %w", cfg.Name, err)
			}
			sh.conn = conn
			if cfg.HealthAddress != "" && len(cfg.HealthService) > 0 {
				hconn, err := grpc.NewClient(cfg.HealthAddress, grpc.WithTransportCredentials(creds))
				if err == nil {
					ctx, cancel := context.WithCancel(context.Background())
					sh.stop = cancel
					go sh.checkHealth(ctx, hconn, cfg.Name, cfg.HealthService, c.logger)
				}
			}
		}
		c.m[key] = sh
	}
	// Timeouts and failure modes may differ between configurations; the
	// connection does not depend on them.
	return &Picker{cfg: *cfg, timeout: messageTimeout(cfg), shared: sh}, nil
}

// connKey identifies the connection a picker setting needs.
func connKey(cfg *config.EndpointPicker) string {
	return fmt.Sprintf("%s|%v|%s|%s|%v", cfg.Address, cfg.TLS != nil, tlsKey(cfg.TLS), cfg.HealthAddress, cfg.HealthService)
}

// Retain keeps the connections the pickers in keep use (those of the
// configuration in force) and retires the others: each closes, with its
// health checker, once the exchanges still open on it have ended, so a
// reload that drops or moves a picker does not leak its connection.
func (c *Conns) Retain(keep []*config.EndpointPicker) {
	want := make(map[string]bool, len(keep))
	for _, cfg := range keep {
		want[connKey(cfg)] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, sh := range c.m {
		if !want[key] {
			delete(c.m, key)
			sh.retire()
		}
	}
}

// Len returns how many connections are kept (for tests and status).
func (c *Conns) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Close closes every connection at once.
func (c *Conns) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, sh := range c.m {
		sh.close()
	}
	c.m = nil
}

func messageTimeout(cfg *config.EndpointPicker) time.Duration {
	if d := cfg.MessageTimeout.Std(); d > 0 {
		return d
	}
	return DefaultMessageTimeout
}

func tlsKey(t *config.EndpointPickerTLS) string {
	if t == nil {
		return ""
	}
	return t.ServerName + "|" + t.CACertPEM
}

// transportCredentials returns TLS without verification by default (GAIE's
// pickers serve a self-signed certificate), verified TLS with a CA, or
// plaintext h2c when t is nil.
func transportCredentials(t *config.EndpointPickerTLS) (credentials.TransportCredentials, error) {
	if t == nil {
		return insecure.NewCredentials(), nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CACertPEM == "" {
		tc.InsecureSkipVerify = true //nolint:gosec // GAIE pickers use self-signed certificates unless a CA is configured
	} else {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(t.CACertPEM)) {
			return nil, errors.New("no certificate in the CA bundle")
		}
		tc.RootCAs = pool
	}
	return credentials.NewTLS(tc), nil
}

// checkHealth polls the gRPC health service. A picker that answers
// NOT_SERVING for every configured service name counts as failed, so
// requests apply the failure mode at once instead of waiting for a timeout;
// an unreachable health port changes nothing (the exchange itself tells).
func (sh *shared) checkHealth(ctx context.Context, conn *grpc.ClientConn, name string, services []string, logger *slog.Logger) {
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	for {
		serving, known := false, false
		for _, svc := range services {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			resp, err := client.Check(cctx, &healthpb.HealthCheckRequest{Service: svc})
			cancel()
			if err != nil {
				continue
			}
			known = true
			if resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
				serving = true
				break
			}
		}
		was := sh.notServing.Load()
		now := known && !serving
		if was != now {
			sh.notServing.Store(now)
			logger.Warn("endpoint picker health changed", "picker", name, "serving", !now)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Config returns the picker's configuration.
func (p *Picker) Config() *config.EndpointPicker { return &p.cfg }
