package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/aigw-dev/aigw/internal/cli"
	"github.com/aigw-dev/aigw/internal/eppserver"
	"github.com/aigw-dev/aigw/internal/podsource"
	"github.com/aigw-dev/aigw/internal/policysource"
	"github.com/aigw-dev/aigw/internal/scheduler"
	"github.com/aigw-dev/aigw/internal/tracing"
)

// eppOptions are the flags of `aigw epp`; names follow GAIE's EPP.
type eppOptions struct {
	log                 logFlags
	listenAddr          string
	grpcPort            int
	healthPort          int
	metricsPort         int
	secureServing       bool
	certPath            string
	endpoints           string
	poolName            string
	poolNamespace       string
	poolGroup           string
	kubeconfig          string
	endpointSelector    string
	targetPorts         string
	configFile          string
	configText          string
	refreshInterval     time.Duration
	staleness           time.Duration
	ackRequestBody      bool
	maxRequestBodyBytes int64
	objectives          multiFlag
	modelRewrites       multiFlag
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func (o *eppOptions) register(fs *flag.FlagSet) {
	o.log.register(fs)
	fs.StringVar(&o.listenAddr, "listen-address", "", "address the gRPC and metrics listeners bind (default: all interfaces)")
	fs.IntVar(&o.grpcPort, "grpc-port", 9002, "port of the ext_proc (endpoint picker protocol) service")
	fs.IntVar(&o.healthPort, "grpc-health-port", 9003, "port of the gRPC health service (liveness, readiness, envoy.service.ext_proc.v3.ExternalProcessor, inference-extension)")
	fs.IntVar(&o.metricsPort, "metrics-port", 9090, "port of the Prometheus /metrics listener (0 disables it)")
	fs.BoolVar(&o.secureServing, "secure-serving", true, "serve gRPC over TLS (a self-signed certificate unless --cert-path is set); false serves plaintext h2c")
	fs.StringVar(&o.certPath, "cert-path", "", "directory holding tls.crt and tls.key for --secure-serving")
	fs.StringVar(&o.endpoints, "endpoints", "", "static endpoints, ip:port[,ip:port...] (standalone mode, no Kubernetes)")
	fs.StringVar(&o.poolName, "pool-name", "", "InferencePool whose Pods are the endpoints (Kubernetes mode)")
	fs.StringVar(&o.poolNamespace, "pool-namespace", envOr("NAMESPACE", "default"), "namespace of the InferencePool (or of the selected Pods)")
	fs.StringVar(&o.poolGroup, "pool-group", podsource.GroupV1, "API group of the InferencePool: "+podsource.GroupV1+" (v1) or "+podsource.GroupV1Alpha2+" (v1alpha2)")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&o.endpointSelector, "endpoint-selector", "", "Kubernetes mode without a pool: Pod label selector k=v[,k=v...]")
	fs.StringVar(&o.targetPorts, "endpoint-target-ports", "", "with --endpoint-selector: the model servers' ports, p[,p...]")
	fs.StringVar(&o.configFile, "config-file", "", "EndpointPickerConfig YAML (GAIE's format): scorers, weights, picker, prefix and saturation parameters")
	fs.StringVar(&o.configText, "config-text", "", "EndpointPickerConfig YAML given inline")
	fs.DurationVar(&o.refreshInterval, "refresh-metrics-interval", 50*time.Millisecond, "how often each model server's metrics are scraped")
	fs.DurationVar(&o.staleness, "metrics-staleness-threshold", 2*time.Second, "age after which scraped metrics are ignored")
	fs.BoolVar(&o.ackRequestBody, "ack-request-body", false, "acknowledge request body chunks instead of echoing the body back (for proxies that keep their copy, such as aigw; Envoy needs the echo)")
	fs.Int64Var(&o.maxRequestBodyBytes, "max-request-body-bytes", eppserver.DefaultMaxRequestBodyBytes, "largest request body accepted (larger: 413)")
	fs.Var(&o.objectives, "objective", "InferenceObjective priority, name=priority (repeatable); negative priorities are sheddable. With --pool-name, the pool's InferenceObjectives are added (same name: the cluster's wins)")
	fs.Var(&o.modelRewrites, "model-rewrite", "weighted model rewrite, incoming=target[:weight][,target[:weight]...] (repeatable). With --pool-name, the pool's InferenceModelRewrites apply after these")
}

const eppUsage = `Usage: aigw epp [flags]

Serves GAIE's endpoint picker protocol (Envoy ext_proc, FULL_DUPLEX_STREAMED)
for one pool of model servers, scheduling on their scraped load, KV cache,
prefix cache and LoRA adapters. Endpoints come from --endpoints (standalone)
or from Kubernetes (--pool-name, or --endpoint-selector with
--endpoint-target-ports). With --pool-name, the pool's InferenceObjectives
and InferenceModelRewrites (inference.networking.x-k8s.io/v1alpha2, GAIE
v1.5's CRDs) are followed when the cluster has them.

Flags:
`

// eppParams are what runEPP needs.
type eppParams struct {
	opts   eppOptions
	logger *slog.Logger
	// trace is where tracing is configured from (zero: the process).
	trace tracing.Env
}

func eppCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("aigw epp", flag.ContinueOnError)
	var o eppOptions
	o.register(fs)
	rest, err := cli.Parse(fs, eppUsage, args, stdout)
	if err != nil {
		return ignoreHelp(err)
	}
	if len(rest) > 0 {
		return cli.Usagef("unexpected arguments %q", rest)
	}
	logger, err := o.log.logger(stderr)
	if err != nil {
		return err
	}
	return runEPP(ctx, eppParams{opts: o, logger: logger, trace: tracing.Env{Stdout: stdout}})
}

// runEPP serves until ctx ends.
func runEPP(ctx context.Context, p eppParams) error {
	o := p.opts
	cfg, err := o.schedulerConfig(p.logger)
	if err != nil {
		return err
	}
	objectives, err := parseObjectives(o.objectives)
	if err != nil {
		return err
	}
	rewrites, err := parseModelRewrites(o.modelRewrites)
	if err != nil {
		return err
	}
	flagPolicy := scheduler.Policy{Objectives: objectives, Rewrites: rewrites}
	sched, err := scheduler.New(cfg, p.logger.With("component", "scheduler"))
	if err != nil {
		return err
	}
	healthSrv := health.NewServer()
	healthSrv.SetServingStatus("liveness", healthpb.HealthCheckResponse_SERVING)
	setReady := func(ready bool) {
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if ready {
			st = healthpb.HealthCheckResponse_SERVING
		}
		for _, svc := range []string{"", "readiness", "envoy.service.ext_proc.v3.ExternalProcessor", "inference-extension"} {
			healthSrv.SetServingStatus(svc, st)
		}
	}
	setReady(false)

	if err := o.checkEndpointFlags(); err != nil {
		return err
	}
	var rc *rest.Config // the cluster's, in Kubernetes mode
	if o.poolName != "" || o.endpointSelector != "" {
		if rc, err = restConfig(o.kubeconfig); err != nil {
			return err
		}
	}
	source, poolLabel, err := o.endpointSource(rc, sched, setReady, p.logger)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := eppserver.NewMetrics(reg, poolLabel, sched)
	if err != nil {
		return err
	}
	tp, err := startTracing(ctx, p.logger, p.trace, "aigw-epp")
	if err != nil {
		return err
	}
	defer stopTracing(tp, p.logger)
	srv, err := eppserver.New(eppserver.Options{
		Tracing:             tp,
		Scheduler:           sched,
		Logger:              p.logger,
		Metrics:             m,
		AckRequestBody:      o.ackRequestBody,
		MaxRequestBodyBytes: o.maxRequestBodyBytes,
		Policy:              flagPolicy,
	})
	if err != nil {
		return err
	}
	policies, err := o.policySource(rc, srv, flagPolicy, p.logger)
	if err != nil {
		return err
	}
	grpcOpts := eppserver.ServerOptions()
	if o.secureServing {
		cert, err := o.certificate()
		if err != nil {
			return err
		}
		grpcOpts = append(grpcOpts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}})))
	}
	gs := grpc.NewServer(grpcOpts...)
	extprocv3.RegisterExternalProcessorServer(gs, srv)
	hs := grpc.NewServer()
	healthpb.RegisterHealthServer(hs, healthSrv)

	grpcLn, err := net.Listen("tcp", joinAddr(o.listenAddr, o.grpcPort))
	if err != nil {
		return fmt.Errorf("epp: gRPC listener: %w", err)
	}
	healthLn, err := net.Listen("tcp", joinAddr(o.listenAddr, o.healthPort))
	if err != nil {
		grpcLn.Close()
		return fmt.Errorf("epp: health listener: %w", err)
	}
	var metricsLn net.Listener
	var metricsSrv *http.Server
	if o.metricsPort > 0 {
		if metricsLn, err = net.Listen("tcp", joinAddr(o.listenAddr, o.metricsPort)); err != nil {
			grpcLn.Close()
			healthLn.Close()
			return fmt.Errorf("epp: metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Go(func() {
		if err := sched.Start(ctx); err != nil {
			errs <- err
		}
	})
	wg.Go(func() {
		if err := source(ctx); err != nil {
			errs <- fmt.Errorf("epp: endpoints: %w", err)
		}
	})
	if policies != nil {
		wg.Go(func() {
			if err := policies(ctx); err != nil {
				errs <- fmt.Errorf("epp: InferenceObjectives and InferenceModelRewrites: %w", err)
			}
		})
	}
	wg.Go(func() {
		if err := gs.Serve(grpcLn); err != nil {
			errs <- fmt.Errorf("epp: gRPC: %w", err)
		}
	})
	wg.Go(func() {
		if err := hs.Serve(healthLn); err != nil {
			errs <- fmt.Errorf("epp: health: %w", err)
		}
	})
	if metricsSrv != nil {
		wg.Go(func() {
			if err := metricsSrv.Serve(metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("epp: metrics: %w", err)
			}
		})
	}
	p.logger.Info("endpoint picker serving", "grpc", grpcLn.Addr().String(), "health", healthLn.Addr().String(),
		"tls", o.secureServing, "pool", poolLabel, "scorers", len(cfg.Profile.Scorers), "fallbacks", cfg.Profile.Fallbacks)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	setReady(false)
	cancel()
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		gs.Stop()
	}
	hs.Stop()
	if metricsSrv != nil {
		_ = metricsSrv.Close()
	}
	wg.Wait()
	return runErr
}

// schedulerConfig is the defaults (one endpoint per pick, as GAIE's EPP),
// the scrape flags, then the EndpointPickerConfig if given.
func (o *eppOptions) schedulerConfig(logger *slog.Logger) (scheduler.Config, error) {
	cfg := scheduler.DefaultConfig()
	cfg.Profile.Fallbacks = 0
	cfg.ScrapeInterval = o.refreshInterval
	cfg.Staleness = o.staleness
	var data []byte
	name := "--config-text"
	switch {
	case o.configFile != "" && o.configText != "":
		return scheduler.Config{}, fmt.Errorf("%w: --config-file and --config-text are exclusive", ErrUsage)
	case o.configFile != "":
		b, err := os.ReadFile(o.configFile)
		if err != nil {
			return scheduler.Config{}, fmt.Errorf("epp: %w", err)
		}
		data, name = b, o.configFile
	case o.configText != "":
		data = []byte(o.configText)
	default:
		return cfg, nil
	}
	parsed, warnings, err := scheduler.ParsePickerConfig(data, cfg)
	for _, w := range warnings {
		logger.Warn(name + ": " + w)
	}
	if err != nil {
		return scheduler.Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return parsed, nil
}

// checkEndpointFlags checks that exactly one source of endpoints is given:
// --endpoints, or Kubernetes mode (--pool-name, --endpoint-selector).
func (o *eppOptions) checkEndpointFlags() error {
	k8sMode := o.poolName != "" || o.endpointSelector != ""
	switch {
	case o.endpoints != "" && k8sMode:
		return fmt.Errorf("%w: --endpoints and Kubernetes mode (--pool-name, --endpoint-selector) are exclusive", ErrUsage)
	case o.endpoints == "" && !k8sMode:
		return fmt.Errorf("%w: no endpoints: give --endpoints, --pool-name, or --endpoint-selector with --endpoint-target-ports", ErrUsage)
	}
	return nil
}

// endpointSource returns the function that feeds the scheduler until ctx
// ends, and the pool's label for metrics.
func (o *eppOptions) endpointSource(rc *rest.Config, sched *scheduler.Scheduler, setReady func(bool), logger *slog.Logger) (func(context.Context) error, string, error) {
	if rc == nil { // static endpoints (checkEndpointFlags)
		eps, err := parseStaticEndpoints(o.endpoints)
		if err != nil {
			return nil, "", err
		}
		sched.SetEndpoints(eps)
		setReady(true)
		return func(ctx context.Context) error { <-ctx.Done(); return nil }, "static", nil
	}
	so := podsource.Options{
		PoolNamespace: o.poolNamespace,
		PoolName:      o.poolName,
		PoolGroup:     o.poolGroup,
		Logger:        logger.With("component", "endpoints"),
		OnChange: func(eps []scheduler.Endpoint) {
			sched.SetEndpoints(eps)
			setReady(true)
			logger.Info("pool endpoints", "count", len(eps))
		},
	}
	label := o.poolNamespace + "/" + o.poolName
	if o.poolName == "" {
		sel, err := parseLabelList(o.endpointSelector)
		if err != nil {
			return nil, "", fmt.Errorf("%w: --endpoint-selector: %w", ErrUsage, err)
		}
		ports, err := parsePorts(o.targetPorts)
		if err != nil {
			return nil, "", fmt.Errorf("%w: --endpoint-target-ports: %w", ErrUsage, err)
		}
		so.Selector, so.TargetPorts, so.PoolGroup = sel, ports, ""
		label = o.poolNamespace + "/" + o.endpointSelector
	}
	src, err := podsource.New(rc, so)
	if err != nil {
		return nil, "", err
	}
	return src.Run, label, nil
}

// policySource returns the function that keeps srv's policy in step with
// the pool's InferenceObjectives and InferenceModelRewrites (pool mode
// only; nil otherwise): the flags' policy, with the cluster's objectives
// replacing same-named flag ones and the cluster's rewrite rules after the
// flags' rules. While the API server does not serve those CRDs (GAIE v1.6
// no longer installs them) the flags' policy applies alone and the CRDs
// are looked for again every 30 s.
func (o *eppOptions) policySource(rc *rest.Config, srv *eppserver.Server, flags scheduler.Policy, logger *slog.Logger) (func(context.Context) error, error) {
	if rc == nil || o.poolName == "" {
		return nil, nil
	}
	logger = logger.With("component", "policy")
	src, err := policysource.New(rc, policysource.Options{
		PoolNamespace: o.poolNamespace,
		PoolName:      o.poolName,
		PoolGroup:     o.poolGroup,
		Logger:        logger,
		OnChange: func(p scheduler.Policy) {
			merged := scheduler.Policy{Objectives: maps.Clone(flags.Objectives), Rewrites: slices.Concat(flags.Rewrites, p.Rewrites)}
			if merged.Objectives == nil {
				merged.Objectives = map[string]int{}
			}
			maps.Copy(merged.Objectives, p.Objectives)
			if err := srv.SetPolicy(merged); err != nil {
				logger.Error("policy from the cluster rejected; the previous one stays", "error", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		return whenInstalled(ctx, func() (bool, error) { return policysource.Installed(rc) }, src.Run, crdLookupInterval, logger)
	}, nil
}

// whenInstalled runs run once lookup reports the CRDs installed, asking
// every interval until then (every 5 s while lookup fails), until ctx ends.
func whenInstalled(ctx context.Context, lookup func() (bool, error), run func(context.Context) error, interval time.Duration, logger *slog.Logger) error {
	logged := false
	for {
		installed, err := lookup()
		wait := interval
		switch {
		case err == nil && installed:
			if logged {
				logger.Info("InferenceObjective and InferenceModelRewrite are installed now; following them")
			}
			return run(ctx)
		case err == nil && !logged:
			logger.Info("InferenceObjective and InferenceModelRewrite (inference.networking.x-k8s.io/v1alpha2) are not installed; only --objective and --model-rewrite apply until they are")
			logged = true
		case err != nil:
			logger.Warn("cannot look up the InferenceObjective CRDs; retrying", "error", err)
			wait = min(interval, 5*time.Second)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// crdLookupInterval is how often `aigw epp` looks for the
// InferenceObjective and InferenceModelRewrite CRDs while they are not
// installed.
const crdLookupInterval = 30 * time.Second

// restConfig loads the Kubernetes client configuration: the file given,
// else in-cluster, else $KUBECONFIG or ~/.kube/config.
func restConfig(path string) (*rest.Config, error) {
	if path != "" {
		c, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
		}
		return c, nil
	}
	if c, err := rest.InClusterConfig(); err == nil {
		return c, nil
	}
	c, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no Kubernetes configuration (not in a cluster, no kubeconfig): %w", err)
	}
	return c, nil
}

func parseStaticEndpoints(s string) ([]scheduler.Endpoint, error) {
	var out []scheduler.Endpoint
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		host, port, err := net.SplitHostPort(e)
		if err != nil {
			return nil, fmt.Errorf("%w: --endpoints: %q: %w", ErrUsage, e, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w: --endpoints: %q: invalid port", ErrUsage, e)
		}
		if net.ParseIP(host) == nil {
			return nil, fmt.Errorf("%w: --endpoints: %q: host must be an IP address", ErrUsage, e)
		}
		out = append(out, scheduler.Endpoint{Address: e})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: --endpoints: no endpoint given", ErrUsage)
	}
	return out, nil
}

func parseLabelList(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

func parsePorts(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q is not a port", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseObjectives reads --objective flags.
func parseObjectives(flags []string) (map[string]int, error) {
	out := map[string]int{}
	for _, f := range flags {
		name, prio, ok := strings.Cut(f, "=")
		n, err := strconv.Atoi(prio)
		if !ok || name == "" || err != nil {
			return nil, fmt.Errorf("%w: --objective %q: want name=priority", ErrUsage, f)
		}
		out[name] = n
	}
	return out, nil
}

// parseModelRewrites reads --model-rewrite flags: one exact-match rule
// per flag, in flag order (the first flag for a model wins, as the oldest
// InferenceModelRewrite does).
func parseModelRewrites(flags []string) ([]scheduler.RewriteRule, error) {
	var out []scheduler.RewriteRule
	for _, f := range flags {
		in, targets, ok := strings.Cut(f, "=")
		if !ok || in == "" || targets == "" {
			return nil, fmt.Errorf("%w: --model-rewrite %q: want incoming=target[:weight],...", ErrUsage, f)
		}
		r := scheduler.RewriteRule{Models: []string{in}, Source: "--model-rewrite " + f}
		for _, t := range strings.Split(targets, ",") {
			name, w, hasW := strings.Cut(strings.TrimSpace(t), ":")
			weight := 1
			if hasW {
				n, err := strconv.Atoi(w)
				if err != nil || n <= 0 {
					return nil, fmt.Errorf("%w: --model-rewrite %q: weight %q must be a positive integer", ErrUsage, f, w)
				}
				weight = n
			}
			if name == "" {
				return nil, fmt.Errorf("%w: --model-rewrite %q: empty target", ErrUsage, f)
			}
			r.Targets = append(r.Targets, scheduler.WeightedModel{Model: name, Weight: weight})
		}
		out = append(out, r)
	}
	return out, nil
}

// certificate loads --cert-path, or makes a self-signed certificate as
// GAIE's EPP does.
func (o *eppOptions) certificate() (tls.Certificate, error) {
	if o.certPath != "" {
		c, err := tls.LoadX509KeyPair(filepath.Join(o.certPath, "tls.crt"), filepath.Join(o.certPath, "tls.key"))
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("epp: --cert-path: %w", err)
		}
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("epp: self-signed certificate: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("epp: self-signed certificate: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"aigw endpoint picker"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("epp: self-signed certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
