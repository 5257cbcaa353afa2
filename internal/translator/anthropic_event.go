package translator

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/aigw-dev/aigw/internal/apischema/anthropic"
	"github.com/aigw-dev/aigw/internal/jsonscan"
)

// readAnthropicEvent reads a Messages stream event into e as encoding/json
// would (keys matched without regard to ASCII case, null leaving a field
// as it is, a nested object merged into the one already there), with the
// one-pass scanner: the event is validated once and its nested members are
// not validated again. An error means e is not to be used.
func readAnthropicEvent(data []byte, e *anthropic.Event) error {
	return jsonscan.Object(data, func(k string, v []byte) error {
		switch strings.ToLower(k) {
		case "type":
			return unquoteInto(&e.Type, v)
		case "index":
			return intInto(&e.Index, v)
		case "message":
			return intoPointer(v, &e.Message, readAnthropicMessage)
		case "content_block":
			return intoPointer(v, &e.ContentBlock, readAnthropicBlock)
		case "delta":
			return intoPointer(v, &e.Delta, readAnthropicDelta)
		case "usage":
			return intoPointer(v, &e.Usage, readAnthropicUsage)
		case "error":
			return intoPointer(v, &e.Error, readAnthropicError)
		}
		return nil
	})
}

func readAnthropicError(v []byte, e *anthropic.Error) error {
	return jsonscan.Members(v, func(k string, v []byte) error {
		switch strings.ToLower(k) {
		case "type":
			return unquoteInto(&e.Type, v)
		case "message":
			return unquoteInto(&e.Message, v)
		}
		return nil
	})
}

func readAnthropicMessage(v []byte, m *anthropic.Response) error {
	return jsonscan.Members(v, func(k string, v []byte) error {
		switch strings.ToLower(k) {
		case "id":
			return unquoteInto(&m.ID, v)
		case "type":
			return unquoteInto(&m.Type, v)
		case "role":
			return unquoteInto(&m.Role, v)
		case "model":
			return unquoteInto(&m.Model, v)
		case "stop_reason":
			return unquoteInto(&m.StopReason, v)
		case "stop_sequence":
			return optionalStringInto(&m.StopSequence, v)
		case "usage":
			return readAnthropicUsage(v, &m.Usage)
		case "content":
			if string(v) == "[]" { // as encoding/json: emptied, not nil
				if m.Content == nil {
					m.Content = []anthropic.Block{}
				}
				m.Content = m.Content[:0]
				return nil
			}
			return json.Unmarshal(v, &m.Content) // rare in a stream
		}
		return nil
	})
}

func readAnthropicBlock(v []byte, b *anthropic.Block) error {
	return jsonscan.Members(v, func(k string, v []byte) error {
		switch strings.ToLower(k) {
		case "type":
			return unquoteInto(&b.Type, v)
		case "text":
			b.Text = append(b.Text[:0:0], v...)
		case "id":
			return unquoteInto(&b.ID, v)
		case "name":
			return unquoteInto(&b.Name, v)
		case "input":
			b.Input = append(b.Input[:0:0], v...)
		case "thinking":
			return unquoteInto(&b.Thinking, v)
		case "signature":
			return unquoteInto(&b.Signature, v)
		case "data":
			return unquoteInto(&b.Data, v)
		case "source", "tool_use_id", "content", "is_error", "cache_control":
			// Not in a stream's blocks; read as encoding/json does.
			return json.Unmarshal(append(append(append([]byte(`{"`), k...), `":`...), append(v, '}')...), b)
		}
		return nil
	})
}

func readAnthropicDelta(v []byte, d *anthropic.Delta) error {
	return jsonscan.Members(v, func(k string, v []byte) error {
		switch strings.ToLower(k) {
		case "type":
			return unquoteInto(&d.Type, v)
		case "text":
			d.Text = append(d.Text[:0:0], v...)
		case "partial_json":
			return unquoteInto(&d.PartialJSON, v)
		case "thinking":
			return unquoteInto(&d.Thinking, v)
		case "signature":
			return unquoteInto(&d.Signature, v)
		case "stop_reason":
			return unquoteInto(&d.StopReason, v)
		case "stop_sequence":
			return optionalStringInto(&d.StopSequence, v)
		}
		return nil
	})
}

func readAnthropicUsage(v []byte, u *anthropic.Usage) error {
	return jsonscan.Members(v, func(k string, v []byte) error {
		switch strings.ToLower(k) {
		case "input_tokens":
			return int64Into(&u.InputTokens, v)
		case "output_tokens":
			return int64Into(&u.OutputTokens, v)
		case "cache_creation_input_tokens":
			return int64Into(&u.CacheCreationInputTokens, v)
		case "cache_read_input_tokens":
			return int64Into(&u.CacheReadInputTokens, v)
		}
		return nil
	})
}

func isNull(v []byte) bool { return string(v) == "null" }

// unquoteInto decodes the JSON string v into s; null leaves s as it is.
func unquoteInto(s *string, v []byte) error {
	if isNull(v) {
		return nil
	}
	u, err := jsonscan.Unquote(v)
	if err != nil {
		return err
	}
	*s = u
	return nil
}

// optionalStringInto decodes the JSON string v into *s; null makes it nil.
func optionalStringInto(s **string, v []byte) error {
	if isNull(v) {
		*s = nil
		return nil
	}
	u, err := jsonscan.Unquote(v)
	if err != nil {
		return err
	}
	*s = &u
	return nil
}

// int64Into decodes the JSON integer v into n; null leaves n as it is.
func int64Into(n *int64, v []byte) error {
	if isNull(v) {
		return nil
	}
	i, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return err
	}
	*n = i
	return nil
}

func intInto(n *int, v []byte) error {
	if isNull(v) {
		return nil
	}
	i, err := strconv.ParseInt(string(v), 10, 0)
	if err != nil {
		return err
	}
	*n = int(i)
	return nil
}
