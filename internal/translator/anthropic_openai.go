package translator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/apischema/anthropic"
	"github.com/aigw-dev/aigw/internal/apischema/openai"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/jsonscan"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/sse"
)

// anthropicToOpenAI serves Anthropic Messages clients (the /anthropic/v1
// front door) from any backend a chat completion reaches: the request
// becomes a chat completion, which the inner translation sends in the
// backend's schema (as it is to vLLM pools, OpenAI and Azure OpenAI;
// translated again to Bedrock's Converse); the inner translation's chat
// completion becomes a Message, streamed event by event.
type anthropicToOpenAI struct {
	inner Translator
	opts  Options
	// extensions sends what only some chat translations read: signed
	// thinking (thinking_blocks) and cache_control on parts (Bedrock's).
	extensions bool

	stream   bool
	status   int
	body     bodyBuffer
	splitter sse.Splitter
	out      []byte
	complete bool
	// sunk records that the inner translation hands its streamed chunks
	// to the chatSink methods instead of writing them.
	sunk bool

	// Stream state.
	started    bool
	block      int    // index of the next content block
	open       string // type of the open block: "", "thinking", "text" or "tool_use"
	toolBlocks map[int]int
	stop       string
}

// anthropicOnly are Messages fields an OpenAI backend has no counterpart
// for: accepted when unset, refused otherwise.
var anthropicOnly = []string{"container", "mcp_servers", "service_tier", "context_management"}

// messagesFields are the Messages request fields the translation reads.
var messagesFields = map[string]bool{"model": true, "max_tokens": true, "system": true, "messages": true, "stop_sequences": true,
	"temperature": true, "top_p": true, "stream": true, "tools": true, "tool_choice": true, "metadata": true, "thinking": true}

// messagesRequest is the part of a Messages request the translation reads.
type messagesRequest struct {
	Model         string                `json:"model"`
	MaxTokens     *int64                `json:"max_tokens"`
	System        json.RawMessage       `json:"system"`
	Messages      []messagesMessage     `json:"messages"`
	StopSequences []string              `json:"stop_sequences"`
	Temperature   *float64              `json:"temperature"`
	TopP          *float64              `json:"top_p"`
	Stream        bool                  `json:"stream"`
	Tools         []anthropic.Tool      `json:"tools"`
	ToolChoice    *anthropic.ToolChoice `json:"tool_choice"`
	Metadata      *anthropic.Metadata   `json:"metadata"`
	Thinking      *anthropic.Thinking   `json:"thinking"`
}

type messagesMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// decodeMessagesRequest decodes a Messages request whose members obj holds,
// in one pass of the scanner (readMessagesMembers) when it can: anything
// that pass does not take as it is is decoded with the whole body by
// encoding/json, whose errors name the field.
func decodeMessagesRequest(body []byte, obj *jsonobj.Object) (messagesRequest, error) {
	var in messagesRequest
	if readMessagesMembers(obj.Members, &in) != nil {
		in = messagesRequest{}
		err := json.Unmarshal(body, &in)
		return in, err
	}
	return in, nil
}

// messagesMemberNames are the members of a Messages request
// readMessagesMembers reads.
var messagesMemberNames = []string{"model", "max_tokens", "system", "messages", "stop_sequences", "temperature", "top_p", "stream",
	"tools", "tool_choice", "metadata", "thinking"}

// readMessagesMembers reads a Messages request's members into in as
// encoding/json would decode them into messagesRequest: the messages and
// tools in one pass of the scanner (contents and input schemas left raw),
// the scalars by hand, tool_choice, metadata and thinking (small objects)
// with encoding/json. It fails for anything it does not take as it is: a
// value of another kind, a name that only encoding/json's case-insensitive
// match takes, a member given twice (encoding/json decodes the second
// into what the first left).
func readMessagesMembers(members []jsonobj.Member, in *messagesRequest) error {
	var seen uint32
	for _, m := range members {
		i := slices.Index(messagesMemberNames, m.Key)
		if i < 0 {
			if slices.ContainsFunc(messagesMemberNames, func(name string) bool { return strings.EqualFold(m.Key, name) }) {
				return errNotSimple
			}
			continue // a member the translation does not read
		}
		if seen&(1<<i) != 0 {
			return errNotSimple
		}
		seen |= 1 << i
		if err := readMessagesMember(m.Key, m.Value, in); err != nil {
			return err
		}
	}
	return nil
}

// readMessagesMember reads one of messagesMemberNames.
func readMessagesMember(key string, v []byte, in *messagesRequest) error {
	switch key {
	case "model":
		return stringValue(v, &in.Model)
	case "max_tokens":
		return optionalInt(v, &in.MaxTokens)
	case "system":
		in.System = v
		return nil
	case "messages":
		return readMessagesArray(v, &in.Messages)
	case "stop_sequences":
		return stringsValue(v, &in.StopSequences)
	case "temperature":
		return optionalFloat(v, &in.Temperature)
	case "top_p":
		return optionalFloat(v, &in.TopP)
	case "stream":
		return boolValue(v, &in.Stream)
	case "tools":
		return readAnthropicTools(v, &in.Tools)
	case "tool_choice":
		return json.Unmarshal(v, &in.ToolChoice)
	case "metadata":
		return json.Unmarshal(v, &in.Metadata)
	default: // thinking
		return json.Unmarshal(v, &in.Thinking)
	}
}

// readMessagesArray reads the messages, each an object of a string role
// and a content left raw.
func readMessagesArray(v []byte, msgs *[]messagesMessage) error {
	if isNull(v) {
		*msgs = nil
		return nil
	}
	*msgs = []messagesMessage{} // an empty array is not null
	return elements(v, func(el []byte) error {
		var m messagesMessage
		err := jsonscan.Members(el, func(k string, v []byte) error {
			switch k {
			case "content":
				m.Content = v
			case "role":
				return stringValue(v, &m.Role)
			default:
				return errNotSimple
			}
			return nil
		})
		*msgs = append(*msgs, m)
		return err
	})
}

// readAnthropicTools reads the tools, each an object whose input schema
// stays raw.
func readAnthropicTools(v []byte, tools *[]anthropic.Tool) error {
	if isNull(v) {
		*tools = nil
		return nil
	}
	*tools = []anthropic.Tool{}
	return elements(v, func(el []byte) error {
		var tool anthropic.Tool
		if !isNull(el) {
			err := members(el, func(k string, v []byte) error {
				switch k {
				case "name":
					return stringValue(v, &tool.Name)
				case "description":
					return stringValue(v, &tool.Description)
				case "input_schema":
					tool.InputSchema = v
				default:
					if strings.EqualFold(k, "name") || strings.EqualFold(k, "description") || strings.EqualFold(k, "input_schema") {
						return errNotSimple
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		*tools = append(*tools, tool)
		return nil
	})
}

// stringsValue decodes a JSON array of strings into s; null makes it nil.
func stringsValue(v []byte, s *[]string) error {
	if isNull(v) {
		*s = nil
		return nil
	}
	*s = []string{}
	return elements(v, func(el []byte) error {
		var str string
		if err := stringValue(el, &str); err != nil {
			return err
		}
		*s = append(*s, str)
		return nil
	})
}

// errNotSimple ends a one-pass read that leaves the value to encoding/json.
var errNotSimple = errors.New("not read in one pass")

// Request implements [Translator.Request].
func (t *anthropicToOpenAI) Request(req *llm.Request) (*Upstream, error) {
	obj := t.opts.Parsed
	if obj == nil {
		var err error
		if obj, err = jsonobj.Parse(req.Body); err != nil {
			return nil, invalid("", "request body is not a JSON object")
		}
	}
	in, err := decodeMessagesRequest(req.Body, obj)
	if err != nil {
		return nil, invalid("", "request body does not match the Messages schema: "+err.Error())
	}
	var extras []jsonobj.Member
	for _, m := range obj.Members {
		for _, k := range anthropicOnly {
			if m.Key == k && !isNullOr(m.Value) {
				return nil, unsupported(k, "an OpenAI-compatible backend has no equivalent")
			}
		}
		if !messagesFields[m.Key] && !isNullOr(m.Value) {
			extras = append(extras, m) // e.g. top_k, which vLLM reads
		}
	}
	out := chatTail{Model: req.Model, MaxTokens: in.MaxTokens, Stop: in.StopSequences, Temperature: in.Temperature, TopP: in.TopP} // the inner translation applies the override
	if in.Stream {
		out.Stream = true
		out.StreamOptions = &openai.StreamOptions{IncludeUsage: true} // Anthropic's events carry usage
	}
	if in.Metadata != nil {
		out.User = in.Metadata.UserID
	}
	if th := in.Thinking; th != nil && th.Type == "enabled" {
		switch {
		case th.BudgetTokens <= 1024:
			out.ReasoningEffort = "low"
		case th.BudgetTokens <= 8192:
			out.ReasoningEffort = "medium"
		default:
			out.ReasoningEffort = "high"
		}
	}
	if err := openAITools(&in, &out); err != nil {
		return nil, err
	}
	msgs, err := openAIMessages(&in, t.extensions)
	if err != nil {
		return nil, err
	}
	t.stream = in.Stream
	chatReq := &llm.Request{Operation: llm.OperationChat, Method: req.Method, Path: req.Path, Model: req.Model, Stream: in.Stream, IncludeUsage: in.Stream}
	if inner, ok := t.inner.(takesChat); ok {
		// The chat request as the inner translation would read its JSON.
		chat, err := out.chatRequest(msgs)
		if err != nil {
			return nil, err
		}
		return inner.chatRequest(chatReq, chat, extras)
	}
	tail, err := json.Marshal(&out)
	if err != nil {
		return nil, fmt.Errorf("encoding the chat request: %w", err)
	}
	size := len(tail) + 16
	for _, m := range msgs {
		size += len(m.Content) + 32
	}
	body := append(make([]byte, 0, size), `{"messages":[`...)
	for i := range msgs {
		if i > 0 {
			body = append(body, ',')
		}
		if body, err = appendChatMessage(body, &msgs[i]); err != nil {
			return nil, err
		}
	}
	body = appendTail(append(body, ']'), tail)
	if chatReq.Body, err = withExtras(body, extras); err != nil {
		return nil, err
	}
	return t.inner.Request(chatReq)
}

// chatTail is the chat request's members other than its messages, in the
// order of their names.
type chatTail struct {
	MaxTokens         *int64                `json:"max_tokens,omitempty"`
	Model             string                `json:"model"`
	ParallelToolCalls *bool                 `json:"parallel_tool_calls,omitempty"`
	ReasoningEffort   string                `json:"reasoning_effort,omitempty"`
	Stop              []string              `json:"stop,omitempty"`
	Stream            bool                  `json:"stream,omitempty"`
	StreamOptions     *openai.StreamOptions `json:"stream_options,omitempty"`
	Temperature       *float64              `json:"temperature,omitempty"`
	ToolChoice        any                   `json:"tool_choice,omitempty"`
	Tools             []openai.Tool         `json:"tools,omitempty"`
	TopP              *float64              `json:"top_p,omitempty"`
	User              string                `json:"user,omitempty"`
}

// chatRequest is the chat request of msgs and these members, as readChat
// reads it from their JSON.
func (c *chatTail) chatRequest(msgs []openai.Message) (*openai.ChatRequest, error) {
	in := &openai.ChatRequest{Model: c.Model, Messages: msgs, MaxTokens: c.MaxTokens, Temperature: c.Temperature, TopP: c.TopP,
		Stream: c.Stream, StreamOptions: c.StreamOptions, Tools: c.Tools, ParallelToolCalls: c.ParallelToolCalls, User: c.User,
		ReasoningEffort: c.ReasoningEffort}
	var err error
	if len(c.Stop) > 0 {
		if in.Stop, err = json.Marshal(c.Stop); err != nil {
			return nil, fmt.Errorf("encoding the stop sequences: %w", err)
		}
	}
	if c.ToolChoice != nil {
		if in.ToolChoice, err = json.Marshal(c.ToolChoice); err != nil {
			return nil, fmt.Errorf("encoding the tool choice: %w", err)
		}
	}
	return in, nil
}

// openAITools translates tools and tool_choice.
func openAITools(in *messagesRequest, out *chatTail) error {
	for i, tool := range in.Tools {
		if len(tool.InputSchema) == 0 {
			return invalid(fmt.Sprintf("tools[%d].input_schema", i), "required (server tools have no OpenAI equivalent)")
		}
		out.Tools = append(out.Tools, openai.Tool{Type: "function", Function: openai.Function{Name: tool.Name, Description: tool.Description, Parameters: tool.InputSchema}})
	}
	if c := in.ToolChoice; c != nil {
		switch c.Type {
		case "auto":
			out.ToolChoice = "auto"
		case "any":
			out.ToolChoice = "required"
		case "none":
			out.ToolChoice = "none"
		case "tool":
			out.ToolChoice = map[string]any{"type": "function", "function": map[string]string{"name": c.Name}}
		default:
			return invalid("tool_choice.type", fmt.Sprintf("unknown type %q", c.Type))
		}
		if c.DisableParallelToolUse && len(out.Tools) > 0 {
			out.ParallelToolCalls = new(false)
		}
	}
	return nil
}

// openAIMessages translates the system prompt and the turns: a user turn's
// tool results become tool messages, in order, before its other content;
// an assistant turn's tool uses become its tool calls. A turn of text
// alone keeps its content as it came.
func openAIMessages(in *messagesRequest, extensions bool) ([]openai.Message, error) {
	out := make([]openai.Message, 0, len(in.Messages)+1)
	// A turn of text alone, the usual one, is copied as it is (valid JSON).
	plain := func(role string, content json.RawMessage) bool {
		if len(content) <= len(`""`) || content[0] != '"' {
			return false
		}
		out = append(out, openai.Message{Role: role, Content: content})
		return true
	}
	if len(in.System) > 0 && !isNullOr(in.System) && !plain("system", in.System) {
		text, err := blocksText("system", in.System)
		if err != nil {
			return nil, err
		}
		out = append(out, openai.Message{Role: "system", Content: jsonString(text)})
	}
	for i, m := range in.Messages {
		if (m.Role == "user" || m.Role == "assistant") && plain(m.Role, m.Content) {
			continue
		}
		field := messageField(i)
		blocks, err := contentBlocks(field, m.Content)
		if err != nil {
			return nil, err
		}
		switch m.Role {
		case "user":
			var parts []map[string]any
			for j, b := range blocks {
				bf := fmt.Sprintf("%s.content[%d]", field, j)
				switch b.Type {
				case "tool_result":
					text, err := blocksText(bf+".content", b.ResultContent)
					if err != nil {
						return nil, err
					}
					out = append(out, openai.Message{Role: "tool", ToolCallID: b.ToolUseID, Content: jsonString(text)})
				case "text":
					part := map[string]any{"type": "text", "text": b.text}
					if extensions && !isNullOr(b.CacheControl) {
						part["cache_control"] = b.CacheControl
					}
					parts = append(parts, part)
				case "image":
					u, err := imageURL(bf, b.Source)
					if err != nil {
						return nil, err
					}
					parts = append(parts, map[string]any{"type": "image_url", "image_url": map[string]string{"url": u}})
				default:
					return nil, unsupported(bf+".type", fmt.Sprintf("%q content has no OpenAI equivalent", b.Type))
				}
			}
			if len(parts) > 0 {
				content, err := json.Marshal(parts)
				if err != nil {
					return nil, fmt.Errorf("encoding %s: %w", field, err)
				}
				out = append(out, openai.Message{Role: "user", Content: content})
			}
		case "assistant":
			msg := openai.Message{Role: "assistant"}
			var text strings.Builder
			for j, b := range blocks {
				switch b.Type {
				case "text":
					text.WriteString(b.text)
				case "tool_use":
					msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: b.ID, Type: "function", Function: openai.FunctionCall{Name: b.Name, Arguments: string(orEmptyObject(b.Input))}})
				case "thinking", "redacted_thinking":
					// The model's past reasoning: chat completions take none
					// back, but translations to providers that sign it do.
					if extensions {
						msg.ThinkingBlocks = append(msg.ThinkingBlocks, openai.ThinkingBlock{Type: b.Type, Thinking: b.Thinking, Signature: b.Signature, Data: b.Data})
					}
				default:
					return nil, unsupported(fmt.Sprintf("%s.content[%d].type", field, j), fmt.Sprintf("%q content has no OpenAI equivalent", b.Type))
				}
			}
			if text.Len() > 0 {
				msg.Content = jsonString(text.String())
			}
			out = append(out, msg)
		default:
			return nil, invalid(field+".role", fmt.Sprintf("must be user or assistant, not %q", m.Role))
		}
	}
	return out, nil
}

// appendMarshaled writes the member key of an object, its value v encoded
// with encoding/json.
func appendMarshaled(buf []byte, key string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the chat request's %s: %w", key, err)
	}
	buf = append(append(append(buf, ',', '"'), key...), '"', ':')
	return append(buf, b...), nil
}

// appendChatMessage writes a message of openAIMessages as chat JSON: its
// content as it is (valid JSON), its other members when set.
func appendChatMessage(buf []byte, m *openai.Message) ([]byte, error) {
	buf = appendRole(buf, m.Role, "")
	if m.Content != nil {
		buf = append(append(buf, `,"content":`...), m.Content...)
	}
	if m.ToolCallID != "" {
		buf = append(append(buf, `,"tool_call_id":`...), jsonString(m.ToolCallID)...)
	}
	var err error
	if len(m.ToolCalls) > 0 {
		if buf, err = appendMarshaled(buf, "tool_calls", m.ToolCalls); err != nil {
			return nil, err
		}
	}
	if len(m.ThinkingBlocks) > 0 {
		if buf, err = appendMarshaled(buf, "thinking_blocks", m.ThinkingBlocks); err != nil {
			return nil, err
		}
	}
	return append(buf, '}'), nil
}

// block is a decoded Messages content block; a tool result's content (a
// string or blocks) stays raw.
type block struct {
	Type          string                 `json:"type"`
	Text          json.RawMessage        `json:"text"`
	Source        *anthropic.ImageSource `json:"source"`
	ID            string                 `json:"id"`
	Name          string                 `json:"name"`
	Input         json.RawMessage        `json:"input"`
	ToolUseID     string                 `json:"tool_use_id"`
	ResultContent json.RawMessage        `json:"content"`
	Thinking      string                 `json:"thinking"`
	Signature     string                 `json:"signature"`
	Data          string                 `json:"data"`
	CacheControl  json.RawMessage        `json:"cache_control"`
	text          string
}

// contentBlocks decodes a message's content: a string or blocks.
func contentBlocks(field string, content json.RawMessage) ([]block, error) {
	if isNullOr(content) {
		return nil, nil
	}
	if content[0] == '"' {
		s, err := jsonscan.Unquote(content)
		if err != nil {
			return nil, invalid(field+".content", "must be a string or an array of content blocks")
		}
		return []block{{Type: "text", text: s}}, nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(content, &raw); err != nil {
		return nil, invalid(field+".content", "must be a string or an array of content blocks")
	}
	out := make([]block, 0, len(raw))
	for j, r := range raw {
		var b block
		if json.Unmarshal(r, &b) != nil {
			return nil, invalid(fmt.Sprintf("%s.content[%d]", field, j), "is not a content block")
		}
		if b.Type == "text" {
			s, err := jsonscan.Unquote(b.Text)
			if err != nil {
				return nil, invalid(fmt.Sprintf("%s.content[%d].text", field, j), "must be a string")
			}
			b.text = s
		}
		out = append(out, b)
	}
	return out, nil
}

// blocksText is the text of a string or of text blocks (a system prompt, a
// tool result).
func blocksText(field string, v json.RawMessage) (string, error) {
	blocks, err := contentBlocks(strings.TrimSuffix(field, ".content"), v)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for j, bl := range blocks {
		if bl.Type != "text" {
			return "", unsupported(fmt.Sprintf("%s[%d].type", field, j), fmt.Sprintf("%q content has no OpenAI equivalent here", bl.Type))
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(bl.text)
	}
	return b.String(), nil
}

// imageURL is the OpenAI image URL of an Anthropic image source.
func imageURL(field string, src *anthropic.ImageSource) (string, error) {
	switch {
	case src == nil:
		return "", invalid(field+".source", "required")
	case src.Type == "base64":
		return "data:" + src.MediaType + ";base64," + src.Data, nil
	case src.Type == "url":
		return src.URL, nil
	default:
		return "", unsupported(field+".source.type", fmt.Sprintf("%q images have no OpenAI equivalent", src.Type))
	}
}

// ResponseHeaders implements [Translator.ResponseHeaders].
func (t *anthropicToOpenAI) ResponseHeaders(status int, h http.Header) error {
	if err := t.inner.ResponseHeaders(status, h); err != nil {
		return err
	}
	t.status = status
	t.stream = rewrittenHeaders(status, h, t.stream)
	if s, ok := t.inner.(streamsTo); ok && t.stream {
		// The inner translation's chunks come as values: none is
		// written only to be read back.
		s.streamTo(t)
		t.sunk = true
	}
	return nil
}

// ResponseBody implements [Translator.ResponseBody].
func (t *anthropicToOpenAI) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if t.sunk {
		t.out = outputFor(t.out, len(chunk))
		_, err := t.inner.ResponseBody(chunk, eos) // its chunks reach the sink methods
		if err == nil && eos && !t.complete {
			err = fmt.Errorf("the upstream's stream ended before [DONE]")
		}
		return t.out, err
	}
	chat, innerErr := t.inner.ResponseBody(chunk, eos)
	if t.stream {
		t.out = outputFor(t.out, len(chunk))
		err := t.splitter.Feed(chat, t.event)
		switch {
		case innerErr != nil:
			err = innerErr // the events before it still go out
		case err == nil && eos && !t.complete:
			err = fmt.Errorf("the upstream's stream ended before [DONE]")
		}
		return t.out, err
	}
	if innerErr != nil {
		return nil, innerErr
	}
	body, done, err := t.body.whole(chat, eos)
	if !done || err != nil {
		return nil, err
	}
	t.complete = true
	if t.status >= 400 {
		e := &apierror.Error{Status: t.status, Message: "the upstream answered " + http.StatusText(t.status), Format: apierror.FormatAnthropic}
		if m, ok := apierror.MessageOf(body); ok {
			e.Message = m
		}
		_, out := apierror.Render(e)
		return out, nil
	}
	var resp struct {
		ID      string `json:"id"`
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Content          *string                `json:"content"`
				ReasoningContent string                 `json:"reasoning_content"`
				ThinkingBlocks   []openai.ThinkingBlock `json:"thinking_blocks"`
				ToolCalls        []openai.ToolCall      `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage *openai.Usage `json:"usage"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || len(resp.Choices) == 0 {
		return nil, fmt.Errorf("reading the upstream's chat completion: %v", err)
	}
	c := resp.Choices[0]
	msg := anthropic.Response{ID: resp.ID, Type: "message", Role: "assistant", Model: resp.Model, StopReason: stopReason(c.FinishReason), Usage: t.anthropicUsage()}
	switch {
	case len(c.Message.ThinkingBlocks) > 0:
		for _, tb := range c.Message.ThinkingBlocks {
			msg.Content = append(msg.Content, anthropic.Block{Type: tb.Type, Thinking: tb.Thinking, Signature: tb.Signature, Data: tb.Data})
		}
	case c.Message.ReasoningContent != "":
		msg.Content = append(msg.Content, anthropic.Block{Type: "thinking", Thinking: c.Message.ReasoningContent})
	}
	if c.Message.Content != nil && *c.Message.Content != "" {
		msg.Content = append(msg.Content, anthropic.Block{Type: "text", Text: jsonString(*c.Message.Content)})
	}
	for _, tc := range c.Message.ToolCalls {
		msg.Content = append(msg.Content, anthropic.Block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: toolInput(tc.Function.Arguments)})
	}
	if msg.Content == nil {
		msg.Content = []anthropic.Block{}
	}
	return json.Marshal(&msg)
}

// toolInput is a call's arguments as a JSON object ({} when they are not
// one: Anthropic requires an object).
func toolInput(args string) json.RawMessage {
	b := bytes.TrimSpace([]byte(args))
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return json.RawMessage(`{}`)
	}
	return b
}

// stopReason maps OpenAI's finish reason to Anthropic's stop reason.
func stopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	default:
		return "end_turn"
	}
}

func (t *anthropicToOpenAI) anthropicUsage() anthropic.Usage {
	u := t.inner.Usage()
	return anthropic.Usage{InputTokens: u.InputTokens - u.CachedInputTokens, OutputTokens: u.OutputTokens, CacheReadInputTokens: u.CachedInputTokens}
}

// event translates one chat completion chunk into Messages events.
func (t *anthropicToOpenAI) event(ev []byte) {
	data := sse.Data(ev)
	if len(data) == 0 {
		return
	}
	if string(data) == "[DONE]" {
		t.finish()
		return
	}
	if c, ok := readPlainChunk(data); ok {
		if !t.started {
			t.chatStart(c.id, c.model)
		}
		t.chatText(c.text)
		t.chatFinish(c.finish)
		return
	}
	var c chatChunk
	if json.Unmarshal(data, &c) != nil {
		return
	}
	if !t.started {
		t.chatStart(c.ID, c.Model)
	}
	for i := range c.Choices {
		t.choice(&c.Choices[i].Delta, c.Choices[i].FinishReason)
	}
}

// choice translates a choice's delta and finish reason into events.
func (t *anthropicToOpenAI) choice(d *chunkDelta, finish *string) {
	if r := d.ReasoningContent; r != "" {
		if t.open != "thinking" {
			t.openBlock("thinking", map[string]any{"type": "thinking", "thinking": ""})
		}
		t.emit("content_block_delta", map[string]any{"type": "content_block_delta", "index": t.block - 1,
			"delta": map[string]string{"type": "thinking_delta", "thinking": r}})
	}
	for _, tb := range d.ThinkingBlocks {
		switch {
		case tb.Type == "redacted_thinking":
			t.openBlock("redacted_thinking", map[string]any{"type": "redacted_thinking", "data": tb.Data})
		case tb.Signature != "":
			if t.open != "thinking" {
				t.openBlock("thinking", map[string]any{"type": "thinking", "thinking": ""})
			}
			t.emit("content_block_delta", map[string]any{"type": "content_block_delta", "index": t.block - 1,
				"delta": map[string]string{"type": "signature_delta", "signature": tb.Signature}})
		}
	}
	if s := d.Content; s != nil && *s != "" {
		if t.open != "text" {
			t.openTextBlock()
		}
		t.emit("content_block_delta", map[string]any{"type": "content_block_delta", "index": t.block - 1,
			"delta": map[string]string{"type": "text_delta", "text": *s}})
	}
	for _, tc := range d.ToolCalls {
		idx := 0
		if tc.Index != nil {
			idx = *tc.Index
		}
		if _, seen := t.toolBlocks[idx]; !seen {
			if t.toolBlocks == nil {
				t.toolBlocks = map[int]int{}
			}
			t.openBlock("tool_use", map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Function.Name, "input": map[string]any{}})
			t.toolBlocks[idx] = t.block - 1
		}
		if tc.Function.Arguments != "" {
			t.emit("content_block_delta", map[string]any{"type": "content_block_delta", "index": t.toolBlocks[idx],
				"delta": map[string]string{"type": "input_json_delta", "partial_json": tc.Function.Arguments}})
		}
	}
	if finish != nil && *finish != "" {
		t.stop = stopReason(*finish)
	}
}

// chatStart implements [chatSink]: the message starts.
func (t *anthropicToOpenAI) chatStart(id, model string) {
	t.started = true
	t.emit("message_start", map[string]any{"type": "message_start", "message": anthropic.Response{
		ID: id, Type: "message", Role: "assistant", Model: model, Content: []anthropic.Block{}, Usage: t.anthropicUsage()}})
}

// chatText implements [chatSink].
func (t *anthropicToOpenAI) chatText(text json.RawMessage) {
	if len(text) > len(`""`) {
		if t.open != "text" {
			t.openTextBlock()
		}
		t.textDelta(text)
	}
}

// chatFinish implements [chatSink].
func (t *anthropicToOpenAI) chatFinish(reason string) {
	if reason != "" {
		t.stop = stopReason(reason)
	}
}

// chatChunk implements [chatSink].
func (t *anthropicToOpenAI) chatChunk(c *openai.ChatCompletion) {
	for _, ch := range c.Choices {
		var d chunkDelta
		if m := ch.Delta; m != nil {
			d = chunkDelta{Content: m.Content, ReasoningContent: m.ReasoningContent, ThinkingBlocks: m.ThinkingBlocks, ToolCalls: m.ToolCalls}
		}
		t.choice(&d, ch.FinishReason)
	}
}

// chatDone implements [chatSink].
func (t *anthropicToOpenAI) chatDone() { t.finish() }

// textDelta writes the content_block_delta of text (its JSON string) to
// the open text block, the most frequent event, without decoding or
// encoding the text.
func (t *anthropicToOpenAI) textDelta(text json.RawMessage) {
	t.out = append(t.out, `event: content_block_delta`+"\n"+`data: {"type":"content_block_delta","index":`...)
	t.out = strconv.AppendInt(t.out, int64(t.block-1), 10)
	t.out = append(t.out, `,"delta":{"type":"text_delta","text":`...)
	t.out = append(t.out, text...)
	t.out = append(t.out, "}}\n\n"...)
}

// chatChunk is what the Messages events are made of in a
// chat.completion.chunk.
type chatChunk struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Delta        chunkDelta `json:"delta"`
		FinishReason *string    `json:"finish_reason"`
	} `json:"choices"`
	Usage *openai.Usage `json:"usage"`
}

// chunkDelta is what the Messages events are made of in a chunk's delta.
type chunkDelta struct {
	Content          *string                `json:"content"`
	ReasoningContent string                 `json:"reasoning_content"`
	ThinkingBlocks   []openai.ThinkingBlock `json:"thinking_blocks"`
	ToolCalls        []openai.ToolCall      `json:"tool_calls"`
}

// plainChunk is a chat.completion.chunk read in one pass: its ID and
// model, its choice's text (a JSON string, as it came) and finish reason.
type plainChunk struct {
	id, model string
	text      json.RawMessage
	finish    string
}

// readPlainChunk reads a chat.completion.chunk whose only news is text or
// a finish reason, in one pass: no choice, or one whose delta holds a
// content string and a role at most, with null logprobs, and null usage. It
// reports false for any other chunk (a member it does not know in a choice
// or a delta, or one encoding/json would refuse to decode into chatChunk,
// included), which encoding/json then reads as chatChunk.
func readPlainChunk(data []byte) (plainChunk, bool) {
	var c plainChunk
	choices, other := 0, false
	err := jsonscan.Walk(data, func(v jsonscan.Value) error {
		return v.Object(func(k []byte, v jsonscan.Value) error {
			switch string(k) {
			case "choices":
				c.text, c.finish, choices = nil, "", 0 // a later "choices" replaces an earlier one
				return v.Array(func(v jsonscan.Value) error {
					choices++
					return c.readChoice(v, &other)
				})
			case "id":
				return plainString(v, &c.id, &other)
			case "model":
				return plainString(v, &c.model, &other)
			}
			// What encoding/json would decode into chatChunk, names
			// matched regardless of case.
			switch {
			case bytes.EqualFold(k, []byte("id")), bytes.EqualFold(k, []byte("model")):
				other = true
				return nil
			case bytes.EqualFold(k, []byte("usage")):
				raw, err := v.Raw()
				other = other || err == nil && !isNull(raw)
				return err
			case bytes.EqualFold(k, []byte("choices")):
				other = true
			}
			return nil // object, created, system_fingerprint, …
		})
	})
	return c, err == nil && !other && choices <= 1
}

// plainString reads a string member into s as encoding/json would: null
// leaves it as it is; another kind of value sets other.
func plainString(v jsonscan.Value, s *string, other *bool) error {
	raw, err := v.Raw()
	switch {
	case err != nil:
		return err
	case raw[0] == '"':
		*s, err = jsonscan.Unquote(raw)
	case !isNull(raw):
		*other = true
	}
	return err
}

// readChoice reads a choice of a chunk into c, setting other when it holds
// more than text and a finish reason.
func (c *plainChunk) readChoice(v jsonscan.Value, other *bool) error {
	return v.Object(func(k []byte, v jsonscan.Value) error {
		if string(k) == "delta" {
			return v.Object(func(k []byte, v jsonscan.Value) error {
				raw, err := v.Raw()
				switch {
				case err != nil:
				case string(k) == "content" && raw[0] == '"':
					c.text = raw
				case string(k) != "role":
					*other = true
				}
				return err
			})
		}
		raw, err := v.Raw()
		if err != nil {
			return err
		}
		switch string(k) {
		case "finish_reason":
			switch {
			case isNull(raw):
				c.finish = ""
			case raw[0] == '"':
				c.finish, err = jsonscan.Unquote(raw)
			default:
				*other = true
			}
		case "logprobs":
			*other = *other || !isNull(raw)
		case "index":
		default:
			*other = true
		}
		return err
	})
}

// openTextBlock closes the open content block and starts a text block.
func (t *anthropicToOpenAI) openTextBlock() {
	t.closeBlock()
	t.out = append(t.out, `event: content_block_start`+"\n"+`data: {"type":"content_block_start","index":`...)
	t.out = strconv.AppendInt(t.out, int64(t.block), 10)
	t.out = append(t.out, `,"content_block":{"type":"text","text":""}}`+"\n\n"...)
	t.block++
	t.open = "text"
}

// openBlock closes the open content block and starts the next.
func (t *anthropicToOpenAI) openBlock(typ string, content map[string]any) {
	t.closeBlock()
	t.emit("content_block_start", map[string]any{"type": "content_block_start", "index": t.block, "content_block": content})
	t.block++
	t.open = typ
}

func (t *anthropicToOpenAI) closeBlock() {
	if t.open != "" {
		t.out = append(t.out, `event: content_block_stop`+"\n"+`data: {"type":"content_block_stop","index":`...)
		t.out = strconv.AppendInt(t.out, int64(t.block-1), 10)
		t.out = append(t.out, "}\n\n"...)
		t.open = ""
	}
}

// finish ends the message at the chunk stream's [DONE].
func (t *anthropicToOpenAI) finish() {
	if !t.started {
		t.started = true
		t.emit("message_start", map[string]any{"type": "message_start", "message": anthropic.Response{
			Type: "message", Role: "assistant", Content: []anthropic.Block{}, Usage: t.anthropicUsage()}})
	}
	t.closeBlock()
	if t.stop == "" {
		t.stop = "end_turn"
	}
	u := t.anthropicUsage()
	// Written by hand: the stop reason is one of stopReason's.
	t.out = append(t.out, `event: message_delta`+"\n"+`data: {"type":"message_delta","delta":{"stop_reason":"`...)
	t.out = append(t.out, t.stop...)
	t.out = append(t.out, `","stop_sequence":null},"usage":{"input_tokens":`...)
	t.out = strconv.AppendInt(t.out, u.InputTokens, 10)
	t.out = append(t.out, `,"output_tokens":`...)
	t.out = strconv.AppendInt(t.out, u.OutputTokens, 10)
	t.out = append(t.out, `,"cache_read_input_tokens":`...)
	t.out = strconv.AppendInt(t.out, u.CacheReadInputTokens, 10)
	t.out = append(t.out, "}}\n\n"...)
	t.out = append(t.out, `event: message_stop`+"\n"+`data: {"type":"message_stop"}`+"\n\n"...)
	t.complete = true
}

// emit writes one Messages event.
func (t *anthropicToOpenAI) emit(typ string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	t.out = append(t.out, "event: "...)
	t.out = append(t.out, typ...)
	t.out = append(t.out, "\ndata: "...)
	t.out = append(t.out, b...)
	t.out = append(t.out, '\n', '\n')
}

// Usage implements [Translator.Usage].
func (t *anthropicToOpenAI) Usage() llm.Usage { return t.inner.Usage() }

// ResponseModel implements [Translator.ResponseModel].
func (t *anthropicToOpenAI) ResponseModel() string { return t.inner.ResponseModel() }

// Complete implements [Translator.Complete].
func (t *anthropicToOpenAI) Complete() bool { return t.complete }
