package sim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aigw-dev/aigw/internal/cli"
)

// Main runs `aigw sim` with the given command-line arguments (without the
// program and sub-command names). It serves until ctx ends. -h prints the
// usage on stdout; a bad command line returns an error wrapping
// [cli.ErrUsage].
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, level, err := parseFlags(args, stdout)
	if errors.Is(err, cli.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	c, err := Start(ctx, opts, logger)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	for _, a := range c.Addrs() {
		if _, err := fmt.Fprintf(stdout, "http://%s\n", a); err != nil {
			return fmt.Errorf("sim: %w", err)
		}
	}
	if err := c.Wait(); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	return nil
}

const simUsage = "Usage: aigw sim [flags]\n\n" +
	"A vLLM-compatible model-server simulator. Latencies are simulated time; --time-scale maps them to wall time.\n" +
	"Flags take one or two dashes; list flags also take several space-separated values.\n\nFlags:\n"

// parseFlags turns the command line into Options; -h prints the usage on
// stdout and returns [cli.ErrHelp]. Other errors wrap [cli.ErrUsage].
func parseFlags(args []string, stdout io.Writer) (Options, slog.Level, error) {
	o := DefaultOptions()
	fs := flag.NewFlagSet("aigw sim", flag.ContinueOnError)

	fs.StringVar(&o.Host, "host", o.Host, "address to bind")
	fs.IntVar(&o.Port, "port", o.Port, "first port; instance i listens on port+i (0 picks free ports)")
	fs.IntVar(&o.Instances, "instances", o.Instances, "number of independent model servers")
	fs.IntVar(&o.DataParallelSize, "data-parallel-size", o.DataParallelSize, "data-parallel ranks per instance, each on its own port")
	fs.StringVar(&o.Model, "model", o.Model, "model path, reported as root in /v1/models")
	var served, loraModules, failureTypes listFlag
	fs.Var(&served, "served-model-name", "model names clients may use (repeatable, comma- or space-separated; default --model)")
	fs.Var(&loraModules, "lora-modules", "LoRA adapters: name=path, name, or JSON {\"name\",\"path\",\"base_model_name\"} (repeatable)")
	fs.IntVar(&o.MaxLoRAs, "max-loras", o.MaxLoRAs, "adapters resident at once")
	durationVar(fs, &o.LoRALoadTime, "lora-load-time", "engine time to load a non-resident adapter")
	fs.IntVar(&o.MaxNumSeqs, "max-num-seqs", o.MaxNumSeqs, "maximum running batch size")
	fs.IntVar(&o.MaxNumBatchedTokens, "max-num-batched-tokens", o.MaxNumBatchedTokens, "token budget per engine step")
	fs.IntVar(&o.MaxModelLen, "max-model-len", o.MaxModelLen, "context window: prompt plus completion tokens")
	fs.IntVar(&o.KVCacheSize, "kv-cache-size", o.KVCacheSize, "number of KV-cache blocks")
	fs.IntVar(&o.BlockSize, "block-size", o.BlockSize, "tokens per KV-cache block")
	durationVar(fs, &o.TimeToFirstToken, "time-to-first-token", "fixed cost of a prefill step (idle TTFT without prompt)")
	durationVar(fs, &o.PrefillTimePerToken, "prefill-time-per-token", "prefill time per uncached prompt token")
	durationVar(fs, &o.InterTokenLatency, "inter-token-latency", "decode step time with one sequence")
	fs.Float64Var(&o.TimeFactorUnderLoad, "time-factor-under-load", o.TimeFactorUnderLoad,
		"decode step time multiplier at a full batch (max-num-seqs), linear from 1")
	durationVar(fs, &o.DecodeTimePerContextToken, "decode-time-per-context-token",
		"decode step time per token of context the decoding sequences attend to (KV-cache reads)")
	fs.Float64Var(&o.TimeScale, "time-scale", o.TimeScale, "wall time per simulated time; 0 = no latency at all")
	mode := string(o.Mode)
	fs.StringVar(&mode, "mode", mode, "echo or random")
	fs.Int64Var(&o.Seed, "seed", o.Seed, "seed for answers, ids and failure injection")
	fs.IntVar(&o.EmbeddingDim, "embedding-dim", o.EmbeddingDim, "embedding vector length when the request sets no dimensions")
	fs.Float64Var(&o.FailureInjectionRate, "failure-injection-rate", o.FailureInjectionRate, "percentage (0-100) of requests that fail")
	fs.Var(&failureTypes, "failure-types", "failures to inject: rate_limit, invalid_api_key, context_length, "+
		"server_error, invalid_request, model_not_found (default all)")
	fs.StringVar(&o.Fault, "fault", o.Fault, "fault spec for every request without an x-sim-fault header, "+
		"e.g. status=503,rate=10 or reset-after=3 or slow-first-byte=500ms")
	fs.BoolVar(&o.LegacyErrorFormat, "legacy-error-format", o.LegacyErrorFormat,
		`answer errors with older vLLM's flat {"object":"error",...} body`)
	level := slog.LevelInfo
	fs.TextVar(&level, "log-level", level, "debug, info, warn or error")

	rest, err := cli.Parse(fs, simUsage, expandMultiValue(args), stdout)
	if err != nil {
		return o, level, err
	}
	if len(rest) > 0 {
		return o, level, cli.Usagef("unexpected argument %q", rest[0])
	}
	o.Mode = Mode(mode)
	o.ServedModelNames = splitList(served)
	for _, t := range splitList(failureTypes) {
		o.FailureTypes = append(o.FailureTypes, FailureType(t))
	}
	for _, v := range loraModules {
		m, err := ParseLoRAModule(v)
		if err != nil {
			return o, level, cli.Usagef("--lora-modules: %v", err)
		}
		o.LoRAModules = append(o.LoRAModules, m)
	}
	if err := o.Validate(); err != nil {
		return o, level, fmt.Errorf("%w: %w", cli.ErrUsage, err)
	}
	return o, level, nil
}

// expandMultiValue rewrites `--flag a b` into `--flag=a --flag=b` for the
// multi-value flags, which the flag package cannot parse otherwise.
func expandMultiValue(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		name := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "-") || strings.Contains(name, "=") || !isMultiValue(name) {
			out = append(out, a)
			continue
		}
		j := i + 1
		for ; j < len(args) && !strings.HasPrefix(args[j], "-"); j++ {
			out = append(out, "--"+name+"="+args[j])
		}
		if j == i+1 {
			out = append(out, a) // no value: let the flag package report it
		}
		i = j - 1
	}
	return out
}

// isMultiValue reports whether a flag takes several space-separated values,
// as vLLM's nargs="+" arguments do (`--lora-modules a=/p b=/q`).
func isMultiValue(name string) bool {
	switch name {
	case "served-model-name", "lora-modules", "failure-types":
		return true
	}
	return false
}

// listFlag collects every occurrence of a repeatable flag.
type listFlag []string

// String implements [flag.Value].
func (l *listFlag) String() string { return strings.Join(*l, " ") }

// Set implements [flag.Value].
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// splitList splits each value on commas and whitespace.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })...)
	}
	return out
}

// durationFlag accepts Go durations and, like llm-d-inference-sim's
// deprecated form, integers meaning milliseconds.
type durationFlag struct{ d *time.Duration }

func durationVar(fs *flag.FlagSet, d *time.Duration, name, usage string) {
	fs.Var(durationFlag{d}, name, usage+" (duration, or integer milliseconds)")
}

// String implements [flag.Value].
func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

// Set implements [flag.Value].
func (f durationFlag) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}
