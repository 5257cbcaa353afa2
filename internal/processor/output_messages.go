package processor

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"

	"github.com/aigw-dev/aigw/internal/tracing"
)

// maxTracedToolCalls bounds the tool calls recorded per output message.
const maxTracedToolCalls = 16

// outputMessage is one message of a response, as OpenInference's
// llm.output_messages.* record it.
type outputMessage struct {
	role    string
	content strings.Builder
	tools   []*outputToolCall
}

type outputToolCall struct {
	id, name string
	args     strings.Builder
}

// outputAssembler rebuilds the messages of a client's response, whole or
// streamed, in the OpenAI chat and the Anthropic Messages schemas: OpenAI
// choices (a message, or deltas by choice index, tool calls by their
// index) and Anthropic content blocks (text, tool use with its streamed
// input).
type outputAssembler struct {
	messages []*outputMessage
	// blockTool maps an Anthropic content block's index to its tool call.
	blockTool map[int]*outputToolCall
}

// outputMessages are the llm.output_messages.* attributes of a response
// body (its captured start), an SSE stream when sse.
func outputMessages(body []byte, sse bool) []attribute.KeyValue {
	var a outputAssembler
	if !sse {
		a.event(body)
		return a.attributes()
	}
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		data, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("data:"))
		if !ok {
			continue
		}
		data = bytes.TrimSpace(data)
		if len(data) > 0 && data[0] == '{' {
			a.event(data) // a cut last event does not parse, and is left out
		}
	}
	return a.attributes()
}

// chatMessage is an OpenAI chat message or delta.
type chatMessage struct {
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	ToolCalls []struct {
		Index    int    `json:"index"`
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// anthropicBlock is an Anthropic content block, or the start of one.
type anthropicBlock struct {
	Type  string          `json:"type"`
	Text  string          `json:"text"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

// event applies one JSON document: a whole response or a stream event.
func (a *outputAssembler) event(data []byte) {
	var v struct {
		// OpenAI
		Choices []struct {
			Index   int          `json:"index"`
			Message *chatMessage `json:"message"`
			Delta   *chatMessage `json:"delta"`
		} `json:"choices"`
		// Anthropic
		Type         string                 `json:"type"`
		Role         string                 `json:"role"`
		Content      []anthropicBlock       `json:"content"`
		Message      *struct{ Role string } `json:"message"`
		Index        int                    `json:"index"`
		ContentBlock *anthropicBlock        `json:"content_block"`
		Delta        *struct {
			Type        string `json:"type"`
			Text        string `json:"text"`
			PartialJSON string `json:"partial_json"`
		} `json:"delta"`
	}
	if json.Unmarshal(data, &v) != nil {
		return
	}
	for _, c := range v.Choices {
		m := c.Message
		if m == nil {
			m = c.Delta
		}
		if out := a.message(c.Index); out != nil && m != nil {
			out.addChat(m)
		}
	}
	switch v.Type {
	case "message": // a whole Anthropic response
		m := a.message(0)
		m.role = v.Role
		for i := range v.Content {
			a.addBlock(m, i, &v.Content[i])
		}
	case "message_start":
		if v.Message != nil {
			a.message(0).role = v.Message.Role
		}
	case "content_block_start":
		if v.ContentBlock != nil {
			a.addBlock(a.message(0), v.Index, v.ContentBlock)
		}
	case "content_block_delta":
		if d := v.Delta; d != nil {
			if d.Type == "input_json_delta" {
				if t := a.blockTool[v.Index]; t != nil {
					appendClipped(&t.args, d.PartialJSON)
				}
			} else {
				appendClipped(&a.message(0).content, d.Text)
			}
		}
	}
}

// message is the output message at choice index i, nil past the bound.
func (a *outputAssembler) message(i int) *outputMessage {
	if i < 0 || i >= maxTracedMessages {
		return nil
	}
	for len(a.messages) <= i {
		a.messages = append(a.messages, &outputMessage{})
	}
	return a.messages[i]
}

func (m *outputMessage) addChat(c *chatMessage) {
	if c.Role != "" {
		m.role = c.Role
	}
	var text string
	if json.Unmarshal(c.Content, &text) == nil {
		appendClipped(&m.content, text)
	}
	for _, tc := range c.ToolCalls {
		t := m.tool(tc.Index)
		if t == nil {
			continue
		}
		if tc.ID != "" {
			t.id = tc.ID
		}
		if tc.Function.Name != "" {
			t.name = tc.Function.Name
		}
		appendClipped(&t.args, tc.Function.Arguments)
	}
}

// tool is the message's tool call at index i, nil past the bound.
func (m *outputMessage) tool(i int) *outputToolCall {
	if i < 0 || i >= maxTracedToolCalls {
		return nil
	}
	for len(m.tools) <= i {
		m.tools = append(m.tools, &outputToolCall{})
	}
	return m.tools[i]
}

func (a *outputAssembler) addBlock(m *outputMessage, index int, b *anthropicBlock) {
	switch b.Type {
	case "text":
		appendClipped(&m.content, b.Text)
	case "tool_use":
		t := m.tool(len(m.tools))
		if t == nil {
			return
		}
		t.id, t.name = b.ID, b.Name
		if len(b.Input) > 0 && string(b.Input) != "{}" {
			appendClipped(&t.args, string(b.Input))
		}
		if a.blockTool == nil {
			a.blockTool = map[int]*outputToolCall{}
		}
		a.blockTool[index] = t
	}
}

// appendClipped appends s to b up to maxTracedContent bytes in all.
func appendClipped(b *strings.Builder, s string) {
	if room := maxTracedContent - b.Len(); room > 0 {
		b.WriteString(tracing.Clip(s, room))
	}
}

func (a *outputAssembler) attributes() []attribute.KeyValue {
	var attrs []attribute.KeyValue
	for i, m := range a.messages {
		prefix := tracing.OIOutputMessagePrefix + strconv.Itoa(i) + ".message."
		if m.role != "" {
			attrs = append(attrs, attribute.String(prefix+"role", tracing.Clip(m.role, tracing.MaxName)))
		}
		if m.content.Len() > 0 {
			attrs = append(attrs, attribute.String(prefix+"content", m.content.String()))
		}
		for j, t := range m.tools {
			tp := prefix + "tool_calls." + strconv.Itoa(j) + ".tool_call."
			if t.id != "" {
				attrs = append(attrs, attribute.String(tp+"id", tracing.Clip(t.id, tracing.MaxName)))
			}
			if t.name != "" {
				attrs = append(attrs, attribute.String(tp+"function.name", tracing.Clip(t.name, tracing.MaxName)))
			}
			if t.args.Len() > 0 {
				attrs = append(attrs, attribute.String(tp+"function.arguments", t.args.String()))
			}
		}
	}
	return attrs
}
