package httpproxy

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/costs"
	"github.com/aigw-dev/aigw/internal/metrics"
	"github.com/aigw-dev/aigw/internal/translator"
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
	if st.err == nil && r.Context().Err() != nil && !st.completed && st.attempt != nil {
		st.err = r.Context().Err()
	}
	if st.completed && errors.Is(st.err, context.Canceled) {
		st.err = nil
	}
	failed := st.err != nil || st.status >= 400
	status := st.status
	if st.err != nil && errors.Is(st.err, context.Canceled) {
		status = apierror.StatusClientClosedRequest
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
	if g.metrics != nil && st.req != nil && st.op != translator.OperationPassThrough {
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

func (g *Gateway) accessAttrs(r *http.Request, st *requestState, status int, duration time.Duration) []slog.Attr {
	a := make([]slog.Attr, 0, 20)
	a = append(a,
		slog.String("request_id", st.requestID),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Float64("duration_ms", ms(duration)),
	)
	if st.req != nil {
		a = append(a, slog.String("model", st.req.Model), slog.Bool("stream", st.req.Stream))
	}
	if st.rule != nil {
		a = append(a, slog.String("route", st.rule.Route.Name), slog.String("rule", st.rule.Name))
	}
	if st.attempt != nil {
		a = append(a,
			slog.String("backend", st.backend.pipeline.Name),
			slog.String("request_model", st.attempt.RequestModel),
			slog.String("response_model", st.respModel),
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
		a = append(a, slog.String("error", st.err.Error()))
	}
	return a
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
