package processor

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"

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
	case "/v1/responses":
		return llm.OperationResponses, true
	case "/v1/responses/input_tokens":
		return llm.OperationResponsesInputTokens, true
	case "/v1/images/generations":
		return llm.OperationImageGeneration, true
	case "/v1/audio/speech":
		return llm.OperationSpeech, true
	case "/v1/audio/transcriptions":
		return llm.OperationTranscription, true
	case "/v1/audio/translations":
		return llm.OperationTranslation, true
	case "/cohere/v2/rerank":
		return llm.OperationRerank, true
	default:
		return "", false
	}
}

// ParseRequest reads what routing and accounting need from a client body:
// it must be a JSON object with a non-empty string model. The returned
// error is an *apierror.Error (400).
func ParseRequest(op llm.Operation, contentType string, body []byte) (*llm.Request, error) {
	req, _, err := parseRequest(op, contentType, body, nil)
	return req, err
}

// parseRequest is ParseRequest in the one pass that also appends the
// body's top-level members to members (see scanHead).
func parseRequest(op llm.Operation, contentType string, body []byte, members []jsonobj.Member) (*llm.Request, []jsonobj.Member, error) {
	if op.Multipart() {
		req, err := parseMultipart(op, contentType, body)
		return req, members, err
	}
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
	req := &llm.Request{Operation: op, Body: body, ContentType: contentType, Model: h.model, IncludeUsage: h.includeUsage,
		Stream: h.stream && op != llm.OperationEmbeddings && op != llm.OperationCountTokens && op != llm.OperationResponsesInputTokens && op != llm.OperationRerank}
	return req, members, nil
}

// maxFormValue bounds the form fields a multipart body is routed by.
const maxFormValue = 1 << 10

// parseMultipart reads the model and stream fields of a multipart/form-data
// body (an audio upload); the file parts are skipped.
func parseMultipart(op llm.Operation, contentType string, body []byte) (*llm.Request, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, apierror.InvalidRequest("", "the request body must be multipart/form-data with a boundary")
	}
	req := &llm.Request{Operation: op, Body: body, ContentType: contentType}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, apierror.InvalidRequest("", "the multipart body is malformed: %v", err)
		}
		name := part.FormName()
		if name != "model" && name != "stream" {
			continue // NextPart skips the rest of this part
		}
		v, err := io.ReadAll(io.LimitReader(part, maxFormValue+1))
		if err != nil || len(v) > maxFormValue {
			return nil, apierror.InvalidRequest(name, "field %q is malformed or too long", name)
		}
		switch name {
		case "model":
			req.Model = string(v)
		case "stream":
			req.Stream = string(v) == "true"
		}
	}
	if req.Model == "" {
		return nil, apierror.InvalidRequest("model", "the request has no model; set the \"model\" form field")
	}
	return req, nil
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
