package httpproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/epp"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/jsonscan"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/processor"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

// errPoolUnavailable marks a pool that cannot serve a request: its picker
// failed closed or answered for the client with a retriable status, or
// every endpoint it offered failed. The request may move to the next tier.
var errPoolUnavailable = errors.New("inference pool unavailable")

// ownPickSize is how many endpoints the gateway's own pick walks: the least
// loaded first, then the next ones should it fail.
const ownPickSize = 3

// poolRuntime is the data plane's form of an InferencePool backend.
type poolRuntime struct {
	name string
	// dropHeaders are the picker control headers clients may not send.
	dropHeaders []string
	logger      *slog.Logger
	picker      *epp.Picker // nil: the gateway picks
	failOpen    bool
	transport   roundTripper
	endpoints   atomic.Pointer[[]*poolEndpoint]
	ports       []int32
	// sched picks when the pool has no picker or its FailOpen picker failed:
	// load-, cache- and prefix-aware from the endpoints' scraped metrics.
	sched *scheduler.Scheduler
	// policy holds the pool's InferenceObjectives and InferenceModelRewrites
	// for the gateway's own picking (a picker applies its own).
	policy *scheduler.CompiledPolicy
}

// poolEndpoint is one podIP:targetPort with its in-flight count, which the
// gateway's own picking (no picker, or FailOpen) balances on.
type poolEndpoint struct {
	addr     string
	ip       string
	inflight atomic.Int64
}

func newPoolRuntime(cp *config.Pool, logger *slog.Logger, tc *transportCache, conns *epp.Conns, ss *schedulers) (*poolRuntime, error) {
	rt, err := tc.get(nil, cp.AppProtocol == config.AppProtocolH2C)
	if err != nil {
		return nil, err
	}
	p := &poolRuntime{name: cp.Name, logger: logger, transport: rt, ports: cp.TargetPorts}
	for _, h := range epp.ControlHeaders {
		if cp.EndpointPicker == nil || !slices.Contains(cp.EndpointPicker.ClientHeaders, h) {
			p.dropHeaders = append(p.dropHeaders, h)
		}
	}
	if cp.EndpointPicker != nil {
		picker, err := conns.Get(cp.EndpointPicker)
		if err != nil {
			return nil, err
		}
		p.picker = picker
		p.failOpen = cp.EndpointPicker.FailureMode == config.FailOpen
	}
	if p.picker == nil || p.failOpen {
		if p.sched, err = ss.get(cp); err != nil {
			return nil, err
		}
		if p.policy, err = scheduler.CompilePolicy(poolPolicy(cp)); err != nil {
			return nil, fmt.Errorf("pool %s: %w", cp.Name, err)
		}
	}
	p.setEndpoints(cp.Endpoints)
	return p, nil
}

// poolPolicy converts the pool's objectives and rewrite rules.
func poolPolicy(cp *config.Pool) scheduler.Policy {
	pol := scheduler.Policy{Objectives: cp.Objectives}
	for _, r := range cp.ModelRewrites {
		rule := scheduler.RewriteRule{Models: r.Models, Source: r.Source}
		for _, t := range r.Targets {
			rule.Targets = append(rule.Targets, scheduler.WeightedModel{Model: t.Model, Weight: t.Weight})
		}
		pol.Rewrites = append(pol.Rewrites, rule)
	}
	return pol
}

// setEndpoints replaces the ready endpoints, keeping the in-flight counts
// of those that stay, in the pool and in its scheduler.
func (p *poolRuntime) setEndpoints(eps []config.PoolEndpoint) {
	if p.sched != nil {
		p.sched.SetEndpoints(schedulerEndpoints(eps))
	}
	old := map[string]*poolEndpoint{}
	if cur := p.endpoints.Load(); cur != nil {
		for _, e := range *cur {
			old[e.addr] = e
		}
	}
	next := make([]*poolEndpoint, 0, len(eps))
	for _, e := range eps {
		addr := net.JoinHostPort(e.IP, strconv.Itoa(int(e.Port)))
		if pe, ok := old[addr]; ok {
			next = append(next, pe)
			continue
		}
		next = append(next, &poolEndpoint{addr: addr, ip: e.IP})
	}
	p.endpoints.Store(&next)
}

// ownPick orders the ready endpoints not in skip by in-flight requests,
// breaking ties at random, and returns the first few.
func (p *poolRuntime) ownPick(skip map[string]bool) []*poolEndpoint {
	all := *p.endpoints.Load()
	cands := make([]*poolEndpoint, 0, len(all))
	for _, e := range all {
		if !skip[e.addr] {
			cands = append(cands, e)
		}
	}
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	slices.SortStableFunc(cands, func(a, b *poolEndpoint) int {
		return int(a.inflight.Load() - b.inflight.Load())
	})
	return cands[:min(len(cands), ownPickSize)]
}

// byAddr returns the ready endpoint with this "ip:port", or nil.
func (p *poolRuntime) byAddr(addr string) *poolEndpoint {
	for _, e := range *p.endpoints.Load() {
		if e.addr == addr {
			return e
		}
	}
	return nil
}

// resolve maps a picked endpoint to a pool endpoint: "ip:port" as given
// (picks outside the known endpoints are honoured, as Envoy's original
// destination routing does: the control plane's view may lag the
// picker's), a bare IP to the least loaded target port of that IP.
func (p *poolRuntime) resolve(ep epp.Endpoint) *poolEndpoint {
	if ep.Port != 0 {
		addr := ep.String()
		if e := p.byAddr(addr); e != nil {
			return e
		}
		return &poolEndpoint{addr: addr, ip: ep.IP}
	}
	var best *poolEndpoint
	for _, e := range *p.endpoints.Load() {
		if e.ip == ep.IP && (best == nil || e.inflight.Load() < best.inflight.Load()) {
			best = e
		}
	}
	if best == nil && len(p.ports) > 0 {
		best = &poolEndpoint{addr: net.JoinHostPort(ep.IP, strconv.Itoa(int(p.ports[0]))), ip: ep.IP}
	}
	return best
}

// send runs one attempt on the pool: ask the picker (or pick), then try the
// picked endpoints in order until one answers without a retriable failure.
func (p *poolRuntime) send(ctx context.Context, st *requestState, a *processor.Attempt, t *config.Timeouts, policy *config.RetryPolicy) (*http.Response, error) {
	// Flow control lets the next queued request through once this one's
	// pick is counted in flight (or there is none).
	defer st.finishAdmission()
	targets, x, resp, err := p.decide(ctx, st, a)
	debug := p.logger.Enabled(ctx, slog.LevelDebug)
	if debug {
		p.logPick(ctx, st, x != nil, targets, resp, err)
	}
	if err != nil || resp != nil {
		return resp, err
	}
	// Credentials go on last, over the picker's and the rewrite's edits,
	// and no picker sees them.
	if err := a.Authenticate(ctx); err != nil {
		closeExchange(x)
		return nil, apierror.Internal(err)
	}
	var lastErr error
	for i, ep := range targets {
		if ep == nil {
			continue
		}
		last := i == len(targets)-1
		if debug && i > 0 {
			p.logger.LogAttrs(ctx, slog.LevelDebug, "pool: trying the pick's next endpoint", slog.String("request_id", st.requestID),
				slog.String("pool", p.name), slog.String("endpoint", ep.addr), slog.String("after", lastErr.Error()))
		}
		release := p.start(ep)
		st.finishAdmission()
		resp, err := sendTo(ctx, p.transport, upstreamEndpoint{baseURL: "http://" + ep.addr}, a, t)
		if err != nil {
			release()
			st.markFailed(ep.addr)
			if ctx.Err() != nil {
				closeExchange(x)
				return nil, ctx.Err()
			}
			lastErr = fmt.Errorf("pool %s endpoint %s: %w", p.name, ep.addr, err)
			if !last && retriableError(policy, err) {
				continue
			}
			break
		}
		if !last && retriableStatus(policy, resp.StatusCode) {
			_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
			_ = resp.Body.Close()
			release()
			st.markFailed(ep.addr)
			lastErr = fmt.Errorf("pool %s endpoint %s answered %d", p.name, ep.addr, resp.StatusCode)
			continue
		}
		resp.Body = &inflightBody{ReadCloser: resp.Body, release: release}
		st.endpoint = ep.addr
		st.exchange = x
		return resp, nil
	}
	closeExchange(x)
	if lastErr == nil {
		lastErr = errors.New("no ready endpoint")
	}
	if errors.Is(lastErr, apierror.ErrUpstreamTimeout) {
		return nil, apierror.UpstreamTimeout(fmt.Errorf("%w: %w", errPoolUnavailable, lastErr))
	}
	return nil, apierror.Unavailable("no endpoint of the inference pool could serve the request", fmt.Errorf("%w: %w", errPoolUnavailable, lastErr))
}

// logPick logs, at debug level, what the pool decided for an attempt.
func (p *poolRuntime) logPick(ctx context.Context, st *requestState, byPicker bool, targets []*poolEndpoint, resp *http.Response, err error) {
	attrs := []slog.Attr{slog.String("request_id", st.requestID), slog.String("pool", p.name)}
	switch {
	case err != nil:
		attrs = append(attrs, slog.String("error", err.Error()))
		p.logger.LogAttrs(ctx, slog.LevelDebug, "pool: no pick", attrs...)
	case resp != nil:
		attrs = append(attrs, slog.Int("status", resp.StatusCode))
		p.logger.LogAttrs(ctx, slog.LevelDebug, "pool: request refused before any endpoint (picker's answer or own pick shedding)", attrs...)
	default:
		addrs := make([]string, 0, len(targets))
		for _, t := range targets {
			if t != nil {
				addrs = append(addrs, t.addr)
			}
		}
		by := "gateway's own pick (no picker, or FailOpen after its failure)"
		if byPicker {
			by = "endpoint picker"
		}
		attrs = append(attrs, slog.String("by", by), slog.Any("endpoints", addrs))
		if len(st.failed) > 0 {
			attrs = append(attrs, slog.Int("excluded_failed", len(st.failed)))
		}
		p.logger.LogAttrs(ctx, slog.LevelDebug, "pool: pick", attrs...)
	}
}

// decide returns the endpoints to try, the picker exchange for the
// response phase, or a response (the picker's immediate answer).
func (p *poolRuntime) decide(ctx context.Context, st *requestState, a *processor.Attempt) ([]*poolEndpoint, *epp.Exchange, *http.Response, error) {
	for _, h := range p.dropHeaders {
		if !setByRoute(a.Ref, h) {
			a.Upstream.Header.Del(h)
		}
	}
	if p.picker == nil {
		return p.ownPickOrErr(ctx, st, a)
	}
	x, d, err := p.picker.Start(ctx, &epp.Request{
		Method: a.Upstream.Method, Path: a.Upstream.Path, Authority: st.host, Scheme: "http",
		Header: a.Upstream.Header, Body: a.Upstream.Body,
		Subset: p.subsetWithout(st.failed),
	})
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return nil, nil, nil, ctx.Err()
		}
		if !p.failOpen {
			p.logger.Warn("endpoint picker failed: failing closed", "pool", p.name, "error", err)
			return nil, nil, nil, apierror.Unavailable("the inference pool's endpoint picker is unavailable", fmt.Errorf("%w: %w", errPoolUnavailable, err))
		}
		// FailOpen: the original body goes to an endpoint of our choosing.
		p.logger.Warn("endpoint picker failed: failing open", "pool", p.name, "error", err)
		return p.ownPickOrErr(ctx, st, a)
	case d.Immediate != nil:
		return nil, nil, immediateResponse(d.Immediate), nil
	}
	d.RequestHeaders.Apply(a.Upstream.Header)
	if d.Body != nil {
		a.Upstream.Body = d.Body
	}
	targets := make([]*poolEndpoint, 0, len(d.Endpoints))
	for _, ep := range d.Endpoints {
		targets = append(targets, p.resolve(ep))
	}
	return targets, x, nil, nil
}

// subsetWithout returns the subset hint for a retry on this pool: its ready
// endpoints minus those that already failed this request, or nil (no hint:
// the whole pool) when none of them failed.
func (p *poolRuntime) subsetWithout(failed map[string]bool) []string {
	if len(failed) == 0 {
		return nil
	}
	all := *p.endpoints.Load()
	hint := make([]string, 0, len(all))
	excluded := false
	for _, e := range all {
		if failed[e.addr] {
			excluded = true
			continue
		}
		hint = append(hint, e.addr)
	}
	if !excluded {
		return nil
	}
	return hint
}

func (p *poolRuntime) ownPickOrErr(ctx context.Context, st *requestState, a *processor.Attempt) ([]*poolEndpoint, *epp.Exchange, *http.Response, error) {
	skip := st.failed
	if p.sched != nil {
		if a.RequestModel == "" && st.op == llm.OperationPassThrough {
			// An HTTPRoute's request is not parsed; the picker still wants
			// its model (LoRA affinity, rewrite rules), as GAIE's reads it.
			a.RequestModel = bodyModel(a.Upstream.Body)
		}
		if err := p.rewriteModel(a); err != nil {
			return nil, nil, nil, err
		}
		body := a.Upstream.Body
		body = body[:min(len(body), p.sched.PromptLimit())]
		req := &scheduler.Request{Subset: p.subsetWithout(skip), Headers: a.Upstream.Header,
			// The raw body stands in for the rendered prompt: requests that
			// share a system prompt share a body prefix just the same. Only
			// the part prefix hashing reads is copied.
			Prompt:   string(body),
			Priority: p.policy.Priority(a.Upstream.Header.Get(epp.ObjectiveHeader)),
		}
		// vLLM serves LoRA adapters under their own model names.
		req.Model, req.LoRA = a.RequestModel, a.RequestModel
		req.FairnessID = a.Upstream.Header.Get(epp.FairnessIDHeader)
		req.Bytes = int64(len(a.Upstream.Body))
		admitted, err := p.sched.Admit(ctx, req)
		if err != nil {
			if refusal := scheduler.Refusal(err); refusal != nil {
				// As a picker answers (the next tier, if any, gets it).
				return nil, nil, errorResponse(refusal), nil
			}
			return nil, nil, nil, err // cancelled
		}
		st.admitted = admitted
		res, err := p.sched.Pick(ctx, req)
		switch {
		case errors.Is(err, scheduler.ErrSaturated):
			return nil, nil, errorResponse(scheduler.Refusal(err)), nil
		case err == nil:
			targets := make([]*poolEndpoint, 0, len(res.Endpoints))
			for _, addr := range res.Endpoints {
				if ep := p.byAddr(addr); ep != nil {
					targets = append(targets, ep)
				}
			}
			if len(targets) > 0 {
				return targets, nil, nil, nil
			}
		case ctx.Err() != nil:
			return nil, nil, nil, ctx.Err()
		default:
			p.logger.Debug("scheduler found no endpoint", "pool", p.name, "error", err)
		}
	}
	eps := p.ownPick(skip)
	if len(eps) == 0 {
		return nil, nil, nil, apierror.Unavailable("the inference pool has no ready endpoint", fmt.Errorf("%w: pool %s has no ready endpoint", errPoolUnavailable, p.name))
	}
	return eps, nil, nil, nil
}

// rewriteModel applies the pool's InferenceModelRewrite rules to the
// attempt, as a picker would: a rule for the model in the upstream body
// wins, else the x-gateway-model-name-rewrite header (when a route sets it
// or the pool lets clients send it). The body's "model" is replaced and the
// attempt's RequestModel follows; ClientModel keeps the name responses get
// back (unlike a backendRef's modelNameOverride, whose name responses keep).
func (p *poolRuntime) rewriteModel(a *processor.Attempt) error {
	if a.RequestModel == "" { // not a model request (or not JSON)
		return nil
	}
	target, ok := p.policy.Rewrite(a.RequestModel, rand.Uint64())
	if !ok {
		target = strings.TrimSpace(a.Upstream.Header.Get(epp.ModelRewriteHeader))
	}
	if target == "" || target == a.RequestModel || len(a.Upstream.Body) == 0 {
		return nil
	}
	obj, err := jsonobj.Parse(a.Upstream.Body)
	if err != nil {
		return fmt.Errorf("pool %s: rewriting the model: %w", p.name, err)
	}
	m, _ := json.Marshal(target)
	obj.Set("model", m)
	a.Upstream.Body = obj.Bytes()
	a.ClientModel, a.RequestModel = a.RequestModel, target
	return nil
}

// errFound ends a scan early.
var errFound = errors.New("found")

// bodyModel returns the first "model" string of a JSON object body, or ""
// (no such member, not a string, not JSON). It stops at that member, so it
// reads only what precedes it.
func bodyModel(body []byte) string {
	var model string
	_ = jsonscan.Object(body, func(key string, value []byte) error {
		if key != "model" {
			return nil
		}
		if m, err := jsonscan.Unquote(value); err == nil {
			model = m
		}
		return errFound
	})
	return model
}

// setByRoute reports whether the route's backendRef sets header name (a
// GAIE control header an operator chose, unlike one a client sent).
func setByRoute(ref *config.BackendRef, name string) bool {
	if ref == nil || ref.HeaderMutation == nil {
		return false
	}
	for _, sv := range ref.HeaderMutation.Set {
		if strings.EqualFold(sv.Name, name) {
			return true
		}
	}
	return false
}

// immediateResponse turns the picker's answer for the client into an
// OpenAI-shaped error response (GAIE bodies read "inference error: <Code> -
// <message>").
func immediateResponse(ir *epp.ImmediateResponse) *http.Response {
	msg := strings.TrimSpace(string(ir.Body))
	if m, ok := apierror.MessageOf(ir.Body); ok { // an OpenAI-shaped body (aigw epp)
		msg = m
	}
	if msg == "" {
		msg = ir.Details
	}
	if msg == "" {
		msg = http.StatusText(ir.Status)
	}
	e := &apierror.Error{Status: ir.Status, Message: "endpoint picker: " + msg, Code: "endpoint_picker_" + strconv.Itoa(ir.Status)}
	switch {
	case ir.Status == http.StatusTooManyRequests:
		e.Type = apierror.TypeRateLimit
	case ir.Status >= 500:
		e.Type = apierror.TypeServiceUnavailable
	default:
		e.Type = apierror.TypeInvalidRequest
	}
	return errorResponse(e)
}

// errorResponse is an OpenAI-shaped error the gateway answers for a pool
// (a picker's immediate answer, or its own pick shedding a request), as a
// response the attempt loop treats like an upstream's.
func errorResponse(e *apierror.Error) *http.Response {
	status, body := apierror.Render(e)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return &http.Response{
		StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(strings.NewReader(string(body))), ContentLength: int64(len(body)),
	}
}

// start counts a request in flight on ep, for the gateway's own picking
// and the scheduler's; the returned func ends it (once).
func (p *poolRuntime) start(ep *poolEndpoint) func() {
	ep.inflight.Add(1)
	done := func() {}
	if p.sched != nil {
		done = p.sched.Started(ep.addr)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			ep.inflight.Add(-1)
			done()
		})
	}
}

// inflightBody ends its request's in-flight count when closed.
type inflightBody struct {
	io.ReadCloser
	release func()
}

func (b *inflightBody) Close() error {
	b.release()
	return b.ReadCloser.Close()
}

func closeExchange(x *epp.Exchange) {
	if x != nil {
		x.Close()
	}
}
