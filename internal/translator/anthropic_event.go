package translator

import (
	"encoding/json"
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
			return stringValue(v, &e.Type)
		case "index":
			return intValue(v, &e.Index)
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
			return stringValue(v, &e.Type)
		case "message":
			return stringValue(v, &e.Message)
		}
		return nil
	})
}

func readAnthropicMessage(v []byte, m *anthropic.Response) error {
	return jsonscan.Members(v, func(k string, v []byte) error {
		switch strings.ToLower(k) {
		case "id":
			return stringValue(v, &m.ID)
		case "type":
			return stringValue(v, &m.Type)
		case "role":
			return stringValue(v, &m.Role)
		case "model":
			return stringValue(v, &m.Model)
		case "stop_reason":
			return stringValue(v, &m.StopReason)
		case "stop_sequence":
			return optionalString(v, &m.StopSequence)
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
			return stringValue(v, &b.Type)
		case "text":
			b.Text = append(b.Text[:0:0], v...)
		case "id":
			return stringValue(v, &b.ID)
		case "name":
			return stringValue(v, &b.Name)
		case "input":
			b.Input = append(b.Input[:0:0], v...)
		case "thinking":
			return stringValue(v, &b.Thinking)
		case "signature":
			return stringValue(v, &b.Signature)
		case "data":
			return stringValue(v, &b.Data)
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
			return stringValue(v, &d.Type)
		case "text":
			d.Text = append(d.Text[:0:0], v...)
		case "partial_json":
			return stringValue(v, &d.PartialJSON)
		case "thinking":
			return stringValue(v, &d.Thinking)
		case "signature":
			return stringValue(v, &d.Signature)
		case "stop_reason":
			return stringValue(v, &d.StopReason)
		case "stop_sequence":
			return optionalString(v, &d.StopSequence)
		}
		return nil
	})
}

func readAnthropicUsage(v []byte, u *anthropic.Usage) error {
	return jsonscan.Members(v, func(k string, v []byte) error {
		switch strings.ToLower(k) {
		case "input_tokens":
			return int64Value(v, &u.InputTokens)
		case "output_tokens":
			return int64Value(v, &u.OutputTokens)
		case "cache_creation_input_tokens":
			return int64Value(v, &u.CacheCreationInputTokens)
		case "cache_read_input_tokens":
			return int64Value(v, &u.CacheReadInputTokens)
		}
		return nil
	})
}
