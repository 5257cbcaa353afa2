// Package httpproxy is the gateway's HTTP transport: it reads each request
// within the gateway's limits (header size, body budget and timeouts),
// drives a processor.Session with it, sends the session's attempts to
// upstreams through net/http/httputil.ReverseProxy (connection pools, TLS,
// per-attempt and stream-idle timeouts, reading a short response whole so
// that a broken one can be retried), and streams the session's response
// back.
//
// A [Gateway] holds the compiled configuration in an atomic pointer: Apply
// swaps it whole, and each request keeps the configuration it started with.
//
// This package must not import Kubernetes or control-plane packages.
package httpproxy
