package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/epp"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/jsonscan"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

// ErrUnavailable marks a pool that cannot serve a request: its picker
// failed closed, it has no ready endpoint, or every endpoint it offered
// failed. The request may move to the route's next tier.
var ErrUnavailable = errors.New("inference pool unavailable")

// fallbackPickSize is how many endpoints the gateway's fallback pick walks
// (when the scheduler finds none): the least loaded first.
const fallbackPickSize = 3

// Pool is the data plane's form of one InferencePool backend. It is safe
// for concurrent use; SetEndpoints may run while requests pick.
type Pool struct {
	name string
	// dropHeaders are the picker control headers clients may not send.
	dropHeaders []string
	logger      *slog.Logger
	picker      *epp.Picker // nil: the gateway picks
	failOpen    bool
	h2c         bool
	endpoints   atomic.Pointer[[]endpoint]
	ports       []int32
	// sched holds the one in-flight count per endpoint, and picks when the
	// pool has no picker or its FailOpen picker failed: load-, cache- and
	// prefix-aware from the endpoints' scraped metrics.
	sched *scheduler.Scheduler
	// policy holds the pool's InferenceObjectives and InferenceModelRewrites
	// for the gateway's own picking (a picker applies its own).
	policy *scheduler.CompiledPolicy
}

// endpoint is one podIP:targetPort.
type endpoint struct {
	addr string
	ip   string
}

// New compiles the pool cp, with the scheduler and picker connection the
// registry keeps for it.
func (r *Registry) New(cp *config.Pool) (*Pool, error) {
	p := &Pool{name: cp.Name, logger: r.logger, ports: cp.TargetPorts, h2c: cp.AppProtocol == config.AppProtocolH2C}
	for _, h := range epp.ControlHeaders {
		if cp.EndpointPicker == nil || !slices.Contains(cp.EndpointPicker.ClientHeaders, h) {
			p.dropHeaders = append(p.dropHeaders, h)
		}
	}
	if cp.EndpointPicker != nil {
		picker, err := r.pickers.Get(cp.EndpointPicker)
		if err != nil {
			return nil, err
		}
		p.picker = picker
		p.failOpen = cp.EndpointPicker.FailureMode == config.FailOpen
	}
	var err error
	if p.sched, err = r.scheduler(cp, scrapes(cp)); err != nil {
		return nil, err
	}
	if p.policy, err = scheduler.CompilePolicy(policyOf(cp)); err != nil {
		return nil, err
	}
	p.SetEndpoints(cp.Endpoints)
	return p, nil
}

// policyOf converts the pool's objectives and rewrite rules.
func policyOf(cp *config.Pool) scheduler.Policy {
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

// Name is the pool's "namespace/name".
func (p *Pool) Name() string { return p.name }

// H2C reports whether the pool's model servers speak HTTP/2 without TLS.
func (p *Pool) H2C() bool { return p.h2c }

// SetEndpoints replaces the ready endpoints; those that stay keep their
// in-flight counts and scraped metrics.
func (p *Pool) SetEndpoints(eps []config.PoolEndpoint) {
	next := make([]endpoint, 0, len(eps))
	sched := make([]scheduler.Endpoint, 0, len(eps))
	for _, e := range eps {
		addr := net.JoinHostPort(e.IP, strconv.Itoa(int(e.Port)))
		next = append(next, endpoint{addr: addr, ip: e.IP})
		sched = append(sched, scheduler.Endpoint{Address: addr, PodName: e.Pod})
	}
	p.sched.SetEndpoints(sched)
	p.endpoints.Store(&next)
}

// Request is one attempt's request as the pool sees it.
type Request struct {
	// Upstream is the attempt's request. Pick edits it in place: it drops
	// the picker control headers clients may not send, applies the
	// picker's header and body edits, and rewrites the body's model.
	Upstream *llm.UpstreamRequest
	// Model is the model Upstream.Body names; for a request whose body the
	// gateway did not parse (an HTTPRoute's), ReadModel makes Pick read it.
	Model     string
	ReadModel bool
	// RouteHeaders are headers the route sets: an operator's choice of a
	// control header, unlike a client's, which is dropped.
	RouteHeaders []string
	// Authority is the request's host, for the picker.
	Authority string
	// Failed are the endpoints that failed this request already: a retry
	// avoids them (a subset hint to a picker).
	Failed map[string]bool
}

// Pick is the pool's decision for one attempt.
type Pick struct {
	// Endpoints are the "ip:port" addresses to try, in order.
	Endpoints []string
	// Model is the model the upstream request names after the pick; when a
	// rewrite changed it, ClientModel is the client's name, which
	// responses must carry back.
	Model, ClientModel string
	// Exchange is the picker's stream for the response phase; nil when the
	// gateway picked.
	Exchange *epp.Exchange
	// Immediate, when set, is the answer for the client instead of any
	// endpoint: a picker's immediate response, or the gateway's own
	// picking shedding load.
	Immediate *apierror.Error

	sched   *scheduler.Scheduler
	done    func()
	counted string
}

// ByPicker reports whether the pool's endpoint picker decided.
func (pk *Pick) ByPicker() bool { return pk.Exchange != nil }

// Use counts the request in flight on addr (one of Endpoints), moving the
// count from the endpoint it was on.
func (pk *Pick) Use(addr string) {
	if pk.counted == addr && pk.done != nil {
		return
	}
	pk.Release()
	pk.done, pk.counted = pk.sched.Started(addr), addr
}

// Release ends the in-flight count (safe to call more than once).
func (pk *Pick) Release() {
	if pk.done != nil {
		pk.done()
		pk.done = nil
	}
}

// Close releases the in-flight count and ends the picker exchange.
func (pk *Pick) Close() {
	pk.Release()
	if pk.Exchange != nil {
		pk.Exchange.Close()
		pk.Exchange = nil
	}
}

// Pick asks the pool's picker, or picks, for one attempt. A picker that
// fails closed, or a pool without a ready endpoint, is an error wrapping
// [ErrUnavailable].
func (p *Pool) Pick(ctx context.Context, req *Request) (*Pick, error) {
	for _, h := range p.dropHeaders {
		if !slices.ContainsFunc(req.RouteHeaders, func(s string) bool { return strings.EqualFold(s, h) }) {
			req.Upstream.Header.Del(h)
		}
	}
	if p.picker == nil {
		return p.ownPick(ctx, req)
	}
	x, d, err := p.picker.Start(ctx, &epp.Request{
		Method: req.Upstream.Method, Path: req.Upstream.Path, Authority: req.Authority, Scheme: "http",
		Header: req.Upstream.Header, Body: req.Upstream.Body,
		Subset: p.subsetWithout(req.Failed),
	})
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !p.failOpen {
			p.logger.Warn("endpoint picker failed: failing closed", "pool", p.name, "error", err)
			return nil, apierror.Unavailable("the inference pool's endpoint picker is unavailable", fmt.Errorf("%w: %w", ErrUnavailable, err))
		}
		// FailOpen: the original body goes to an endpoint of our choosing.
		p.logger.Warn("endpoint picker failed: failing open", "pool", p.name, "error", err)
		return p.ownPick(ctx, req)
	case d.Immediate != nil:
		return &Pick{Immediate: immediateError(d.Immediate), sched: p.sched}, nil
	}
	d.RequestHeaders.Apply(req.Upstream.Header)
	if d.Body != nil {
		req.Upstream.Body = d.Body
	}
	pk := &Pick{Exchange: x, Model: req.Model, sched: p.sched, Endpoints: make([]string, 0, len(d.Endpoints))}
	for _, ep := range d.Endpoints {
		if addr := p.resolve(ep); addr != "" {
			pk.Endpoints = append(pk.Endpoints, addr)
		}
	}
	return pk, nil
}

// Unavailable is the error of a pick whose every endpoint failed, last
// with lastErr.
func (p *Pool) Unavailable(lastErr error) error {
	if lastErr == nil {
		lastErr = errors.New("no ready endpoint")
	}
	if errors.Is(lastErr, apierror.ErrUpstreamTimeout) {
		return apierror.UpstreamTimeout(fmt.Errorf("%w: %w", ErrUnavailable, lastErr))
	}
	return apierror.Unavailable("no endpoint of the inference pool could serve the request", fmt.Errorf("%w: %w", ErrUnavailable, lastErr))
}

// ownPick is the gateway's own picking: the scheduler's sequence (rewrite,
// admit, pick), then, should it find no endpoint, the least loaded ready
// ones.
func (p *Pool) ownPick(ctx context.Context, req *Request) (*Pick, error) {
	up := req.Upstream
	if req.ReadModel {
		// An HTTPRoute's request is not parsed; the picker still wants its
		// model (LoRA affinity, rewrite rules), as GAIE's reads it.
		req.Model = bodyModel(up.Body)
	}
	body := up.Body[:min(len(up.Body), p.sched.PromptLimit())]
	sched, err := p.sched.Schedule(ctx, p.policy, scheduler.Incoming{
		Model: req.Model, RewriteHeader: up.Header.Get(epp.ModelRewriteHeader),
		Objective: up.Header.Get(epp.ObjectiveHeader), FairnessID: up.Header.Get(epp.FairnessIDHeader),
		// The raw body stands in for the rendered prompt: requests that
		// share a system prompt share a body prefix just the same. Only the
		// part prefix hashing reads is copied.
		Prompt: string(body), Bytes: int64(len(up.Body)), Subset: p.subsetWithout(req.Failed),
		Headers: up.Header, Rand: rand.Uint64(),
	})
	pk := &Pick{Model: req.Model, sched: p.sched}
	if err == nil {
		pk.Endpoints, pk.done, pk.counted = sched.Endpoints, sched.Done, sched.Endpoints[0]
		if err := p.rewriteModel(pk, up, sched.Model); err != nil {
			pk.Release()
			return nil, err
		}
		return pk, nil
	}
	if refusal := RefusalError(err); refusal != nil {
		// As a picker answers (the next tier, if any, gets it).
		pk.Immediate = refusal
		return pk, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	p.logger.Debug("scheduler found no endpoint", "pool", p.name, "error", err)
	if pk.Endpoints = p.leastLoaded(req.Failed); len(pk.Endpoints) == 0 {
		return nil, apierror.Unavailable("the inference pool has no ready endpoint", fmt.Errorf("%w: pool %s has no ready endpoint", ErrUnavailable, p.name))
	}
	if err := p.rewriteModel(pk, up, sched.Model); err != nil {
		return nil, err
	}
	return pk, nil
}

// leastLoaded orders the ready endpoints not in skip by in-flight requests,
// breaking ties at random, and returns the first few.
func (p *Pool) leastLoaded(skip map[string]bool) []string {
	all := *p.endpoints.Load()
	cands := make([]string, 0, len(all))
	for _, e := range all {
		if !skip[e.addr] {
			cands = append(cands, e.addr)
		}
	}
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	slices.SortStableFunc(cands, func(a, b string) int {
		return int(p.sched.InFlight(a) - p.sched.InFlight(b))
	})
	return cands[:min(len(cands), fallbackPickSize)]
}

// rewriteModel makes the upstream body name target, the scheduler's
// rewrite of the pick's model (an InferenceModelRewrite rule, or the
// x-gateway-model-name-rewrite header when a route sets it or the pool lets
// clients send it). The pick's Model follows; ClientModel keeps the name
// responses get back (unlike a backendRef's modelNameOverride, whose name
// responses keep).
func (p *Pool) rewriteModel(pk *Pick, up *llm.UpstreamRequest, target string) error {
	if target == "" || target == pk.Model || len(up.Body) == 0 {
		return nil
	}
	obj, err := jsonobj.Parse(up.Body)
	if err != nil {
		return fmt.Errorf("pool %s: rewriting the model: %w", p.name, err)
	}
	m, _ := json.Marshal(target)
	obj.Set("model", m)
	up.Body = obj.Bytes()
	pk.ClientModel, pk.Model = pk.Model, target
	return nil
}

// subsetWithout returns the subset hint for a retry on this pool: its ready
// endpoints minus those that already failed this request, or nil (no hint:
// the whole pool) when none of them failed.
func (p *Pool) subsetWithout(failed map[string]bool) []string {
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

// resolve maps a picked endpoint to an address: "ip:port" as given (picks
// outside the known endpoints are honoured, as Envoy's original destination
// routing does: the control plane's view may lag the picker's), a bare IP
// to the least loaded target port of that IP; "" when there is none.
func (p *Pool) resolve(ep epp.Endpoint) string {
	if ep.Port != 0 {
		return ep.String()
	}
	best, bestLoad := "", int64(0)
	for _, e := range *p.endpoints.Load() {
		if e.ip != ep.IP {
			continue
		}
		if load := p.sched.InFlight(e.addr); best == "" || load < bestLoad {
			best, bestLoad = e.addr, load
		}
	}
	if best == "" && len(p.ports) > 0 {
		best = net.JoinHostPort(ep.IP, strconv.Itoa(int(p.ports[0])))
	}
	return best
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

// immediateError turns the picker's answer for the client into an
// OpenAI-shaped error (GAIE bodies read "inference error: <Code> -
// <message>").
func immediateError(ir *epp.ImmediateResponse) *apierror.Error {
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
	return e
}

// RefusalError is the client's answer to a request the scheduler turned
// away for load, the same from `aigw epp` and from the gateway's own
// picking, with GAIE's status codes: 429 for a sheddable request while the
// pool is saturated and for a full flow-control queue, 503 for a request
// that waited the queue's whole TTL. It returns nil for any other error
// (no endpoint, cancellation), which the caller maps.
func RefusalError(err error) *apierror.Error {
	switch {
	case errors.Is(err, scheduler.ErrSaturated):
		return apierror.PoolSaturated(err)
	case errors.Is(err, scheduler.ErrQueueFull):
		return apierror.QueueFull(err)
	case errors.Is(err, scheduler.ErrQueueTimeout):
		return apierror.QueueTimeout(err)
	default:
		return nil
	}
}
