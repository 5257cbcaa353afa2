package app

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"text/template"
	"time"

	"github.com/aigw-dev/aigw/internal/cli"
	"github.com/aigw-dev/aigw/internal/sim"
	"github.com/aigw-dev/aigw/internal/standalone"
	"github.com/aigw-dev/aigw/internal/tracing"
)

//go:embed demo.yaml
var demoTemplate string

// demoModel is the model name the demo serves.
const demoModel = "meta-llama/Llama-3.1-8B-Instruct"

type hostPort struct {
	Host string
	Port int
}

// renderDemoConfig fills the demo configuration with the simulators'
// addresses; the last address is the fallback tier.
func renderDemoConfig(port int, addrs []string, tokenBudget int) ([]byte, error) {
	if len(addrs) < 2 {
		return nil, errors.New("the demo needs at least two simulated servers")
	}
	var eps []hostPort
	for _, a := range addrs {
		h, p, err := net.SplitHostPort(a)
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, err
		}
		eps = append(eps, hostPort{Host: h, Port: n})
	}
	t, err := template.New("demo").Parse(demoTemplate)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = t.Execute(&buf, map[string]any{"Port": port, "Model": strconv.Quote(demoModel), "Primary": eps[:len(eps)-1], "Fallback": eps[len(eps)-1:],
		"TokenBudget": tokenBudget})
	return buf.Bytes(), err
}

const demoUsage = `Usage: aigw demo [flags]

Runs the gateway on a working example, with nothing to set up: no API key,
no GPU, no Kubernetes. It starts --instances simulated vLLM servers (as
'aigw sim' runs them) on free ports of 127.0.0.1: all but the last are the
model servers of one InferencePool, whose endpoint the gateway picks for
each request by queue depth, KV-cache use and prompt-prefix affinity; the
last is a fallback tier the route turns to when the pool fails. The gateway
serves the OpenAI API for the model ` + demoModel + `
on 127.0.0.1 (--port), with /metrics, /healthz and /readyz on --admin-port,
prints copy-paste examples and runs until Ctrl-C.
--token-budget gives each user (x-user-id header) a budget of tokens an
hour, past which requests get 429. --trace prints each request's OpenTelemetry spans (request, attempt, pool
pick) as JSON on stdout. --print-config prints the configuration ('aigw
run' reads the same resources) and exits without starting anything.

Flags:
`

// demoPlaceholderPort is the first simulator port --print-config shows:
// the ports 'aigw sim' listens on by default.
const demoPlaceholderPort = 8000

func demoCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("aigw demo", flag.ContinueOnError)
	var o runOptions
	o.log.register(fs)
	port := fs.Int("port", 1975, "gateway port")
	fs.IntVar(&o.adminPort, "admin-port", 1064, "admin port (/metrics, /healthz, /readyz)")
	instances := fs.Int("instances", 3, "simulated model servers (the last one is the fallback tier)")
	timeScale := fs.Float64("time-scale", 1, "simulated latency multiplier (0: no latency)")
	fs.StringVar(&o.accessLog, "access-log", "-", `access log: "-" for stdout, "off", or a file path`)
	tokenBudget := fs.Int("token-budget", 0, "give each user (the x-user-id header) this many tokens an hour; 0: no budget")
	traceSpans := fs.Bool("trace", false, "trace every request: spans as JSON lines on stdout (the OTEL_* environment's other settings apply)")
	printConfig := fs.Bool("print-config", false, "print the configuration, with placeholder simulator ports (8000 and up), and exit without starting anything")
	rest, err := cli.Parse(fs, demoUsage, args, stdout)
	if err != nil {
		return ignoreHelp(err)
	}
	if len(rest) > 0 {
		return cli.Usagef("unexpected arguments %q (aigw demo takes only flags)", rest)
	}
	if *tokenBudget < 0 {
		return cli.Usagef("--token-budget must not be negative")
	}
	if *instances < 2 {
		return cli.Usagef("--instances must be at least 2: the pool needs one server and the fallback tier the last one")
	}
	if *printConfig {
		return printDemoConfig(stdout, *port, *instances, *tokenBudget)
	}
	logger, err := o.log.logger(stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	so := sim.DefaultOptions()
	so.Port = 0
	so.Instances = *instances
	so.Model = demoModel
	so.TimeScale = *timeScale
	cluster, err := sim.Start(ctx, so, logger.With("component", "sim"))
	if err != nil {
		return fmt.Errorf("starting simulated model servers: %w", err)
	}
	yaml, err := renderDemoConfig(*port, cluster.Addrs(), *tokenBudget)
	if err != nil {
		return err
	}
	res, err := standalone.LoadBytes(ctx, "<demo>", yaml)
	logWarnings(logger, res)
	if err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	accessLog, closeLog, err := openAccessLog(o.accessLog, stdout)
	if err != nil {
		return err
	}
	defer closeLog()
	trace := tracing.Env{Stdout: stdout}
	if *traceSpans {
		trace = consoleTracing(trace)
	}
	return runGateway(ctx, gatewayParams{
		trace:           trace,
		initial:         res.Config,
		logger:          logger,
		accessLog:       accessLog,
		adminAddr:       joinAddr("127.0.0.1", o.adminPort),
		listenHost:      "127.0.0.1",
		shutdownTimeout: 5 * time.Second,
		ready: func(ls []net.Addr, admin net.Addr) {
			fmt.Fprintf(stderr, demoBanner, cluster.Addrs(), ls[0], ls[0], demoModel, ls[0], demoModel, ls[0], admin)
		},
	})
}

// printDemoConfig prints the demo's configuration with the simulators on
// placeholder ports, the ones `aigw sim --instances n` listens on.
func printDemoConfig(w io.Writer, port, n, tokenBudget int) error {
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(demoPlaceholderPort+i))
	}
	yaml, err := renderDemoConfig(port, addrs, tokenBudget)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "# aigw demo picks free ports for its simulated servers when it starts; the\n"+
		"# ports below are those of `aigw sim --instances %d`, so that command and\n"+
		"# `aigw run` with this file reproduce the demo.\n%s", n, yaml)
	return err
}

const demoBanner = `
aigw demo: simulated vLLM servers %v behind the gateway on http://%s

  curl -s http://%s/v1/chat/completions -H 'content-type: application/json' \
    -d '{"model":"%s","messages":[{"role":"user","content":"Hello!"}]}'

  curl -sN http://%s/v1/chat/completions -H 'content-type: application/json' \
    -d '{"model":"%s","stream":true,"messages":[{"role":"user","content":"Hello!"}]}'

  # openai SDK (Python):  OpenAI(base_url="http://%s/v1", api_key="unused")
  # metrics:              curl -s http://%s/metrics | grep gen_ai

Press Ctrl-C to stop.
`
