// Package scheduler is the gateway's endpoint scheduler (issue #5): given the
// endpoints of one inference pool and a parsed request, it picks a primary
// endpoint plus an ordered list of fallbacks, in the shape GAIE's reference
// endpoint picker (EPP) established.
//
// The contract:
//
//   - Endpoint state comes from scraping each model server's Prometheus
//     metrics (vLLM names, plus the SGLang, trtllm-serve and Triton
//     TensorRT-LLM mappings of GAIE) by [Scheduler.Start], and from the
//     in-flight counts the caller reports through [Scheduler.Started].
//     Metrics older than [Config.Staleness], or of an endpoint whose last
//     scrape failed, are unknown: scorers give such endpoints a neutral score
//     and the saturation check counts them as saturated.
//   - Each [Scheduler.Pick] runs one [Profile]: the subset hint, the
//     saturation check, the filters, the scorers (each score clamped to
//     [0,1], weighted and summed by the engine, never by a plugin) and the
//     picker. The prefix-cache index is updated with the primary endpoint.
//   - Errors: [ErrNoEndpoints] (no candidate: the caller answers 503) and
//     [ErrSaturated] (a sheddable request while every candidate is
//     saturated: the caller answers 429), always wrapped with %w.
//   - Callers ask [Scheduler.Admit] before each pick and call its done
//     after the pick is counted in flight ([Scheduler.Started]). Without
//     [Config.FlowControl] it returns at once; with it (GAIE's flowControl
//     feature gate, internal/flowcontrol) requests wait while every
//     endpoint is saturated, and fail with [ErrQueueFull] (429) or
//     [ErrQueueTimeout] (503).
//   - A [Policy] (InferenceObjective priorities, InferenceModelRewrite
//     rules with GAIE's precedence) is compiled once by [CompilePolicy] and
//     consulted by the caller before a pick: the request's priority and the
//     model it is sent as. The EPP server and the gateway's own picking
//     share it.
//   - The package keeps no global mutable state; all state hangs off a
//     [Scheduler] value. Pick, Started, SetEndpoints and Endpoints are safe
//     for concurrent use, also while Start runs.
//
// This package must not import the HTTP front end (internal/httpproxy), the
// ext_proc/EPP transport (internal/epp), the router, or any control-plane
// (Kubernetes) package: it is wired in by those, not the other way round.
package scheduler
