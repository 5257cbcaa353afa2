package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/clientauth"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/costs"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/modelname"
	"github.com/aigw-dev/aigw/internal/pool"
	"github.com/aigw-dev/aigw/internal/ratelimit"
	"github.com/aigw-dev/aigw/internal/router"
	"github.com/aigw-dev/aigw/internal/translator"
)

// Headers the pipeline owns on the way in.
const (
	// HeaderRequestID carries the request's ID, the client's or a new one.
	HeaderRequestID = "X-Request-Id"
	// destinationPrefix is the GAIE endpoint-picker header family; a
	// client must never choose the pod, so inbound copies are dropped.
	destinationPrefix = "X-Gateway-Destination-Endpoint"
)

// ErrRequestTimeout is the cause of a request cut by its route's timeout.
var ErrRequestTimeout = fmt.Errorf("%w: the route's request timeout passed", context.DeadlineExceeded)

// RequestInfo is what a transport knows of a request before its body.
type RequestInfo struct {
	// Method and Path are the request's; URI is the path with its query.
	Method, Path, URI string
	// Host is the request's authority.
	Host string
	// Listeners are the names of the listeners of the address the request
	// came to (a Gateway's listeners of one port, told apart by Host);
	// none when the transport does not know them.
	Listeners []string
	// Header are the request headers; the session owns and edits them
	// (request ID, routing headers, dropped picker headers).
	Header http.Header
	// Start is when the request arrived.
	Start time.Time
	// RemoteAddr is the client's address (authorization's clientCIDRs).
	RemoteAddr netip.Addr
}

// Session is one request's way through the pipeline, driven by a
// transport in this order: [Session.RequestHeaders], [Session.RequestBody],
// then [Session.NextAttempt] until an attempt's response is taken (after
// each failed attempt [Session.Failed] or [Session.RetryStatus] says
// whether to go on), [Session.ResponseHeaders], [Session.ResponseBody] for
// each chunk, and [Session.Finish] once, whatever happened. A transport
// that answers an error itself calls [Session.Fail]. A Session is not safe
// for concurrent use, except that Finish may follow a body read on another
// goroutine once that read returned.
type Session struct {
	rt *Runtime
	// v is what the request's listener serves.
	v    *listenerView
	info RequestInfo
	// RequestID is the request's ID (the client's X-Request-Id or a new one).
	RequestID string
	debug     bool

	op  llm.Operation
	req *llm.Request
	// traceCtx carries the request's span (span) for its attempts'
	// (attemptSpan).
	traceCtx    context.Context
	span        trace.Span
	attemptSpan trace.Span
	// reasons reads the response for the request's span (nil when it
	// records nothing); respContentType is the response's media type.
	reasons         *finishScanner
	respContentType string
	// ticket is what the request passed its rate limits with: the
	// buckets its cost is charged to; quotaTicket the same for the
	// current attempt's backend quota.
	ticket      *ratelimit.Ticket
	quotaTicket *ratelimit.Ticket
	// skipped is set when the last attempt was skipped before any
	// upstream (a backend's spent quota): the next one needs no back-off.
	skipped bool
	// checked is the client policy the request passed, client the
	// identity it named.
	checked *clientauth.Checker
	client  string
	// parsed holds the body's top-level members from its one scan (nil
	// for a request forwarded unparsed); members is their storage for
	// bodies of up to 8 members, kept in the session to save an
	// allocation.
	parsed  *jsonobj.Object
	object  jsonobj.Object
	members [8]jsonobj.Member
	// scans counts the passes over the request body (one).
	scans int
	rule  *router.Rule[*Backend]
	plan  *router.Plan[*Backend]
	force bool
	// passThrough is the HTTPRoute rule found before the body was read.
	passThrough *router.Rule[*Backend]

	attempt *Attempt
	backend *Backend
	// attempts counts the attempts built.
	attempts int
	// pick is the current attempt's pool pick, next the index of its next
	// endpoint, and inPick set when the next attempt is that endpoint.
	pick   *pool.Pick
	next   int
	inPick bool
	// endpoint is the pool endpoint of the current attempt.
	endpoint string
	// failed holds the pool endpoints that failed this request, so a retry
	// on the same pool excludes them.
	failed  map[string]bool
	lastErr error
	// poolErr is the last endpoint failure of the current pick.
	poolErr error

	// Response state.
	status    int
	streamed  bool
	restorer  *modelname.Restorer
	wrapError bool
	errorBody []byte
	errorType string
	firstByte time.Time
	end       time.Time
	err       error
	completed bool
	done      bool
	finished  bool
	// costValues are the request's costs, once computed.
	costValues []costs.Value
}

// Start begins a request's session on this configuration.
func (rt *Runtime) Start(in RequestInfo) *Session {
	s := &Session{rt: rt, v: rt.view(in.Listeners, in.Host), info: in, RequestID: in.Header.Get(HeaderRequestID)}
	s.op, _ = OperationFor(in.Path)
	if s.RequestID == "" {
		s.RequestID = newRequestID()
	}
	s.debug = rt.p.logger.Enabled(context.Background(), slog.LevelDebug)
	s.startSpan()
	return s
}

// view returns what a request for host, on one of listeners, sees: the
// listener whose hostname host matches most specifically. A request that
// matches none gets no route.
func (rt *Runtime) view(listeners []string, host string) *listenerView {
	if len(listeners) == 0 {
		return rt.unknown
	}
	if len(listeners) == 1 {
		if v := rt.listeners[listeners[0]]; v != nil && v.hostname == "" {
			return v
		}
	}
	host = router.NormalizeHost(host)
	best, bestScore := rt.none, -1
	for _, name := range listeners {
		if v := rt.listeners[name]; v != nil {
			if score := router.HostnameSpecificity(v.hostname, host); score > bestScore {
				best, bestScore = v, score
			}
		}
	}
	return best
}

// MaxRequestBodyBytes is the largest request body accepted (413 beyond).
func (s *Session) MaxRequestBodyBytes() int64 { return s.v.maxBody }

// RequestReceivedTimeout bounds the time to receive a whole request (the
// Gateway's ClientTrafficPolicy); zero means no bound.
func (s *Session) RequestReceivedTimeout() time.Duration { return s.v.requestReceived }

// LocalResponse is an answer the gateway gives itself.
type LocalResponse struct {
	Status int
	Header http.Header
	// Body is omitted for a HEAD request by the transport.
	Body []byte
}

// RequestHeaders runs the headers phase: it answers /v1/models itself
// (a non-nil LocalResponse), routes a request that cannot be routed by
// model (another path, or no AIGatewayRoute) to its HTTPRoute, and checks
// the method. An error is the answer for the client ([Session.Fail]).
// Otherwise the transport reads the body, if any, and calls RequestBody.
func (s *Session) RequestHeaders() (*LocalResponse, error) {
	t := s.v.table
	h := s.info.Header
	modelRouted := t.HasModelRoutes()
	models := (s.info.Path == "/v1/models" || s.info.Path == anthropicModelsPath) && (modelRouted || !s.hasPassThrough())
	if c := s.v.gatewayAuth; c != nil && (models || !s.v.routeOnly) {
		// The Gateway's policy, before the body is read (unless routes
		// have their own: then once the route is known).
		if err := s.authenticate(c); err != nil {
			return nil, err
		}
	}
	if models {
		return s.models()
	}
	for name := range h {
		if strings.HasPrefix(name, destinationPrefix) {
			delete(h, name)
		}
	}
	h.Set(HeaderRequestID, s.RequestID)
	if s.op == "" || !modelRouted {
		if rule, ok := t.MatchPassThrough(s.info.Path, s.info.Host, h); ok {
			s.passThrough = rule
			return nil, s.authenticate(s.v.routeAuth[rule.Route])
		}
		if s.op == "" {
			return nil, apierror.UnsupportedPath(s.info.Path)
		}
	}
	if s.info.Method != http.MethodPost {
		return nil, apierror.MethodNotAllowed(s.info.Method, http.MethodPost)
	}
	return nil, nil
}

func (s *Session) hasPassThrough() bool {
	_, ok := s.v.table.MatchPassThrough(s.info.Path, s.info.Host, s.info.Header)
	return ok
}

// RequestBody runs the body phase: it parses the body once (unless the
// request goes to an HTTPRoute as it came), routes by model and plans the
// attempts. body is nil for a request without one. An error is the answer
// for the client.
func (s *Session) RequestBody(body []byte) error {
	if s.passThrough != nil {
		return s.routePassThrough(s.passThrough, body)
	}
	req, members, err := parseRequest(s.op, s.info.Header.Get("Content-Type"), body, s.members[:0])
	s.scans++
	if err != nil {
		return err
	}
	req.Method, req.Path = s.info.Method, s.info.URI
	s.req = req
	if !s.op.Multipart() {
		s.object.Members = members
		s.parsed = &s.object
	}
	h := s.info.Header
	h.Set(router.ModelHeader, req.Model) // never the client's value
	rule, ok := s.v.table.Match(req.Model, s.info.Host, h)
	if !ok {
		if rule, ok := s.v.table.MatchPassThrough(s.info.Path, s.info.Host, h); ok {
			h.Del(router.ModelHeader)
			if err := s.authenticate(s.v.routeAuth[rule.Route]); err != nil {
				return err
			}
			return s.routePassThrough(rule, body)
		}
		return apierror.ModelNotFound(req.Model)
	}
	if err := s.authenticate(s.v.routeAuth[rule.Route]); err != nil {
		return err
	}
	s.rule = rule
	s.force = len(rule.Route.RequestCosts) > 0
	s.plan = rule.Plan(nil)
	s.routedSpan()
	return s.checkRateLimits()
}

// authenticate checks the request against a policy (nil: none), once per
// policy.
func (s *Session) authenticate(c *clientauth.Checker) error {
	if c == nil || s.checked == c {
		return nil
	}
	id, err := c.Check(&clientauth.Request{Header: s.info.Header, RemoteAddr: s.info.RemoteAddr})
	if err != nil {
		return err
	}
	s.checked, s.client = c, id
	return nil
}

// Client is the authenticated client's identity (an API key's client ID,
// a basic auth user), empty when no policy named one.
func (s *Session) Client() string { return s.client }

func (s *Session) routePassThrough(rule *router.Rule[*Backend], body []byte) error {
	s.op = llm.OperationPassThrough
	s.req = &llm.Request{Operation: llm.OperationPassThrough, Method: s.info.Method, Path: s.info.URI, Body: body}
	s.rule = rule
	s.plan = rule.Plan(nil)
	s.routedSpan()
	return s.checkRateLimits()
}

// Timeouts are the matched rule's timeouts (zero before routing).
func (s *Session) Timeouts() *config.Timeouts {
	if s.rule == nil {
		return &config.Timeouts{}
	}
	return &s.rule.Timeouts
}

// NextAttempt returns the next attempt to send: the next endpoint of the
// current pool pick after an endpoint failure, else the plan's next backend,
// translated, mutated, picked for (pools) and authenticated last. Between
// attempts on the plan it waits the retry back-off. An error is the answer
// for the client: the plan ended, a pool or its picker refused, or ctx
// ended.
func (s *Session) NextAttempt(ctx context.Context) (*Attempt, error) {
	if s.inPick {
		s.inPick = false
		addr := s.pick.Endpoints[s.next]
		s.next++
		if s.debug {
			s.rt.p.logger.LogAttrs(ctx, slog.LevelDebug, "pool: trying the pick's next endpoint", slog.String("request_id", s.RequestID),
				slog.String("pool", s.backend.Pool.Name()), slog.String("endpoint", addr), slog.String("after", s.poolErr.Error()))
		}
		s.usePoolEndpoint(addr)
		return s.attempt, nil
	}
	policy := &s.rule.Retry
	for {
		ref, ok := s.plan.Next()
		if !ok {
			if s.lastErr == nil {
				s.lastErr = apierror.Unavailable("no backend is available for this model", nil)
			}
			return nil, s.lastErr
		}
		n := s.plan.Attempts()
		s.attempts = n
		if n > 1 && !s.skipped {
			if err := backOff(ctx, policy, n-1); err != nil {
				return nil, err
			}
		}
		s.skipped = false
		b := ref.Backend
		if s.debug {
			s.rt.p.logger.LogAttrs(ctx, slog.LevelDebug, "attempt", slog.String("request_id", s.RequestID),
				slog.Int("attempt", n), slog.String("backend", b.Name), slog.Uint64("priority", uint64(ref.Config.Priority)))
		}
		opts := s.rt.p.attempt
		opts.ForceUsage, opts.Parsed = s.force, s.parsed
		a, err := NewAttempt(s.req, s.info.Header, b, &ref.Config, opts)
		if refusal := translationRefusal(err); refusal != nil {
			// Another backend of the plan may serve it.
			s.lastErr = refusal
			if s.plan.HasNext() {
				s.logFailed(ctx, n, err, 0, true)
				continue
			}
			return nil, s.lastErr
		}
		if err != nil {
			return nil, apierror.Internal(err)
		}
		s.startAttemptSpan(a)
		s.endpoint = ""
		if err := s.checkQuota(ctx, a); err != nil {
			s.attemptFailed(err)
			s.endAttemptSpan()
			if !quotaExhausted(err) {
				return nil, err // the store failed, closed
			}
			// Spent for this backend: another one of the plan may serve.
			s.plan.Exclude(ref)
			s.lastErr, s.skipped = err, true
			if s.plan.HasNext() {
				s.logFailed(ctx, n, err, 0, true)
				continue
			}
			return nil, err
		}
		s.attempt, s.backend = a, b
		if b.Pool == nil {
			a.Endpoint = b.nextEndpoint()
		} else if err := s.pickFor(ctx, a, ref); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			s.lastErr = err
			if s.plan.HasNext() && s.retriableRefusal(err) {
				s.logFailed(ctx, n, err, 0, true)
				continue
			}
			return nil, err
		}
		// Credentials go on last, over every edit (a pool's included), and
		// no picker sees them.
		if err := a.Authenticate(ctx); err != nil {
			s.closePick()
			return nil, authError(err)
		}
		return a, nil
	}
}

// AttemptOn builds an attempt on the backend a proxy in front of the
// gateway chose for this request (Envoy's upstream filter: routing,
// retries and fallback happen in Envoy): the backend named "namespace/name"
// among the matched rule's, at refIndex among them when the rule names it
// more than once. The attempt is built from the client's original body and
// header (the proxy's copy of the request headers, nil for the session's),
// translated, mutated and authenticated last for host, the authority the
// proxy sends it to; an InferencePool backend is not picked for, the
// proxy's endpoint picker did that.
func (s *Session) AttemptOn(ctx context.Context, header http.Header, host, backend string, refIndex int) (*Attempt, error) {
	if header == nil {
		header = s.info.Header
	}
	if s.rule == nil || s.req == nil {
		return nil, apierror.Internal(errors.New("an upstream attempt for a request that was not routed"))
	}
	var ref *router.Ref[*Backend]
	for i, r := range s.rule.Refs {
		if r.Config.Backend == backend && (ref == nil || i == refIndex) {
			ref = r
		}
	}
	if ref == nil {
		return nil, apierror.Internal(fmt.Errorf("backend %s is not one of rule %s of route %s", backend, s.rule.Name, s.rule.Route.Name))
	}
	s.attempts++
	if s.debug {
		s.rt.p.logger.LogAttrs(ctx, slog.LevelDebug, "attempt", slog.String("request_id", s.RequestID),
			slog.Int("attempt", s.attempts), slog.String("backend", backend), slog.String("by", "proxy"))
	}
	opts := s.rt.p.attempt
	opts.ForceUsage, opts.Parsed = s.force, s.parsed
	a, err := NewAttempt(s.req, header, ref.Backend, &ref.Config, opts)
	if refusal := translationRefusal(err); refusal != nil {
		return nil, refusal
	}
	if err != nil {
		return nil, apierror.Internal(err)
	}
	// A spent quota answers this attempt 429: the proxy's retry policy
	// decides whether another backend is tried.
	s.startAttemptSpan(a)
	s.endpoint = ""
	if err := s.checkQuota(ctx, a); err != nil {
		s.attemptFailed(err)
		s.endAttemptSpan()
		return nil, err
	}
	s.attempt, s.backend = a, ref.Backend
	a.Upstream.Host = host
	if err := a.Authenticate(ctx); err != nil {
		return nil, authError(err)
	}
	return a, nil
}

// retriableRefusal reports whether a pool's refusal hands the request to
// the next attempt: an unavailable pool always does, a picker's or the
// scheduler's answer as the retry policy says of its status.
func (s *Session) retriableRefusal(err error) bool {
	if errors.Is(err, pool.ErrUnavailable) {
		return true
	}
	var e *apierror.Error
	return errors.As(err, &e) && retriableStatus(&s.rule.Retry, e.Status)
}

// pickFor asks the attempt's pool for its endpoints and starts on the
// first.
func (s *Session) pickFor(ctx context.Context, a *Attempt, ref *router.Ref[*Backend]) error {
	p := a.Backend.Pool
	req := &pool.Request{
		Upstream: a.Upstream, Model: a.RequestModel, ReadModel: s.op == llm.OperationPassThrough,
		Authority: s.info.Host, Failed: s.failed,
	}
	if m := ref.Config.HeaderMutation; m != nil {
		for _, sv := range m.Set {
			req.RouteHeaders = append(req.RouteHeaders, sv.Name)
		}
	}
	traced := s.pickSpan(p, a.Upstream.Header)
	pk, err := p.Pick(ctx, req)
	traced(pk, err)
	if s.debug {
		s.logPick(ctx, p, pk, err)
	}
	switch {
	case err != nil:
		return err
	case pk.Immediate != nil:
		return pk.Immediate
	case len(pk.Endpoints) == 0:
		pk.Close()
		return p.Unavailable(nil)
	}
	a.RequestModel, a.ClientModel = pk.Model, pk.ClientModel
	s.pick, s.next, s.poolErr = pk, 1, nil
	s.usePoolEndpoint(pk.Endpoints[0])
	return nil
}

func (s *Session) usePoolEndpoint(addr string) {
	s.pick.Use(addr)
	s.endpoint = addr
	s.attempt.Endpoint = Endpoint{BaseURL: "http://" + addr, Host: addr}
}

// closePick ends the current pick: its in-flight count and its picker
// exchange.
func (s *Session) closePick() {
	if s.pick != nil {
		s.pick.Close()
		s.pick = nil
	}
	s.inPick = false
}

func (s *Session) markFailed(addr string) {
	if s.failed == nil {
		s.failed = map[string]bool{}
	}
	s.failed[addr] = true
}

// Failed records that the current attempt failed with err before any
// response, and reports whether to go on with [Session.NextAttempt]; when
// not, [Session.Err] is the answer for the client.
func (s *Session) Failed(ctx context.Context, err error) bool {
	s.attemptFailed(err)
	if ctx.Err() != nil {
		s.closePick()
		s.lastErr = ctx.Err()
		return false
	}
	policy := &s.rule.Retry
	if s.pick != nil {
		s.pick.Release()
		s.markFailed(s.endpoint)
		s.poolErr = fmt.Errorf("pool %s endpoint %s: %w", s.backend.Pool.Name(), s.endpoint, err)
		if s.next < len(s.pick.Endpoints) && retriableError(policy, err) {
			s.inPick = true
			return true
		}
		// The pool could not serve; the plan decides what follows.
		s.closePick()
		err = s.backend.Pool.Unavailable(s.poolErr)
	}
	s.lastErr = upstreamError(err)
	retry := s.plan.HasNext() && retriableError(policy, err)
	s.logFailed(ctx, s.attempts, err, 0, retry)
	return retry
}

// RetryStatus reports whether the current attempt's response status makes
// the session try again (the transport then discards the response and
// calls [Session.NextAttempt]); when not, the response is the answer.
func (s *Session) RetryStatus(ctx context.Context, status int) bool {
	s.attemptAnswered(status)
	policy := &s.rule.Retry
	if !retriableStatus(policy, status) {
		return false
	}
	if s.pick != nil && s.next < len(s.pick.Endpoints) {
		s.pick.Release()
		s.markFailed(s.endpoint)
		s.poolErr = fmt.Errorf("pool %s endpoint %s answered %d", s.backend.Pool.Name(), s.endpoint, status)
		s.inPick = true
		return true
	}
	if !s.plan.HasNext() {
		return false
	}
	s.logFailed(ctx, s.attempts, nil, status, true)
	if s.pick != nil {
		s.markFailed(s.endpoint) // a retry on the same pool avoids it
		s.closePick()
	}
	s.endpoint = ""
	s.lastErr = apierror.Upstream(fmt.Errorf("backend %s answered %d", s.backend.Name, status))
	return true
}

// Err is the answer for the client once the attempts ended without a
// response to pass on.
func (s *Session) Err() error {
	if s.lastErr == nil {
		return apierror.Unavailable("no backend is available for this model", nil)
	}
	return s.lastErr
}

// logFailed logs, at debug level, a failed attempt and what follows.
func (s *Session) logFailed(ctx context.Context, n int, err error, status int, retry bool) {
	if !s.debug {
		return
	}
	attrs := []slog.Attr{slog.String("request_id", s.RequestID), slog.Int("attempt", n), slog.String("backend", s.backend.Name)}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	} else {
		attrs = append(attrs, slog.Int("status", status))
	}
	attrs = append(attrs, slog.String("next", nextStep(retry, s.plan.HasNext())))
	s.rt.p.logger.LogAttrs(ctx, slog.LevelDebug, "attempt failed", attrs...)
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

// logPick logs, at debug level, what the pool decided for an attempt.
func (s *Session) logPick(ctx context.Context, p *pool.Pool, pk *pool.Pick, err error) {
	attrs := []slog.Attr{slog.String("request_id", s.RequestID), slog.String("pool", p.Name())}
	logger := s.rt.p.logger
	switch {
	case err != nil:
		attrs = append(attrs, slog.String("error", err.Error()))
		logger.LogAttrs(ctx, slog.LevelDebug, "pool: no pick", attrs...)
	case pk.Immediate != nil:
		attrs = append(attrs, slog.Int("status", pk.Immediate.Status))
		logger.LogAttrs(ctx, slog.LevelDebug, "pool: request refused before any endpoint (picker's answer or own pick shedding)", attrs...)
	default:
		by := "gateway's own pick (no picker, or FailOpen after its failure)"
		if pk.ByPicker() {
			by = "endpoint picker"
		}
		attrs = append(attrs, slog.String("by", by), slog.Any("endpoints", pk.Endpoints))
		if len(s.failed) > 0 {
			attrs = append(attrs, slog.Int("excluded_failed", len(s.failed)))
		}
		logger.LogAttrs(ctx, slog.LevelDebug, "pool: pick", attrs...)
	}
}

// Fail records err, the answer the transport gives the client instead of
// an upstream response, and returns it classified: a request cut by ctx's
// end says why (the route's timeout, the gateway's shutdown).
func (s *Session) Fail(ctx context.Context, err error) *apierror.Error {
	if ctx != nil && ctx.Err() != nil {
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, apierror.ErrShutdown):
			err = apierror.Shutdown(cause)
		case errors.Is(cause, context.DeadlineExceeded):
			err = apierror.RequestTimeout(cause)
		}
	}
	e := apierror.Classify(err)
	if f := s.ErrorFormat(); f != apierror.FormatOpenAI {
		e = e.WithFormat(f)
	}
	s.err, s.status, s.end = err, e.Status, time.Now()
	s.closePick()
	return e
}

// ErrorFormat is the error shape of the client's API.
func (s *Session) ErrorFormat() apierror.Format {
	if s.op == llm.OperationMessages || s.op == llm.OperationCountTokens {
		return apierror.FormatAnthropic
	}
	return apierror.FormatOpenAI
}

// newRequestID returns 32 random hex digits.
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

// ClientBody is the request body as the client sent it (nil before the
// body phase).
func (s *Session) ClientBody() []byte {
	if s.req == nil {
		return nil
	}
	return s.req.Body
}

// StartTime is when the request arrived.
func (s *Session) StartTime() time.Time { return s.info.Start }

// translationRefusal is the client's error when the backend's translation
// refuses the request (a schema it cannot reach, a field its provider
// cannot honour: 4xx naming the field), nil for any other error.
func translationRefusal(err error) *apierror.Error {
	if errors.Is(err, translator.ErrUnsupported) {
		return apierror.UnsupportedTranslation(err)
	}
	var e *apierror.Error
	if errors.As(err, &e) && e.Status < 500 {
		return e
	}
	return nil
}

// authError is the client's error when an attempt cannot be
// authenticated: the request's own missing credential (4xx) as it is, the
// gateway's failure to get the backend's as 500.
func authError(err error) *apierror.Error {
	var e *apierror.Error
	if errors.As(err, &e) && e.Status < 500 {
		return e
	}
	return apierror.Internal(err)
}
