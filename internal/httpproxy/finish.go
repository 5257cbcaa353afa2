package httpproxy

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/costs"
	"github.com/aigw-dev/aigw/internal/labels"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/metrics"
)

// finish records the request's metrics and access-log line. It runs
// deferred, also when the proxy aborts a broken stream by panicking.
func (g *Gateway) finish(r *http.Request, rc *runtimeConfig, st *requestState) {
	if st.end.IsZero() {
		st.end = time.Now()
	}
	st.closeExchange()
	if st.status == 0 {
		st.status = http.StatusOK
	}
	// A client that hangs up after the response reached its end (as SDKs
	// do on [DONE]) lost nothing; before that it cancelled the request.
	// The cause tells a client's hang-up from the gateway's shutdown.
	if st.err == nil && r.Context().Err() != nil && !st.completed && st.attempt != nil {
		st.err = context.Cause(r.Context())
	}
	if st.completed && errors.Is(st.err, context.Canceled) {
		st.err = nil
	}
	failed := st.err != nil || st.status >= 400
	status := st.status
	if st.err != nil {
		// Also when the response had started well: what the client got
		// was cut (an aborted body, or a stream ended by an error event),
		// and the log and metrics say why, not the status line it saw.
		status = apierror.Classify(st.err).Status
	}
	duration := st.end.Sub(st.start)
	var attrs metrics.Attributes
	if st.req != nil {
		attrs = metrics.Attributes{Operation: string(st.op), OriginalModel: st.req.Model, RequestModel: st.req.Model, ResponseModel: st.respModel}
	}
	if st.attempt != nil {
		attrs.Provider = st.backend.provider
		attrs.RequestModel = st.attempt.RequestModel
	}
	// Only requests that matched a route are recorded: a model name that
	// matched nothing is the client's free choice and would create series
	// at will (the labels of matched ones are bounded by the recorder).
	if g.metrics != nil && st.rule != nil && st.req != nil && st.op != llm.OperationPassThrough {
		errType := ""
		if failed {
			errType = metrics.ErrorTypeOther
		}
		g.metrics.RequestDone(attrs, errType, duration)
		if !failed && st.attempt != nil {
			g.metrics.Tokens(attrs, st.usage)
			if st.streamed && !st.firstByte.IsZero() {
				g.metrics.StreamTimings(attrs, st.firstByte.Sub(st.start), duration, st.usage.OutputTokens)
			}
		}
	}
	logAttrs := g.accessAttrs(r, st, status, duration)
	if !failed && st.attempt != nil {
		logAttrs = append(logAttrs, g.costAttrs(rc, st)...)
	}
	g.accessLog.LogAttrs(r.Context(), slog.LevelInfo, "request", logAttrs...)
}

// costAttrs computes the route's llmRequestCosts of a successful request,
// recorded under their metadata keys.
func (g *Gateway) costAttrs(rc *runtimeConfig, st *requestState) []slog.Attr {
	calc := rc.costs[st.rule.Route]
	if calc == nil || calc.Len() == 0 {
		return nil
	}
	values, err := calc.Calculate(costs.Input{
		Usage:   st.usage,
		Model:   st.attempt.RequestModel,
		Backend: costs.BackendName(st.backend.pipeline.Name),
		Route:   st.rule.Route.Name,
	})
	if err != nil {
		g.logger.Warn("computing request costs", "route", st.rule.Route.Name, "error", err)
		return nil
	}
	out := make([]slog.Attr, len(values))
	for i, v := range values {
		out[i] = slog.Uint64(v.Key, v.Value)
	}
	return out
}

// accessAttrs are the access-log attributes of a request. The strings the
// client or the upstream chose (request ID, method, path, model names,
// error) are cut, so that no request can make its line unbounded.
func (g *Gateway) accessAttrs(r *http.Request, st *requestState, status int, duration time.Duration) []slog.Attr {
	a := make([]slog.Attr, 0, 20)
	a = append(a,
		slog.String("request_id", labels.Truncate(st.requestID, labels.MaxLogValueBytes)),
		slog.String("method", labels.Truncate(r.Method, labels.MaxLogValueBytes)),
		slog.String("path", labels.Truncate(r.URL.Path, labels.MaxLogValueBytes)),
		slog.Int("status", status),
		slog.Float64("duration_ms", ms(duration)),
	)
	if st.req != nil {
		a = append(a, slog.String("model", labels.Truncate(st.req.Model, labels.MaxLogValueBytes)), slog.Bool("stream", st.req.Stream))
	}
	if st.rule != nil {
		a = append(a, slog.String("route", st.rule.Route.Name), slog.String("rule", st.rule.Name))
	}
	if st.attempt != nil {
		a = append(a,
			slog.String("backend", st.backend.pipeline.Name),
			slog.String("request_model", labels.Truncate(st.attempt.RequestModel, labels.MaxLogValueBytes)),
			slog.String("response_model", labels.Truncate(st.respModel, labels.MaxLogValueBytes)),
			slog.Int("attempts", st.plan.Attempts()),
			slog.Int64("input_tokens", st.usage.InputTokens),
			slog.Int64("output_tokens", st.usage.OutputTokens),
			slog.Int64("total_tokens", st.usage.TotalTokens),
		)
		if st.endpoint != "" {
			a = append(a, slog.String("endpoint", st.endpoint))
		}
		if st.streamed && !st.firstByte.IsZero() {
			a = append(a, slog.Float64("ttft_ms", ms(st.firstByte.Sub(st.start))))
		}
	}
	if st.err != nil {
		a = append(a, slog.String("error", labels.Truncate(st.err.Error(), labels.MaxLogErrorBytes)))
	}
	return a
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
