package httpproxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/processor"
)

// proxied is what a request carries through the ReverseProxy to its
// hooks: its session and the configuration it started on.
type proxied struct {
	s  *processor.Session
	rc *runtimeConfig
}

type proxiedKey struct{}

func proxiedFrom(ctx context.Context) *proxied {
	p, _ := ctx.Value(proxiedKey{}).(*proxied)
	return p
}

// ServeHTTP implements [http.Handler]: it reads the request within the
// gateway's limits and moves it, and the response, through a pipeline
// session.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
		// RFC 9112 §6.1: a request with both Content-Length and
		// Transfer-Encoding must be answered on a connection that closes
		// after the response. net/http drops Content-Length before a
		// handler can see whether both were sent, so every HTTP/1
		// request with a Transfer-Encoding closes its connection (SDKs
		// send a Content-Length).
		w.Header().Set("Connection", "close")
	}
	rc := g.current.Load()
	var remote netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		remote = ap.Addr()
	}
	s := rc.Start(processor.RequestInfo{Method: r.Method, Path: r.URL.Path, URI: r.URL.RequestURI(), Host: r.Host, Header: r.Header,
		Start: time.Now(), RemoteAddr: remote, Listeners: listenersOf(r.Context())})
	var bodyCharge int64
	defer func() { g.budget.Release(bodyCharge) }()
	defer func() { s.Finish(r.Context(), context.Cause(r.Context())) }()
	fail := func(err error) { apierror.Write(w, s.Fail(r.Context(), err)) }
	if err := g.checkHeaders(r); err != nil {
		closeAfter(w, r)
		fail(err)
		return
	}
	local, err := s.RequestHeaders()
	switch {
	case err != nil:
		fail(err)
		return
	case local != nil:
		writeLocal(w, r, local)
		return
	}
	body, charged, err := g.readBody(w, r, s)
	bodyCharge = charged
	if err != nil {
		fail(err)
		return
	}
	if err := s.RequestBody(body); err != nil {
		fail(err)
		return
	}
	ctx := context.WithValue(r.Context(), proxiedKey{}, &proxied{s: s, rc: rc})
	if d := s.Timeouts().Request.Std(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, processor.ErrRequestTimeout)
		defer cancel()
	}
	g.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// writeLocal sends an answer the gateway gives itself.
func writeLocal(w http.ResponseWriter, r *http.Request, local *processor.LocalResponse) {
	for name, values := range local.Header {
		w.Header()[name] = values
	}
	w.WriteHeader(local.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(local.Body)
	}
}

// checkHeaders enforces the header limits as Envoy does
// (max_headers_count, max_request_headers_kb): over either, 431. The
// server's MaxHeaderBytes already bounds what is read; this makes the
// limit exact and counts fields.
func (g *Gateway) checkHeaders(r *http.Request) error {
	fields, size := 1, len("host")+len(r.Host)+4 // ": " and CRLF
	for name, values := range r.Header {
		fields += len(values)
		for _, v := range values {
			size += len(name) + len(v) + 4
		}
	}
	if fields > g.limits.MaxRequestHeaders {
		return apierror.HeadersTooLarge(fmt.Sprintf("the request has %d header fields, over the limit of %d", fields, g.limits.MaxRequestHeaders))
	}
	if size > g.limits.MaxRequestHeaderBytes {
		return apierror.HeadersTooLarge(fmt.Sprintf("the request headers exceed the limit of %d bytes", g.limits.MaxRequestHeaderBytes))
	}
	return nil
}

// closeAfter makes an HTTP/1 connection close after the response: the
// request was refused before its body was read, or its framing cannot be
// trusted. (HTTP/2 streams are independent; a "Connection" header would
// shut the whole connection down.)
func closeAfter(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
}

// readBody reads the request body within the gateway's body budget and the
// time limits, and returns it with what it holds of the budget (to release
// when the request ends, also on error). A refused or timed-out body
// closes the connection.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request, s *processor.Session) ([]byte, int64, error) {
	if r.ContentLength != 0 && g.budget.Exhausted() {
		closeAfter(w, r)
		return nil, 0, apierror.Overloaded("the gateway holds too many request bodies; retry later")
	}
	rd := bodyRead{budget: g.budget, limit: s.MaxRequestBodyBytes(), progress: max(g.limits.BodyReadTimeout, 0)}
	if d := s.RequestReceivedTimeout(); d > 0 {
		rd.deadline = s.StartTime().Add(d)
	}
	body, charged, err := readBody(w, r, rd)
	if err != nil {
		var e *apierror.Error
		if errors.As(err, &e) && e.Status != http.StatusBadRequest {
			closeAfter(w, r)
		}
		return nil, charged, err
	}
	return body, charged, nil
}

// listenersKey is the context key of the listeners a server serves.
type listenersKey struct{}

// WithListeners returns ctx for the requests of a server that serves the
// listeners names reports (by name: those of one address, told apart by
// hostname). names is called per request, so it may follow reloads.
func WithListeners(ctx context.Context, names func() []string) context.Context {
	return context.WithValue(ctx, listenersKey{}, names)
}

// listenersOf returns the listeners of ctx's server; none when unknown.
func listenersOf(ctx context.Context) []string {
	if f, ok := ctx.Value(listenersKey{}).(func() []string); ok {
		return f()
	}
	return nil
}
