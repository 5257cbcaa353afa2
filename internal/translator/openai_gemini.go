package translator

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/apischema/gemini"
	"github.com/aigw-dev/aigw/internal/apischema/openai"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/jsonscan"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/sse"
)

// geminiModelsPath is where Vertex AI serves Google's models, under the
// project's and region's prefix the GCPCredentials authenticator adds.
const geminiModelsPath = "/publishers/google/models/"

// geminiTranslated are the OpenAI fields Gemini has a counterpart for
// beyond those every translation reads.
var geminiTranslated = []string{"n", "presence_penalty", "frequency_penalty", "seed", "logprobs", "top_logprobs"}

// geminiThinkingBudgets are Gemini thinking budgets for OpenAI's
// reasoning_effort, as Google's OpenAI compatibility maps them.
var geminiThinkingBudgets = map[string]int64{"minimal": 128, "low": 1024, "medium": 8192, "high": 24576}

// openAIToGemini translates OpenAI chat completions to Vertex AI's Gemini
// generateContent and back; streamGenerateContent's SSE events (or the
// elements of its JSON array, when the upstream ignores alt=sse) become
// chunks one by one.
type openAIToGemini struct {
	opts Options

	stream       bool
	includeUsage bool
	status       int
	body         bodyBuffer
	splitter     sse.Splitter
	// array is set when the stream is a JSON array, cut by elements.
	array    bool
	elements arrayStream
	chatChunks
	usage    llm.Usage
	complete bool

	// Stream state.
	started  bool
	finished map[int]bool
	// toolCalls counts the tool calls of each candidate.
	toolCalls map[int]int
	calls     int // tool call IDs handed out
	failure   error
	// scratch is the event being read, its slices reused.
	scratch geminiEvent
	now     func() time.Time
}

func newOpenAIToGemini(op llm.Operation, schema config.Schema, opts Options) (Translator, error) {
	switch op {
	case llm.OperationChat:
		return &openAIToGemini{opts: opts, splitter: newSplitter(opts.MaxEventBytes), now: time.Now}, nil
	case llm.OperationEmbeddings:
		return &openAIToVertexEmbeddings{opts: opts}, nil
	default:
		return nil, fmt.Errorf("%w: %s to %s", ErrUnsupported, op, schema.Name)
	}
}

// Request implements [Translator.Request].
func (t *openAIToGemini) Request(req *llm.Request) (*Upstream, error) {
	in, extras, err := readChat(req, t.opts.Parsed, "Gemini", geminiTranslated...)
	if err != nil {
		return nil, err
	}
	return t.request(req, in, extras)
}

// chatRequest implements [takesChat].
func (t *openAIToGemini) chatRequest(req *llm.Request, in *openai.ChatRequest, members []jsonobj.Member) (*Upstream, error) {
	extras, err := readChatMembers(members, in, "Gemini", geminiTranslated...)
	if err != nil {
		return nil, err
	}
	return t.request(req, in, extras)
}

// request translates a chat request read, with its vendor fields.
func (t *openAIToGemini) request(req *llm.Request, in *openai.ChatRequest, extras []jsonobj.Member) (*Upstream, error) {
	var err error
	t.model = req.Model
	if t.opts.ModelOverride != "" {
		t.model = t.opts.ModelOverride
	}
	var out gemini.Request
	if out.SystemInstruction, out.Contents, err = geminiContents(in.Messages); err != nil {
		return nil, err
	}
	gc := &gemini.GenerationConfig{Temperature: in.Temperature, TopP: in.TopP, CandidateCount: in.N,
		PresencePenalty: in.PresencePenalty, FrequencyPenalty: in.FrequencyPenalty, Seed: in.Seed}
	if n := maxTokens(in, 0); n > 0 {
		gc.MaxOutputTokens = &n
	}
	if gc.StopSequences, err = stopSequences(in.Stop); err != nil {
		return nil, err
	}
	if in.Logprobs != nil && *in.Logprobs {
		gc.ResponseLogprobs, gc.Logprobs = true, in.TopLogprobs
	} else if in.TopLogprobs != nil && *in.TopLogprobs > 0 {
		return nil, invalid("top_logprobs", "requires logprobs: true")
	}
	if err := geminiTools(in, &out); err != nil {
		return nil, err
	}
	_, schema, ok, err := jsonResponse(in.ResponseFormat)
	if err != nil {
		return nil, err
	}
	if ok { // Gemini's own JSON mode, with the schema as it is
		gc.ResponseMimeType = "application/json"
		if in.ResponseFormat.Type == "json_schema" {
			gc.ResponseJSONSchema = schema
		}
	}
	if e := in.ReasoningEffort; e != "" {
		budget, ok := geminiThinkingBudgets[e]
		if !ok {
			return nil, invalid("reasoning_effort", fmt.Sprintf("unknown value %q", e))
		}
		gc.ThinkingConfig = &gemini.ThinkingConfig{ThinkingBudget: &budget, IncludeThoughts: true}
	}
	if !gc.Empty() {
		out.GenerationConfig = gc
	}
	if in.User != "" && labelValue(in.User) {
		out.Labels = map[string]string{"user": in.User}
	}
	t.stream = in.Stream
	t.includeUsage = in.StreamOptions != nil && in.StreamOptions.IncludeUsage
	body, err := encodeGemini(&out)
	if err != nil {
		return nil, fmt.Errorf("encoding the Gemini request: %w", err)
	}
	if body, err = geminiExtras(body, extras); err != nil {
		return nil, err
	}
	p := geminiModelsPath + url.PathEscape(t.model) + ":" + gemini.MethodGenerateContent
	if t.stream {
		p = geminiModelsPath + url.PathEscape(t.model) + ":" + gemini.MethodStreamGenerateContent + "?alt=sse"
	}
	return &Upstream{Path: p, Body: body, SetHeaders: []config.HeaderValue{{Name: "Content-Type", Value: "application/json"}}}, nil
}

// encodeGemini writes the generateContent request: the contents and the
// system instruction by hand, so that text goes out as it came in (already
// valid JSON strings), the small fields with encoding/json.
func encodeGemini(r *gemini.Request) ([]byte, error) {
	tail, err := json.Marshal(struct {
		Tools            []gemini.Tool            `json:"tools,omitempty"`
		ToolConfig       *gemini.ToolConfig       `json:"toolConfig,omitempty"`
		GenerationConfig *gemini.GenerationConfig `json:"generationConfig,omitempty"`
		Labels           map[string]string        `json:"labels,omitempty"`
	}{r.Tools, r.ToolConfig, r.GenerationConfig, r.Labels})
	if err != nil {
		return nil, err
	}
	size := len(tail) + 64
	for _, c := range r.Contents {
		for _, p := range c.Parts {
			size += len(p.Text) + 32
		}
	}
	if r.SystemInstruction != nil {
		for _, p := range r.SystemInstruction.Parts {
			size += len(p.Text) + 16
		}
	}
	buf := make([]byte, 0, size)
	buf = append(buf, `{"contents":[`...)
	for i, c := range r.Contents {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendRole(buf, c.Role, `,"parts":`)
		if buf, err = appendGeminiParts(buf, c.Parts); err != nil {
			return nil, err
		}
		buf = append(buf, '}')
	}
	buf = append(buf, ']')
	if si := r.SystemInstruction; si != nil {
		buf = append(buf, `,"systemInstruction":{"parts":`...)
		if buf, err = appendGeminiParts(buf, si.Parts); err != nil {
			return nil, err
		}
		buf = append(buf, '}')
	}
	buf = appendTail(buf, tail)
	return buf, nil
}

// appendGeminiParts writes parts; plain text is copied as it is (valid
// JSON), other parts encoded.
func appendGeminiParts(buf []byte, parts []gemini.Part) ([]byte, error) {
	buf = append(buf, '[')
	for i := range parts {
		if i > 0 {
			buf = append(buf, ',')
		}
		p := &parts[i]
		if p.Text != nil && !p.Thought && p.ThoughtSignature == "" {
			buf = append(buf, `{"text":`...)
			buf = append(buf, p.Text...)
			buf = append(buf, '}')
			continue
		}
		enc, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		buf = append(buf, enc...)
	}
	return append(buf, ']'), nil
}

// geminiExtras sets the client's vendor fields: top_k in the generation
// config, the others (safetySettings, cachedContent, …) at the top, as
// Gemini reads them.
func geminiExtras(body []byte, extras []jsonobj.Member) ([]byte, error) {
	var rest []jsonobj.Member
	var topK json.RawMessage
	for _, m := range extras {
		if m.Key == "top_k" {
			topK = m.Value
			continue
		}
		rest = append(rest, m)
	}
	if topK == nil {
		return withExtras(body, rest)
	}
	o, err := jsonobj.Parse(body)
	if err != nil {
		return nil, err
	}
	gc := &jsonobj.Object{}
	if v, ok := o.Get("generationConfig"); ok {
		if gc, err = jsonobj.Parse(v); err != nil {
			return nil, err
		}
	}
	gc.Set("topK", topK)
	o.Set("generationConfig", gc.Bytes())
	for _, m := range rest {
		o.Set(m.Key, m.Value)
	}
	return o.Bytes(), nil
}

// labelValue reports whether s fits a Vertex AI label value (up to 63
// lowercase letters, digits, - and _).
func labelValue(s string) bool {
	if len(s) > 63 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// geminiTools translates tools, tool_choice and parallel_tool_calls.
func geminiTools(in *openai.ChatRequest, out *gemini.Request) error {
	var decls []gemini.FunctionDeclaration
	err := functionTools(in, "Gemini", func(name, description string, schema json.RawMessage) {
		decls = append(decls, gemini.FunctionDeclaration{Name: name, Description: description, ParametersJSONSchema: schema})
	})
	if err != nil {
		return err
	}
	if len(decls) > 0 {
		out.Tools = []gemini.Tool{{FunctionDeclarations: decls}}
	}
	kind, name, err := toolChoice(in.ToolChoice)
	if err != nil {
		return err
	}
	switch kind {
	case choiceAuto:
		out.ToolConfig = &gemini.ToolConfig{FunctionCallingConfig: gemini.FunctionCallingConfig{Mode: "AUTO"}}
	case choiceRequired:
		out.ToolConfig = &gemini.ToolConfig{FunctionCallingConfig: gemini.FunctionCallingConfig{Mode: "ANY"}}
	case choiceNone:
		out.ToolConfig = &gemini.ToolConfig{FunctionCallingConfig: gemini.FunctionCallingConfig{Mode: "NONE"}}
	case choiceFunction:
		out.ToolConfig = &gemini.ToolConfig{FunctionCallingConfig: gemini.FunctionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{name}}}
	}
	if in.ParallelToolCalls != nil && !*in.ParallelToolCalls && len(decls) > 0 {
		return unsupported("parallel_tool_calls", "Gemini cannot turn parallel function calls off")
	}
	return nil
}

// geminiContents translates the conversation: leading system and
// developer messages become the system instruction; tool results become
// function responses, named after the call they answer, in the user turn
// after the model's calls; consecutive messages of one role are merged.
func geminiContents(msgs []openai.Message) (*gemini.Content, []gemini.Content, error) {
	var system *gemini.Content
	var out []gemini.Content
	callNames := map[string]string{}
	add := func(role string, parts ...gemini.Part) {
		if n := len(out); n > 0 && out[n-1].Role == role {
			out[n-1].Parts = append(out[n-1].Parts, parts...)
			return
		}
		out = append(out, gemini.Content{Role: role, Parts: parts})
	}
	for i, m := range msgs {
		field := messageField(i)
		switch m.Role {
		case "system", "developer":
			if len(out) > 0 {
				return nil, nil, unsupported(field+".role", "Gemini takes system instructions only before the conversation")
			}
			parts, err := geminiParts(field, m.Content, false)
			if err != nil {
				return nil, nil, err
			}
			if system == nil {
				system = &gemini.Content{}
			}
			system.Parts = append(system.Parts, parts...)
		case "user":
			parts, err := geminiParts(field, m.Content, true)
			if err != nil {
				return nil, nil, err
			}
			if len(parts) > 0 {
				add("user", parts...)
			}
		case "assistant":
			parts, err := geminiParts(field, m.Content, false)
			if err != nil {
				return nil, nil, err
			}
			for j, tc := range m.ToolCalls {
				args, err := toolArguments(fmt.Sprintf("%s.tool_calls[%d].function.arguments", field, j), tc.Function.Arguments)
				if err != nil {
					return nil, nil, err
				}
				callNames[tc.ID] = tc.Function.Name
				_, signature := splitCallID(tc.ID)
				parts = append(parts, gemini.Part{FunctionCall: &gemini.FunctionCall{Name: tc.Function.Name, Args: args}, ThoughtSignature: signature})
			}
			if len(parts) > 0 {
				add("model", parts...)
			}
		case "tool":
			name, ok := callNames[m.ToolCallID]
			if !ok {
				return nil, nil, invalid(field+".tool_call_id", "answers no tool call of an earlier assistant message (Gemini needs the function's name)")
			}
			text, err := contentText(field, m.Content)
			if err != nil {
				return nil, nil, err
			}
			resp, _ := json.Marshal(map[string]string{"content": text})
			add("user", gemini.Part{FunctionResponse: &gemini.FunctionResponse{Name: name, Response: resp}})
		default:
			return nil, nil, unsupported(field+".role", fmt.Sprintf("role %q has no Gemini equivalent", m.Role))
		}
	}
	if len(out) == 0 {
		return nil, nil, invalid("messages", "Gemini needs at least one user or assistant message")
	}
	return system, out, nil
}

// contentText is a message's text: a string, or its text parts joined.
func contentText(field string, content json.RawMessage) (string, error) {
	if isNullOr(content) {
		return "", nil
	}
	var s string
	if json.Unmarshal(content, &s) == nil {
		return s, nil
	}
	var parts []openai.ContentPart
	if err := json.Unmarshal(content, &parts); err != nil {
		return "", invalid(field+".content", "must be a string or an array of content parts")
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// geminiPart is an OpenAI content part with the media Gemini reads.
type geminiPart struct {
	openai.ContentPart
	InputAudio *struct {
		Data   string `json:"data"`
		Format string `json:"format"`
	} `json:"input_audio"`
	File *struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
	} `json:"file"`
}

// geminiParts reads a message's content: a string, or parts (text, and
// images, audio and files where allowed).
func geminiParts(field string, content json.RawMessage, media bool) ([]gemini.Part, error) {
	if isNullOr(content) {
		return nil, nil
	}
	if content[0] == '"' { // a string, the common case: copied as it is
		if string(content) == `""` {
			return nil, nil
		}
		return []gemini.Part{{Text: content}}, nil
	}
	var parts []geminiPart
	if err := json.Unmarshal(content, &parts); err != nil {
		return nil, invalid(field+".content", "must be a string or an array of content parts")
	}
	out := make([]gemini.Part, 0, len(parts))
	for j, p := range parts {
		pf := fmt.Sprintf("%s.content[%d]", field, j)
		switch {
		case p.Type == "text":
			out = append(out, gemini.Part{Text: jsonString(p.Text)})
		case p.Type == "refusal":
			out = append(out, gemini.Part{Text: jsonString(p.Refusal)})
		case p.Type == "image_url" && media:
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return nil, invalid(pf+".image_url.url", "required")
			}
			part, err := geminiMedia(pf+".image_url.url", p.ImageURL.URL, "image/jpeg")
			if err != nil {
				return nil, err
			}
			out = append(out, part)
		case p.Type == "input_audio" && media:
			if p.InputAudio == nil || p.InputAudio.Data == "" {
				return nil, invalid(pf+".input_audio.data", "required")
			}
			format := p.InputAudio.Format
			if format == "mp3" {
				format = "mpeg"
			}
			out = append(out, gemini.Part{InlineData: &gemini.Blob{MimeType: "audio/" + format, Data: p.InputAudio.Data}})
		case p.Type == "file" && media:
			if p.File == nil || p.File.FileData == "" {
				return nil, unsupported(pf+".file", "Gemini takes files as data URLs (file_data), not OpenAI file IDs")
			}
			part, err := geminiMedia(pf+".file.file_data", p.File.FileData, "application/pdf")
			if err != nil {
				return nil, err
			}
			out = append(out, part)
		default:
			return nil, unsupported(pf+".type", fmt.Sprintf("%q content has no Gemini equivalent here", p.Type))
		}
	}
	return out, nil
}

// geminiMedia reads a data URL as inline bytes, or an https or gs:// URL
// as a file Gemini fetches (its type guessed from the extension, else
// def).
func geminiMedia(field, u, def string) (gemini.Part, error) {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		mediaType, data, ok := strings.Cut(rest, ";base64,")
		if !ok || mediaType == "" {
			return gemini.Part{}, invalid(field, "a data URL must be data:<media type>;base64,<data>")
		}
		return gemini.Part{InlineData: &gemini.Blob{MimeType: mediaType, Data: data}}, nil
	}
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "gs://") {
		mt := def
		if pu, err := url.Parse(u); err == nil {
			if t := mime.TypeByExtension(path.Ext(pu.Path)); t != "" {
				mt, _, _ = strings.Cut(t, ";")
			}
		}
		return gemini.Part{FileData: &gemini.FileData{MimeType: mt, FileURI: u}}, nil
	}
	return gemini.Part{}, invalid(field, "must be an http(s), gs:// or data URL")
}

// ResponseHeaders implements [Translator.ResponseHeaders].
func (t *openAIToGemini) ResponseHeaders(status int, h http.Header) error {
	t.status = status
	array := t.stream && status < 300 && strings.HasPrefix(h.Get("Content-Type"), "application/json")
	t.stream = rewrittenHeaders(status, h, t.stream)
	if array {
		// streamGenerateContent without alt=sse: a JSON array streamed,
		// still translated event by event for an SSE client.
		t.stream, t.array, t.elements = true, true, newArrayStream(t.opts.MaxEventBytes)
		h.Set("Content-Type", "text/event-stream")
	}
	return nil
}

// ResponseBody implements [Translator.ResponseBody].
func (t *openAIToGemini) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if t.stream {
		t.resetOutput(len(chunk))
		var err error
		if t.array {
			err = t.elements.feed(chunk, t.data)
		} else {
			err = t.splitter.Feed(chunk, t.event)
		}
		if err == nil {
			err = t.failure
		}
		if err == nil && eos {
			if len(t.finished) == 0 {
				err = errors.New("the Gemini stream ended before a finish reason")
			} else {
				t.end()
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
		_, b := apierror.Render(googleError(t.status, body))
		return b, nil
	}
	var resp gemini.Response
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("reading the Gemini response: %w", err)
	}
	t.observe(&resp)
	t.id, t.created = t.completionID(resp.ResponseID), t.now().Unix()
	out := openai.ChatCompletion{ID: t.id, Object: "chat.completion", Created: t.created, Model: t.model, Usage: openAIUsage(t.usage)}
	for _, c := range resp.Candidates {
		msg := &openai.ResponseMessage{Role: "assistant"}
		var text strings.Builder
		hasText := false
		if c.Content != nil {
			for _, p := range c.Content.Parts {
				switch {
				case p.FunctionCall != nil:
					msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: t.callID(p.FunctionCall.ID, p.ThoughtSignature), Type: "function",
						Function: openai.FunctionCall{Name: p.FunctionCall.Name, Arguments: string(orEmptyObject(p.FunctionCall.Args))}})
				case p.Text != nil:
					s, err := jsonscan.Unquote(p.Text)
					if err != nil {
						return nil, fmt.Errorf("reading the Gemini response: text: %w", err)
					}
					if p.Thought {
						msg.ReasoningContent += s
						continue
					}
					text.WriteString(s)
					hasText = true
				}
			}
		}
		if hasText {
			s := text.String()
			msg.Content = &s
		}
		finish := geminiFinish(c.FinishReason, len(msg.ToolCalls) > 0)
		out.Choices = append(out.Choices, openai.Choice{Index: c.Index, Message: msg, FinishReason: &finish, Logprobs: geminiLogprobs(c.LogprobsResult)})
	}
	if len(out.Choices) == 0 { // the prompt was blocked
		finish := "content_filter"
		out.Choices = []openai.Choice{{Message: &openai.ResponseMessage{Role: "assistant"}, FinishReason: &finish}}
	}
	return json.Marshal(&out)
}

// geminiLogprobs translates a candidate's log probabilities.
func geminiLogprobs(r *gemini.LogprobsResult) *openai.Logprobs {
	if r == nil || len(r.ChosenCandidates) == 0 {
		return nil
	}
	out := &openai.Logprobs{Content: make([]openai.TokenLogprob, 0, len(r.ChosenCandidates))}
	for i, c := range r.ChosenCandidates {
		lp := openai.TokenLogprob{Token: c.Token, Logprob: c.LogProbability, Bytes: tokenBytes(c.Token)}
		if i < len(r.TopCandidates) {
			for _, top := range r.TopCandidates[i].Candidates {
				lp.TopLogprobs = append(lp.TopLogprobs, openai.TokenLogprob{Token: top.Token, Logprob: top.LogProbability, Bytes: tokenBytes(top.Token)})
			}
		}
		out.Content = append(out.Content, lp)
	}
	return out
}

func tokenBytes(s string) []int {
	b := make([]int, len(s))
	for i := range len(s) {
		b[i] = int(s[i])
	}
	return b
}

// geminiFinish maps Gemini's finish reason to OpenAI's.
func geminiFinish(reason string, toolCalls bool) string {
	switch reason {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY":
		return "content_filter"
	default:
		if toolCalls {
			return "tool_calls"
		}
		return "stop"
	}
}

// googleError is the client's error for a Google error body (an object,
// or a stream request's array of one): its message, and its status
// (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, …) as the type.
func googleError(status int, body []byte) *apierror.Error {
	e := &apierror.Error{Status: status, Type: apierror.TypeUpstream, Message: "Vertex AI answered " + http.StatusText(status)}
	var r gemini.ErrorResponse
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
		var rs []gemini.ErrorResponse
		if json.Unmarshal(body, &rs) == nil && len(rs) > 0 {
			r = rs[0]
		}
	} else {
		_ = json.Unmarshal(body, &r)
	}
	if r.Error.Message != "" {
		e.Message = r.Error.Message
	}
	if r.Error.Status != "" {
		e.Type = apierror.Type(r.Error.Status)
	}
	return e
}

// completionID is the chat completion's ID: Gemini's response ID, or a
// random one.
func (t *openAIToGemini) completionID(responseID string) string {
	if t.id != "" {
		return t.id
	}
	if responseID != "" {
		return "chatcmpl-" + responseID
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "chatcmpl-" + hex.EncodeToString(b[:])
}

// callID is a function call's ID: Gemini's, or one made up (Gemini
// matches results to calls by name). A thought signature, which Gemini
// needs back with the call in the next turn, rides in the ID: clients
// return IDs as they got them.
func (t *openAIToGemini) callID(id, signature string) string {
	if id == "" {
		t.calls++
		id = "call_" + strconv.Itoa(t.calls)
	}
	if signature != "" {
		id += thoughtSignatureSep + signature
	}
	return id
}

// thoughtSignatureSep separates a call ID from the thought signature it
// carries (base64, which has no "~").
const thoughtSignatureSep = "~sig~"

// splitCallID returns a call ID and the thought signature it carries.
func splitCallID(id string) (string, string) {
	base, sig, _ := strings.Cut(id, thoughtSignatureSep)
	return base, sig
}

// event translates one streamGenerateContent SSE event.
func (t *openAIToGemini) event(ev []byte) {
	t.data(sse.Data(ev))
}

// data translates one streamGenerateContent response.
func (t *openAIToGemini) data(data []byte) {
	if t.failure != nil || len(data) == 0 {
		return
	}
	e := &t.scratch
	if err := e.read(data); err != nil {
		return // not an event of the protocol
	}
	if e.failure != nil {
		var g gemini.ErrorResponse
		_ = json.Unmarshal(append(append([]byte(`{"error":`), e.failure...), '}'), &g)
		status := g.Error.Code
		if status < 400 || status > 599 {
			status = http.StatusBadGateway
		}
		t.failure = &apierror.Error{Status: status, Type: apierror.Type(g.Error.Status), Code: "upstream_error", Message: "Vertex AI: " + g.Error.Message}
		return
	}
	t.observe(&gemini.Response{UsageMetadata: e.usage, ModelVersion: e.modelVersion})
	if !t.started {
		t.started = true
		t.id, t.created = t.completionID(e.responseID), t.now().Unix()
		t.roleChunk()
	}
	if len(e.candidates) == 0 && e.blockReason != "" {
		t.finish(0, "content_filter")
		return
	}
	for i := range e.candidates {
		c := &e.candidates[i]
		for _, p := range c.parts {
			switch {
			case p.call != nil:
				if t.toolCalls == nil {
					t.toolCalls = map[int]int{}
				}
				idx := t.toolCalls[c.index]
				t.toolCalls[c.index]++
				t.write(&openai.ChatCompletion{ID: t.id, Object: "chat.completion.chunk", Created: t.created, Model: t.model,
					Choices: []openai.Choice{{Index: c.index, Delta: &openai.ResponseMessage{ToolCalls: []openai.ToolCall{{Index: &idx,
						ID: t.callID(p.call.ID, p.signature), Type: "function",
						Function: openai.FunctionCall{Name: p.call.Name, Arguments: string(orEmptyObject(p.call.Args))}}}}}}})
			case p.text != nil && p.thought:
				s, _ := jsonscan.Unquote(p.text)
				t.write(&openai.ChatCompletion{ID: t.id, Object: "chat.completion.chunk", Created: t.created, Model: t.model,
					Choices: []openai.Choice{{Index: c.index, Delta: &openai.ResponseMessage{ReasoningContent: s}}}})
			case p.text != nil && c.index == 0:
				t.textChunk(p.text)
			case p.text != nil:
				s, _ := jsonscan.Unquote(p.text)
				t.write(&openai.ChatCompletion{ID: t.id, Object: "chat.completion.chunk", Created: t.created, Model: t.model,
					Choices: []openai.Choice{{Index: c.index, Delta: &openai.ResponseMessage{Content: &s}}}})
			}
		}
		if c.finishReason != "" {
			t.finish(c.index, geminiFinish(c.finishReason, t.toolCalls[c.index] > 0))
		}
	}
}

// finish writes a candidate's finish chunk, once.
func (t *openAIToGemini) finish(index int, reason string) {
	if t.finished == nil {
		t.finished = map[int]bool{}
	}
	if t.finished[index] {
		return
	}
	t.finished[index] = true
	if index == 0 {
		t.finishChunk(reason)
		return
	}
	t.write(&openai.ChatCompletion{ID: t.id, Object: "chat.completion.chunk", Created: t.created, Model: t.model,
		Choices: []openai.Choice{{Index: index, Delta: &openai.ResponseMessage{}, FinishReason: &reason}}})
}

// end ends the stream (Gemini's has no terminal event): the usage chunk
// when the client asked for it, then [DONE].
func (t *openAIToGemini) end() {
	if t.includeUsage {
		t.usageChunk(openAIUsage(t.usage))
	}
	t.done()
	t.complete = true
}

// observe reads a response's usage and model version.
func (t *openAIToGemini) observe(r *gemini.Response) {
	if r.ModelVersion != "" && t.model == "" {
		t.model = r.ModelVersion
	}
	u := r.UsageMetadata
	if u == nil {
		return
	}
	t.usage = llm.Usage{
		InputTokens:       u.PromptTokenCount,
		OutputTokens:      u.CandidatesTokenCount + u.ThoughtsTokenCount,
		CachedInputTokens: u.CachedContentTokenCount,
		ReasoningTokens:   u.ThoughtsTokenCount,
	}
	t.usage.TotalTokens = t.usage.InputTokens + t.usage.OutputTokens
}

// Usage implements [Translator.Usage].
func (t *openAIToGemini) Usage() llm.Usage { return t.usage }

// ResponseModel implements [Translator.ResponseModel].
func (t *openAIToGemini) ResponseModel() string { return t.model }

// Complete implements [Translator.Complete].
func (t *openAIToGemini) Complete() bool { return t.complete }

// openAIToVertexEmbeddings translates OpenAI embeddings to a Vertex AI text
// embedding model's predict: one instance per input text.
type openAIToVertexEmbeddings struct {
	opts     Options
	model    string
	base64   bool
	status   int
	body     bodyBuffer
	usage    llm.Usage
	complete bool
}

// Request implements [Translator.Request].
func (t *openAIToVertexEmbeddings) Request(req *llm.Request) (*Upstream, error) {
	var in struct {
		Input          json.RawMessage `json:"input"`
		Dimensions     *int            `json:"dimensions"`
		EncodingFormat string          `json:"encoding_format"`
	}
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, invalid("", "request body does not match the embeddings schema: "+err.Error())
	}
	var texts []string
	var one string
	if err := json.Unmarshal(in.Input, &one); err == nil {
		texts = []string{one}
	} else if json.Unmarshal(in.Input, &texts) != nil {
		return nil, unsupported("input", "Vertex AI embeds text, not tokens")
	}
	if len(texts) == 0 {
		return nil, invalid("input", "required")
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
	out := gemini.PredictRequest{Instances: make([]gemini.EmbeddingInstance, len(texts))}
	for i, s := range texts {
		out.Instances[i].Content = s
	}
	if in.Dimensions != nil {
		out.Parameters = &gemini.EmbeddingParams{OutputDimensionality: in.Dimensions}
	}
	body, err := json.Marshal(&out)
	if err != nil {
		return nil, err
	}
	return &Upstream{Path: geminiModelsPath + url.PathEscape(t.model) + ":" + gemini.MethodPredict, Body: body,
		SetHeaders: []config.HeaderValue{{Name: "Content-Type", Value: "application/json"}}}, nil
}

// ResponseHeaders implements [Translator.ResponseHeaders].
func (t *openAIToVertexEmbeddings) ResponseHeaders(status int, h http.Header) error {
	t.status = status
	rewrittenHeaders(status, h, false)
	return nil
}

// ResponseBody implements [Translator.ResponseBody].
func (t *openAIToVertexEmbeddings) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	body, done, err := t.body.whole(chunk, eos)
	if !done || err != nil {
		return nil, err
	}
	t.complete = true
	if t.status >= 400 {
		_, b := apierror.Render(googleError(t.status, body))
		return b, nil
	}
	var resp gemini.PredictResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("reading the Vertex AI embeddings: %w", err)
	}
	type datum struct {
		Object    string `json:"object"`
		Index     int    `json:"index"`
		Embedding any    `json:"embedding"`
	}
	data := make([]datum, len(resp.Predictions))
	var tokens int64
	for i, p := range resp.Predictions {
		var vec any = p.Embeddings.Values
		if t.base64 {
			vec = base64Floats(p.Embeddings.Values)
		}
		data[i] = datum{Object: "embedding", Index: i, Embedding: vec}
		tokens += int64(p.Embeddings.Statistics.TokenCount)
	}
	t.usage = llm.Usage{InputTokens: tokens, TotalTokens: tokens}
	return json.Marshal(map[string]any{"object": "list", "data": data, "model": t.model,
		"usage": map[string]int64{"prompt_tokens": tokens, "total_tokens": tokens}})
}

// Usage implements [Translator.Usage].
func (t *openAIToVertexEmbeddings) Usage() llm.Usage { return t.usage }

// ResponseModel implements [Translator.ResponseModel].
func (t *openAIToVertexEmbeddings) ResponseModel() string { return t.model }

// Complete implements [Translator.Complete].
func (t *openAIToVertexEmbeddings) Complete() bool { return t.complete }
