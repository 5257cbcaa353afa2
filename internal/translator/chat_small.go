package translator

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/aigw-dev/aigw/internal/apischema/openai"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/jsonscan"
)

// readSmall decodes the small members of a chat request (all but messages
// and tools, members of a validated parse) into in as encoding/json would
// (null leaves a field as it is or clears a pointer, a nested object is
// merged into the one there, its keys matched without regard to ASCII
// case), without reflection. An error names the member.
func readSmall(members []jsonobj.Member, in *openai.ChatRequest) error {
	for _, m := range members {
		if err := readSmallMember(m.Key, m.Value, in); err != nil {
			return invalid(m.Key, err.Error())
		}
	}
	return nil
}

// Errors of readSmall, completed by the member's name.
var (
	errNotString  = errors.New("must be a string")
	errNotInteger = errors.New("must be an integer")
	errNotNumber  = errors.New("must be a number")
	errNotBool    = errors.New("must be true or false")
	errNotObject  = errors.New("must be an object")
)

func readSmallMember(key string, v []byte, in *openai.ChatRequest) error {
	switch key {
	case "model":
		return stringValue(v, &in.Model)
	case "max_tokens":
		return optionalInt(v, &in.MaxTokens)
	case "max_completion_tokens":
		return optionalInt(v, &in.MaxCompletionTokens)
	case "temperature":
		return optionalFloat(v, &in.Temperature)
	case "top_p":
		return optionalFloat(v, &in.TopP)
	case "stop":
		in.Stop = json.RawMessage(v)
	case "stream":
		return boolValue(v, &in.Stream)
	case "stream_options":
		return intoPointer(v, &in.StreamOptions, streamOptions)
	case "tool_choice":
		in.ToolChoice = json.RawMessage(v)
	case "parallel_tool_calls":
		return optionalBool(v, &in.ParallelToolCalls)
	case "user":
		return stringValue(v, &in.User)
	case "response_format":
		return intoPointer(v, &in.ResponseFormat, responseFormat)
	case "reasoning_effort":
		return stringValue(v, &in.ReasoningEffort)
	case "n":
		return optionalInt(v, &in.N)
	case "presence_penalty":
		return optionalFloat(v, &in.PresencePenalty)
	case "frequency_penalty":
		return optionalFloat(v, &in.FrequencyPenalty)
	case "seed":
		return optionalInt(v, &in.Seed)
	case "logprobs":
		return optionalBool(v, &in.Logprobs)
	case "top_logprobs":
		return optionalInt(v, &in.TopLogprobs)
	}
	return nil
}

func streamOptions(v []byte, o *openai.StreamOptions) error {
	return members(v, func(k string, v []byte) error {
		if strings.ToLower(k) == "include_usage" {
			return boolValue(v, &o.IncludeUsage)
		}
		return nil
	})
}

func responseFormat(v []byte, f *openai.ResponseFormat) error {
	return members(v, func(k string, v []byte) error {
		switch strings.ToLower(k) {
		case "type":
			return stringValue(v, &f.Type)
		case "json_schema":
			return intoPointer(v, &f.JSONSchema, jsonSchemaFormat)
		}
		return nil
	})
}

func jsonSchemaFormat(v []byte, s *openai.JSONSchemaFormat) error {
	return members(v, func(k string, v []byte) error {
		switch strings.ToLower(k) {
		case "name":
			return stringValue(v, &s.Name)
		case "schema":
			s.Schema = json.RawMessage(v)
		}
		return nil
	})
}

// members walks an object's members; any other value is errNotObject.
func members(v []byte, member func(k string, v []byte) error) error {
	if len(v) == 0 || v[0] != '{' {
		return errNotObject
	}
	return jsonscan.Members(v, member)
}

func stringValue(v []byte, s *string) error {
	if isNull(v) {
		return nil
	}
	if len(v) == 0 || v[0] != '"' {
		return errNotString
	}
	u, err := jsonscan.Unquote(v)
	if err != nil {
		return errNotString
	}
	*s = u
	return nil
}

func boolValue(v []byte, b *bool) error {
	switch string(v) {
	case "null":
	case "true":
		*b = true
	case "false":
		*b = false
	default:
		return errNotBool
	}
	return nil
}

func optionalBool(v []byte, b **bool) error {
	if isNull(v) {
		*b = nil
		return nil
	}
	var x bool
	if err := boolValue(v, &x); err != nil {
		return err
	}
	*b = &x
	return nil
}

func optionalInt(v []byte, n **int64) error {
	if isNull(v) {
		*n = nil
		return nil
	}
	i, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return errNotInteger
	}
	*n = &i
	return nil
}

func optionalFloat(v []byte, f **float64) error {
	if isNull(v) {
		*f = nil
		return nil
	}
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return errNotNumber // a validated value: no Inf, NaN or hex here
	}
	x, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return errNotNumber
	}
	*f = &x
	return nil
}
