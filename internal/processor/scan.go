package processor

import (
	"errors"
	"fmt"

	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/jsonscan"
)

// head is what routing and accounting read from a request body.
type head struct {
	model        string
	hasModel     bool
	stream       bool
	includeUsage bool
	// typeErrs holds, per field, the type error of its last occurrence.
	typeErrs [numFields]error
}

// The fields scanHead reads, in the order their type errors are reported.
const (
	fieldModel = iota
	fieldStream
	fieldStreamOptions
	fieldIncludeUsage
	numFields
)

var fieldNames = [numFields]string{"model", "stream", "stream_options", "stream_options.include_usage"}

// fieldTypeError is a top-level field of the wrong JSON type.
type fieldTypeError struct {
	field, want string
}

func (e *fieldTypeError) Error() string { return fmt.Sprintf("field %q must be a %s", e.field, e.want) }

var errNotObject = errors.New("request body must be a JSON object")

// scanHead validates body as JSON, in one pass, and reads the top-level
// model, stream and stream_options.include_usage on the way, without
// decoding anything else: a request's prompt can be hundreds of kilobytes,
// and routing needs only these fields. It appends every top-level member to
// members (values alias b), so that later edits of the body (a model
// override, forced usage, body mutations) need no second pass. Its verdicts match encoding/json's
// (FuzzScanHead checks that): invalid JSON is a *jsonscan.SyntaxError, a
// field of the wrong type a *fieldTypeError, a non-object errNotObject. Keys
// match exactly, as the model servers behind the gateway read them
// (encoding/json would also take "Model"); null counts as absent; with
// duplicate keys the last wins.
func scanHead(b []byte, members []jsonobj.Member) (head, []jsonobj.Member, error) {
	var h head
	err := jsonscan.Object(b, func(key string, v []byte) error {
		members = append(members, jsonobj.Member{Key: key, Value: v})
		switch key {
		case "model":
			h.typeErrs[fieldModel] = nil
			h.model, h.hasModel = "", false
			switch v[0] {
			case 'n':
			case '"':
				m, err := jsonscan.Unquote(v)
				if err != nil {
					return err
				}
				h.model, h.hasModel = m, true
			default:
				h.typeErrs[fieldModel] = typeErr(fieldModel, "string")
			}
		case "stream":
			h.typeErrs[fieldStream] = nil
			h.stream = false
			switch string(v) {
			case "true":
				h.stream = true
			case "false", "null":
			default:
				h.typeErrs[fieldStream] = typeErr(fieldStream, "bool")
			}
		case "stream_options":
			h.typeErrs[fieldStreamOptions], h.typeErrs[fieldIncludeUsage] = nil, nil
			h.includeUsage = false
			switch v[0] {
			case 'n':
			case '{':
				return jsonscan.Members(v, func(k string, v []byte) error {
					if k != "include_usage" {
						return nil
					}
					h.typeErrs[fieldIncludeUsage] = nil
					h.includeUsage = false
					switch string(v) {
					case "true":
						h.includeUsage = true
					case "false", "null":
					default:
						h.typeErrs[fieldIncludeUsage] = typeErr(fieldIncludeUsage, "bool")
					}
					return nil
				})
			default:
				h.typeErrs[fieldStreamOptions] = typeErr(fieldStreamOptions, "object")
			}
		}
		return nil
	})
	if errors.Is(err, jsonscan.ErrNotObject) {
		return head{}, nil, errNotObject
	}
	if err != nil {
		return head{}, nil, err
	}
	for _, err := range h.typeErrs {
		if err != nil {
			return head{}, nil, err
		}
	}
	return h, members, nil
}

func typeErr(field int, want string) error {
	return &fieldTypeError{field: fieldNames[field], want: want}
}
