package translator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/apischema/anthropic"
	"github.com/aigw-dev/aigw/internal/apischema/openai"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/jsonscan"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/sse"
)

// defaultAnthropicMaxTokens is max_tokens, which Anthropic requires, when
// the client sets neither max_tokens nor max_completion_tokens.
const defaultAnthropicMaxTokens = 4096

// openAIToAnthropic translates OpenAI chat completions to Anthropic's
// Messages API and back, streamed event by event.
type openAIToAnthropic struct {
	prefix string
	opts   Options
	// bedrock, when set, serves Anthropic's models on Amazon Bedrock
	// (AWSAnthropic): InvokeModel with the version in the body, streamed
	// as event-stream messages that each carry one Anthropic event.
	bedrock *bedrockAnthropic
	// vertexVersion, when set, serves Anthropic's models on Vertex AI
	// (GCPAnthropic): rawPredict with this version in the body.
	vertexVersion string

	stream       bool
	includeUsage bool
	status       int
	body         bodyBuffer
	splitter     sse.Splitter
	chatChunks
	usage    llm.Usage
	complete bool
	// toolIndex maps a content block index to its OpenAI tool call index.
	toolIndex map[int]int
	toolCalls int
	// failure is the error event the stream ended with.
	failure error
	// jsonTool, when set, is the tool a JSON response_format is forced
	// through: its input is the response's content. jsonBlock is its
	// content block's index in a stream.
	jsonTool  string
	jsonBlock int
	now       func() time.Time
}

func newOpenAIToAnthropic(op llm.Operation, schema config.Schema, opts Options) (*openAIToAnthropic, error) {
	if op != llm.OperationChat {
		return nil, fmt.Errorf("%w: %s to %s", ErrUnsupported, op, schema.Name)
	}
	t := &openAIToAnthropic{prefix: strings.Trim(schema.Prefix, "/"), opts: opts, now: time.Now}
	if t.prefix == "" {
		t.prefix = "v1"
	}
	switch schema.Name {
	case config.SchemaAWSAnthropic:
		t.bedrock = newBedrockAnthropic(schema, opts)
	case config.SchemaGCPAnthropic:
		t.vertexVersion = vertexAnthropicVersion(schema)
	}
	t.splitter = newSplitter(opts.MaxEventBytes)
	return t, nil
}

// openAIOnly are OpenAI chat fields Anthropic has no counterpart for:
// accepted at their no-op value, refused otherwise.
var openAIOnly = map[string]func(json.RawMessage) bool{
	"n":                  func(v json.RawMessage) bool { return isNullOr(v, "1") },
	"presence_penalty":   func(v json.RawMessage) bool { return isNullOr(v, "0") },
	"frequency_penalty":  func(v json.RawMessage) bool { return isNullOr(v, "0") },
	"logprobs":           func(v json.RawMessage) bool { return isNullOr(v, "false") },
	"top_logprobs":       func(v json.RawMessage) bool { return isNullOr(v, "0") },
	"logit_bias":         func(v json.RawMessage) bool { return isNullOr(v, "{}") },
	"seed":               func(v json.RawMessage) bool { return isNullOr(v) },
	"store":              func(v json.RawMessage) bool { return isNullOr(v, "false") },
	"metadata":           func(v json.RawMessage) bool { return isNullOr(v, "{}") },
	"service_tier":       func(v json.RawMessage) bool { return isNullOr(v, `"auto"`) },
	"modalities":         func(v json.RawMessage) bool { return isNullOr(v, `["text"]`) },
	"audio":              func(v json.RawMessage) bool { return isNullOr(v) },
	"prediction":         func(v json.RawMessage) bool { return isNullOr(v) },
	"functions":          func(v json.RawMessage) bool { return isNullOr(v) },
	"function_call":      func(v json.RawMessage) bool { return isNullOr(v) },
	"web_search_options": func(v json.RawMessage) bool { return isNullOr(v) },
}

// translated are the OpenAI chat fields the translation reads.
var translated = map[string]bool{
	"model": true, "messages": true, "max_tokens": true, "max_completion_tokens": true, "temperature": true,
	"top_p": true, "stop": true, "stream": true, "stream_options": true, "tools": true, "tool_choice": true,
	"parallel_tool_calls": true, "user": true, "response_format": true, "reasoning_effort": true,
}

// thinkingBudgets are Anthropic thinking budgets for OpenAI's
// reasoning_effort (LiteLLM's mapping; 1024 is Anthropic's minimum).
var thinkingBudgets = map[string]int64{"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096}

// jsonToolDefault names the tool a JSON response is forced through when
// the schema has no name.
const jsonToolDefault = "json_response"

// isNullOr reports whether v is null (or absent) or one of the no-op
// values, compared without insignificant white space.
func isNullOr(v json.RawMessage, noop ...string) bool {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return true
	}
	if len(noop) == 0 || len(v) > 256 { // no no-op value is long
		return false
	}
	c := compactJSON(v)
	for _, n := range noop {
		if c == n {
			return true
		}
	}
	return false
}

func compactJSON(v json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return string(v)
	}
	return b.String()
}

// unsupported is the 422 for a field Anthropic cannot honour.
func unsupported(field, why string) error {
	return &apierror.Error{Status: http.StatusUnprocessableEntity, Type: apierror.TypeInvalidRequest, Code: "unsupported_parameter",
		Param: field, Message: fmt.Sprintf("%s: %s", field, why)}
}

// invalid is the 400 for a field that cannot be read.
func invalid(field, why string) error {
	return apierror.InvalidRequest(field, "%s: %s", field, why)
}

// Request implements [Translator.Request].
func (t *openAIToAnthropic) Request(req *llm.Request) (*Upstream, error) {
	in, extras, err := readChat(req, t.opts.Parsed, "Anthropic's Messages API")
	if err != nil {
		return nil, err
	}
	out := anthropic.Request{Model: req.Model, Stream: in.Stream, Temperature: in.Temperature, TopP: in.TopP,
		MaxTokens: maxTokens(in, defaultAnthropicMaxTokens)}
	if t.opts.ModelOverride != "" {
		out.Model = t.opts.ModelOverride
	}
	if in.Temperature != nil && (*in.Temperature < 0 || *in.Temperature > 1) {
		return nil, unsupported("temperature", "Anthropic accepts 0 to 1")
	}
	stop, err := stopSequences(in.Stop)
	if err != nil {
		return nil, err
	}
	out.StopSequences = stop
	if in.User != "" {
		out.Metadata = &anthropic.Metadata{UserID: in.User}
	}
	if err := t.tools(in, &out); err != nil {
		return nil, err
	}
	if err := t.responseFormat(in, &out); err != nil {
		return nil, err
	}
	if err := thinking(in, &out); err != nil {
		return nil, err
	}
	if out.System, out.Messages, err = anthropicMessages(in.Messages); err != nil {
		return nil, err
	}
	t.stream = in.Stream
	t.includeUsage = in.StreamOptions != nil && in.StreamOptions.IncludeUsage
	version := ""
	switch {
	case t.bedrock != nil:
		// The model is in the path, the stream in the operation.
		t.model, version = out.Model, t.bedrock.version
		out.Model, out.Stream = "", false
	case t.vertexVersion != "":
		t.model, version = out.Model, t.vertexVersion // the model is in the path
		out.Model = ""
	}
	body, err := encodeRequest(&out, version)
	if err != nil {
		return nil, fmt.Errorf("encoding the Anthropic request: %w", err)
	}
	if body, err = withExtras(body, extras); err != nil {
		return nil, err
	}
	if t.bedrock != nil {
		return t.bedrock.upstream(t.model, t.stream, body), nil
	}
	if t.vertexVersion != "" {
		return &Upstream{Path: vertexAnthropicPath(t.model, t.stream), Body: body,
			SetHeaders: []config.HeaderValue{{Name: "Content-Type", Value: "application/json"}}}, nil
	}
	return &Upstream{
		Path: "/" + t.prefix + "/messages",
		Body: body,
		SetHeaders: []config.HeaderValue{
			{Name: "Anthropic-Version", Value: anthropic.Version},
			{Name: "Content-Type", Value: "application/json"},
		},
	}, nil
}

// responseFormat asks for JSON the way Anthropic offers it: a tool whose
// input schema is the requested one, forced; its input becomes the
// response's content.
func (t *openAIToAnthropic) responseFormat(in *openai.ChatRequest, out *anthropic.Request) error {
	name, schema, ok, err := jsonResponse(in.ResponseFormat)
	if !ok || err != nil {
		return err
	}
	if len(out.Tools) > 0 {
		return unsupported("response_format", "with Anthropic a JSON response is forced through a tool, which cannot be combined with tools")
	}
	t.jsonTool = name
	out.Tools = []anthropic.Tool{{Name: name, Description: "Respond with JSON that matches this schema.", InputSchema: schema}}
	out.ToolChoice = &anthropic.ToolChoice{Type: "tool", Name: name}
	return nil
}

// thinking maps reasoning_effort to an extended-thinking budget. Anthropic
// requires max_tokens above the budget (the client's max_tokens is then
// left for the answer) and no sampling changes while thinking.
func thinking(in *openai.ChatRequest, out *anthropic.Request) error {
	if in.ReasoningEffort == "" {
		return nil
	}
	budget, ok := thinkingBudgets[in.ReasoningEffort]
	if !ok {
		return invalid("reasoning_effort", fmt.Sprintf("unknown value %q", in.ReasoningEffort))
	}
	if out.Temperature != nil && *out.Temperature != 1 {
		return unsupported("temperature", "Anthropic's extended thinking (reasoning_effort) takes no temperature but 1")
	}
	if out.TopP != nil && (*out.TopP < 0.95 || *out.TopP > 1) {
		return unsupported("top_p", "Anthropic's extended thinking (reasoning_effort) takes top_p from 0.95 to 1")
	}
	if out.ToolChoice != nil && (out.ToolChoice.Type == "any" || out.ToolChoice.Type == "tool") {
		return unsupported("reasoning_effort", "Anthropic's extended thinking cannot be combined with a forced tool (tool_choice, or a JSON response_format)")
	}
	if out.MaxTokens <= budget {
		out.MaxTokens += budget
	}
	out.Thinking = &anthropic.Thinking{Type: "enabled", BudgetTokens: budget}
	return nil
}

// readMessages reads the messages array, a member of a validated parse
// (jsonobj.Parse), without validating it again: each message's role, tool
// call ID and calls are decoded, its content kept raw.
func readMessages(b []byte) ([]openai.Message, error) {
	if len(b) == 0 {
		return nil, invalid("messages", "required")
	}
	msgs := make([]openai.Message, 0, 8)
	err := jsonscan.Elements(b, func(v []byte) error {
		field := func() string { return "messages[" + strconv.Itoa(len(msgs)) + "]" }
		var m openai.Message
		err := jsonscan.Members(v, func(k string, v []byte) error {
			var err error
			switch k {
			case "role":
				m.Role, err = jsonscan.Unquote(v)
			case "content":
				m.Content = v
			case "tool_call_id":
				m.ToolCallID, err = jsonscan.Unquote(v)
			case "name":
				m.Name, err = jsonscan.Unquote(v)
			case "tool_calls":
				if string(v) != "null" {
					err = json.Unmarshal(v, &m.ToolCalls)
				}
			case "thinking_blocks":
				if string(v) != "null" {
					err = json.Unmarshal(v, &m.ThinkingBlocks)
				}
			}
			if err != nil {
				return invalid(field()+"."+k, "has the wrong type")
			}
			return nil
		})
		if errors.Is(err, jsonscan.ErrNotObject) {
			return invalid(field(), "must be an object")
		}
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
		return nil
	})
	if err != nil {
		return nil, arrayError(err, "messages", "must be an array of messages")
	}
	return msgs, nil
}

// encodeRequest writes the Messages request: the conversation by hand, so
// that text goes out as it came in (already valid JSON strings), the small
// fields with encoding/json. A version, when set, goes in the body as
// anthropic_version instead of the model (Bedrock and Vertex AI).
func encodeRequest(r *anthropic.Request, version string) ([]byte, error) {
	rest := *r
	rest.Model, rest.MaxTokens, rest.System, rest.Messages = "", 0, nil, nil
	tail, err := json.Marshal(restFields(&rest))
	if err != nil {
		return nil, err
	}
	size := len(tail) + len(r.Model) + 64
	for _, b := range r.System {
		size += len(b.Text) + 48
	}
	for _, m := range r.Messages {
		size += 32
		for _, b := range m.Content {
			size += len(b.Text) + len(b.Input) + 48
		}
	}
	buf := make([]byte, 0, size)
	if version != "" {
		buf = append(buf, `{"anthropic_version":`...)
		buf = append(buf, jsonString(version)...)
	} else {
		buf = append(buf, `{"model":`...)
		buf = append(buf, jsonString(r.Model)...)
	}
	buf = append(buf, `,"max_tokens":`...)
	buf = strconv.AppendInt(buf, r.MaxTokens, 10)
	if len(r.System) > 0 {
		buf = append(buf, `,"system":`...)
		if buf, err = appendBlocks(buf, r.System); err != nil {
			return nil, err
		}
	}
	buf = append(buf, `,"messages":[`...)
	for i, m := range r.Messages {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendRole(buf, m.Role, `,"content":`)
		if buf, err = appendBlocks(buf, m.Content); err != nil {
			return nil, err
		}
		buf = append(buf, '}')
	}
	buf = append(buf, ']')
	buf = appendTail(buf, tail)
	return buf, nil
}

// restFields is the request without the fields encodeRequest writes by
// hand (their zero values are omitted).
func restFields(r *anthropic.Request) any {
	return struct {
		StopSequences []string              `json:"stop_sequences,omitempty"`
		Temperature   *float64              `json:"temperature,omitempty"`
		TopP          *float64              `json:"top_p,omitempty"`
		Stream        bool                  `json:"stream,omitempty"`
		Tools         []anthropic.Tool      `json:"tools,omitempty"`
		ToolChoice    *anthropic.ToolChoice `json:"tool_choice,omitempty"`
		Metadata      *anthropic.Metadata   `json:"metadata,omitempty"`
		Thinking      *anthropic.Thinking   `json:"thinking,omitempty"`
	}{r.StopSequences, r.Temperature, r.TopP, r.Stream, r.Tools, r.ToolChoice, r.Metadata, r.Thinking}
}

// appendBlocks writes content blocks; text and tool input are copied as
// they are (valid JSON), other blocks encoded.
func appendBlocks(buf []byte, blocks []anthropic.Block) ([]byte, error) {
	buf = append(buf, '[')
	for i := range blocks {
		b := &blocks[i] // not a copy: the default case takes its address
		if i > 0 {
			buf = append(buf, ',')
		}
		switch b.Type {
		case "text":
			buf = append(buf, `{"type":"text","text":`...)
			buf = append(buf, b.Text...)
			if b.CacheControl != nil {
				buf = append(buf, `,"cache_control":`...)
				buf = append(buf, b.CacheControl...)
			}
			buf = append(buf, '}')
		case "tool_use":
			buf = append(buf, `{"type":"tool_use","id":`...)
			buf = append(buf, jsonString(b.ID)...)
			buf = append(buf, `,"name":`...)
			buf = append(buf, jsonString(b.Name)...)
			buf = append(buf, `,"input":`...)
			buf = append(buf, orEmptyObject(b.Input)...)
			buf = append(buf, '}')
		case "tool_result":
			buf = append(buf, `{"type":"tool_result","tool_use_id":`...)
			buf = append(buf, jsonString(b.ToolUseID)...)
			if len(b.Content) > 0 {
				buf = append(buf, `,"content":`...)
				var err error
				if buf, err = appendBlocks(buf, b.Content); err != nil {
					return nil, err
				}
			}
			buf = append(buf, '}')
		default:
			enc, err := json.Marshal(b)
			if err != nil {
				return nil, err
			}
			buf = append(buf, enc...)
		}
	}
	return append(buf, ']'), nil
}

// stopSequences reads stop: a string or an array of strings.
func stopSequences(v json.RawMessage) ([]string, error) {
	if isNullOr(v) || len(v) == 0 {
		return nil, nil
	}
	var one string
	if json.Unmarshal(v, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(v, &many); err != nil {
		return nil, invalid("stop", "must be a string or an array of strings")
	}
	return many, nil
}

// tools translates tools, tool_choice and parallel_tool_calls.
func (t *openAIToAnthropic) tools(in *openai.ChatRequest, out *anthropic.Request) error {
	err := functionTools(in, "Anthropic", func(name, description string, schema json.RawMessage) {
		out.Tools = append(out.Tools, anthropic.Tool{Name: name, Description: description, InputSchema: schema})
	})
	if err != nil {
		return err
	}
	kind, name, err := toolChoice(in.ToolChoice)
	if err != nil {
		return err
	}
	var choice *anthropic.ToolChoice
	switch kind {
	case choiceAuto:
		choice = &anthropic.ToolChoice{Type: "auto"}
	case choiceRequired:
		choice = &anthropic.ToolChoice{Type: "any"}
	case choiceNone:
		choice = &anthropic.ToolChoice{Type: "none"}
	case choiceFunction:
		choice = &anthropic.ToolChoice{Type: "tool", Name: name}
	}
	if in.ParallelToolCalls != nil && !*in.ParallelToolCalls && len(out.Tools) > 0 {
		if choice == nil {
			choice = &anthropic.ToolChoice{Type: "auto"}
		}
		if choice.Type != "none" {
			choice.DisableParallelToolUse = true
		}
	}
	out.ToolChoice = choice
	return nil
}

// anthropicMessages translates the conversation: leading system and
// developer messages become the system prompt; tool results join the user
// turn that follows the assistant's calls; consecutive messages of one
// role are merged, as Anthropic requires turns to alternate.
func anthropicMessages(msgs []openai.Message) ([]anthropic.Block, []anthropic.Message, error) {
	var system []anthropic.Block
	var out []anthropic.Message
	add := func(role string, blocks ...anthropic.Block) {
		if n := len(out); n > 0 && out[n-1].Role == role {
			out[n-1].Content = append(out[n-1].Content, blocks...)
			return
		}
		out = append(out, anthropic.Message{Role: role, Content: blocks})
	}
	for i, m := range msgs {
		field := messageField(i)
		switch m.Role {
		case "system", "developer":
			if len(out) > 0 {
				return nil, nil, unsupported(field+".role", "Anthropic takes system instructions only before the conversation")
			}
			blocks, err := textBlocks(field, m.Content, false)
			if err != nil {
				return nil, nil, err
			}
			system = append(system, blocks...)
		case "user":
			blocks, err := textBlocks(field, m.Content, true)
			if err != nil {
				return nil, nil, err
			}
			if len(blocks) > 0 {
				add("user", blocks...)
			}
		case "assistant":
			text, err := textBlocks(field, m.Content, false)
			if err != nil {
				return nil, nil, err
			}
			// Signed thinking goes back first, as Anthropic returned it.
			blocks := make([]anthropic.Block, 0, len(m.ThinkingBlocks)+len(text)+len(m.ToolCalls))
			for j, tb := range m.ThinkingBlocks {
				switch tb.Type {
				case "thinking":
					blocks = append(blocks, anthropic.Block{Type: "thinking", Thinking: tb.Thinking, Signature: tb.Signature})
				case "redacted_thinking":
					blocks = append(blocks, anthropic.Block{Type: "redacted_thinking", Data: tb.Data})
				default:
					return nil, nil, invalid(fmt.Sprintf("%s.thinking_blocks[%d].type", field, j), fmt.Sprintf("unknown type %q", tb.Type))
				}
			}
			blocks = append(blocks, text...)
			for j, tc := range m.ToolCalls {
				args, err := toolArguments(fmt.Sprintf("%s.tool_calls[%d].function.arguments", field, j), tc.Function.Arguments)
				if err != nil {
					return nil, nil, err
				}
				blocks = append(blocks, anthropic.Block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: args})
			}
			if len(blocks) > 0 {
				add("assistant", blocks...)
			}
		case "tool":
			content, err := textBlocks(field, m.Content, false)
			if err != nil {
				return nil, nil, err
			}
			add("user", anthropic.Block{Type: "tool_result", ToolUseID: m.ToolCallID, Content: content})
		default:
			return nil, nil, unsupported(field+".role", fmt.Sprintf("role %q has no Anthropic equivalent", m.Role))
		}
	}
	if len(out) == 0 {
		return nil, nil, invalid("messages", "Anthropic needs at least one user or assistant message")
	}
	return system, out, nil
}

// textBlocks reads a message's content: a string, or parts (text, and
// images where allowed).
func textBlocks(field string, content json.RawMessage, images bool) ([]anthropic.Block, error) {
	if isNullOr(content) {
		return nil, nil
	}
	if content[0] == '"' { // a string, the common case: copied as it is
		if string(content) == `""` {
			return nil, nil
		}
		return []anthropic.Block{{Type: "text", Text: json.RawMessage(content)}}, nil
	}
	var parts []openai.ContentPart
	if err := json.Unmarshal(content, &parts); err != nil {
		return nil, invalid(field+".content", "must be a string or an array of content parts")
	}
	out := make([]anthropic.Block, 0, len(parts))
	for j, p := range parts {
		pf := fmt.Sprintf("%s.content[%d]", field, j)
		switch {
		case p.Type == "text":
			out = append(out, anthropic.Block{Type: "text", Text: jsonString(p.Text), CacheControl: cacheControl(p.CacheControl)})
		case p.Type == "refusal":
			out = append(out, anthropic.Block{Type: "text", Text: jsonString(p.Refusal)})
		case p.Type == "image_url" && images:
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return nil, invalid(pf+".image_url.url", "required")
			}
			src, err := imageSource(pf, p.ImageURL.URL)
			if err != nil {
				return nil, err
			}
			out = append(out, anthropic.Block{Type: "image", Source: src, CacheControl: cacheControl(p.CacheControl)})
		default:
			return nil, unsupported(pf+".type", fmt.Sprintf("%q content has no Anthropic equivalent here", p.Type))
		}
	}
	return out, nil
}

// cacheControl is a part's cache_control for Anthropic ({"type":
// "ephemeral"}, with its ttl), nil when it has none.
func cacheControl(v json.RawMessage) json.RawMessage {
	if isNullOr(v) {
		return nil
	}
	return v
}

// imageSource reads an image URL: a base64 data URL, or an http(s) URL.
func imageSource(field, u string) (*anthropic.ImageSource, error) {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		mediaType, data, ok := strings.Cut(rest, ";base64,")
		if !ok || mediaType == "" {
			return nil, invalid(field+".image_url.url", "a data URL must be data:<media type>;base64,<data>")
		}
		return &anthropic.ImageSource{Type: "base64", MediaType: mediaType, Data: data}, nil
	}
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return &anthropic.ImageSource{Type: "url", URL: u}, nil
	}
	return nil, invalid(field+".image_url.url", "must be an http(s) or data URL")
}

// ResponseHeaders implements [Translator.ResponseHeaders].
func (t *openAIToAnthropic) ResponseHeaders(status int, h http.Header) error {
	t.status = status
	if t.bedrock != nil {
		t.bedrock.errorType = h.Get("X-Amzn-Errortype")
		t.stream = eventStreamHeaders(status, h, t.stream)
		return nil
	}
	t.stream = rewrittenHeaders(status, h, t.stream)
	return nil
}

// ResponseBody implements [Translator.ResponseBody].
func (t *openAIToAnthropic) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if t.stream {
		t.resetOutput(len(chunk))
		var err error
		if t.bedrock != nil {
			err = t.bedrock.frames.feed(chunk, func(m eventstream.Message) error { return t.bedrock.event(m, t.data) })
		} else {
			err = t.splitter.Feed(chunk, t.event)
		}
		if err == nil {
			err = t.failure
		}
		if err == nil && eos && !t.complete {
			err = errors.New("the Anthropic stream ended before message_stop")
		}
		return t.out, err
	}
	body, done, err := t.body.whole(chunk, eos)
	if !done || err != nil {
		return nil, err
	}
	t.complete = true
	if t.status >= 400 {
		if t.bedrock != nil {
			_, b := apierror.Render(bedrockError(t.status, t.bedrock.errorType, body))
			return b, nil
		}
		return anthropicError(t.status, body), nil
	}
	var resp anthropic.Response
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("reading the Anthropic response: %w", err)
	}
	t.observe(&resp.Usage, resp.Model)
	out := openai.ChatCompletion{ID: resp.ID, Object: "chat.completion", Created: t.now().Unix(), Model: resp.Model}
	msg := &openai.ResponseMessage{Role: "assistant"}
	var text strings.Builder
	hasText := false
	for _, b := range resp.Content {
		switch b.Type {
		case "text":
			s, err := jsonscan.Unquote(b.Text)
			if err != nil {
				return nil, fmt.Errorf("reading the Anthropic response: text: %w", err)
			}
			text.WriteString(s)
			hasText = true
		case "thinking":
			msg.ReasoningContent += b.Thinking
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, openai.ThinkingBlock{Type: "thinking", Thinking: b.Thinking, Signature: b.Signature})
		case "redacted_thinking":
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, openai.ThinkingBlock{Type: "redacted_thinking", Data: b.Data})
		case "tool_use":
			if t.jsonTool != "" && b.Name == t.jsonTool {
				text.Write(orEmptyObject(b.Input)) // the JSON asked for
				hasText = true
				continue
			}
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: b.ID, Type: "function",
				Function: openai.FunctionCall{Name: b.Name, Arguments: string(orEmptyObject(b.Input))}})
		}
	}
	if hasText {
		s := text.String()
		msg.Content = &s
	}
	finish := t.finishReason(resp.StopReason)
	out.Choices = []openai.Choice{{Index: 0, Message: msg, FinishReason: &finish}}
	out.Usage = openAIUsage(t.usage)
	return json.Marshal(&out)
}

func orEmptyObject(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return json.RawMessage(`{}`)
	}
	return v
}

// anthropicError turns an Anthropic error body into OpenAI's shape, keeping
// the provider's message and type.
func anthropicError(status int, body []byte) []byte {
	var e anthropic.ErrorResponse
	out := &apierror.Error{Status: status, Type: apierror.TypeUpstream, Message: "the upstream answered " + strconv.Itoa(status)}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		out.Message = e.Error.Message
		if e.Error.Type != "" {
			out.Type = apierror.Type(e.Error.Type)
		}
	}
	_, b := apierror.Render(out)
	return b
}

// finishReason maps Anthropic's stop reason to OpenAI's finish reason; a
// forced JSON tool's use is the answer, not a tool call.
func (t *openAIToAnthropic) finishReason(stop string) string {
	if stop == "tool_use" && t.jsonTool != "" {
		return "stop"
	}
	switch stop {
	case "max_tokens":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	default: // end_turn, stop_sequence, pause_turn
		return "stop"
	}
}

func (t *openAIToAnthropic) observe(u *anthropic.Usage, model string) {
	if model != "" {
		t.model = model
	}
	addAnthropicUsage(&t.usage, u)
}

// event translates one Anthropic stream event into OpenAI chunks.
func (t *openAIToAnthropic) event(ev []byte) {
	t.data(sse.Data(ev))
}

// data translates one Anthropic stream event's data.
func (t *openAIToAnthropic) data(data []byte) {
	if t.failure != nil || len(data) == 0 {
		return
	}
	if text, ok := textDelta(data); ok {
		t.textChunk(text)
		return
	}
	switch eventType(data) {
	case "ping", "content_block_stop":
		return // nothing for the client
	case "message_stop":
		t.messageStop()
		return
	}
	var e anthropic.Event
	if err := readAnthropicEvent(data, &e); err != nil {
		return // not an event of the protocol
	}
	switch e.Type {
	case "message_start":
		if m := e.Message; m != nil {
			t.id, t.created = m.ID, t.now().Unix()
			t.observe(&m.Usage, m.Model)
		}
		t.roleChunk()
	case "content_block_start":
		if b := e.ContentBlock; b != nil && b.Type == "redacted_thinking" {
			t.chunk(&openai.ResponseMessage{ThinkingBlocks: []openai.ThinkingBlock{{Type: "redacted_thinking", Data: b.Data}}}, nil)
			return
		}
		if b := e.ContentBlock; b != nil && b.Type == "tool_use" {
			if t.jsonTool != "" && b.Name == t.jsonTool {
				t.jsonBlock = e.Index + 1 // its deltas are the content
				return
			}
			if t.toolIndex == nil {
				t.toolIndex = map[int]int{}
			}
			idx := t.toolCalls
			t.toolCalls++
			t.toolIndex[e.Index] = idx
			t.chunk(&openai.ResponseMessage{ToolCalls: []openai.ToolCall{{Index: &idx, ID: b.ID, Type: "function",
				Function: openai.FunctionCall{Name: b.Name}}}}, nil)
		}
	case "content_block_delta":
		d := e.Delta
		if d == nil {
			return
		}
		switch d.Type {
		case "text_delta":
			if len(d.Text) > 0 && d.Text[0] == '"' {
				t.textChunk(d.Text)
			}
		case "thinking_delta":
			t.chunk(&openai.ResponseMessage{ReasoningContent: d.Thinking}, nil)
		case "signature_delta":
			// The thinking block's signature: the client sends the block
			// back with it (thinking_blocks) in the next turn.
			t.chunk(&openai.ResponseMessage{ThinkingBlocks: []openai.ThinkingBlock{{Type: "thinking", Signature: d.Signature}}}, nil)
		case "input_json_delta":
			if t.jsonBlock == e.Index+1 {
				if d.PartialJSON != "" {
					t.textChunk(jsonString(d.PartialJSON))
				}
				return
			}
			idx, ok := t.toolIndex[e.Index]
			if !ok || d.PartialJSON == "" {
				return
			}
			t.chunk(&openai.ResponseMessage{ToolCalls: []openai.ToolCall{{Index: &idx, Function: openai.FunctionCall{Arguments: d.PartialJSON}}}}, nil)
		}
	case "message_delta":
		t.observe(e.Usage, "")
		if d := e.Delta; d != nil && d.StopReason != "" {
			t.finishChunk(t.finishReason(d.StopReason))
		}
	case "error":
		if e.Error != nil {
			t.failure = &apierror.Error{Status: http.StatusBadGateway, Type: apierror.Type(e.Error.Type), Code: "upstream_error",
				Message: "Anthropic: " + e.Error.Message}
		}
	}
}

// messageStop ends the stream: the usage chunk when the client asked for
// it, then [DONE].
func (t *openAIToAnthropic) messageStop() {
	if t.includeUsage {
		t.usageChunk(openAIUsage(t.usage))
	}
	t.done()
	t.complete = true
}

// eventType returns an event's "type" (an empty string when it has none
// or is not JSON), reading no further than that member.
func eventType(data []byte) string {
	var typ string
	_ = jsonscan.Object(data, func(k string, v []byte) error {
		if k != "type" {
			return nil
		}
		typ, _ = jsonscan.Unquote(v)
		return errTypeFound
	})
	return typ
}

var errTypeFound = errors.New("found")

// jsonString encodes s as a JSON string.
func jsonString(s string) json.RawMessage {
	q, _ := json.Marshal(s) // a string always encodes
	return q
}

// textDelta reads a content_block_delta event of text without decoding
// it: the delta's text as its JSON string. It reports false for any other
// event.
func textDelta(data []byte) (json.RawMessage, bool) {
	if text, ok := textDeltaExact(data); ok {
		return text, true
	}
	if !bytes.Contains(data, textDeltaType) {
		return nil, false
	}
	var text json.RawMessage
	isDelta, isText := false, false
	err := jsonscan.Object(data, func(k string, v []byte) error {
		switch k {
		case "type":
			isDelta = string(v) == `"content_block_delta"`
		case "delta":
			return jsonscan.Members(v, func(k string, v []byte) error {
				switch k {
				case "type":
					isText = string(v) == `"text_delta"`
				case "text":
					if len(v) > 0 && v[0] == '"' {
						text = v
					}
				}
				return nil
			})
		}
		return nil
	})
	return text, err == nil && isDelta && isText && text != nil
}

var textDeltaType = []byte(`"text_delta"`)

// The text delta event as Anthropic writes it, compact, around its index
// and text.
var (
	textDeltaPrefix = []byte(`{"type":"content_block_delta","index":`)
	textDeltaMiddle = []byte(`,"delta":{"type":"text_delta","text":`)
)

// textDeltaExact reads a text delta written exactly as Anthropic writes it
// without scanning it member by member: the prefix, the index's digits,
// the delta's head, a valid JSON string and the closing braces. Any other
// spelling reports false (and is read by the scanner).
func textDeltaExact(data []byte) (json.RawMessage, bool) {
	rest, ok := bytes.CutPrefix(data, textDeltaPrefix)
	if !ok {
		return nil, false
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 0 {
		return nil, false
	}
	if rest, ok = bytes.CutPrefix(rest[i:], textDeltaMiddle); !ok {
		return nil, false
	}
	n, err := jsonscan.StringLen(rest)
	if err != nil || string(rest[n:]) != "}}" {
		return nil, false
	}
	return rest[:n], true
}

// Usage implements [Translator.Usage].
func (t *openAIToAnthropic) Usage() llm.Usage { return t.usage }

// ResponseModel implements [Translator.ResponseModel].
func (t *openAIToAnthropic) ResponseModel() string { return t.model }

// Complete implements [Translator.Complete].
func (t *openAIToAnthropic) Complete() bool { return t.complete }
