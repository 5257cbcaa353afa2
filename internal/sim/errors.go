package sim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// apiError is an error the simulator answers with a vLLM error body. Every
// error meant for the client is one of these; writeError maps everything
// else to a generic 500.
type apiError struct {
	Status  int
	Type    string
	Message string
	Param   string // "" is sent as null
}

// Error implements [error].
func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message) }

// badRequest is vLLM's answer to a request it understood but cannot serve
// (VLLMValidationError, ValueError): type BadRequestError.
func badRequest(param, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "BadRequestError", Message: fmt.Sprintf(format, args...), Param: param}
}

// validationError is vLLM's answer to a body that fails schema validation
// (FastAPI's RequestValidationError): type "Bad Request", the pydantic error
// list as the message.
func validationError(kind, field, msg string) *apiError {
	e := fmt.Sprintf("{'type': '%s', 'loc': ('body', '%s'), 'msg': '%s'}", kind, field, strings.ReplaceAll(msg, "'", "\""))
	return &apiError{
		Status:  http.StatusBadRequest,
		Type:    "Bad Request",
		Message: "1 validation error:\n  " + e + " [" + e + "]",
	}
}

// modelNotFound is vLLM's answer to an unknown model name.
func modelNotFound(model string) *apiError {
	return &apiError{
		Status:  http.StatusNotFound,
		Type:    "NotFoundError",
		Message: fmt.Sprintf("The model `%s` does not exist.", model),
		Param:   "model",
	}
}

// errorInfo is the error object of vLLM's ErrorResponse.
type errorInfo struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    int     `json:"code"`
}

// errorResponse is the body current vLLM sends: {"error": {...}}.
type errorResponse struct {
	Error errorInfo `json:"error"`
}

// legacyErrorResponse is the flat body older vLLM releases sent.
type legacyErrorResponse struct {
	Object  string  `json:"object"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    int     `json:"code"`
}

// toAPIError turns any error into the apiError the client sees. It is the
// only place that decides statuses for errors that are not apiErrors.
func toAPIError(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, errEngineStopped):
		return &apiError{Status: http.StatusServiceUnavailable, Type: "ServiceUnavailableError", Message: "The server is shutting down."}
	case errors.Is(err, context.Canceled):
		return &apiError{Status: 499, Type: "ClientClosedRequest", Message: "The client closed the request."}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusGatewayTimeout, Type: "TimeoutError", Message: "The request timed out."}
	default:
		return &apiError{Status: http.StatusInternalServerError, Type: "InternalServerError", Message: "Internal server error"}
	}
}

// errorBody encodes err as vLLM does, in the current or the legacy shape.
func errorBody(err error, legacy bool) (status int, body []byte) {
	ae := toAPIError(err)
	var param *string
	if ae.Param != "" {
		param = &ae.Param
	}
	var v any = errorResponse{Error: errorInfo{Message: ae.Message, Type: ae.Type, Param: param, Code: ae.Status}}
	if legacy {
		v = legacyErrorResponse{Object: "error", Message: ae.Message, Type: ae.Type, Param: param, Code: ae.Status}
	}
	body, mErr := marshalJSON(v)
	if mErr != nil { // cannot happen: only strings and ints
		body = []byte(`{"error":{"message":"Internal server error","type":"InternalServerError","param":null,"code":500}}`)
	}
	return ae.Status, body
}
