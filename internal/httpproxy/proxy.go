package httpproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/processor"
)

// newReverseProxy returns the proxy that moves requests and responses:
// its transport is the attempt loop, which sends each attempt of the
// request's session, and its ModifyResponse hands the response taken to
// the session.
func newReverseProxy(logger *slog.Logger) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The attempt loop builds the real URL per attempt.
			pr.Out.URL = &url.URL{Scheme: "http", Host: "upstream.invalid", Path: pr.In.URL.Path}
			pr.Out.Host = ""
		},
		Transport:      attemptLoop{},
		ModifyResponse: modifyResponse,
		ErrorHandler:   errorHandler,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BufferPool:     newBufferPool(),
	}
}

// attemptLoop is the ReverseProxy transport: it sends the session's
// attempts until one answers with a response the session takes.
type attemptLoop struct{}

// RoundTrip implements [http.RoundTripper].
func (attemptLoop) RoundTrip(out *http.Request) (*http.Response, error) {
	ctx := out.Context()
	px := proxiedFrom(ctx)
	if px == nil {
		return nil, errors.New("httpproxy: request without a session")
	}
	s := px.s
	for {
		a, err := s.NextAttempt(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := sendTo(ctx, px.rc.transports[a.Backend], a, s.Timeouts())
		if err != nil {
			if s.Failed(ctx, err) {
				continue
			}
			return nil, s.Err()
		}
		if s.RetryStatus(ctx, resp.StatusCode) {
			// Drain a little so the connection can be reused.
			_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
			_ = resp.Body.Close()
			continue
		}
		resp.Request = out
		return resp, nil
	}
}

// errAttemptTimeout marks an attempt cut by its own timeout.
var errAttemptTimeout = fmt.Errorf("%w: no response within the attempt timeout", apierror.ErrUpstreamTimeout)

// errStreamIdle marks a response whose upstream went silent too long.
var errStreamIdle = fmt.Errorf("%w: no data within the stream idle timeout", apierror.ErrUpstreamTimeout)

// sendTo sends the attempt to its endpoint. The attempt's deadline until
// response headers is the shorter of the per-attempt and stream-idle
// timeouts; after the headers the stream-idle timeout is enforced by the
// response body.
func sendTo(ctx context.Context, rt roundTripper, a *processor.Attempt, t *config.Timeouts) (*http.Response, error) {
	ep := a.Endpoint
	actx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(actx, a.Upstream.Method, ep.BaseURL+a.Upstream.Path, bytes.NewReader(a.Upstream.Body))
	if err != nil {
		cancel(nil)
		return nil, err
	}
	req.Header = a.Upstream.Header
	req.Host = ep.Host
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
	if processor.IsUpstreamStream(resp.Header) || resp.ContentLength > prefetchLimit || resp.Body == http.NoBody {
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

// modifyResponse hands the response taken to the session.
func modifyResponse(resp *http.Response) error {
	s := proxiedFrom(resp.Request.Context()).s
	if err := s.ResponseHeaders(resp.StatusCode, resp.Header); err != nil {
		return err
	}
	if resp.Header.Get("Content-Length") == "" {
		resp.ContentLength = -1 // the session changes the body's length
	}
	resp.Body = s.ResponseReader(resp.Body)
	return nil
}

// errorHandler answers a request whose attempts all failed.
func errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	px := proxiedFrom(r.Context())
	if px == nil {
		apierror.Write(w, err)
		return
	}
	apierror.Write(w, px.s.Fail(r.Context(), err))
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
