package processor

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

// Finish ends the session: it records the request's metrics, costs and
// access-log line, and ends what the attempt still holds (an in-flight
// count, a picker exchange). cause is why the client's request ended early
// (its context's cause), nil if it did not. Later calls do nothing.
func (s *Session) Finish(ctx context.Context, cause error) {
	if s.finished {
		return
	}
	s.finished = true
	if s.end.IsZero() {
		s.end = time.Now()
	}
	s.closePick()
	if s.status == 0 {
		s.status = http.StatusOK
	}
	// A client that hangs up after the response reached its end (as SDKs
	// do on [DONE]) lost nothing; before that it cancelled the request.
	// The cause tells a client's hang-up from the gateway's shutdown.
	if s.err == nil && cause != nil && !s.completed && s.attempt != nil {
		s.err = cause
	}
	if s.completed && errors.Is(s.err, context.Canceled) {
		s.err = nil
	}
	failed := s.err != nil || s.status >= 400
	status := s.status
	if s.err != nil {
		// Also when the response had started well: what the client got
		// was cut (an aborted body, or a stream ended by an error event),
		// and the log and metrics say why, not the status line it saw.
		status = apierror.Classify(s.err).Status
	}
	duration := s.end.Sub(s.info.Start)
	var usage llm.Usage
	var respModel string
	var attrs metrics.Attributes
	if s.req != nil {
		attrs = metrics.Attributes{Operation: string(s.op), OriginalModel: s.req.Model, RequestModel: s.req.Model}
	}
	if s.attempt != nil {
		usage, respModel = s.attempt.Translator.Usage(), s.attempt.Translator.ResponseModel()
		attrs.Provider = s.backend.provider
		attrs.RequestModel = s.attempt.RequestModel
		attrs.ResponseModel = respModel
	}
	// Only requests that matched a route are recorded: a model name that
	// matched nothing is the client's free choice and would create series
	// at will (the labels of matched ones are bounded by the recorder).
	if m := s.rt.p.metrics; m != nil && s.rule != nil && s.req != nil && s.op != llm.OperationPassThrough {
		errType := ""
		if failed {
			errType = metrics.ErrorTypeOther
		}
		m.RequestDone(attrs, errType, duration)
		if !failed && s.attempt != nil {
			m.Tokens(attrs, usage)
			if s.streamed && !s.firstByte.IsZero() {
				m.StreamTimings(attrs, s.firstByte.Sub(s.info.Start), duration, usage.OutputTokens)
			}
		}
	}
	s.endSpans(status, usage, respModel)
	s.chargeRateLimits(ctx)
	logAttrs := s.accessAttrs(status, duration, usage, respModel)
	if !failed && s.attempt != nil {
		for _, v := range s.costs(usage) {
			logAttrs = append(logAttrs, slog.Uint64(v.Key, v.Value))
		}
	}
	s.rt.p.accessLog.LogAttrs(ctx, slog.LevelInfo, "request", logAttrs...)
}

// Record is what a request reports when it ends: to logs and metrics, and
// to a proxy in front as metadata.
type Record struct {
	// Route and Backend are "namespace/name" (empty when not routed, or no
	// attempt was made).
	Route, Backend string
	// Model is the client's model; RequestModel the one sent upstream
	// (after an override or a rewrite); ResponseModel the one the response
	// named.
	Model, RequestModel, ResponseModel string
	Usage                              llm.Usage
	// Costs are the route's llmRequestCosts, computed for a successful
	// request only.
	Costs []costs.Value
	// Streamed marks an event stream; TTFT is its time to the first byte
	// and ITL the mean time between output tokens after it.
	Streamed  bool
	TTFT, ITL time.Duration
}

// Record returns what the request reports so far (its usage once the
// response body has ended).
func (s *Session) Record() Record {
	var r Record
	if s.rule != nil {
		r.Route = s.rule.Route.Name
	}
	if s.req != nil {
		r.Model = s.req.Model
	}
	if s.attempt == nil {
		return r
	}
	r.Backend, r.RequestModel = s.backend.Name, s.attempt.RequestModel
	r.Usage, r.ResponseModel = s.attempt.Translator.Usage(), s.attempt.Translator.ResponseModel()
	if s.err == nil && s.status < 400 {
		r.Costs = s.costs(r.Usage)
	}
	if s.streamed && !s.firstByte.IsZero() {
		r.Streamed, r.TTFT = true, s.firstByte.Sub(s.info.Start)
		end := s.end
		if end.IsZero() {
			end = time.Now()
		}
		if n := r.Usage.OutputTokens; n > 1 {
			r.ITL = end.Sub(s.firstByte) / time.Duration(n-1)
		}
	}
	return r
}

// costs computes the route's llmRequestCosts of a successful request,
// once.
func (s *Session) costs(usage llm.Usage) []costs.Value {
	if s.costValues != nil || s.rule == nil {
		return s.costValues
	}
	calc := s.rt.costs[s.rule.Route]
	if calc == nil || calc.Len() == 0 {
		return nil
	}
	values, err := calc.Calculate(costs.Input{
		Usage:   usage,
		Model:   s.attempt.RequestModel,
		Backend: costs.BackendName(s.backend.Name),
		Route:   s.rule.Route.Name,
	})
	if err != nil {
		s.rt.p.logger.Warn("computing request costs", "route", s.rule.Route.Name, "error", err)
		return nil
	}
	s.costValues = values
	return values
}

// accessAttrs are the access-log attributes of a request. The strings the
// client or the upstream chose (request ID, method, path, model names,
// error) are cut, so that no request can make its line unbounded.
func (s *Session) accessAttrs(status int, duration time.Duration, usage llm.Usage, respModel string) []slog.Attr {
	a := make([]slog.Attr, 0, 20)
	a = append(a,
		slog.String("request_id", labels.Truncate(s.RequestID, labels.MaxLogValueBytes)),
		slog.String("method", labels.Truncate(s.info.Method, labels.MaxLogValueBytes)),
		slog.String("path", labels.Truncate(s.info.Path, labels.MaxLogValueBytes)),
		slog.Int("status", status),
		slog.Float64("duration_ms", ms(duration)),
	)
	if s.req != nil {
		a = append(a, slog.String("model", labels.Truncate(s.req.Model, labels.MaxLogValueBytes)), slog.Bool("stream", s.req.Stream))
	}
	if s.rule != nil {
		a = append(a, slog.String("route", s.rule.Route.Name), slog.String("rule", s.rule.Name))
	}
	if s.client != "" { // a configured client ID or user, never a credential
		a = append(a, slog.String("client", labels.Truncate(s.client, labels.MaxLogValueBytes)))
	}
	if s.attempt != nil {
		a = append(a,
			slog.String("backend", s.backend.Name),
			slog.String("request_model", labels.Truncate(s.attempt.RequestModel, labels.MaxLogValueBytes)),
			slog.String("response_model", labels.Truncate(respModel, labels.MaxLogValueBytes)),
			slog.Int("attempts", s.attempts),
			slog.Int64("input_tokens", usage.InputTokens),
			slog.Int64("output_tokens", usage.OutputTokens),
			slog.Int64("total_tokens", usage.TotalTokens),
		)
		if s.endpoint != "" {
			a = append(a, slog.String("endpoint", s.endpoint))
		}
		if s.streamed && !s.firstByte.IsZero() {
			a = append(a, slog.Float64("ttft_ms", ms(s.firstByte.Sub(s.info.Start))))
		}
	}
	if s.err != nil {
		a = append(a, slog.String("error", labels.Truncate(s.err.Error(), labels.MaxLogErrorBytes)))
	}
	return a
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
