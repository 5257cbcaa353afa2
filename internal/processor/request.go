package processor

import (
	"errors"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/translator"
)

// Endpoint is an input endpoint the gateway serves.
type Endpoint struct {
	// Path is the client-facing path.
	Path string
	// Operation is the gen_ai.operation.name of the endpoint.
	Operation translator.Operation
}

// Endpoints lists the AI endpoints, by path.
func Endpoints() []Endpoint {
	return []Endpoint{
		{Path: "/v1/chat/completions", Operation: translator.OperationChat},
		{Path: "/v1/completions", Operation: translator.OperationCompletion},
		{Path: "/v1/embeddings", Operation: translator.OperationEmbeddings},
	}
}

// ParseRequest reads what routing and accounting need from a client body:
// it must be a JSON object with a non-empty string model. The returned
// error is an *apierror.Error (400).
func ParseRequest(op translator.Operation, body []byte) (*translator.Request, error) {
	if len(body) == 0 {
		return nil, apierror.InvalidRequest("", "request body is empty; expected a JSON object")
	}
	h, err := scanHead(body)
	if err != nil {
		return nil, decodeError(err)
	}
	if !h.hasModel || h.model == "" {
		return nil, apierror.InvalidRequest("model", "the request has no model; set the \"model\" field")
	}
	req := &translator.Request{Operation: op, Body: body, Model: h.model, Stream: h.stream && op != translator.OperationEmbeddings, IncludeUsage: h.includeUsage}
	return req, nil
}

// decodeError describes a scanning error without echoing the body.
func decodeError(err error) error {
	var syntax *syntaxError
	var typ *fieldTypeError
	switch {
	case errors.As(err, &syntax):
		return apierror.InvalidRequest("", "request body is not valid JSON: %s", syntax.Error())
	case errors.Is(err, errNotObject):
		return apierror.InvalidRequest("", "request body must be a JSON object")
	case errors.As(err, &typ):
		return apierror.InvalidRequest(typ.field, "field %q must be a %s", typ.field, typ.want)
	default:
		return apierror.InvalidRequest("", "request body is not valid JSON")
	}
}
