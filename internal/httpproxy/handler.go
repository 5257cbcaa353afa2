package httpproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/epp"
	"github.com/aigw-dev/aigw/internal/processor"
	"github.com/aigw-dev/aigw/internal/router"
	"github.com/aigw-dev/aigw/internal/translator"
)

// Headers the gateway owns on the way in.
const (
	headerRequestID = "X-Request-Id"
	// destinationPrefix is the GAIE endpoint-picker header family; a
	// client must never choose the pod, so inbound copies are dropped.
	destinationPrefix = "X-Gateway-Destination-Endpoint"
)

// requestState is everything one request carries through the pipeline.
type requestState struct {
	start     time.Time
	requestID string
	op        translator.Operation
	req       *translator.Request
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

	// Set as the response goes out.
	status    int
	streamed  bool
	firstByte time.Time
	end       time.Time
	err       error
	usage     translator.Usage
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
	rc := g.current.Load()
	path := r.URL.Path
	modelRouted := rc.table.HasModelRoutes()
	if path == "/v1/models" && (modelRouted || !g.hasPassThrough(rc, r)) {
		g.serveModels(w, r, rc)
		return
	}
	op, _ := processor.OperationFor(path)
	st := &requestState{start: time.Now(), op: op, requestID: r.Header.Get(headerRequestID), host: r.Host}
	if st.requestID == "" {
		st.requestID = newRequestID()
	}
	defer g.finish(r, rc, st)
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
	body, err := readBody(w, r, rc.maxBody)
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

// servePassThrough forwards a request of an HTTPRoute rule as it came;
// body is nil when it was not read yet.
func (g *Gateway) servePassThrough(w http.ResponseWriter, r *http.Request, rc *runtimeConfig, st *requestState, rule *router.Rule[*backend], body []byte) {
	if body == nil && r.ContentLength != 0 {
		var err error
		if body, err = readBody(w, r, rc.maxBody); err != nil {
			st.fail(w, err)
			return
		}
	}
	st.op = translator.OperationPassThrough
	st.req = &translator.Request{Operation: translator.OperationPassThrough, Method: r.Method, Path: r.URL.RequestURI(), Body: body}
	st.rule = rule
	g.proxyRequest(w, r, st)
}

// proxyRequest runs the routed request through the attempt loop.
func (g *Gateway) proxyRequest(w http.ResponseWriter, r *http.Request, st *requestState) {
	st.plan = st.rule.Plan(nil)
	ctx := context.WithValue(r.Context(), stateKey{}, st)
	if d := st.rule.Timeouts.Request.Std(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
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

// readBody reads the whole request body, up to limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, apierror.BodyTooLarge(limit)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, apierror.BodyTooLarge(limit)
		}
		if ctxErr := r.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, apierror.InvalidRequest("", "reading the request body failed")
	}
	return buf.Bytes(), nil
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
