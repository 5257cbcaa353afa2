package apierror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// maxQuotedBytes bounds a client's value quoted back in an error message.
const maxQuotedBytes = 256

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// StatusClientClosedRequest is the non-standard status (nginx's 499) recorded
// when the client goes away before the response is complete. It is logged
// and counted, never sent.
const StatusClientClosedRequest = 499

// Type is the OpenAI error "type" field.
type Type string

// Error types, as OpenAI-compatible servers name them.
const (
	TypeInvalidRequest     Type = "invalid_request_error"
	TypeNotFound           Type = "not_found_error"
	TypeRequestTooLarge    Type = "request_too_large"
	TypeAuthentication     Type = "authentication_error"
	TypePermission         Type = "permission_error"
	TypeRateLimit          Type = "rate_limit_error"
	TypeUpstream           Type = "upstream_error"
	TypeUpstreamTimeout    Type = "upstream_timeout"
	TypeServiceUnavailable Type = "service_unavailable"
	TypeTimeout            Type = "timeout_error"
	TypeInternal           Type = "internal_error"
)

// Error is an error whose message is safe to show to the client.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Type is the OpenAI error type.
	Type Type
	// Code is the OpenAI error code, a short machine-readable string; empty
	// encodes as null.
	Code string
	// Param names the offending request parameter; empty encodes as null.
	Param string
	// Message is shown to the client.
	Message string
	// Allow, for a 405, lists the methods the path accepts (the Allow
	// header).
	Allow string
	// Challenge, for a 401, is how to authenticate (the WWW-Authenticate
	// header).
	Challenge string
	// Header holds more response headers (a 429's x-ratelimit-* and
	// retry-after); nil for most errors.
	Header http.Header
	// Format is the API whose error shape the client expects (OpenAI's
	// when zero).
	Format Format
	// Err is the cause, kept for logs and errors.Is; never shown.
	Err error
}

// Error implements [error].
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Sentinel causes, for errors.Is.
var (
	// ErrUpstreamTimeout is the cause of a per-attempt or stream-idle timeout.
	ErrUpstreamTimeout = errors.New("upstream timed out")
	// ErrShutdown is the cause of a request cut because the gateway shut
	// down before it finished (the drain time ran out).
	ErrShutdown = errors.New("the gateway is shutting down")
)

// InvalidRequest is a 400 about a malformed request.
func InvalidRequest(param, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: "invalid_request", Param: param, Message: fmt.Sprintf(format, args...)}
}

// ModelNotFound is the 404 for a request that no route matches. The
// client's model name is quoted cut to 256 bytes.
func ModelNotFound(model string) *Error {
	model = truncate(model, maxQuotedBytes)
	return &Error{
		Status: http.StatusNotFound, Type: TypeNotFound, Code: "model_not_found", Param: "model",
		Message: fmt.Sprintf("No matching route found for model %q. It is likely because the model specified in your request is not configured in the Gateway.", model),
	}
}

// UnsupportedPath is the 404 for a path the gateway does not serve.
func UnsupportedPath(path string) *Error {
	return &Error{Status: http.StatusNotFound, Type: TypeNotFound, Code: "unsupported_path", Message: "unsupported path: " + path}
}

// MethodNotAllowed is the 405 for a wrong method on a known path that
// accepts the methods in allow (e.g. "GET, HEAD").
func MethodNotAllowed(method, allow string) *Error {
	return &Error{Status: http.StatusMethodNotAllowed, Type: TypeInvalidRequest, Code: "method_not_allowed", Message: "method not allowed: " + method, Allow: allow}
}

// BodyTooLarge is the 413 for a request body over the limit.
func BodyTooLarge(limit int64) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Type: TypeRequestTooLarge, Code: "request_too_large", Message: "request body exceeds the limit of " + strconv.FormatInt(limit, 10) + " bytes"}
}

// Upstream is a 502 for an upstream that failed without a usable response.
func Upstream(err error) *Error {
	return &Error{Status: http.StatusBadGateway, Type: TypeUpstream, Code: "upstream_error", Message: "the upstream failed to answer", Err: err}
}

// UpstreamTimeout is a 504 for an upstream that did not answer in time.
func UpstreamTimeout(err error) *Error {
	return &Error{Status: http.StatusGatewayTimeout, Type: TypeUpstreamTimeout, Code: "upstream_timeout", Message: "the upstream did not answer in time", Err: err}
}

// RequestTimeout is a 504 for a request past its route's deadline.
func RequestTimeout(err error) *Error {
	return &Error{Status: http.StatusGatewayTimeout, Type: TypeTimeout, Code: "request_timeout", Message: "the request exceeded its timeout", Err: err}
}

// Unavailable is a 503 for a route with no usable backend.
func Unavailable(message string, err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Type: TypeServiceUnavailable, Code: "service_unavailable", Message: message, Err: err}
}

// PoolSaturated is the 429 for a sheddable request (a negative
// InferenceObjective priority) while every endpoint of its pool is
// saturated, as GAIE answers it.
func PoolSaturated(err error) *Error {
	return &Error{Status: http.StatusTooManyRequests, Type: TypeRateLimit, Code: "pool_saturated",
		Message: "the inference pool is saturated; sheddable request dropped", Err: err}
}

// RateLimited is the 429 for a client over one of its rate limits (a
// token budget); header carries the limit's x-ratelimit-* and
// retry-after.
func RateLimited(message string, header http.Header) *Error {
	return &Error{Status: http.StatusTooManyRequests, Type: TypeRateLimit, Code: "rate_limit_exceeded", Message: message, Header: header}
}

// QueueFull is the 429 for a request the pool's flow control cannot queue.
func QueueFull(err error) *Error {
	return &Error{Status: http.StatusTooManyRequests, Type: TypeRateLimit, Code: "queue_full",
		Message: "the inference pool is saturated and its request queue is full", Err: err}
}

// QueueTimeout is the 503 for a request that waited its flow-control
// queue's whole TTL.
func QueueTimeout(err error) *Error {
	return Unavailable("the request timed out waiting for the saturated inference pool", err)
}

// Overloaded is a 503 for a request the gateway sheds to protect itself
// (too many request bodies held at once).
func Overloaded(message string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Type: TypeServiceUnavailable, Code: "overloaded", Message: message}
}

// RequestBodyTimeout is the 408 for a request body that did not arrive in
// time (no progress for too long, or past the request's receive deadline).
func RequestBodyTimeout() *Error {
	return &Error{Status: http.StatusRequestTimeout, Type: TypeTimeout, Code: "request_timeout", Message: "the request body did not arrive in time"}
}

// HeadersTooLarge is the 431 for a request whose header section is over
// the listener's limits (size or count).
func HeadersTooLarge(message string) *Error {
	return &Error{Status: http.StatusRequestHeaderFieldsTooLarge, Type: TypeInvalidRequest, Code: "request_header_fields_too_large", Message: message}
}

// UpstreamEventTooLarge is a 502 for a streamed response one of whose
// events grew past the gateway's limit.
func UpstreamEventTooLarge(err error) *Error {
	return &Error{Status: http.StatusBadGateway, Type: TypeUpstream, Code: "upstream_event_too_large", Message: "an event of the upstream's stream exceeded the gateway's size limit", Err: err}
}

// Shutdown is a 503 for a request cut because the gateway is shutting
// down and its drain time ran out.
func Shutdown(err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Type: TypeServiceUnavailable, Code: "shutting_down", Message: "the gateway is shutting down", Err: err}
}

// UnsupportedTranslation is the 422 for a request the backend's API schema
// cannot serve (as Envoy AI Gateway answers a translation it cannot do).
func UnsupportedTranslation(err error) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Type: TypeInvalidRequest, Code: "unsupported_translation",
		Message: "the backend cannot serve this request: " + err.Error()}
}

// Internal is a 500 whose cause is hidden from the client.
func Internal(err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Type: TypeInternal, Code: "internal_error", Message: "internal error", Err: err}
}

// body is the OpenAI error envelope. Param and Code are pointers so that an
// empty value encodes as null, as OpenAI sends it.
type body struct {
	Error bodyError `json:"error"`
}

type bodyError struct {
	Message string  `json:"message"`
	Type    Type    `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// Classify maps any error to the client-facing Error: errors built by this
// package keep their status and message; context cancellation becomes 499;
// a deadline becomes 504; everything else is an internal 500 whose message
// is hidden.
func Classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, ErrShutdown):
		return Shutdown(err)
	case errors.Is(err, context.Canceled):
		return &Error{Status: StatusClientClosedRequest, Type: TypeInvalidRequest, Code: "client_closed_request", Message: "client closed request", Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return RequestTimeout(err)
	case errors.Is(err, ErrUpstreamTimeout):
		return UpstreamTimeout(err)
	default:
		return Internal(err)
	}
}

// MessageOf returns the message of an OpenAI-shaped error body, and whether
// b is one.
func MessageOf(b []byte) (string, bool) {
	var v body
	if json.Unmarshal(b, &v) != nil || v.Error.Message == "" {
		return "", false
	}
	return v.Error.Message, true
}

// Render returns the status and OpenAI-shaped JSON body for err.
func Render(err error) (int, []byte) {
	e := Classify(err)
	if e.Format == FormatAnthropic {
		return e.Status, renderAnthropic(e)
	}
	b := body{Error: bodyError{Message: e.Message, Type: e.Type}}
	if e.Param != "" {
		b.Error.Param = &e.Param
	}
	if e.Code != "" {
		b.Error.Code = &e.Code
	}
	out, mErr := json.Marshal(b)
	if mErr != nil { // cannot happen for these field types
		return http.StatusInternalServerError, []byte(`{"error":{"message":"internal error","type":"internal_error","param":null,"code":"internal_error"}}`)
	}
	return e.Status, out
}

// Format names an API's error shape.
type Format int

const (
	// FormatOpenAI is {"error":{"message","type","param","code"}}.
	FormatOpenAI Format = iota
	// FormatAnthropic is {"type":"error","error":{"type","message"}}, with
	// Anthropic's error types.
	FormatAnthropic
)

// WithFormat returns a copy of e rendered in format f.
func (e *Error) WithFormat(f Format) *Error {
	c := *e
	c.Format = f
	return &c
}

// anthropicType is Anthropic's error type for a status
// (https://docs.anthropic.com/en/api/errors).
func anthropicType(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusUnprocessableEntity, http.StatusRequestHeaderFieldsTooLarge, http.StatusRequestTimeout:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	default:
		return "api_error"
	}
}

func renderAnthropic(e *Error) []byte {
	out, _ := json.Marshal(struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}{Type: "error", Error: struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}{anthropicType(e.Status), e.Message}})
	return out
}

// Write sends err to w as an OpenAI-shaped JSON error and returns the status
// it recorded. A 499 is not sent (the client is gone).
func Write(w http.ResponseWriter, err error) int {
	status, b := Render(err)
	if status == StatusClientClosedRequest {
		return status
	}
	h := w.Header()
	e := Classify(err)
	if e.Allow != "" {
		h.Set("Allow", e.Allow)
	}
	if e.Challenge != "" {
		h.Set("Www-Authenticate", e.Challenge)
	}
	for name, values := range e.Header {
		h[name] = values
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	h.Del("Content-Encoding")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return status
}
