// Package processor is the gateway's request pipeline, whatever the
// transport: a [Pipeline] compiles each configuration into a [Runtime], and
// each request runs as a [Session], a state machine that a transport drives
// with headers and bytes: the request's headers and body (parsed once,
// routed, planned), one attempt after another (translated, mutated, picked
// for by an InferencePool, authenticated last), the decision after each
// failure (retry, next endpoint of a pool's pick, next tier), the response's
// headers and body chunks (picker response phase, model-name restore,
// translation, usage), and one record at the end (metrics, costs, access
// log).
//
// Errors are *apierror.Error values, built here once and rendered by the
// transport: OpenAI-shaped JSON over HTTP, an immediate response over
// ext_proc.
//
// It must not import an HTTP server, protobuf or any control-plane package:
// transports (internal/httpproxy, the ext_proc server) move bytes in and
// out of a Session.
package processor
