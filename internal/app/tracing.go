package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aigw-dev/aigw/internal/tracing"
)

// startTracing sets up the OpenTelemetry tracing the OTEL_* environment
// asks for (none when neither an OTLP endpoint nor the console exporter is
// set); env zero is the process's; service names the process in its
// spans.
func startTracing(ctx context.Context, logger *slog.Logger, env tracing.Env, service string) (*tracing.Provider, error) {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Stdout == nil {
		env.Stdout = os.Stdout
	}
	tp, err := tracing.Setup(ctx, env, service)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if tp.Enabled {
		logger.Info("tracing: spans exported as the OTEL_* environment configures", "exporter", tp.Exporter,
			"record_inputs", tp.Content.Inputs, "record_outputs", tp.Content.Outputs)
	}
	return tp, nil
}

// stopTracing flushes the spans still buffered, for at most 5 seconds.
func stopTracing(tp *tracing.Provider, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		logger.Warn("tracing: flushing the last spans failed", "error", err)
	}
}

// consoleTracing is env with the console exporter, whatever the
// environment says of exporters, exporting each span within 200 ms.
func consoleTracing(env tracing.Env) tracing.Env {
	env.ExportEvery = 200 * time.Millisecond
	getenv := env.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	env.Getenv = func(name string) string {
		switch name {
		case "OTEL_TRACES_EXPORTER":
			return "console"
		case "OTEL_SDK_DISABLED":
			return ""
		}
		return getenv(name)
	}
	return env
}

// getenvOf is lookupEnv as a getenv: unset reads as empty.
func getenvOf(lookupEnv func(string) (string, bool)) func(string) string {
	return func(name string) string {
		v, _ := lookupEnv(name)
		return v
	}
}
