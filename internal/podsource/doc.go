// Package podsource is the Kubernetes source of endpoints for the endpoint
// picker server (`aigw epp`): it watches the Pods behind one InferencePool,
// with controller-runtime's cache and informers, and reports the pool's ready
// endpoints whenever they change.
//
// The contract, as GAIE's EPP (--pool-name/--pool-namespace/--pool-group, or
// --endpoint-selector/--endpoint-target-ports without a pool):
//
//   - An endpoint is "podIP:port" for every Pod in the pool's namespace whose
//     labels match the pool's selector, that is Ready (condition PodReady
//     True), not terminating (no deletionTimestamp), has a status.podIP and
//     no status.phase other than Running (internal/podready, shared with
//     standalone mode), times each of the pool's target ports (v1: spec.targetPorts[].number;
//     v1alpha2: spec.targetPortNumber). The Pod's name and labels go with it.
//   - The pool is watched too: a changed selector or port list recomputes the
//     set; a missing or deleted pool, or one with an empty selector, yields
//     the empty set (and a log line).
//   - [Options.OnChange] gets the full set, sorted by address, first once the
//     caches have synced and then only when the set changed; it is never
//     called concurrently. [Source.Synced] reports that the first set was
//     delivered.
//   - The cache is restricted to the pool's namespace (and, for the pool
//     itself, to its name); no manager, metrics server, health probe or
//     leader election is involved.
//
// This package must not import the EPP transport (internal/epp), the HTTP
// front end or the control-plane controllers: it only produces
// [scheduler.Endpoint] values and is wired in by its caller.
package podsource
