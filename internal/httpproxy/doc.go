// Package httpproxy is the gateway's HTTP front end: it serves the OpenAI
// endpoints and /v1/models, routes each request with internal/router, runs
// the attempts of internal/processor through net/http/httputil.ReverseProxy
// with retries and fallback across backends, streams responses event by
// event, and records metrics and one access-log line per request.
//
// A [Gateway] holds the compiled configuration in an atomic pointer: Apply
// swaps it whole, and each request keeps the configuration it started with.
//
// This package must not import Kubernetes or control-plane packages.
package httpproxy
