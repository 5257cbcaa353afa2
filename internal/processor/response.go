package processor

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/modelname"
	"github.com/aigw-dev/aigw/internal/sse"
)

// ResponseHeaders runs the response's headers phase for the attempt whose
// response is passed on: the pool picker's response phase (its header
// edits), the model-name restore of a pool's rewrite, the wrapping of a
// non-JSON error body, and the translation. It edits h in place; a
// Content-Length it removed means the body's length changes. An error is
// the answer for the client.
func (s *Session) ResponseHeaders(status int, h http.Header) error {
	s.status = status
	a := s.attempt
	if a == nil {
		return nil // a proxy in front answered without an attempt of ours
	}
	s.attemptAnswered(status)
	s.rateLimitHeaders(h)
	if s.reasons != nil {
		s.respContentType = h.Get("Content-Type")
	}
	if s.debug {
		attrs := []slog.Attr{slog.String("request_id", s.RequestID), slog.Int("attempt", s.attempts),
			slog.String("backend", s.backend.Name), slog.Int("status", status)}
		if s.endpoint != "" {
			attrs = append(attrs, slog.String("endpoint", s.endpoint))
		}
		s.rt.p.logger.LogAttrs(context.Background(), slog.LevelDebug, "attempt answered", attrs...)
	}
	if pk := s.pick; pk != nil && pk.Exchange != nil {
		// The pool's picker sees the response (with the served endpoint)
		// and may edit its headers and body.
		mut, err := pk.Exchange.ResponseHeaders(status, h, s.endpoint)
		if err != nil {
			s.rt.p.logger.Warn("endpoint picker failed in the response phase: passing the response through", "error", err)
			pk.Exchange.Close()
			pk.Exchange = nil
		} else {
			mut.Apply(h)
			// The picker may replace the body with one of another length
			// (GAIE's EPP restores rewritten model names), as Envoy's
			// streamed body mode allows: the upstream length no longer holds.
			h.Del("Content-Length")
		}
	}
	if a.ClientModel != "" {
		// The pool's own picking rewrote the model: the client gets its
		// name back, as from a picker.
		s.restorer = modelname.NewRestorer(a.RequestModel, a.ClientModel)
		h.Del("Content-Length")
	}
	if s.op != llm.OperationPassThrough && status >= 400 && !isJSON(h.Get("Content-Type")) {
		s.wrapError, s.errorType = true, h.Get("Content-Type")
		for _, name := range []string{"Content-Length", "Content-Encoding", "Content-Type", "Transfer-Encoding", "Etag", "Last-Modified"} {
			h.Del(name)
		}
		h.Set("Content-Type", "application/json")
	}
	if err := a.Translator.ResponseHeaders(status, h); err != nil {
		return apierror.Upstream(err)
	}
	s.streamed = IsEventStream(h)
	if s.streamed {
		h.Del("Content-Length")
	}
	return nil
}

// Streamed reports whether the response is an event stream.
func (s *Session) Streamed() bool { return s.streamed }

// ResponseBody translates the next chunk of the upstream body (eos marks
// the last) and returns what the client gets for it, which may be empty
// while an event is incomplete; the result may alias chunk. A failure of
// an event stream ends it with an OpenAI-shaped error event (returned with
// a nil error: the stream ends cleanly); a failure of another body is
// returned, and the transport aborts the client's response.
func (s *Session) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if s.done {
		return nil, nil
	}
	if s.attempt == nil {
		if eos {
			s.endResponse()
		}
		return chunk, nil
	}
	if s.restorer != nil {
		chunk = s.restorer.Restore(chunk, eos)
	}
	if s.wrapError {
		if room := maxErrorBodyRead - len(s.errorBody); room > 0 {
			s.errorBody = append(s.errorBody, chunk[:min(len(chunk), room)]...)
		}
		if !eos {
			return nil, nil
		}
		chunk = wrappedError(s.status, s.errorBody, s.errorType, s.ErrorFormat())
	}
	tr := s.attempt.Translator
	out, err := tr.ResponseBody(chunk, eos)
	if err != nil {
		return s.failStream(out, err)
	}
	s.traceResponse(out)
	if len(out) > 0 && s.firstByte.IsZero() {
		s.firstByte = time.Now()
	}
	if tr.Complete() {
		s.completed = true
	}
	if eos {
		s.endResponse()
	}
	return out, nil
}

// ResponseBodyFailed records that reading the upstream body failed with
// err and returns, as ResponseBody, what the client gets: nothing when the
// stream had already reached its end ([DONE] sent; a broken tail loses
// nothing), an error event for an event stream, else err.
func (s *Session) ResponseBodyFailed(err error) ([]byte, error) {
	if s.done {
		return nil, nil
	}
	if s.attempt == nil || s.attempt.Translator.Complete() {
		s.completed = true
		s.endResponse()
		return nil, nil
	}
	return s.failStream(nil, err)
}

// failStream records a failure of the response under way.
func (s *Session) failStream(out []byte, err error) ([]byte, error) {
	e := streamError(err)
	s.err = e
	s.endResponse()
	if !s.streamed {
		return nil, err
	}
	format := s.ErrorFormat()
	_, body := apierror.Render(e.WithFormat(format))
	event := make([]byte, 0, len(out)+len(body)+24)
	event = append(event, out...)
	if format == apierror.FormatAnthropic {
		event = append(event, "event: error\n"...)
	}
	event = append(event, "data: "...)
	event = append(event, body...)
	return append(event, '\n', '\n'), nil
}

// endResponse ends the response: the endpoint's in-flight count stops,
// and the request's rate limit buckets are charged before the client has
// its last bytes (a client's next request sees the charge).
func (s *Session) endResponse() {
	s.done = true
	if s.pick != nil {
		s.pick.Release()
	}
	s.chargeRateLimits(context.Background())
}

// streamError maps the failure of a response already under way to the
// client-facing error it is reported as: the route's timeout, the
// gateway's shutdown, an upstream silent too long, an oversized event, or
// an upstream failure.
func streamError(err error) *apierror.Error {
	var e *apierror.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.Canceled):
		return apierror.Classify(err) // the client went away: 499
	case errors.Is(err, apierror.ErrShutdown):
		return apierror.Shutdown(err)
	case errors.Is(err, ErrRequestTimeout):
		return apierror.RequestTimeout(err)
	case errors.Is(err, apierror.ErrUpstreamTimeout):
		return apierror.UpstreamTimeout(err)
	case errors.Is(err, sse.ErrEventTooLarge):
		return apierror.UpstreamEventTooLarge(err)
	default:
		return apierror.Upstream(err)
	}
}

// IsEventStream reports whether h declares a server-sent event stream.
func IsEventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	return len(ct) >= 17 && ct[:17] == "text/event-stream"
}

// IsUpstreamStream reports whether an upstream's headers declare a stream
// whose events must reach the translation as they arrive: server-sent
// events, or an AWS event stream (Bedrock).
func IsUpstreamStream(h http.Header) bool {
	return IsEventStream(h) || strings.HasPrefix(h.Get("Content-Type"), "application/vnd.amazon.eventstream")
}
