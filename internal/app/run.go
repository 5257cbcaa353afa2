package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aigw-dev/aigw/internal/cli"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/kube"
	"github.com/aigw-dev/aigw/internal/metrics"
	"github.com/aigw-dev/aigw/internal/standalone"
	"github.com/aigw-dev/aigw/internal/tracing"
)

// runOptions are the flags of `aigw run`.
type runOptions struct {
	log             logFlags
	adminAddr       string
	adminPort       int
	listenAddr      string
	accessLog       string
	shutdownTimeout time.Duration
	watch           bool
	configHome      string
	// port is the generated listener's port when no file is given.
	port int
	// maxModelLabels bounds the distinct values of each gen_ai model label.
	maxModelLabels int
	// limits bound what clients can make the gateway hold.
	limits limitFlags
	// rateLimit configures the rate limit store.
	rateLimit rateLimitFlags
	// kubernetes reads the configuration from the API server
	// (kubeconfig's, else the cluster's); controllerName selects the
	// GatewayClasses served.
	kubernetes     bool
	kubeconfig     string
	controllerName string
	gateways       []string
	replicaName    string
	// statusAddresses are where clients reach the Gateways, for their
	// status.
	statusAddresses []string
}

func (o *runOptions) register(fs *flag.FlagSet) {
	o.log.register(fs)
	o.limits.register(fs)
	o.rateLimit.register(fs)
	fs.BoolVar(&o.kubernetes, "kubernetes", false, "read the resources from the Kubernetes API server (in-cluster, or --kubeconfig) instead of files, and follow their changes")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the API server --kubernetes reads (default: in-cluster, else $KUBECONFIG or ~/.kube/config)")
	fs.Func("gateway", "with --kubernetes: serve only this Gateway (namespace/name) of the controller's GatewayClasses; repeat for more (default: all of them). Replicas serving other Gateways elect their own status writer", func(v string) error {
		ns, name, ok := strings.Cut(v, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return fmt.Errorf("%q: want namespace/name", v)
		}
		o.gateways = append(o.gateways, v)
		return nil
	})
	fs.Func("status-address", "with --kubernetes: an address (IP or host name, such as the gateway Service's) clients reach the Gateways at, reported in their status.addresses; repeat for more (default: the Gateway's spec.addresses, else --listen-address when it names one IP)", func(v string) error {
		if v == "" || strings.ContainsAny(v, "/ ") {
			return fmt.Errorf("%q: want an IP address or a host name", v)
		}
		o.statusAddresses = append(o.statusAddresses, v)
		return nil
	})
	fs.StringVar(&o.controllerName, "controller-name", kube.DefaultControllerName, "with --kubernetes: the GatewayClass spec.controllerName whose Gateways this gateway serves")
	fs.StringVar(&o.replicaName, "replica-name", "", "with --kubernetes: this replica's name in the status writer's Lease (default $POD_NAME, else the host name and a random suffix)")
	fs.IntVar(&o.adminPort, "admin-port", 1064, "port of the admin listener (/metrics, /healthz, /readyz)")
	fs.StringVar(&o.adminAddr, "admin-address", "127.0.0.1", "address the admin listener binds")
	fs.StringVar(&o.listenAddr, "listen-address", "", "address the Gateway's listeners bind (default: the Gateway's spec.addresses, else all interfaces; 127.0.0.1 when configured from the environment)")
	fs.StringVar(&o.accessLog, "access-log", "-", `where access logs go (JSON lines): "-" for stdout, "off", or a file path`)
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may drain on shutdown")
	fs.BoolVar(&o.watch, "watch", true, "reload the configuration when its files change")
	fs.StringVar(&o.configHome, "config-home", o.configHome, "directory holding config.yaml used when no file is given (default $AIGW_CONFIG_HOME, else ~/.config/aigw)")
	fs.IntVar(&o.port, "port", 0, "port of the listener configured from the environment when no file is given (default 1975)")
	fs.IntVar(&o.maxModelLabels, "metrics-max-model-labels", metrics.DefaultMaxModelLabels, "distinct values kept per gen_ai model label (original, request, response model); later ones are recorded as __other__")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// defaultConfigHome is $AIGW_CONFIG_HOME, else ~/.config/aigw.
func defaultConfigHome(lookupEnv func(string) (string, bool)) string {
	if v, _ := lookupEnv("AIGW_CONFIG_HOME"); v != "" {
		return v
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", "aigw")
}

const runUsage = `Usage: aigw run [flags] [FILE|DIR...]

Serves AI traffic from Envoy AI Gateway resources (YAML files, or every
*.yaml of a directory). Without a file it reads $AIGW_CONFIG_HOME/config.yaml,
or configures itself from OPENAI_API_KEY, AZURE_OPENAI_API_KEY or
ANTHROPIC_API_KEY and then listens on 127.0.0.1 only. 'aigw validate' checks
a configuration without serving it.

Flags:
`

func runCommand(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("aigw run", flag.ContinueOnError)
	o := runOptions{configHome: defaultConfigHome(lookupEnv)}
	o.register(fs)
	paths, err := cli.Parse(fs, runUsage, args, stdout)
	if err != nil {
		return ignoreHelp(err)
	}
	logger, err := o.log.logger(stderr)
	if err != nil {
		return err
	}
	if o.port < 0 || o.port > 65535 {
		return cli.Usagef("--port %d is not a TCP port", o.port)
	}
	loader := &standalone.Loader{LookupEnv: lookupEnv}
	var load func(context.Context) (*standalone.Result, error)
	var changes <-chan struct{}
	var src *kube.Source
	var status *kube.Status
	var loaded atomic.Pointer[standalone.Result] // the last compilation the data plane was handed
	if len(o.gateways) > 0 && !o.kubernetes {
		return cli.Usagef("--gateway narrows the Gateways --kubernetes serves; files say which they serve")
	}
	switch {
	case o.kubernetes:
		if len(paths) > 0 {
			return cli.Usagef("--kubernetes reads the API server: no configuration files (%s)", paths[0])
		}
		var err error
		src, status, err = startKubernetes(ctx, o, logger)
		if err != nil {
			return err
		}
		load = func(ctx context.Context) (*standalone.Result, error) {
			res, err := src.Load(ctx)
			if err != nil || res.Config == nil {
				status.Report(res) // nothing to apply: why is the status
			} else {
				loaded.Store(res) // reported once the data plane took or refused it
			}
			return res, err
		}
		changes = src.Changes()
		o.watch = false
	case len(paths) > 0:
		load = func(ctx context.Context) (*standalone.Result, error) { return loader.Load(ctx, paths...) }
	case o.configHome != "" && fileExists(filepath.Join(o.configHome, "config.yaml")):
		p := filepath.Join(o.configHome, "config.yaml")
		paths = []string{p}
		load = func(ctx context.Context) (*standalone.Result, error) { return loader.Load(ctx, p) }
	default:
		getenv := func(k string) string { v, _ := lookupEnv(k); return v }
		generated, err := standalone.Autoconfig(getenv, o.port)
		if err != nil {
			return fmt.Errorf("no configuration file given and none could be generated from the environment: %w\n(pass a file, or run `aigw demo` for a local example that needs no API key)", err)
		}
		logger.Info("no configuration file given: configured from the environment")
		load = func(ctx context.Context) (*standalone.Result, error) {
			return loader.LoadBytes(ctx, "<autoconfig>", generated)
		}
		o.watch = false
	}
	if o.port != 0 && len(paths) > 0 {
		return cli.Usagef("--port applies only to the configuration generated from the environment; %s sets its own listeners", paths[0])
	}
	res, accessLog, closeLog, err := loadServing(ctx, load, logger, o.accessLog, stdout)
	if err != nil {
		return err
	}
	defer closeLog()
	p := gatewayParams{
		initial:         res.Config,
		logger:          logger,
		accessLog:       accessLog,
		adminAddr:       joinAddr(o.adminAddr, o.adminPort),
		listenHost:      o.listenAddr,
		shutdownTimeout: o.shutdownTimeout,
		limits:          o.limits,
		metrics:         metrics.Options{MaxModelLabels: o.maxModelLabels},
		trace:           tracing.Env{Getenv: getenvOf(lookupEnv), Stdout: stdout},
		rateLimit:       o.rateLimit,
	}
	if o.watch {
		p.reload = load
		p.watchFiles = res.Files
		p.guard = newTruncationGuard(res)
	}
	if changes != nil {
		p.reload, p.changes = load, changes
	}
	if src != nil {
		// Pod changes that only move pools' endpoints skip compilation.
		p.endpointChanges, p.poolEndpoints = src.EndpointChanges(), src.PoolEndpoints
		p.listenerFailures = status.ListenerFailures
		p.applied = func(cfg *config.Config) {
			src.Serving(cfg)
			if res := loaded.Load(); res != nil && res.Config == cfg {
				status.Report(res)
			}
		}
		p.refused = func(err error) bool {
			if src.Refuse(ctx, err) {
				return true // the next load leaves it out, and its status says why
			}
			status.Refused(loaded.Load(), err)
			return false
		}
	}
	return runGateway(ctx, p)
}

// startKubernetes starts watching the API server the flags name, and
// competing for the status writer's Lease; it returns once the caches
// have synced.
func startKubernetes(ctx context.Context, o runOptions, logger *slog.Logger) (*kube.Source, *kube.Status, error) {
	rc, err := restConfig(o.kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	addresses := o.statusAddresses
	if ip, err := netip.ParseAddr(o.listenAddr); len(addresses) == 0 && err == nil && !ip.IsUnspecified() {
		addresses = []string{o.listenAddr}
	}
	src, err := kube.New(rc, kube.Options{ControllerName: o.controllerName, Gateways: o.gateways, Addresses: addresses,
		Logger: logger.With("component", "kubernetes")})
	if err != nil {
		return nil, nil, err
	}
	if err := src.Start(ctx); err != nil {
		return nil, nil, err
	}
	status, err := src.StartStatus(ctx, rc, kube.StatusOptions{Identity: o.replicaName})
	if err != nil {
		return nil, nil, err
	}
	logger.Info("kubernetes: watching the API server", "host", rc.Host, "controller_name", o.controllerName, "gateways", o.gateways)
	return src, status, nil
}

// loadServing loads the configuration a serving command starts with,
// logging its warnings, and opens the access log; the caller closes it.
func loadServing(ctx context.Context, load func(context.Context) (*standalone.Result, error), logger *slog.Logger, accessLogFlag string, stdout io.Writer) (*standalone.Result, *slog.Logger, func(), error) {
	res, err := load(ctx)
	logWarnings(logger, res)
	if err != nil {
		return nil, nil, nil, invalidConfig(err)
	}
	accessLog, closeLog, err := openAccessLog(accessLogFlag, stdout)
	if err != nil {
		return nil, nil, nil, err
	}
	return res, accessLog, closeLog, nil
}

// invalidConfig is the error of a configuration that failed to load, the
// same for `aigw run` and `aigw validate`.
func invalidConfig(err error) error {
	return fmt.Errorf("invalid configuration:\n%w", err)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func logWarnings(logger *slog.Logger, res *standalone.Result) {
	if res == nil {
		return
	}
	for _, w := range res.Warnings {
		logger.Warn("configuration: " + w.String())
	}
	for _, err := range res.Skipped {
		logger.Error("configuration: skipped: " + err.Error())
	}
}

// openAccessLog returns the access logger for the --access-log value.
func openAccessLog(where string, stdout io.Writer) (*slog.Logger, func(), error) {
	switch where {
	case "off", "":
		return nil, func() {}, nil
	case "-":
		return slog.New(slog.NewJSONHandler(stdout, nil)), func() {}, nil
	default:
		f, err := os.OpenFile(where, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("--access-log: %w", err)
		}
		return slog.New(slog.NewJSONHandler(f, nil)), func() { _ = f.Close() }, nil
	}
}
