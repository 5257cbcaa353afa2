package processor

import (
	"errors"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/jsonscan"
	"github.com/aigw-dev/aigw/internal/llm"
)

// OperationFor returns the operation of an AI endpoint path, or false for
// a path that is not one.
func OperationFor(path string) (llm.Operation, bool) {
	switch path {
	case "/v1/chat/completions":
		return llm.OperationChat, true
	case "/v1/completions":
		return llm.OperationCompletion, true
	case "/v1/embeddings":
		return llm.OperationEmbeddings, true
	case "/anthropic/v1/messages":
		return llm.OperationMessages, true
	case "/anthropic/v1/messages/count_tokens":
		return llm.OperationCountTokens, true
	default:
		return "", false
	}
}

// ParseRequest reads what routing and accounting need from a client body:
// it must be a JSON object with a non-empty string model. The returned
// error is an *apierror.Error (400).
func ParseRequest(op llm.Operation, body []byte) (*llm.Request, error) {
	req, _, err := parseRequest(op, body, nil)
	return req, err
}

// parseRequest is ParseRequest in the one pass that also appends the
// body's top-level members to members (see scanHead).
func parseRequest(op llm.Operation, body []byte, members []jsonobj.Member) (*llm.Request, []jsonobj.Member, error) {
	if len(body) == 0 {
		return nil, nil, apierror.InvalidRequest("", "request body is empty; expected a JSON object")
	}
	h, members, err := scanHead(body, members)
	if err != nil {
		return nil, nil, decodeError(err)
	}
	if !h.hasModel || h.model == "" {
		return nil, nil, apierror.InvalidRequest("model", "the request has no model; set the \"model\" field")
	}
	req := &llm.Request{Operation: op, Body: body, Model: h.model, Stream: h.stream && op != llm.OperationEmbeddings && op != llm.OperationCountTokens, IncludeUsage: h.includeUsage}
	return req, members, nil
}

// decodeError describes a scanning error without echoing the body.
func decodeError(err error) error {
	var syntax *jsonscan.SyntaxError
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
