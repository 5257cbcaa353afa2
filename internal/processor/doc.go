// Package processor is the transport-agnostic core of the gateway's request
// pipeline: it parses a client request, and for each attempt on a backend
// translates it, applies header and body mutations and injects credentials,
// then translates and accounts the response.
//
// Its signatures take headers and bytes and return plain values, so the
// same core serves the in-process HTTP proxy (internal/httpproxy) and, later,
// an Envoy ext_proc server. It must not import net/http server types beyond
// http.Header, protobuf, the router or any control-plane package.
package processor
