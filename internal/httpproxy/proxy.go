package httpproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/modelname"
	"github.com/aigw-dev/aigw/internal/processor"
)

// proxy runs requests through httputil.ReverseProxy, whose transport is the
// attempt loop: each attempt is translated, mutated and authenticated for
// its backend from the original request, and a failure before the response
// starts moves on as the rule's retry policy says.
type proxy struct {
	rp      *httputil.ReverseProxy
	buffers *sync.Pool
	logger  *slog.Logger
}

func newProxy(g *Gateway) *proxy {
	p := &proxy{buffers: newReadBufferPool(), logger: g.logger}
	loop := &attemptLoop{logger: g.logger, opts: processor.AttemptOptions{MaxEventBytes: g.limits.MaxEventBytes}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The attempt loop builds the real URL per backend.
			pr.Out.URL = &url.URL{Scheme: "http", Host: "upstream.invalid", Path: pr.In.URL.Path}
			pr.Out.Host = ""
		},
		Transport:      loop,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(g.logger.Handler(), slog.LevelWarn),
		BufferPool:     newBufferPool(),
	}
	return p
}

// attemptLoop is the ReverseProxy transport: it sends the request to the
// backends of the request's plan until one answers or the plan ends.
type attemptLoop struct {
	logger *slog.Logger
	opts   processor.AttemptOptions
}

// RoundTrip implements [http.RoundTripper].
func (l *attemptLoop) RoundTrip(out *http.Request) (*http.Response, error) {
	ctx := out.Context()
	st := stateFrom(ctx)
	if st == nil {
		return nil, errors.New("httpproxy: request without state")
	}
	debug := l.logger.Enabled(ctx, slog.LevelDebug)
	policy := &st.rule.Retry
	opts := l.opts
	opts.ForceUsage = st.force
	var lastErr error
	for {
		ref, ok := st.plan.Next()
		if !ok {
			if lastErr == nil {
				lastErr = apierror.Unavailable("no backend is available for this model", nil)
			}
			return nil, lastErr
		}
		n := st.plan.Attempts()
		if n > 1 {
			if err := backOff(ctx, policy, n-1); err != nil {
				return nil, err
			}
		}
		b := ref.Backend
		if debug {
			l.logger.LogAttrs(ctx, slog.LevelDebug, "attempt", slog.String("request_id", st.requestID),
				slog.Int("attempt", n), slog.String("backend", b.pipeline.Name), slog.Uint64("priority", uint64(ref.Config.Priority)))
		}
		attempt, err := processor.NewAttempt(st.req, out.Header, &b.pipeline, &ref.Config, opts)
		if err != nil {
			return nil, apierror.Internal(err)
		}
		st.attempt, st.backend = attempt, b
		var resp *http.Response
		if b.pool != nil {
			resp, err = b.pool.send(ctx, st, attempt, &st.rule.Timeouts, policy)
		} else {
			resp, err = send(ctx, b, attempt, &st.rule.Timeouts)
		}
		hasNext := st.plan.HasNext()
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			lastErr = upstreamError(err)
			retry := hasNext && retriableError(policy, err)
			if debug {
				l.logger.LogAttrs(ctx, slog.LevelDebug, "attempt failed", slog.String("request_id", st.requestID),
					slog.Int("attempt", n), slog.String("backend", b.pipeline.Name), slog.String("error", err.Error()),
					slog.String("next", nextStep(retry, hasNext)))
			}
			if retry {
				continue
			}
			return nil, lastErr
		}
		if resp.Request == nil {
			resp.Request = out // an answer made by the gateway or a picker
		}
		if hasNext && retriableStatus(policy, resp.StatusCode) {
			if debug {
				l.logger.LogAttrs(ctx, slog.LevelDebug, "attempt failed", slog.String("request_id", st.requestID),
					slog.Int("attempt", n), slog.String("backend", b.pipeline.Name), slog.Int("status", resp.StatusCode),
					slog.String("next", nextStep(true, true)))
			}
			// Drain a little so the connection can be reused.
			_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
			_ = resp.Body.Close()
			st.closeExchange()
			if st.endpoint != "" {
				st.markFailed(st.endpoint) // a retry on the same pool avoids it
				st.endpoint = ""
			}
			lastErr = apierror.Upstream(fmt.Errorf("backend %s answered %d", b.pipeline.Name, resp.StatusCode))
			continue
		}
		if debug {
			attrs := []slog.Attr{slog.String("request_id", st.requestID), slog.Int("attempt", n),
				slog.String("backend", b.pipeline.Name), slog.Int("status", resp.StatusCode)}
			if st.endpoint != "" {
				attrs = append(attrs, slog.String("endpoint", st.endpoint))
			}
			l.logger.LogAttrs(ctx, slog.LevelDebug, "attempt answered", attrs...)
		}
		return resp, nil
	}
}

// nextStep says, for the debug log, what follows a failed attempt.
func nextStep(retry, hasNext bool) string {
	switch {
	case retry:
		return "retry (the plan picks the backend: the same tier until its attempts are spent, then the next)"
	case hasNext:
		return "give up: the failure is not retriable under the route's retry policy"
	default:
		return "give up: no attempt left"
	}
}

// errAttemptTimeout marks an attempt cut by its own timeout.
var errAttemptTimeout = fmt.Errorf("%w: no response within the attempt timeout", apierror.ErrUpstreamTimeout)

// errStreamIdle marks a response whose upstream went silent too long.
var errStreamIdle = fmt.Errorf("%w: no data within the stream idle timeout", apierror.ErrUpstreamTimeout)

// send performs one attempt. The attempt's deadline until response headers
// is the shorter of the per-attempt and stream-idle timeouts; after the
// headers the stream-idle timeout is enforced by the response body.
func send(ctx context.Context, b *backend, a *processor.Attempt, t *config.Timeouts) (*http.Response, error) {
	if err := a.Authenticate(ctx); err != nil {
		return nil, apierror.Internal(err)
	}
	return sendTo(ctx, b.transport, b.pick(), a, t)
}

// sendTo sends the attempt to one endpoint.
func sendTo(ctx context.Context, rt roundTripper, ep upstreamEndpoint, a *processor.Attempt, t *config.Timeouts) (*http.Response, error) {
	actx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(actx, a.Upstream.Method, ep.baseURL+a.Upstream.Path, bytes.NewReader(a.Upstream.Body))
	if err != nil {
		cancel(nil)
		return nil, err
	}
	req.Header = a.Upstream.Header
	if ep.hostHeader != "" {
		req.Host = ep.hostHeader
	}
	headerTimeout := t.BackendRequest.Std()
	if idle := t.StreamIdle.Std(); idle > 0 && (headerTimeout == 0 || idle < headerTimeout) {
		headerTimeout = idle
	}
	var timer *time.Timer
	if headerTimeout > 0 {
		timer = time.AfterFunc(headerTimeout, func() { cancel(errAttemptTimeout) })
	}
	resp, err := rt.RoundTrip(req)
	if timer != nil {
		timer.Stop()
	}
	if err != nil {
		if cause := context.Cause(actx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		}
		cancel(nil)
		return nil, err
	}
	resp.Body = &attemptBody{ReadCloser: resp.Body, ctx: actx, cancel: cancel, idle: t.StreamIdle.Std()}
	if err := prefetch(resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// prefetchLimit is the largest non-streamed response body read whole
// before its response is handed on.
const prefetchLimit = 1 << 20

// prefetch reads a non-streamed response body of up to prefetchLimit bytes
// whole before anything reaches the client, so that an upstream that
// breaks off its body (fewer bytes than its Content-Length, a reset) fails
// the attempt, which may then be retried, instead of reaching the client
// as a truncated answer. The client waits for the whole body of such a
// response anyway. Event streams go on at once; a larger body streams, and
// a failure in it aborts the client's response.
func prefetch(resp *http.Response) error {
	if isEventStream(resp.Header) || resp.ContentLength > prefetchLimit || resp.Body == http.NoBody {
		return nil
	}
	size := int64(16 << 10)
	if resp.ContentLength >= 0 {
		size = resp.ContentLength + 1 // room to see the end in one read
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if len(buf) > prefetchLimit {
				// Too long to hold: the rest streams after what was read.
				resp.Body = &prefixedBody{prefix: buf, ReadCloser: resp.Body}
				return nil
			}
			buf = slices.Grow(buf, min(cap(buf), prefetchLimit+1-len(buf)))
		}
		n, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			resp.Body = &prefixedBody{prefix: buf, ReadCloser: resp.Body}
			return nil
		}
		_ = resp.Body.Close()
		return fmt.Errorf("the upstream's response body broke off after %d bytes: %w", len(buf), err)
	}
}

// prefixedBody returns the bytes read ahead, then the rest of the body.
type prefixedBody struct {
	prefix []byte
	io.ReadCloser
}

func (b *prefixedBody) Read(p []byte) (int, error) {
	if len(b.prefix) > 0 {
		n := copy(p, b.prefix)
		b.prefix = b.prefix[n:]
		return n, nil
	}
	return b.ReadCloser.Read(p)
}

// attemptBody ends the attempt's context with its body and enforces the
// stream idle timeout between reads.
type attemptBody struct {
	io.ReadCloser
	ctx    context.Context //nolint:containedctx // the attempt's own context, ended with the body
	cancel context.CancelCauseFunc
	idle   time.Duration
	timer  *time.Timer
}

func (b *attemptBody) Read(p []byte) (int, error) {
	if b.idle > 0 {
		if b.timer == nil {
			b.timer = time.AfterFunc(b.idle, func() { b.cancel(errStreamIdle) })
		} else {
			b.timer.Reset(b.idle)
		}
	}
	n, err := b.ReadCloser.Read(p)
	if b.timer != nil {
		b.timer.Stop()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		if cause := context.Cause(b.ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		}
	}
	return n, err
}

func (b *attemptBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

// upstreamError maps a transport error to the client-facing error.
func upstreamError(err error) error {
	var e *apierror.Error
	if errors.As(err, &e) {
		return err // already client-facing (a pool's own verdict)
	}
	if errors.Is(err, apierror.ErrUpstreamTimeout) {
		return apierror.UpstreamTimeout(err)
	}
	return apierror.Upstream(err)
}

// retriableError reports whether a failed attempt may be retried.
func retriableError(p *config.RetryPolicy, err error) bool {
	on := func(c config.RetryOn) bool { return slices.Contains(p.On, c) }
	anyFailure := on(config.RetryOn5xx) || on(config.RetryOnGatewayError)
	switch {
	case errors.Is(err, errPoolUnavailable):
		// A pool that cannot serve (picker failed closed, every endpoint
		// failed) hands the request to the next tier.
		return true
	case errors.Is(err, apierror.ErrUpstreamTimeout):
		return anyFailure || on(config.RetryOnDeadlineExceeded) || on(config.RetryOnReset)
	case isConnectFailure(err):
		return anyFailure || on(config.RetryOnConnectFailure)
	default:
		return anyFailure || on(config.RetryOnReset)
	}
}

func isConnectFailure(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// retriableStatus reports whether a response status may be retried.
func retriableStatus(p *config.RetryPolicy, code int) bool {
	for _, c := range p.On {
		switch c {
		case config.RetryOn5xx:
			if code >= 500 {
				return true
			}
		case config.RetryOnGatewayError:
			if code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout {
				return true
			}
		case config.RetryOnRetriable4xx:
			if code == http.StatusConflict {
				return true
			}
		case config.RetryOnRetriableStatus:
			if slices.Contains(p.StatusCodes, int32(code)) {
				return true
			}
		}
	}
	return false
}

// backOff waits before retry number n (1-based) with exponential back-off
// and full jitter, as Envoy does.
func backOff(ctx context.Context, p *config.RetryPolicy, n int) error {
	base := p.BackOffBase.Std()
	if base <= 0 {
		return nil
	}
	maxD := p.BackOffMax.Std()
	if maxD <= 0 {
		maxD = 10 * base
	}
	d := base << min(n-1, 20)
	if d > maxD || d <= 0 {
		d = maxD
	}
	d = time.Duration(rand.Int64N(int64(d) + 1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// modifyResponse hands the chosen attempt's response to its translator.
func (p *proxy) modifyResponse(resp *http.Response) error {
	st := stateFrom(resp.Request.Context())
	st.status = resp.StatusCode
	if x := st.exchange; x != nil {
		// The pool's picker sees the response (with the served endpoint)
		// and may edit its headers and body.
		mut, err := x.ResponseHeaders(resp.StatusCode, resp.Header, st.endpoint)
		if err != nil {
			p.logger.Warn("endpoint picker failed in the response phase: passing the response through", "error", err)
			st.closeExchange()
		} else {
			mut.Apply(resp.Header)
			resp.Body = x.ResponseBody(resp.Body)
			// The picker may replace the body with one of another length
			// (GAIE's EPP restores rewritten model names), as Envoy's
			// streamed body mode allows: the upstream length no longer holds.
			resp.Header.Del("Content-Length")
			resp.ContentLength = -1
		}
	}
	if a := st.attempt; a.ClientModel != "" {
		// The pool's own picking rewrote the model: the client gets its
		// name back, as from a picker.
		resp.Body = modelname.Reader(resp.Body, modelname.NewRestorer(a.RequestModel, a.ClientModel))
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
	}
	if st.op != llm.OperationPassThrough {
		wrapNonJSONError(resp)
	}
	tr := st.attempt.Translator
	if err := tr.ResponseHeaders(resp.StatusCode, resp.Header); err != nil {
		return apierror.Upstream(err)
	}
	st.streamed = isEventStream(resp.Header)
	if st.streamed {
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
	}
	resp.Body = &responseBody{upstream: resp.Body, tr: tr, st: st, sse: st.streamed, pool: p.buffers}
	return nil
}

// errorHandler answers a request whose attempts all failed.
func (p *proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	st := stateFrom(r.Context())
	if st == nil {
		apierror.Write(w, err)
		return
	}
	if r.Context().Err() != nil {
		switch cause := context.Cause(r.Context()); {
		case errors.Is(cause, apierror.ErrShutdown):
			err = apierror.Shutdown(cause)
		case errors.Is(cause, context.DeadlineExceeded):
			err = apierror.RequestTimeout(cause)
		}
	}
	st.fail(w, err)
}

func isEventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	return len(ct) >= 17 && ct[:17] == "text/event-stream"
}

// bufferPool recycles the proxy's 16 KiB copy buffers.
type bufferPool struct{ p *sync.Pool }

func newBufferPool() bufferPool {
	return bufferPool{p: &sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}}
}

// Get implements [httputil.BufferPool.Get].
func (bp bufferPool) Get() []byte { return *(bp.p.Get().(*[]byte)) }

// Put implements [httputil.BufferPool.Put].
func (bp bufferPool) Put(b []byte) { bp.p.Put(&b) }
