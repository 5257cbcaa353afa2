package translator

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/apischema/openai"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/jsonscan"
	"github.com/aigw-dev/aigw/internal/llm"
)

// readChat reads an OpenAI chat request for a translation to provider: the
// small members decoded together, the messages (most of the body) with the
// one-pass scanner, their text not decoded. OpenAI fields the provider has
// no counterpart for are refused unless at their no-op value (those it
// translates, named in also, are read), as is a message's participant
// name, which none of these providers has; the remaining unknown members
// are returned as vendor fields.
func readChat(req *llm.Request, parsed *jsonobj.Object, provider string, also ...string) (*openai.ChatRequest, []jsonobj.Member, error) {
	obj := parsed
	if obj == nil {
		var err error
		if obj, err = jsonobj.Parse(req.Body); err != nil {
			return nil, nil, invalid("", "request body is not a JSON object")
		}
	}
	var in openai.ChatRequest
	var messages, tools []byte
	rest := make([]jsonobj.Member, 0, len(obj.Members))
	for _, m := range obj.Members {
		switch m.Key {
		case "messages":
			messages = m.Value
		case "tools":
			tools = m.Value
		default:
			rest = append(rest, m)
		}
	}
	extras, err := readChatMembers(rest, &in, provider, also...)
	if err != nil {
		return nil, nil, err
	}
	if in.Tools, err = readTools(tools); err != nil {
		return nil, nil, err
	}
	if in.Messages, err = readMessages(messages); err != nil {
		return nil, nil, err
	}
	for i, m := range in.Messages {
		if m.Name != "" { // refused, not dropped
			return nil, nil, unsupported(messageField(i)+".name", provider+" has no participant names")
		}
	}
	return &in, extras, nil
}

// readChatMembers reads into in a chat request's members other than its
// messages and tools, as readChat does, and returns the vendor fields among
// them.
func readChatMembers(members []jsonobj.Member, in *openai.ChatRequest, provider string, also ...string) ([]jsonobj.Member, error) {
	var extras []jsonobj.Member
	small := make([]jsonobj.Member, 0, len(members))
	for _, m := range members {
		switch ok, known := openAIOnly[m.Key]; {
		case translated[m.Key] || slices.Contains(also, m.Key):
			small = append(small, m)
		case known && !ok(m.Value):
			return nil, unsupported(m.Key, provider+" has no equivalent")
		case known:
		default:
			extras = append(extras, m) // a vendor field
		}
	}
	return extras, readSmall(small, in)
}

// takesChat is implemented by the chat translations that can take a chat
// request already read: the Messages front door hands over the one it
// builds rather than its JSON, which they would parse again.
type takesChat interface {
	// chatRequest is Request for in, the request read, and its other
	// members, read as readChat reads them.
	chatRequest(req *llm.Request, in *openai.ChatRequest, members []jsonobj.Member) (*Upstream, error)
}

// readTools reads the tools array, a member of a validated parse, as
// encoding/json would (keys without regard to ASCII case) but without
// validating it again; the parameters' schemas stay raw.
func readTools(b []byte) ([]openai.Tool, error) {
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	tools := []openai.Tool{} // as encoding/json: [] is empty, not nil
	err := jsonscan.Elements(b, func(v []byte) error {
		var tool openai.Tool
		if string(v) != "null" {
			field := "tools[" + strconv.Itoa(len(tools)) + "]"
			err := jsonscan.Members(v, func(k string, v []byte) error {
				switch strings.ToLower(k) {
				case "type":
					return stringValue(v, &tool.Type)
				case "function":
					if string(v) == "null" {
						return nil
					}
					return jsonscan.Members(v, func(k string, v []byte) error {
						switch strings.ToLower(k) {
						case "name":
							return stringValue(v, &tool.Function.Name)
						case "description":
							return stringValue(v, &tool.Function.Description)
						case "parameters":
							tool.Function.Parameters = v
						}
						return nil
					})
				}
				return nil
			})
			if err != nil {
				return invalid(field, "must be {\"type\":\"function\",\"function\":{\"name\":…,\"parameters\":…}}")
			}
		}
		tools = append(tools, tool)
		return nil
	})
	if err != nil {
		return nil, arrayError(err, "tools", "must be an array of tools")
	}
	return tools, nil
}

// arrayError is the error of a scan over the array member field: a 400
// the scan's callback returned, as it is, else a 400 saying what the
// member must be.
func arrayError(err error, field, must string) error {
	var e *apierror.Error
	if errors.As(err, &e) {
		return err
	}
	return invalid(field, must)
}

// maxTokens is the request's output bound: max_completion_tokens, else
// max_tokens, else def.
func maxTokens(in *openai.ChatRequest, def int64) int64 {
	switch {
	case in.MaxCompletionTokens != nil:
		return *in.MaxCompletionTokens
	case in.MaxTokens != nil:
		return *in.MaxTokens
	default:
		return def
	}
}

// Tool choices of an OpenAI request, as toolChoice reads them.
const (
	choiceNone     = "none"
	choiceAuto     = "auto"
	choiceRequired = "required"
	choiceFunction = "function"
)

// toolChoice reads tool_choice: "" when unset, else one of the choice
// constants, with the function's name for choiceFunction.
func toolChoice(c json.RawMessage) (kind, name string, err error) {
	if len(c) == 0 || isNullOr(c) {
		return "", "", nil
	}
	var s string
	if json.Unmarshal(c, &s) == nil {
		switch s {
		case choiceAuto, choiceRequired, choiceNone:
			return s, "", nil
		default:
			return "", "", invalid("tool_choice", fmt.Sprintf("unknown value %q", s))
		}
	}
	var named struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(c, &named) != nil || named.Type != "function" || named.Function.Name == "" {
		return "", "", invalid("tool_choice", `must be "auto", "required", "none" or {"type":"function","function":{"name":…}}`)
	}
	return choiceFunction, named.Function.Name, nil
}

// functionTools reads the tools, all of which must be functions; a tool
// without parameters takes an empty object.
func functionTools(in *openai.ChatRequest, provider string, each func(name, description string, schema json.RawMessage)) error {
	for i, tool := range in.Tools {
		if tool.Type != "function" {
			return unsupported(fmt.Sprintf("tools[%d].type", i), fmt.Sprintf("%q tools have no %s equivalent", tool.Type, provider))
		}
		schema := tool.Function.Parameters
		if len(schema) == 0 || isNullOr(schema) {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		each(tool.Function.Name, tool.Function.Description, schema)
	}
	return nil
}

// jsonResponse reads a JSON response_format: the schema asked for and the
// name of the tool it is forced through on providers that offer JSON that
// way. It reports false for text.
func jsonResponse(rf *openai.ResponseFormat) (name string, schema json.RawMessage, ok bool, err error) {
	if rf == nil || rf.Type == "" || rf.Type == "text" {
		return "", nil, false, nil
	}
	schema, name = json.RawMessage(`{"type":"object"}`), jsonToolDefault
	switch rf.Type {
	case "json_object":
	case "json_schema":
		if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 || isNullOr(rf.JSONSchema.Schema) {
			return "", nil, false, invalid("response_format.json_schema.schema", "required")
		}
		schema = rf.JSONSchema.Schema
		if rf.JSONSchema.Name != "" {
			name = rf.JSONSchema.Name
		}
	default:
		return "", nil, false, invalid("response_format.type", fmt.Sprintf("unknown type %q", rf.Type))
	}
	return name, schema, true, nil
}

// toolArguments returns an assistant tool call's arguments as a JSON
// object ({} when empty), or a 400 naming the field.
func toolArguments(field, args string) (json.RawMessage, error) {
	b := json.RawMessage(args)
	if len(bytesTrim(b)) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if !json.Valid(b) {
		return nil, invalid(field, "must be JSON")
	}
	return b, nil
}

func bytesTrim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// base64Floats encodes an embedding as OpenAI's base64 format: the
// little-endian float32 values.
func base64Floats(v []float64) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(f)))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// messageFields name the first messages without formatting the name on
// every request (it is needed only for an error).
var messageFields = func() [32]string {
	var names [32]string
	for i := range names {
		names[i] = "messages[" + strconv.Itoa(i) + "]"
	}
	return names
}()

// messageField names the i-th message in an error: "messages[i]".
func messageField(i int) string {
	if i < len(messageFields) {
		return messageFields[i]
	}
	return "messages[" + strconv.Itoa(i) + "]"
}
