package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/aigw-dev/aigw/internal/standalone"
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
}

func (o *runOptions) register(fs *flag.FlagSet) {
	o.log.register(fs)
	fs.IntVar(&o.adminPort, "admin-port", 1064, "port of the admin listener (/metrics, /healthz, /readyz)")
	fs.StringVar(&o.adminAddr, "admin-address", "127.0.0.1", "address the admin listener binds")
	fs.StringVar(&o.listenAddr, "listen-address", "", "address the Gateway's listeners bind (default: all interfaces)")
	fs.StringVar(&o.accessLog, "access-log", "-", `where access logs go (JSON lines): "-" for stdout, "off", or a file path`)
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may drain on shutdown")
	fs.BoolVar(&o.watch, "watch", true, "reload the configuration when its files change")
	fs.StringVar(&o.configHome, "config-home", envOr("AIGW_CONFIG_HOME", defaultConfigHome()), "directory holding config.yaml used when no file is given")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func defaultConfigHome() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", "aigw")
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("aigw run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: aigw run [flags] [FILE|DIR...]\n\nServes AI traffic from Envoy AI Gateway resources. Without a file it reads\n$AIGW_CONFIG_HOME/config.yaml, or configures itself from OPENAI_API_KEY,\nAZURE_OPENAI_API_KEY or ANTHROPIC_API_KEY.\n\nFlags:")
		fs.PrintDefaults()
	}
	var o runOptions
	o.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	logger, err := o.log.logger(stderr)
	if err != nil {
		return err
	}
	accessLog, closeLog, err := openAccessLog(o.accessLog, stdout)
	if err != nil {
		return err
	}
	defer closeLog()

	paths := fs.Args()
	var load func(context.Context) (*standalone.Result, error)
	switch {
	case len(paths) > 0:
		load = func(ctx context.Context) (*standalone.Result, error) { return standalone.Load(ctx, paths...) }
	case o.configHome != "" && fileExists(filepath.Join(o.configHome, "config.yaml")):
		p := filepath.Join(o.configHome, "config.yaml")
		paths = []string{p}
		load = func(ctx context.Context) (*standalone.Result, error) { return standalone.Load(ctx, p) }
	default:
		generated, err := standalone.Autoconfig(os.Getenv)
		if err != nil {
			return fmt.Errorf("no configuration file given and none could be generated from the environment: %w\n(pass a file, or run `aigw demo` for a local example that needs no API key)", err)
		}
		logger.Info("no configuration file given: configured from the environment")
		load = func(ctx context.Context) (*standalone.Result, error) {
			return standalone.LoadBytes(ctx, "<autoconfig>", generated)
		}
		o.watch = false
	}
	res, err := load(ctx)
	logWarnings(logger, res)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	p := gatewayParams{
		initial:         res.Config,
		logger:          logger,
		accessLog:       accessLog,
		adminAddr:       joinAddr(o.adminAddr, o.adminPort),
		listenHost:      o.listenAddr,
		shutdownTimeout: o.shutdownTimeout,
	}
	if o.watch {
		p.reload = load
		p.watchFiles = res.Files
	}
	return runGateway(ctx, p)
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
