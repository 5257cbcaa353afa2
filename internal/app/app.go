package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/aigw-dev/aigw/internal/sim"
)

// ErrUsage is returned for a command line that cannot be run.
var ErrUsage = errors.New("usage error")

const usage = `Usage: aigw <command> [flags] [args]

Commands:
  run [FILE|DIR...]   serve AI traffic from Envoy AI Gateway resources (YAML)
  epp                 serve GAIE's endpoint picker protocol for a pool of model servers
  sim                 run simulated vLLM-compatible model servers
  demo                run simulated model servers and a gateway in front of them
  version             print the version

Run 'aigw <command> -h' for the flags of a command.
`

// Main runs the aigw command line args (without the program name) until ctx
// ends or the command fails.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ErrUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return runCommand(ctx, rest, stdout, stderr)
	case "epp":
		return eppCommand(ctx, rest, stdout, stderr)
	case "sim":
		return sim.Main(ctx, rest, stdout, stderr)
	case "demo":
		return demoCommand(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "aigw", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", ErrUsage, cmd)
	}
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// logFlags are the logging flags shared by the commands.
type logFlags struct {
	format string
	level  string
	debug  bool
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.format, "log-format", "text", "log format: text or json")
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&l.debug, "debug", false, "shorthand for --log-level=debug")
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level: %w", ErrUsage, err)
	}
	if l.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(l.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("%w: --log-format must be text or json, not %q", ErrUsage, l.format)
	}
}
