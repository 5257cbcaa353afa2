package httpproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/epp"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/processor"
	"github.com/aigw-dev/aigw/internal/router"
)

// Headers the gateway owns on the way in.
const (
	headerRequestID = "X-Request-Id"
	// destinationPrefix is the GAIE endpoint-picker header family; a
	// client must never choose the pod, so inbound copies are dropped.
	destinationPrefix = "X-Gateway-Destination-Endpoint"
)

// errRequestTimeout is the cause of a request cut by its route's timeout.
var errRequestTimeout = fmt.Errorf("%w: the route's request timeout passed", context.DeadlineExceeded)

// requestState is everything one request carries through the pipeline.
type requestState struct {
	start     time.Time
	requestID string
	op        llm.Operation
	req       *llm.Request
	rule      *router.Rule[*backend]
	plan      *router.Plan[*backend]
	force     bool

	// Set by the attempt loop.
	attempt *processor.Attempt
	backend *backend
	host    string
	// endpoint is the pool endpoint that served, and exchange the pool
	// picker's stream for the response phase.
	endpoint string
	exchange *epp.Exchange
	// failed holds the pool endpoints that failed this request, so a retry
	// on the same pool excludes them (a subset hint to its picker).
	failed map[string]bool
	// admitted, while set, tells the pool's flow control that this
	// request's pick is done (see finishAdmission).
	admitted func()
	// bodyCharge is what the request body holds of the gateway's body
	// budget, returned when the request ends.
	bodyCharge int64

	// Set as the response goes out.
	status    int
	streamed  bool
	firstByte time.Time
	end       time.Time
	err       error
	usage     llm.Usage
	respModel string
	completed bool
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// ServeHTTP implements [http.Handler].
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
	path := r.URL.Path
	modelRouted := rc.table.HasModelRoutes()
	if path == "/v1/models" && (modelRouted || !g.hasPassThrough(rc, r)) {
		if err := g.checkHeaders(r); err != nil {
			closeAfter(w, r)
			apierror.Write(w, err)
			return
		}
		g.serveModels(w, r, rc)
		return
	}
	op, _ := processor.OperationFor(path)
	st := &requestState{start: time.Now(), op: op, requestID: r.Header.Get(headerRequestID), host: r.Host}
	if st.requestID == "" {
		st.requestID = newRequestID()
	}
	defer func() { g.budget.release(st.bodyCharge) }()
	defer g.finish(r, rc, st)
	if err := g.checkHeaders(r); err != nil {
		closeAfter(w, r)
		st.fail(w, err)
		return
	}
	for name := range r.Header {
		if strings.HasPrefix(name, destinationPrefix) {
			delete(r.Header, name)
		}
	}
	r.Header.Set(headerRequestID, st.requestID)

	// A request that cannot be routed by model (another path, or no
	// AIGatewayRoute at all) goes to the HTTPRoutes without its body being
	// parsed.
	if op == "" || !modelRouted {
		if rule, ok := rc.table.MatchPassThrough(path, r.Host, r.Header); ok {
			g.servePassThrough(w, r, rc, st, rule, nil)
			return
		}
		if op == "" {
			st.fail(w, apierror.UnsupportedPath(path))
			return
		}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		st.fail(w, apierror.MethodNotAllowed(r.Method))
		return
	}
	body, err := g.readBody(w, r, rc, st)
	if err != nil {
		st.fail(w, err)
		return
	}
	st.req, err = processor.ParseRequest(op, body)
	if err != nil {
		st.fail(w, err)
		return
	}
	r.Header.Set(router.ModelHeader, st.req.Model) // never the client's value
	rule, ok := rc.table.Match(st.req.Model, r.Host, r.Header)
	if !ok {
		if rule, ok := rc.table.MatchPassThrough(path, r.Host, r.Header); ok {
			r.Header.Del(router.ModelHeader)
			g.servePassThrough(w, r, rc, st, rule, body)
			return
		}
		st.fail(w, apierror.ModelNotFound(st.req.Model))
		return
	}
	st.rule = rule
	st.force = len(rule.Route.RequestCosts) > 0
	g.proxyRequest(w, r, st)
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
// time limits, recording the budget charge in st for release when the
// request ends. A refused or timed-out body closes the connection.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request, rc *runtimeConfig, st *requestState) ([]byte, error) {
	if r.ContentLength != 0 && g.budget.exhausted() {
		closeAfter(w, r)
		return nil, apierror.Overloaded("the gateway holds too many request bodies; retry later")
	}
	rd := bodyRead{budget: g.budget, limit: rc.maxBody, progress: max(g.limits.BodyReadTimeout, 0)}
	if rc.requestReceived > 0 {
		rd.deadline = st.start.Add(rc.requestReceived)
	}
	body, charged, err := readBody(w, r, rd)
	st.bodyCharge += charged
	if err != nil {
		var e *apierror.Error
		if errors.As(err, &e) && e.Status != http.StatusBadRequest {
			closeAfter(w, r)
		}
		return nil, err
	}
	return body, nil
}

// servePassThrough forwards a request of an HTTPRoute rule as it came;
// body is nil when it was not read yet.
func (g *Gateway) servePassThrough(w http.ResponseWriter, r *http.Request, rc *runtimeConfig, st *requestState, rule *router.Rule[*backend], body []byte) {
	if body == nil && r.ContentLength != 0 {
		var err error
		if body, err = g.readBody(w, r, rc, st); err != nil {
			st.fail(w, err)
			return
		}
	}
	st.op = llm.OperationPassThrough
	st.req = &llm.Request{Operation: llm.OperationPassThrough, Method: r.Method, Path: r.URL.RequestURI(), Body: body}
	st.rule = rule
	g.proxyRequest(w, r, st)
}

// proxyRequest runs the routed request through the attempt loop.
func (g *Gateway) proxyRequest(w http.ResponseWriter, r *http.Request, st *requestState) {
	st.plan = st.rule.Plan(nil)
	ctx := context.WithValue(r.Context(), stateKey{}, st)
	if d := st.rule.Timeouts.Request.Std(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, errRequestTimeout)
		defer cancel()
	}
	g.proxy.rp.ServeHTTP(w, r.WithContext(ctx))
}

func (g *Gateway) hasPassThrough(rc *runtimeConfig, r *http.Request) bool {
	_, ok := rc.table.MatchPassThrough(r.URL.Path, r.Host, r.Header)
	return ok
}

func (st *requestState) markFailed(addr string) {
	if st.failed == nil {
		st.failed = map[string]bool{}
	}
	st.failed[addr] = true
}

// finishAdmission tells the pool's flow control, once, that this request's
// pick is done and counted in flight: the next queued request may go.
func (st *requestState) finishAdmission() {
	if st.admitted != nil {
		st.admitted()
		st.admitted = nil
	}
}

// closeExchange ends the picker stream of the current attempt, if any.
func (st *requestState) closeExchange() {
	if st.exchange != nil {
		st.exchange.Close()
		st.exchange = nil
	}
}

// fail answers err before any upstream response was sent.
func (st *requestState) fail(w http.ResponseWriter, err error) {
	st.err = err
	st.status = apierror.Write(w, err)
	st.end = time.Now()
}

// modelList is the /v1/models answer.
type modelList struct {
	Object string      `json:"object"`
	Data   []modelInfo `json:"data"`
}

type modelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	OwnedBy string `json:"owned_by"`
	Created int64  `json:"created"`
}

func (g *Gateway) serveModels(w http.ResponseWriter, r *http.Request, rc *runtimeConfig) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		apierror.Write(w, apierror.MethodNotAllowed(r.Method))
		return
	}
	models := rc.table.Models(r.Host)
	out := modelList{Object: "list", Data: make([]modelInfo, 0, len(models))}
	for _, m := range models {
		out.Data = append(out.Data, modelInfo{ID: m.ID, Object: "model", OwnedBy: m.OwnedBy, Created: m.Created})
	}
	b, err := json.Marshal(out)
	if err != nil {
		apierror.Write(w, apierror.Internal(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(b)
	}
}

func newRequestID() string {
	const hex = "0123456789abcdef"
	var b [32]byte
	for i := 0; i < len(b); i += 16 {
		v := rand.Uint64()
		for j := range 16 {
			b[i+j] = hex[v&15]
			v >>= 4
		}
	}
	return string(b[:])
}
