package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aigw-dev/aigw/internal/cli"
	"github.com/aigw-dev/aigw/internal/sim"
)

// ErrUsage is returned for a command line that cannot be run (cmd/aigw
// exits with status 2 for it).
var ErrUsage = cli.ErrUsage

const usage = `Usage: aigw <command> [flags] [args]

Commands:
  run [FILE|DIR...]   serve AI traffic from Envoy AI Gateway resources (YAML)
  validate FILE|DIR...
                      check a configuration without serving it
  extproc FILE|DIR... serve Envoy's ext_proc protocol as Envoy AI Gateway's external processor
  epp                 serve GAIE's endpoint picker protocol for a pool of model servers
  sim                 run simulated vLLM-compatible model servers
  demo                run simulated model servers and a gateway in front of them
  version             print the version

Run 'aigw <command> -h' for the flags of a command.
`

// Main runs the aigw command line args (without the program name) until ctx
// ends or the command fails. -h and --help succeed after printing the usage
// on stdout; a command line that cannot be run returns an error wrapping
// [ErrUsage].
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return mainEnv(ctx, args, os.LookupEnv, stdout, stderr)
}

// mainEnv is Main reading the environment through lookupEnv.
func mainEnv(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", ErrUsage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return runCommand(ctx, rest, lookupEnv, stdout, stderr)
	case "validate":
		return validateCommand(ctx, rest, lookupEnv, stdout, stderr)
	case "extproc":
		return extprocCommand(ctx, rest, lookupEnv, stdout, stderr)
	case "epp":
		return eppCommand(ctx, rest, stdout, stderr)
	case "sim":
		return sim.Main(ctx, rest, stdout, stderr)
	case "demo":
		return demoCommand(ctx, rest, stdout, stderr)
	case "version", "--version":
		return versionCommand(rest, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", ErrUsage, cmd)
	}
}

// ignoreHelp turns the end of -h or --help into success.
func ignoreHelp(err error) error {
	if errors.Is(err, cli.ErrHelp) {
		return nil
	}
	return err
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
