package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/aigw-dev/aigw/internal/bodybudget"
	"github.com/aigw-dev/aigw/internal/cli"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/extproc"
	"github.com/aigw-dev/aigw/internal/grpcmem"
	"github.com/aigw-dev/aigw/internal/metrics"
	"github.com/aigw-dev/aigw/internal/processor"
	"github.com/aigw-dev/aigw/internal/standalone"
	"github.com/aigw-dev/aigw/internal/tracing"
	"github.com/aigw-dev/aigw/internal/translator"
)

// extprocOptions are the flags of `aigw extproc`.
type extprocOptions struct {
	log             logFlags
	listen          string
	adminAddr       string
	adminPort       int
	accessLog       string
	watch           bool
	shutdownTimeout time.Duration
	maxSessions     int
	maxModelLabels  int
	maxEventBytes   int
	bodyBudget      int64
	rateLimit       rateLimitFlags
}

func (o *extprocOptions) register(fs *flag.FlagSet) {
	o.log.register(fs)
	o.rateLimit.register(fs)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:1063", `where the ext_proc gRPC server listens: "host:port", or "unix:///path/to.sock" (Envoy AI Gateway's sidecar socket)`)
	fs.IntVar(&o.adminPort, "admin-port", 1064, "port of the admin listener (/metrics, /healthz, /readyz)")
	fs.StringVar(&o.adminAddr, "admin-address", "127.0.0.1", "address the admin listener binds")
	fs.StringVar(&o.accessLog, "access-log", "-", `where access logs go (JSON lines): "-" for stdout, "off", or a file path`)
	fs.BoolVar(&o.watch, "watch", true, "reload the configuration when its files change")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight streams may drain on shutdown")
	fs.IntVar(&o.maxSessions, "max-requests", extproc.DefaultMaxSessions, "requests in progress at once; beyond, requests are answered 503")
	fs.IntVar(&o.maxModelLabels, "metrics-max-model-labels", metrics.DefaultMaxModelLabels, "distinct values kept per gen_ai model label; later ones are recorded as __other__")
	fs.IntVar(&o.maxEventBytes, "max-response-event-bytes", translator.DefaultMaxEventBytes, "largest event of a streamed response; a longer one ends the stream with an error event")
	fs.Int64Var(&o.bodyBudget, "max-buffered-request-bytes", 0,
		"bytes of request bodies held at once across all streams; a request that does not fit gets 503 (default: a quarter of the memory limit: cgroup, GOMEMLIMIT or RAM)")
}

const extprocUsage = `Usage: aigw extproc [flags] FILE|DIR...

Serves Envoy's external processing protocol (envoy.service.ext_proc.v3) as
Envoy AI Gateway's external processor does, for Envoy or Envoy Gateway in
front: the router-level filter parses and routes each request and processes
its response (translation, model names, usage, costs as dynamic metadata
in io.envoy.ai_gateway); the upstream-level filter translates, mutates and
authenticates each attempt. Its configuration is the same YAML resources
'aigw run' serves, reloaded when the files change.

Flags:
`

func extprocCommand(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("aigw extproc", flag.ContinueOnError)
	var o extprocOptions
	o.register(fs)
	paths, err := cli.Parse(fs, extprocUsage, args, stdout)
	if err != nil {
		return ignoreHelp(err)
	}
	if len(paths) == 0 {
		return cli.Usagef("aigw extproc needs the configuration: FILE|DIR...")
	}
	if o.maxEventBytes <= 0 {
		return cli.Usagef("--max-response-event-bytes must be positive")
	}
	logger, err := o.log.logger(stderr)
	if err != nil {
		return err
	}
	loader := &standalone.Loader{LookupEnv: lookupEnv}
	load := func(ctx context.Context) (*standalone.Result, error) { return loader.Load(ctx, paths...) }
	res, accessLog, closeLog, err := loadServing(ctx, load, logger, o.accessLog, stdout)
	if err != nil {
		return err
	}
	defer closeLog()
	return serveExtProc(ctx, o, extprocParams{initial: res, load: load, logger: logger, accessLog: accessLog, trace: tracing.Env{Stdout: stdout}})
}

// extprocParams are what serveExtProc needs besides the flags.
type extprocParams struct {
	initial   *standalone.Result
	load      func(context.Context) (*standalone.Result, error)
	logger    *slog.Logger
	accessLog *slog.Logger
	// ready, when set, is called with the bound addresses once serving.
	ready func(grpcAddr, admin net.Addr)
	// trace is where tracing is configured from (zero: the process).
	trace tracing.Env
}

// runtimes holds the compiled configuration in force for the ext_proc
// server; it is what a reload applies to.
type runtimes struct {
	pipeline *processor.Pipeline
	current  atomic.Pointer[processor.Runtime]
}

// Apply compiles cfg and makes it the configuration of new requests; on
// error the running one stays.
func (r *runtimes) Apply(cfg *config.Config) error {
	if len(cfg.Gateways) > 1 {
		// Envoy tells the processor nothing of its listeners, so a
		// request could not be held to its Gateway's policies.
		names := make([]string, 0, len(cfg.Gateways))
		for _, g := range cfg.Gateways {
			names = append(names, g.Name)
		}
		return fmt.Errorf("aigw extproc serves one Gateway, the Envoy that calls it; the configuration has %d (%s)", len(names), strings.Join(names, ", "))
	}
	rt, err := r.pipeline.Compile(cfg)
	if err == nil {
		r.current.Store(rt)
	}
	r.pipeline.Retain(r.current.Load().Config())
	return err
}

// Config returns the configuration in force.
func (r *runtimes) Config() *config.Config { return r.current.Load().Config() }

func serveExtProc(ctx context.Context, o extprocOptions, p extprocParams) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rec, err := metrics.NewPrometheus(reg, metrics.Options{MaxModelLabels: o.maxModelLabels})
	if err != nil {
		return err
	}
	tp, err := startTracing(ctx, p.logger, p.trace, "aigw")
	if err != nil {
		return err
	}
	defer stopTracing(tp, p.logger)
	limiter, closeLimiter, err := o.rateLimit.limiter(reg, p.logger)
	if err != nil {
		return err
	}
	defer closeLimiter()
	pipeline := processor.New(processor.Options{Logger: p.logger, AccessLog: p.accessLog, Metrics: rec, MaxEventBytes: o.maxEventBytes,
		Tracing: tp, TraceContent: tp.Content, RateLimiter: limiter})
	defer pipeline.Close()
	rts := &runtimes{pipeline: pipeline}
	if err := rts.Apply(p.initial.Config); err != nil {
		return invalidConfig(err)
	}
	budget := o.bodyBudget
	if budget <= 0 {
		budget = defaultBodyBudget(memoryLimit())
	}
	srv := extproc.New(extproc.Options{Logger: p.logger, Runtime: rts.current.Load, MaxSessions: o.maxSessions, BodyBudget: bodybudget.New(budget)})

	// Envoy sends a buffered body in one message: room for the largest
	// body the configuration accepts, and the headers.
	maxBody := int64(processor.DefaultMaxRequestBodyBytes)
	if gws := p.initial.Config.Gateways; len(gws) > 0 && gws[0].MaxRequestBodyBytes > 0 {
		maxBody = gws[0].MaxRequestBodyBytes
	}
	gs := grpc.NewServer(append(grpcmem.ServerOptions(), grpc.MaxRecvMsgSize(int(maxBody)+(1<<20)))...)
	extprocv3.RegisterExternalProcessorServer(gs, srv)
	healthSrv := health.NewServer()
	healthpb.RegisterHealthServer(gs, healthSrv)

	ln, err := listenGRPC(o.listen)
	if err != nil {
		return err
	}
	var ready atomic.Bool
	admin := &http.Server{Handler: adminHandler(reg, &ready), ReadHeaderTimeout: 10 * time.Second}
	adminLn, err := net.Listen("tcp", joinAddr(o.adminAddr, o.adminPort))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("admin listener: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Go(func() {
		if err := gs.Serve(ln); err != nil {
			errc <- fmt.Errorf("extproc: gRPC: %w", err)
		}
	})
	wg.Go(func() {
		if err := admin.Serve(adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("extproc: admin: %w", err)
		}
	})
	if o.watch {
		guard := newTruncationGuard(p.initial)
		w, err := newWatcher(p.initial.Files, p.logger, func(ctx context.Context) {
			applyReload(ctx, p.logger, p.load, guard, rts, nil)
		})
		if err != nil {
			p.logger.Warn("hot reload disabled", "error", err)
		} else {
			wg.Go(func() { w.run(ctx) })
		}
	}
	p.logger.Info("ext_proc server listening", "address", ln.Addr().String(), "admin", adminLn.Addr().String())
	p.logger.Info("configuration loaded", summarize(p.initial.Config).attrs()...)
	ready.Store(true)
	if p.ready != nil {
		p.ready(ln.Addr(), adminLn.Addr())
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	ready.Store(false)
	healthSrv.Shutdown() // NOT_SERVING: Envoy's health check moves traffic away
	cancel()
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	t := time.NewTimer(o.shutdownTimeout)
	select {
	case <-stopped:
	case <-t.C:
		p.logger.Warn("drain deadline passed: closing remaining streams")
		gs.Stop()
	}
	t.Stop()
	_ = admin.Close()
	wg.Wait()
	return runErr
}

// listenGRPC listens on "host:port" or "unix:///path"; a stale socket file
// is replaced.
func listenGRPC(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix://"); ok {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("--listen %s: %w", addr, err)
		}
		ln, err := net.Listen("unix", path)
		if err != nil {
			return nil, fmt.Errorf("--listen %s: %w", addr, err)
		}
		return ln, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	return ln, nil
}
