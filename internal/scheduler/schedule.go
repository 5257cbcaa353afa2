package scheduler

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// Incoming is what the admit → rewrite → pick sequence reads of one
// request; the caller has parsed the body already.
type Incoming struct {
	// Model is the request body's model ("" when it has none).
	Model string
	// RewriteHeader is the x-gateway-model-name-rewrite header, used when no
	// rule of the policy rewrites Model (GAIE's order).
	RewriteHeader string
	// Objective is the x-gateway-inference-objective header.
	Objective string
	// Prompt, CacheSalt, FairnessID, Bytes, Subset and Headers are as in
	// [Request].
	Prompt     string
	CacheSalt  string
	FairnessID string
	Bytes      int64
	Subset     []string
	Headers    http.Header
	// Rand is a uniformly random number that chooses among weighted
	// rewrite targets.
	Rand uint64
}

// Scheduled is the outcome of [Scheduler.Schedule].
type Scheduled struct {
	// Result is the pick: primary first, then the fallbacks.
	Result
	// Model is the model to send: the rewrite target, or the incoming model.
	Model string
	// Done ends the in-flight count started on the primary (safe to call
	// more than once); nil when the pick failed.
	Done func()
	// Admitted reports that flow control let the request through: an error
	// then comes from the pick.
	Admitted bool
	// AdmitWait and PickTime are how long flow control held the request and
	// how long the pick took, for the caller's metrics.
	AdmitWait, PickTime time.Duration
}

// Schedule runs, for one request, the sequence every picker of a pool runs
// (the gateway's own and `aigw epp`): apply the policy's rewrite rules to
// the model, give the request its objective's priority, wait for flow
// control ([Scheduler.Admit]), pick ([Scheduler.Pick]) and count the
// request in flight on the primary ([Scheduler.Started]) before flow
// control lets the next one through. Errors are Admit's and Pick's:
// [ErrSaturated], [ErrQueueFull], [ErrQueueTimeout] (see [Refusal]),
// [ErrNoEndpoints] or the context's.
func (s *Scheduler) Schedule(ctx context.Context, pol *CompiledPolicy, in Incoming) (Scheduled, error) {
	out := Scheduled{Model: RewriteTarget(pol, in.Model, in.RewriteHeader, in.Rand)}
	r := Request{
		Model: out.Model, LoRA: out.Model, Prompt: in.Prompt, CacheSalt: in.CacheSalt,
		Priority: pol.Priority(in.Objective), FairnessID: in.FairnessID, Bytes: in.Bytes,
		Subset: in.Subset, Headers: in.Headers,
	}
	t0 := time.Now()
	admitted, err := s.Admit(ctx, &r)
	out.AdmitWait = time.Since(t0)
	if err != nil {
		return out, err
	}
	out.Admitted = true
	t0 = time.Now()
	res, err := s.Pick(ctx, &r)
	out.PickTime = time.Since(t0)
	if err == nil {
		out.Result = res
		out.Done = s.Started(res.Endpoints[0])
	}
	admitted() // flow control counts this pick before it lets the next one through
	return out, err
}

// RewriteTarget returns the model to send for an incoming model: a rule's
// target if one matches, else the x-gateway-model-name-rewrite header
// (trimmed), else the incoming name; n chooses among weighted targets. A
// request without a model is not rewritten.
func RewriteTarget(pol *CompiledPolicy, model, header string, n uint64) string {
	if model == "" {
		return ""
	}
	if target, ok := pol.Rewrite(model, n); ok {
		return target
	}
	if h := strings.TrimSpace(header); h != "" {
		return h
	}
	return model
}

// InFlight returns the in-flight count of the endpoint at addr (0 when it
// is not one of the pool's).
func (s *Scheduler) InFlight(addr string) int64 {
	if st := s.snap.Load().get(addr); st != nil {
		return st.inflight.Load()
	}
	return 0
}
