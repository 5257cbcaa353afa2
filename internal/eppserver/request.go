package eppserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aigw-dev/aigw/internal/jsonscan"
)

// parsedRequest is what scheduling needs from a request body, read as
// GAIE's openai-parser does (§6.6 of the GAIE notes): the API is chosen by
// the path's suffix, which also names the field that must be present.
type parsedRequest struct {
	model string
	// modelStart and modelEnd delimit the model's JSON string token in the
	// body, for the rewrite.
	modelStart, modelEnd int
	// prompt is the text prefix hashing runs over: a completion's prompt as
	// plain text, anything else (messages, input, items) as its raw JSON.
	prompt    string
	cacheSalt string
	stream    bool
}

// errBadRequest marks requests the picker answers with 400.
var errBadRequest = errors.New("bad request")

// apiField returns the body field the API at path requires: by suffix, as
// the reference parser; unknown paths are treated as completions.
func apiField(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	switch {
	case strings.HasSuffix(path, "/conversations"):
		return "items"
	case strings.HasSuffix(path, "/responses"):
		return "input"
	case strings.HasSuffix(path, "/chat/completions"):
		return "messages"
	case strings.HasSuffix(path, "/embeddings"):
		return "input"
	default:
		return "prompt"
	}
}

// parseRequest reads body for the API at path; the prompt is kept up to
// promptLimit bytes (what prefix hashing reads). Errors wrap errBadRequest
// and say what is wrong without echoing the body.
func parseRequest(path string, body []byte, promptLimit int) (parsedRequest, error) {
	want := apiField(path)
	var (
		p        parsedRequest
		hasModel bool
		hasField bool
		fieldErr error
	)
	err := jsonscan.Object(body, func(key string, v []byte) error {
		switch key {
		case "model":
			hasModel = false
			if v[0] != '"' {
				return nil
			}
			m, err := jsonscan.Unquote(v)
			if err != nil {
				return err
			}
			p.model, hasModel = m, m != ""
			p.modelStart = offsetIn(body, v)
			p.modelEnd = p.modelStart + len(v)
		case "cache_salt":
			if v[0] == '"' {
				s, err := jsonscan.Unquote(v)
				if err != nil {
					return err
				}
				p.cacheSalt = s
			}
		case "stream":
			p.stream = string(v) == "true"
		case want:
			hasField = string(v) != "null"
			fieldErr = nil
			switch {
			case want == "messages" && (v[0] != '[' || isEmptyArray(v)):
				fieldErr = fmt.Errorf("%w: field %q must be a non-empty array", errBadRequest, want)
			case want == "prompt" && v[0] == '"':
				s, err := jsonscan.Unquote(v)
				if err != nil {
					return err
				}
				p.prompt = s
				return nil
			}
			p.prompt = string(v[:min(len(v), promptLimit)])
		}
		return nil
	})
	switch {
	case errors.Is(err, jsonscan.ErrNotObject):
		return parsedRequest{}, fmt.Errorf("%w: request body must be a JSON object", errBadRequest)
	case err != nil:
		return parsedRequest{}, fmt.Errorf("%w: request body is not valid JSON: %w", errBadRequest, err)
	case !hasModel:
		return parsedRequest{}, fmt.Errorf("%w: model not found in request body", errBadRequest)
	case !hasField:
		return parsedRequest{}, fmt.Errorf("%w: field %q is required for %s", errBadRequest, want, pathOnly(path))
	case fieldErr != nil:
		return parsedRequest{}, fieldErr
	}
	return p, nil
}

// offsetIn returns the offset of sub within b; sub must be a subslice of b
// (jsonscan hands out values that alias the body).
func offsetIn(b, sub []byte) int {
	return cap(b) - cap(sub)
}

func isEmptyArray(v []byte) bool {
	for _, c := range v[1:] {
		switch c {
		case ' ', '\t', '\n', '\r':
		case ']':
			return true
		default:
			return false
		}
	}
	return false
}

func pathOnly(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		return path[:i]
	}
	if path == "" {
		return "/v1/completions"
	}
	return path
}

// withModel returns body with its model string replaced by model.
func withModel(body []byte, p *parsedRequest, model string) []byte {
	quoted, _ := json.Marshal(model) // a string always marshals
	out := make([]byte, 0, len(body)-(p.modelEnd-p.modelStart)+len(quoted))
	out = append(out, body[:p.modelStart]...)
	out = append(out, quoted...)
	return append(out, body[p.modelEnd:]...)
}
