// Package pool is the gateway's side of an InferencePool backend: for each
// attempt it asks the pool's endpoint picker (GAIE's ext_proc protocol,
// through internal/epp) or picks itself with internal/scheduler, and
// returns the decision as a value, a [Pick]: the endpoints to try in order,
// the picker exchange for the response phase, the rewritten model, or the
// answer for the client instead of any endpoint.
//
// Each endpoint has one in-flight count, the scheduler's, which the
// gateway's own picking balances on and a [Pick] moves as endpoints are
// tried. A [Registry] keeps schedulers and picker connections across
// configuration reloads.
//
// This package must not import the request pipeline, the HTTP front end or
// any control-plane package.
package pool
