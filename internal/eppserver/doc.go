// Package eppserver is aigw's endpoint picker (EPP) server: GAIE's endpoint
// picker protocol, Envoy's ext_proc in FULL_DUPLEX_STREAMED mode, served
// over the scheduler of internal/scheduler, so that Envoy, Istio,
// agentgateway or aigw's own gateway can ask it where each request of an
// InferencePool should go.
//
// Per stream (one per HTTP request), as GAIE's reference EPP behaves:
//
//   - Request phase: headers (lower-case, pseudo-headers included) and the
//     subset hint are read; body chunks are collected (up to
//     [Options.MaxRequestBodyBytes], else an immediate 413); at the end of
//     the body the request is parsed as GAIE's openai-parser does (the path
//     suffix selects the API and its required field), the model rewritten
//     (x-gateway-model-name-rewrite, then weighted rewrite rules), and the
//     scheduler picks. The answer is a HeadersResponse setting
//     x-gateway-destination-endpoint (primary plus fallbacks,
//     comma-separated) in the header and in envoy.lb dynamic metadata, then
//     the body as streamed replacements of at most 62 000 bytes (or empty
//     acknowledgements with [Options.AckRequestBody]).
//   - Errors reach the client as ImmediateResponses with OpenAI-shaped
//     bodies: 400 (not JSON, no model, the API's field missing), 413, 429
//     (a sheddable request while the pool is saturated, or flow control's
//     queue full), 503 (no endpoint, none in the subset hint, or a request
//     that waited flow control's whole TTL). With flow control on, the
//     pick waits in [scheduler.Scheduler.Admit] while the pool is
//     saturated.
//   - Response phase: the served endpoint (envoy.lb metadata) moves the
//     in-flight count to the endpoint that really served; body chunks are
//     echoed at once with the client's model name restored (internal/modelname;
//     only the start of a name cut by a chunk boundary waits for the next
//     chunk); usage is captured for metrics.
//
// The package keeps no global mutable state. It must not import the HTTP
// front end (internal/httpproxy) or any control-plane package.
package eppserver
