package translator

import (
	"encoding/json"
	"strings"

	"github.com/aigw-dev/aigw/internal/apischema/openai"
	"github.com/aigw-dev/aigw/internal/jsonobj"
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
