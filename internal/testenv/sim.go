package testenv

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw-dev/aigw/internal/sim"
)

// Sim is one `aigw sim` model server running in the test process on a fixed
// address, standing in for a model-server Pod.
type Sim struct {
	// Instance is the simulator; Snapshot shows its queue and batch.
	Instance *sim.Instance
	// Addr is the "ip:port" it listens on, e.g. "127.0.0.2:8000", which is
	// also the endpoint a picker names for it.
	Addr string
	// URL is "http://" + Addr.
	URL string

	scrapes atomic.Int64
}

// MetricsScrapes returns how many GET /metrics requests the server has
// answered: a picker that scrapes (GAIE's EPP does, every 50 ms) drives it up.
func (s *Sim) MetricsScrapes() int64 { return s.scrapes.Load() }

// HeaderProto is the response header in which a simulator started by
// StartSim reports the request's protocol ("HTTP/1.1", "HTTP/2.0").
const HeaderProto = "X-Test-Proto"

// StartSim starts a simulator with opts (start from sim.DefaultOptions) on
// addr, e.g. "127.0.0.2:8000". Addresses other than 127.0.0.1 and fixed ports
// are only safe inside the private network namespace, so a fixed port
// requires it (see [RequireNetNS]); port 0 picks a free one. The server and
// the engine stop at cleanup, cancelling requests still in flight.
func StartSim(t testing.TB, addr string, opts sim.Options) *Sim {
	t.Helper()
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("sim address %q: %v", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatalf("sim address %q: %v", addr, err)
	}
	if port != 0 {
		RequireNetNS(t)
	}
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatalf("sim listen on %s: %v", addr, err)
	}
	addr = ln.Addr().String()
	opts.Host = host
	opts.Port = ln.Addr().(*net.TCPAddr).Port

	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.DiscardHandler)
	inst, err := sim.NewInstance(ctx, opts, addr, logger)
	if err != nil {
		cancel()
		_ = ln.Close()
		t.Fatalf("sim on %s: %v", addr, err)
	}
	s := &Sim{Instance: inst, Addr: addr, URL: "http://" + addr}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Tells tests which protocol reached the model server (HTTP/1.1,
			// or HTTP/2 cleartext for appProtocol kubernetes.io/h2c).
			w.Header().Set(HeaderProto, r.Proto)
			inst.ServeHTTP(w, r)
			if r.Method == http.MethodGet && r.URL.Path == "/metrics" {
				s.scrapes.Add(1)
			}
		}),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		// Close, not Shutdown: requests a test holds in flight end here.
		_ = srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("sim %s: %v", addr, err)
		}
		cancel()
		select {
		case <-inst.Done():
		case <-time.After(10 * time.Second):
			t.Errorf("sim %s: engine did not stop", addr)
		}
	})
	return s
}
