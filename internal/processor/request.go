package processor

import (
	"encoding/json"
	"strings"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/apischema/openai"
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
	var head openai.RequestHead
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, apierror.InvalidRequest("", "request body is not valid JSON: %s", jsonErrorText(err))
	}
	if head.Model == nil || *head.Model == "" {
		return nil, apierror.InvalidRequest("model", "the request has no model; set the \"model\" field")
	}
	req := &translator.Request{Operation: op, Body: body, Model: *head.Model, Stream: head.Stream}
	if op == translator.OperationEmbeddings {
		req.Stream = false
	}
	if head.StreamOptions != nil {
		req.IncludeUsage = head.StreamOptions.IncludeUsage
	}
	return req, nil
}

// jsonErrorText describes a decoding error without echoing the body.
func jsonErrorText(err error) string {
	switch e := err.(type) { //nolint:errorlint // the concrete types are what json returns
	case *json.SyntaxError:
		return e.Error() + " at byte " + itoa(e.Offset)
	case *json.UnmarshalTypeError:
		field := e.Field
		if field == "" {
			return "expected a JSON object"
		}
		return "field \"" + field + "\" must be a " + strings.TrimPrefix(e.Type.String(), "*")
	default:
		return "malformed JSON"
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
