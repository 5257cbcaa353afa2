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
// set); service names the process in its spans.
func startTracing(ctx context.Context, logger *slog.Logger, service string) (*tracing.Provider, error) {
	tp, err := tracing.Setup(ctx, tracing.Env{Getenv: os.Getenv, Stdout: os.Stdout}, service)
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
