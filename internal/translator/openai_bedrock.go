package translator

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/apischema/bedrock"
	"github.com/aigw-dev/aigw/internal/apischema/openai"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/jsonscan"
	"github.com/aigw-dev/aigw/internal/llm"
)

// eventStreamType is the content type of an AWS event stream.
const eventStreamType = "application/vnd.amazon.eventstream"

// openAIToBedrock translates OpenAI chat completions to Amazon Bedrock's
// Converse API and back; ConverseStream's event-stream messages become
// chunks one by one.
type openAIToBedrock struct {
	opts Options

	stream       bool
	includeUsage bool
	status       int
	errorType    string
	requestID    string
	body         bodyBuffer
	frames       frames
	chatChunks
	usage    llm.Usage
	complete bool

	// Stream state.
	started   bool
	stopped   bool
	toolIndex map[int]int
	toolCalls int
	failure   error
	// jsonTool, when set, is the tool a JSON response_format is forced
	// through; jsonBlock is its content block's index + 1 in a stream.
	jsonTool  string
	jsonBlock int
	now       func() time.Time
}

func newOpenAIToBedrock(op llm.Operation, schema config.Schema, opts Options) (Translator, error) {
	switch op {
	case llm.OperationChat:
		return &openAIToBedrock{opts: opts, frames: newFrames(opts.MaxEventBytes, opts.HeaderBlocks), now: time.Now}, nil
	case llm.OperationEmbeddings:
		return &openAIToTitan{opts: opts}, nil
	default:
		return nil, fmt.Errorf("%w: %s to %s", ErrUnsupported, op, schema.Name)
	}
}

// Request implements [Translator.Request].
func (t *openAIToBedrock) Request(req *llm.Request) (*Upstream, error) {
	in, extras, err := readChat(req, t.opts.Parsed, converseProvider)
	if err != nil {
		return nil, err
	}
	return t.request(req, in, extras)
}

// converseProvider names Converse in the errors of what it cannot do.
const converseProvider = "Bedrock's Converse API"

// chatRequest implements [takesChat].
func (t *openAIToBedrock) chatRequest(req *llm.Request, in *openai.ChatRequest, members []jsonobj.Member) (*Upstream, error) {
	extras, err := readChatMembers(members, in, converseProvider)
	if err != nil {
		return nil, err
	}
	return t.request(req, in, extras)
}

// request translates a chat request read, with its vendor fields.
func (t *openAIToBedrock) request(req *llm.Request, in *openai.ChatRequest, extras []jsonobj.Member) (*Upstream, error) {
	var err error
	t.model = req.Model
	if t.opts.ModelOverride != "" {
		t.model = t.opts.ModelOverride
	}
	var out bedrock.ConverseRequest
	ic := bedrock.InferenceConfig{Temperature: in.Temperature, TopP: in.TopP}
	if n := maxTokens(in, 0); n > 0 {
		ic.MaxTokens = &n
	}
	if ic.StopSequences, err = stopSequences(in.Stop); err != nil {
		return nil, err
	}
	if in.User != "" && metadataValue(in.User) {
		out.RequestMetadata = map[string]string{"user": in.User}
	}
	if out.System, out.Messages, err = bedrockMessages(in.Messages); err != nil {
		return nil, err
	}
	if err := t.tools(in, &out); err != nil {
		return nil, err
	}
	fields := map[string]json.RawMessage{}
	if err := bedrockReasoning(in, t.model, &ic, out.ToolConfig, fields); err != nil {
		return nil, err
	}
	for _, m := range extras {
		fields[m.Key] = m.Value // a vendor field, for the model
	}
	if len(fields) > 0 {
		if out.AdditionalModelRequestFields, err = json.Marshal(fields); err != nil {
			return nil, fmt.Errorf("encoding the model's fields: %w", err)
		}
	}
	if ic.MaxTokens != nil || ic.Temperature != nil || ic.TopP != nil || len(ic.StopSequences) > 0 {
		out.InferenceConfig = &ic
	}
	t.stream = in.Stream
	t.includeUsage = in.StreamOptions != nil && in.StreamOptions.IncludeUsage
	body, err := encodeConverse(&out)
	if err != nil {
		return nil, fmt.Errorf("encoding the Converse request: %w", err)
	}
	op := bedrock.OperationConverse
	if t.stream {
		op = bedrock.OperationConverseStream
	}
	return &Upstream{Path: bedrockPath(t.model, op), Body: body,
		SetHeaders: []config.HeaderValue{{Name: "Content-Type", Value: "application/json"}}}, nil
}

// encodeConverse writes the Converse request: the conversation and system
// prompt by hand, so that text goes out as it came in (already valid JSON
// strings), the small fields with encoding/json.
func encodeConverse(r *bedrock.ConverseRequest) ([]byte, error) {
	tail, err := json.Marshal(struct {
		InferenceConfig              *bedrock.InferenceConfig `json:"inferenceConfig,omitempty"`
		ToolConfig                   *bedrock.ToolConfig      `json:"toolConfig,omitempty"`
		AdditionalModelRequestFields json.RawMessage          `json:"additionalModelRequestFields,omitempty"`
		RequestMetadata              map[string]string        `json:"requestMetadata,omitempty"`
	}{r.InferenceConfig, r.ToolConfig, r.AdditionalModelRequestFields, r.RequestMetadata})
	if err != nil {
		return nil, err
	}
	size := len(tail) + 64
	for _, m := range r.Messages {
		for _, b := range m.Content {
			size += len(b.Text) + 48
		}
	}
	for _, b := range r.System {
		size += len(b.Text) + 16
	}
	buf := make([]byte, 0, size)
	buf = append(buf, `{"messages":[`...)
	for i, m := range r.Messages {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendRole(buf, m.Role, `,"content":[`)
		for j := range m.Content {
			if j > 0 {
				buf = append(buf, ',')
			}
			if buf, err = appendConverseBlock(buf, &m.Content[j]); err != nil {
				return nil, err
			}
		}
		buf = append(buf, "]}"...)
	}
	buf = append(buf, ']')
	if len(r.System) > 0 {
		buf = append(buf, `,"system":[`...)
		for i, b := range r.System {
			if i > 0 {
				buf = append(buf, ',')
			}
			if b.CachePoint != nil {
				buf = append(buf, `{"cachePoint":{"type":"default"}}`...)
				continue
			}
			buf = append(buf, `{"text":`...)
			buf = append(buf, b.Text...)
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	buf = appendTail(buf, tail)
	return buf, nil
}

// appendConverseBlock writes a content block; text, tool input and tool
// results' text are copied as they are (valid JSON), other blocks encoded.
func appendConverseBlock(buf []byte, b *bedrock.ContentBlock) ([]byte, error) {
	switch {
	case b.Text != nil:
		buf = append(buf, `{"text":`...)
		buf = append(buf, b.Text...)
		return append(buf, '}'), nil
	case b.ToolUse != nil:
		buf = append(buf, `{"toolUse":{"toolUseId":`...)
		buf = append(buf, jsonString(b.ToolUse.ToolUseID)...)
		buf = append(buf, `,"name":`...)
		buf = append(buf, jsonString(b.ToolUse.Name)...)
		buf = append(buf, `,"input":`...)
		buf = append(buf, orEmptyObject(b.ToolUse.Input)...)
		return append(buf, "}}"...), nil
	case b.ToolResult != nil && b.ToolResult.Status == "":
		buf = append(buf, `{"toolResult":{"toolUseId":`...)
		buf = append(buf, jsonString(b.ToolResult.ToolUseID)...)
		buf = append(buf, `,"content":[`...)
		for i, c := range b.ToolResult.Content {
			if i > 0 {
				buf = append(buf, ',')
			}
			if c.Text == nil {
				enc, err := json.Marshal(&c)
				if err != nil {
					return nil, err
				}
				buf = append(buf, enc...)
				continue
			}
			buf = append(buf, `{"text":`...)
			buf = append(buf, c.Text...)
			buf = append(buf, '}')
		}
		return append(buf, "]}}"...), nil
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		return append(buf, enc...), nil
	}
}

// bedrockPath is the runtime API path of an operation on a model (an ID or
// an ARN, escaped as the AWS SDKs escape a path label).
func bedrockPath(model, op string) string {
	return "/model/" + awsPathEscape(model) + "/" + op
}

// awsPathEscape escapes every byte but the unreserved characters of RFC
// 3986, as the AWS SDKs do for path labels (":" and "/" included).
func awsPathEscape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// metadataValue reports whether s fits a Converse requestMetadata value
// (up to 256 of letters, digits, white space and :_@$#=/+,-.).
func metadataValue(s string) bool {
	if len(s) > 256 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(" \t\n:_@$#=/+,-.", c)) {
			return false
		}
	}
	return true
}

// tools translates tools, tool_choice, parallel_tool_calls and a JSON
// response_format, which Converse serves through a forced tool.
func (t *openAIToBedrock) tools(in *openai.ChatRequest, out *bedrock.ConverseRequest) error {
	tc := &bedrock.ToolConfig{}
	err := functionTools(in, "Bedrock", func(name, description string, schema json.RawMessage) {
		tc.Tools = append(tc.Tools, bedrock.Tool{ToolSpec: bedrock.ToolSpec{Name: name, Description: description, InputSchema: bedrock.InputSchema{JSON: schema}}})
	})
	if err != nil {
		return err
	}
	kind, name, err := toolChoice(in.ToolChoice)
	if err != nil {
		return err
	}
	switch kind {
	case choiceAuto:
		tc.ToolChoice = &bedrock.ToolChoice{Auto: &struct{}{}}
	case choiceRequired:
		tc.ToolChoice = &bedrock.ToolChoice{Any: &struct{}{}}
	case choiceFunction:
		tc.ToolChoice = &bedrock.ToolChoice{Tool: &bedrock.ToolChoiceOf{Name: name}}
	case choiceNone:
		// Converse cannot forbid tools: offering none does, unless the
		// conversation already used some (Converse then needs them).
		if usesTools(out.Messages) {
			return unsupported("tool_choice", `Bedrock's Converse API cannot forbid tools ("none") in a conversation with tool calls`)
		}
		tc.Tools = nil
	}
	if in.ParallelToolCalls != nil && !*in.ParallelToolCalls && len(tc.Tools) > 0 {
		return unsupported("parallel_tool_calls", "Bedrock's Converse API cannot turn parallel tool calls off")
	}
	name, schema, ok, err := jsonResponse(in.ResponseFormat)
	if err != nil {
		return err
	}
	if ok {
		if len(tc.Tools) > 0 {
			return unsupported("response_format", "with Bedrock a JSON response is forced through a tool, which cannot be combined with tools")
		}
		t.jsonTool = name
		tc.Tools = []bedrock.Tool{{ToolSpec: bedrock.ToolSpec{Name: name, Description: "Respond with JSON that matches this schema.",
			InputSchema: bedrock.InputSchema{JSON: schema}}}}
		tc.ToolChoice = &bedrock.ToolChoice{Tool: &bedrock.ToolChoiceOf{Name: name}}
	}
	if len(tc.Tools) > 0 {
		out.ToolConfig = tc
	}
	return nil
}

// usesTools reports whether a conversation holds tool calls or results.
func usesTools(msgs []bedrock.Message) bool {
	for _, m := range msgs {
		for _, b := range m.Content {
			if b.ToolUse != nil || b.ToolResult != nil {
				return true
			}
		}
	}
	return false
}

// bedrockReasoning maps reasoning_effort to the model's own field:
// Anthropic's thinking budget for Claude models, reasoningConfig for the
// others (Amazon Nova).
func bedrockReasoning(in *openai.ChatRequest, model string, ic *bedrock.InferenceConfig, tc *bedrock.ToolConfig, fields map[string]json.RawMessage) error {
	if in.ReasoningEffort == "" {
		return nil
	}
	budget, ok := thinkingBudgets[in.ReasoningEffort]
	if !ok {
		return invalid("reasoning_effort", fmt.Sprintf("unknown value %q", in.ReasoningEffort))
	}
	if !strings.Contains(model, "anthropic.") && !strings.Contains(model, "claude") {
		effort := in.ReasoningEffort
		if effort == "minimal" {
			effort = "low"
		}
		fields["reasoningConfig"] = json.RawMessage(`{"type":"enabled","maxReasoningEffort":` + string(jsonString(effort)) + `}`)
		return nil
	}
	if ic.Temperature != nil && *ic.Temperature != 1 {
		return unsupported("temperature", "Claude's extended thinking (reasoning_effort) takes no temperature but 1")
	}
	if ic.TopP != nil && (*ic.TopP < 0.95 || *ic.TopP > 1) {
		return unsupported("top_p", "Claude's extended thinking (reasoning_effort) takes top_p from 0.95 to 1")
	}
	if tc != nil && tc.ToolChoice != nil && (tc.ToolChoice.Any != nil || tc.ToolChoice.Tool != nil) {
		return unsupported("reasoning_effort", "Claude's extended thinking cannot be combined with a forced tool (tool_choice, or a JSON response_format)")
	}
	mt := int64(defaultAnthropicMaxTokens)
	if ic.MaxTokens != nil {
		mt = *ic.MaxTokens
	}
	if mt <= budget {
		mt += budget
	}
	ic.MaxTokens = &mt
	fields["thinking"] = json.RawMessage(fmt.Sprintf(`{"type":"enabled","budget_tokens":%d}`, budget))
	return nil
}

// bedrockMessages translates the conversation: leading system and
// developer messages become the system prompt; tool results join the user
// turn after the assistant's calls; consecutive messages of one role are
// merged, as Converse requires turns to alternate.
func bedrockMessages(msgs []openai.Message) ([]bedrock.SystemBlock, []bedrock.Message, error) {
	var system []bedrock.SystemBlock
	var out []bedrock.Message
	add := func(role string, blocks ...bedrock.ContentBlock) {
		if n := len(out); n > 0 && out[n-1].Role == role {
			out[n-1].Content = append(out[n-1].Content, blocks...)
			return
		}
		out = append(out, bedrock.Message{Role: role, Content: blocks})
	}
	for i, m := range msgs {
		field := messageField(i)
		switch m.Role {
		case "system", "developer":
			if len(out) > 0 {
				return nil, nil, unsupported(field+".role", "Bedrock's Converse API takes system instructions only before the conversation")
			}
			blocks, err := bedrockContent(field, m.Content, false)
			if err != nil {
				return nil, nil, err
			}
			for _, b := range blocks {
				system = append(system, bedrock.SystemBlock{Text: b.Text, CachePoint: b.CachePoint})
			}
		case "user":
			blocks, err := bedrockContent(field, m.Content, true)
			if err != nil {
				return nil, nil, err
			}
			if len(blocks) > 0 {
				add("user", blocks...)
			}
		case "assistant":
			text, err := bedrockContent(field, m.Content, false)
			if err != nil {
				return nil, nil, err
			}
			// Signed reasoning goes back first, as Bedrock returned it.
			blocks := make([]bedrock.ContentBlock, 0, len(m.ThinkingBlocks)+len(text)+len(m.ToolCalls))
			for j, tb := range m.ThinkingBlocks {
				switch tb.Type {
				case "thinking":
					blocks = append(blocks, bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContent{
						ReasoningText: &bedrock.ReasoningText{Text: tb.Thinking, Signature: tb.Signature}}})
				case "redacted_thinking":
					blocks = append(blocks, bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContent{RedactedContent: tb.Data}})
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
				blocks = append(blocks, bedrock.ContentBlock{ToolUse: &bedrock.ToolUse{ToolUseID: tc.ID, Name: tc.Function.Name, Input: args}})
			}
			if len(blocks) > 0 {
				add("assistant", blocks...)
			}
		case "tool":
			blocks, err := bedrockContent(field, m.Content, false)
			if err != nil {
				return nil, nil, err
			}
			result := &bedrock.ToolResult{ToolUseID: m.ToolCallID, Content: make([]bedrock.ToolResultContent, 0, len(blocks))}
			for _, b := range blocks {
				result.Content = append(result.Content, bedrock.ToolResultContent{Text: b.Text})
			}
			if len(result.Content) == 0 {
				result.Content = append(result.Content, bedrock.ToolResultContent{Text: json.RawMessage(`""`)})
			}
			add("user", bedrock.ContentBlock{ToolResult: result})
		default:
			return nil, nil, unsupported(field+".role", fmt.Sprintf("role %q has no Bedrock equivalent", m.Role))
		}
	}
	if len(out) == 0 {
		return nil, nil, invalid("messages", "Bedrock needs at least one user or assistant message")
	}
	return system, out, nil
}

// bedrockContent reads a message's content: a string, or parts (text, and
// images where allowed).
func bedrockContent(field string, content json.RawMessage, images bool) ([]bedrock.ContentBlock, error) {
	if isNullOr(content) {
		return nil, nil
	}
	if content[0] == '"' { // a string, the common case: copied as it is
		if string(content) == `""` {
			return nil, nil
		}
		return []bedrock.ContentBlock{{Text: content}}, nil
	}
	var parts []openai.ContentPart
	if err := json.Unmarshal(content, &parts); err != nil {
		return nil, invalid(field+".content", "must be a string or an array of content parts")
	}
	out := make([]bedrock.ContentBlock, 0, len(parts))
	for j, p := range parts {
		pf := fmt.Sprintf("%s.content[%d]", field, j)
		switch {
		case p.Type == "text":
			out = append(out, bedrock.ContentBlock{Text: jsonString(p.Text)})
		case p.Type == "refusal":
			out = append(out, bedrock.ContentBlock{Text: jsonString(p.Refusal)})
		case p.Type == "image_url" && images:
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return nil, invalid(pf+".image_url.url", "required")
			}
			img, err := bedrockImage(pf+".image_url.url", p.ImageURL.URL)
			if err != nil {
				return nil, err
			}
			out = append(out, bedrock.ContentBlock{Image: img})
		default:
			return nil, unsupported(pf+".type", fmt.Sprintf("%q content has no Bedrock equivalent here", p.Type))
		}
		if !isNullOr(p.CacheControl) {
			// Bedrock caches the prefix up to a cache point.
			out = append(out, bedrock.ContentBlock{CachePoint: &bedrock.CachePoint{Type: "default"}})
		}
	}
	return out, nil
}

// bedrockImage reads a base64 data URL: Converse takes an image's bytes,
// not a URL to fetch.
func bedrockImage(field, u string) (*bedrock.Image, error) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return nil, unsupported(field, "Bedrock's Converse API takes images as base64 data URLs, not URLs to fetch")
	}
	mediaType, data, ok := strings.Cut(rest, ";base64,")
	if !ok {
		return nil, invalid(field, "a data URL must be data:<media type>;base64,<data>")
	}
	var format string
	switch mediaType {
	case "image/png":
		format = "png"
	case "image/jpeg", "image/jpg":
		format = "jpeg"
	case "image/gif":
		format = "gif"
	case "image/webp":
		format = "webp"
	default:
		return nil, unsupported(field, fmt.Sprintf("Bedrock takes png, jpeg, gif or webp images, not %q", mediaType))
	}
	return &bedrock.Image{Format: format, Source: bedrock.ImageSource{Bytes: data}}, nil
}

// ResponseHeaders implements [Translator.ResponseHeaders].
func (t *openAIToBedrock) ResponseHeaders(status int, h http.Header) error {
	t.status = status
	t.requestID = h.Get("X-Amzn-Requestid")
	t.errorType = h.Get("X-Amzn-Errortype")
	t.stream = eventStreamHeaders(status, h, t.stream)
	return nil
}

// eventStreamHeaders prepares the response headers of a translation from
// an AWS event stream, and reports whether the response is the stream the
// client asked for (an error answers a stream request with JSON).
func eventStreamHeaders(status int, h http.Header, stream bool) bool {
	stream = stream && status < 300 && strings.HasPrefix(h.Get("Content-Type"), eventStreamType)
	h.Del("Content-Length") // the body is rewritten
	if stream {
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
	} else {
		h.Set("Content-Type", "application/json")
	}
	return stream
}

// ResponseBody implements [Translator.ResponseBody].
func (t *openAIToBedrock) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if t.stream {
		t.resetOutput(len(chunk))
		err := t.frames.feed(chunk, t.message)
		if err == nil && eos && !t.complete {
			if t.stopped && !t.frames.pending() {
				t.end() // no metadata event: the usage is unknown
			} else {
				err = errors.New("the Bedrock stream ended before messageStop")
			}
		}
		return t.out, err
	}
	body, done, err := t.body.whole(chunk, eos)
	if !done || err != nil {
		return nil, err
	}
	t.complete = true
	if t.status >= 400 {
		_, b := apierror.Render(bedrockError(t.status, t.errorType, body))
		return b, nil
	}
	var resp bedrock.ConverseResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("reading the Converse response: %w", err)
	}
	t.observe(resp.Usage)
	t.id, t.created = t.completionID(), t.now().Unix()
	msg := &openai.ResponseMessage{Role: "assistant"}
	var text strings.Builder
	hasText := false
	if m := resp.Output.Message; m != nil {
		for _, b := range m.Content {
			switch {
			case b.Text != nil:
				s, err := jsonscan.Unquote(b.Text)
				if err != nil {
					return nil, fmt.Errorf("reading the Converse response: text: %w", err)
				}
				text.WriteString(s)
				hasText = true
			case b.ReasoningContent != nil && b.ReasoningContent.ReasoningText != nil:
				rt := b.ReasoningContent.ReasoningText
				msg.ReasoningContent += rt.Text
				msg.ThinkingBlocks = append(msg.ThinkingBlocks, openai.ThinkingBlock{Type: "thinking", Thinking: rt.Text, Signature: rt.Signature})
			case b.ReasoningContent != nil && b.ReasoningContent.RedactedContent != "":
				msg.ThinkingBlocks = append(msg.ThinkingBlocks, openai.ThinkingBlock{Type: "redacted_thinking", Data: b.ReasoningContent.RedactedContent})
			case b.ToolUse != nil:
				if t.jsonTool != "" && b.ToolUse.Name == t.jsonTool {
					text.Write(orEmptyObject(b.ToolUse.Input)) // the JSON asked for
					hasText = true
					continue
				}
				msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: b.ToolUse.ToolUseID, Type: "function",
					Function: openai.FunctionCall{Name: b.ToolUse.Name, Arguments: string(orEmptyObject(b.ToolUse.Input))}})
			}
		}
	}
	if hasText {
		s := text.String()
		msg.Content = &s
	}
	finish := t.finishReason(resp.StopReason)
	out := openai.ChatCompletion{ID: t.id, Object: "chat.completion", Created: t.created, Model: t.model,
		Choices: []openai.Choice{{Index: 0, Message: msg, FinishReason: &finish}}, Usage: openAIUsage(t.usage)}
	return json.Marshal(&out)
}

// completionID is the chat completion's ID: Bedrock's request ID, or a
// random one.
func (t *openAIToBedrock) completionID() string {
	if t.requestID != "" {
		return "chatcmpl-" + t.requestID
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "chatcmpl-" + hex.EncodeToString(b[:])
}

// bedrockError is the client's error for a Bedrock error status: the
// exception's message, and its name (x-amzn-ErrorType) as the type.
func bedrockError(status int, errorType string, body []byte) *apierror.Error {
	e := &apierror.Error{Status: status, Type: apierror.TypeUpstream, Message: "Bedrock answered " + http.StatusText(status)}
	if name, _, _ := strings.Cut(errorType, ":"); name != "" {
		e.Type = apierror.Type(name)
	}
	var r bedrock.ErrorResponse
	if json.Unmarshal(body, &r) == nil && r.Message != "" {
		e.Message = r.Message
	} else if m, ok := apierror.MessageOf(body); ok {
		e.Message = m
	}
	return e
}

// bedrockStreamStatus is the status of a stream's exception.
var bedrockStreamStatus = map[string]int{
	"throttlingException":         http.StatusTooManyRequests,
	"validationException":         http.StatusBadRequest,
	"serviceUnavailableException": http.StatusServiceUnavailable,
	"internalServerException":     http.StatusInternalServerError,
	"modelStreamErrorException":   http.StatusBadGateway,
	"modelTimeoutException":       http.StatusGatewayTimeout,
}

// streamException is the error an event stream's exception message ends
// the stream with.
func streamException(m eventstream.Message) error {
	name := header(m, ":exception-type")
	status, ok := bedrockStreamStatus[name]
	if !ok {
		status = http.StatusBadGateway
	}
	msg := "Bedrock: " + name
	var r bedrock.ErrorResponse
	if json.Unmarshal(m.Payload, &r) == nil && r.Message != "" {
		msg = "Bedrock: " + r.Message
	}
	return &apierror.Error{Status: status, Type: apierror.Type(name), Code: "upstream_error", Message: msg}
}

// message translates one event-stream message.
func (t *openAIToBedrock) message(m eventstream.Message) error {
	switch header(m, ":message-type") {
	case "event":
	case "exception":
		t.failure = streamException(m)
		return t.failure
	case "error":
		t.failure = &apierror.Error{Status: http.StatusBadGateway, Type: apierror.TypeUpstream, Code: "upstream_error",
			Message: "Bedrock: " + header(m, ":error-code") + ": " + header(m, ":error-message")}
		return t.failure
	default:
		return nil
	}
	typ := header(m, ":event-type")
	switch typ {
	case bedrock.EventContentBlockDelta:
		if text, ok := converseTextDelta(m.Payload); ok {
			t.start()
			t.textChunk(text)
			return nil
		}
	case bedrock.EventMessageStop:
		if stop, ok := converseStopReason(m.Payload); ok {
			t.start()
			t.stopped = true
			t.finishChunk(t.finishReason(stop))
			return nil
		}
	case bedrock.EventMetadata:
		if u, ok := converseUsage(m.Payload); ok {
			t.observe(&u)
			if t.stopped {
				t.end()
			}
			return nil
		}
	case bedrock.EventMessageStart, bedrock.EventContentBlockStop:
		// Nothing to read but the events' validity.
		if !json.Valid(m.Payload) {
			return fmt.Errorf("reading the Bedrock %s event: invalid JSON", typ)
		}
		if typ == bedrock.EventMessageStart {
			t.start()
		}
		return nil
	}
	var e bedrock.StreamEvent
	if err := json.Unmarshal(m.Payload, &e); err != nil {
		return fmt.Errorf("reading the Bedrock %s event: %w", typ, err)
	}
	switch typ {
	case bedrock.EventContentBlockStart:
		t.start()
		if s := e.Start; s != nil && s.ToolUse != nil {
			if t.jsonTool != "" && s.ToolUse.Name == t.jsonTool {
				t.jsonBlock = e.ContentBlockIndex + 1 // its deltas are the content
				return nil
			}
			if t.toolIndex == nil {
				t.toolIndex = map[int]int{}
			}
			idx := t.toolCalls
			t.toolCalls++
			t.toolIndex[e.ContentBlockIndex] = idx
			t.chunk(&openai.ResponseMessage{ToolCalls: []openai.ToolCall{{Index: &idx, ID: s.ToolUse.ToolUseID, Type: "function",
				Function: openai.FunctionCall{Name: s.ToolUse.Name}}}}, nil)
		}
	case bedrock.EventContentBlockDelta:
		t.start()
		d := e.Delta
		switch {
		case d == nil:
		case len(d.Text) > 0 && d.Text[0] == '"':
			t.textChunk(d.Text)
		case d.ToolUse != nil && d.ToolUse.Input != "":
			if t.jsonBlock == e.ContentBlockIndex+1 {
				t.textChunk(jsonString(d.ToolUse.Input))
				return nil
			}
			if idx, ok := t.toolIndex[e.ContentBlockIndex]; ok {
				t.chunk(&openai.ResponseMessage{ToolCalls: []openai.ToolCall{{Index: &idx, Function: openai.FunctionCall{Arguments: d.ToolUse.Input}}}}, nil)
			}
		case d.ReasoningContent != nil && d.ReasoningContent.Text != "":
			t.chunk(&openai.ResponseMessage{ReasoningContent: d.ReasoningContent.Text}, nil)
		case d.ReasoningContent != nil && d.ReasoningContent.Signature != "":
			// The reasoning's signature: the client sends the block back
			// with it (thinking_blocks) in the next turn.
			t.chunk(&openai.ResponseMessage{ThinkingBlocks: []openai.ThinkingBlock{{Type: "thinking", Signature: d.ReasoningContent.Signature}}}, nil)
		}
	case bedrock.EventMessageStop:
		t.start()
		t.stopped = true
		t.finishChunk(t.finishReason(e.StopReason))
	case bedrock.EventMetadata:
		t.observe(e.Usage)
		if t.stopped {
			t.end()
		}
	}
	return nil
}

// converseTextDelta reads a contentBlockDelta of text without decoding
// it, in one pass: the delta's text as its JSON string. It reports false
// for any other delta.
func converseTextDelta(payload []byte) (json.RawMessage, bool) {
	var text json.RawMessage
	other := false
	err := jsonscan.Walk(payload, func(v jsonscan.Value) error {
		return v.Object(func(k []byte, v jsonscan.Value) error {
			if string(k) != "delta" {
				return nil
			}
			return v.Object(func(k []byte, v jsonscan.Value) error {
				raw, err := v.Raw()
				if string(k) == "text" && len(raw) > 0 && raw[0] == '"' {
					text = raw
				} else {
					other = true
				}
				return err
			})
		})
	})
	return text, err == nil && !other && text != nil
}

// converseStopReason reads a messageStop event's stop reason in one pass;
// it reports false for anything but an object whose stopReason is a
// string (encoding/json then reads it).
func converseStopReason(payload []byte) (string, bool) {
	var stop string
	found := false
	err := jsonscan.Walk(payload, func(v jsonscan.Value) error {
		return v.Object(func(k []byte, v jsonscan.Value) error {
			if string(k) != "stopReason" {
				return nil
			}
			found = true
			return rawString(v, &stop, "")
		})
	})
	return stop, err == nil && found
}

// converseUsage reads a metadata event's usage in one pass; it reports
// false for anything but integer counts (encoding/json then reads it).
func converseUsage(payload []byte) (bedrock.Usage, bool) {
	var u bedrock.Usage
	found := false
	err := jsonscan.Walk(payload, func(v jsonscan.Value) error {
		return v.Object(func(k []byte, v jsonscan.Value) error {
			if string(k) != "usage" {
				return nil
			}
			found = true
			return v.Object(func(k []byte, v jsonscan.Value) error {
				var n *int64
				switch string(k) {
				case "inputTokens":
					n = &u.InputTokens
				case "outputTokens":
					n = &u.OutputTokens
				case "totalTokens":
					n = &u.TotalTokens
				case "cacheReadInputTokens":
					n = &u.CacheReadInputTokens
				case "cacheWriteInputTokens":
					n = &u.CacheWriteInputTokens
				default:
					return nil
				}
				raw, err := v.Raw()
				if err != nil {
					return err
				}
				*n, err = strconv.ParseInt(string(raw), 10, 64)
				return err
			})
		})
	})
	return u, err == nil && found
}

// start writes the stream's first chunk, once.
func (t *openAIToBedrock) start() {
	if t.started {
		return
	}
	t.started = true
	t.id, t.created = t.completionID(), t.now().Unix()
	t.roleChunk()
}

// end ends the stream: the usage chunk when the client asked for it, then
// [DONE].
func (t *openAIToBedrock) end() {
	if t.includeUsage {
		t.usageChunk(openAIUsage(t.usage))
	}
	t.done()
	t.complete = true
}

// finishReason maps Converse's stop reason to OpenAI's finish reason; a
// forced JSON tool's use is the answer, not a tool call.
func (t *openAIToBedrock) finishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		if t.jsonTool != "" {
			return "stop"
		}
		return "tool_calls"
	case "guardrail_intervened", "content_filtered":
		return "content_filter"
	default: // end_turn, stop_sequence
		return "stop"
	}
}

// observe folds Converse usage in: input counts the cached (read and
// written) input.
func (t *openAIToBedrock) observe(u *bedrock.Usage) {
	if u == nil {
		return
	}
	t.usage = llm.Usage{
		InputTokens:              u.InputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens,
		OutputTokens:             u.OutputTokens,
		CachedInputTokens:        u.CacheReadInputTokens,
		CacheCreationInputTokens: u.CacheWriteInputTokens,
	}
	t.usage.TotalTokens = t.usage.InputTokens + t.usage.OutputTokens
}

// Usage implements [Translator.Usage].
func (t *openAIToBedrock) Usage() llm.Usage { return t.usage }

// ResponseModel implements [Translator.ResponseModel]: Converse does not
// name the model, the one asked for answered.
func (t *openAIToBedrock) ResponseModel() string { return t.model }

// Complete implements [Translator.Complete].
func (t *openAIToBedrock) Complete() bool { return t.complete }

// openAIToTitan translates OpenAI embeddings to an Amazon Titan text
// embedding model's InvokeModel: one text per request.
type openAIToTitan struct {
	opts      Options
	model     string
	base64    bool
	status    int
	errorType string
	body      bodyBuffer
	usage     llm.Usage
	complete  bool
}

// Request implements [Translator.Request].
func (t *openAIToTitan) Request(req *llm.Request) (*Upstream, error) {
	var in struct {
		Input          json.RawMessage `json:"input"`
		Dimensions     *int            `json:"dimensions"`
		EncodingFormat string          `json:"encoding_format"`
	}
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, invalid("", "request body does not match the embeddings schema: "+err.Error())
	}
	obj := t.opts.Parsed
	if obj == nil {
		var err error
		if obj, err = jsonobj.Parse(req.Body); err != nil {
			return nil, invalid("", "request body is not a JSON object")
		}
	}
	for _, m := range obj.Members {
		switch m.Key {
		case "model", "input", "dimensions", "encoding_format":
		case "user":
		default:
			if !isNullOr(m.Value) {
				return nil, unsupported(m.Key, "Amazon Titan embeddings have no equivalent")
			}
		}
	}
	var text string
	if err := json.Unmarshal(in.Input, &text); err != nil {
		var texts []string
		if json.Unmarshal(in.Input, &texts) != nil {
			return nil, unsupported("input", "Amazon Titan embeds text, not tokens")
		}
		if len(texts) != 1 {
			return nil, unsupported("input", "Amazon Titan embeds one text per request")
		}
		text = texts[0]
	}
	switch in.EncodingFormat {
	case "", "float":
	case "base64":
		t.base64 = true
	default:
		return nil, invalid("encoding_format", fmt.Sprintf("unknown value %q", in.EncodingFormat))
	}
	t.model = req.Model
	if t.opts.ModelOverride != "" {
		t.model = t.opts.ModelOverride
	}
	body, err := json.Marshal(bedrock.EmbeddingRequest{InputText: text, Dimensions: in.Dimensions})
	if err != nil {
		return nil, err
	}
	return &Upstream{Path: bedrockPath(t.model, bedrock.OperationInvoke), Body: body,
		SetHeaders: []config.HeaderValue{{Name: "Content-Type", Value: "application/json"}, {Name: "Accept", Value: "application/json"}}}, nil
}

// ResponseHeaders implements [Translator.ResponseHeaders].
func (t *openAIToTitan) ResponseHeaders(status int, h http.Header) error {
	t.status = status
	t.errorType = h.Get("X-Amzn-Errortype")
	rewrittenHeaders(status, h, false)
	return nil
}

// ResponseBody implements [Translator.ResponseBody].
func (t *openAIToTitan) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	body, done, err := t.body.whole(chunk, eos)
	if !done || err != nil {
		return nil, err
	}
	t.complete = true
	if t.status >= 400 {
		_, b := apierror.Render(bedrockError(t.status, t.errorType, body))
		return b, nil
	}
	var resp bedrock.EmbeddingResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("reading the Titan response: %w", err)
	}
	t.usage = llm.Usage{InputTokens: resp.InputTextTokenCount, TotalTokens: resp.InputTextTokenCount}
	var vec any = resp.Embedding
	if t.base64 {
		vec = base64Floats(resp.Embedding)
	}
	var out bytes.Buffer
	err = json.NewEncoder(&out).Encode(map[string]any{
		"object": "list",
		"data":   []map[string]any{{"object": "embedding", "index": 0, "embedding": vec}},
		"model":  t.model,
		"usage":  map[string]int64{"prompt_tokens": resp.InputTextTokenCount, "total_tokens": resp.InputTextTokenCount},
	})
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), err
}

// Usage implements [Translator.Usage].
func (t *openAIToTitan) Usage() llm.Usage { return t.usage }

// ResponseModel implements [Translator.ResponseModel].
func (t *openAIToTitan) ResponseModel() string { return t.model }

// Complete implements [Translator.Complete].
func (t *openAIToTitan) Complete() bool { return t.complete }
