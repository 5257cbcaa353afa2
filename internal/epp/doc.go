// Package epp is the gateway's client for endpoint pickers (EPPs) of the
// Kubernetes Gateway API Inference Extension (GAIE): it speaks GAIE's
// protocol, Envoy's ext_proc over gRPC in full-duplex streamed mode, from
// the proxy's side.
//
// One [Exchange] is one request's stream: the request headers and body go to
// the picker, whose deferred answer carries the picked endpoints (primary
// plus fallbacks), header mutations and a possibly rewritten body, or an
// immediate response for the client; the response headers (with the served
// endpoint) and body then go through the picker too, and its replacement
// chunks are forwarded as they arrive. Connections are shared per picker
// address by [Conns].
//
// Any failure of the picker itself (unreachable, gRPC error, timeout,
// protocol violation, no or invalid pick) is returned wrapped in
// [ErrPickerFailed], so the caller can apply the pool's failure mode.
//
// This package must not import the HTTP front end, the router or any
// control-plane package.
package epp
