package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// endpoint is the OpenAI API a request was sent to.
type endpoint uint8

const (
	epChat endpoint = iota
	epCompletion
	epEmbedding
)

// chatTurn is one chat message reduced to what the simulator uses.
type chatTurn struct {
	role, content string
}

// parsedRequest is a request body reduced to what the simulator uses.
type parsedRequest struct {
	endpoint        endpoint
	model           string // "" means the first served model, as in vLLM
	stream          bool
	includeUsage    bool
	continuousUsage bool
	maxTokens       int // 0 when unset
	ignoreEOS       bool
	cacheSalt       string

	messages []chatTurn // chat
	tools    string     // chat: the tools JSON, counted as prompt text

	prompt    string  // completion: text prompt
	promptIDs []int64 // completion: token-id prompt, when given instead of text

	inputs         []string  // embeddings: text inputs
	inputIDs       [][]int64 // embeddings: token-id inputs
	encodingFormat string    // embeddings: "float" or "base64"
	dimensions     int       // embeddings: 0 when unset
}

// wireRequest is the union of the fields the simulator reads from chat,
// completion and embedding requests. Unknown fields are ignored, as vLLM does.
type wireRequest struct {
	Model               *string         `json:"model"`
	Messages            json.RawMessage `json:"messages"`
	Prompt              json.RawMessage `json:"prompt"`
	Input               json.RawMessage `json:"input"`
	Tools               json.RawMessage `json:"tools"`
	Stream              *bool           `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	IgnoreEOS           *bool           `json:"ignore_eos"`
	CacheSalt           *string         `json:"cache_salt"`
	EncodingFormat      *string         `json:"encoding_format"`
	Dimensions          *int64          `json:"dimensions"`
}

type streamOptions struct {
	IncludeUsage         *bool `json:"include_usage"`
	ContinuousUsageStats *bool `json:"continuous_usage_stats"`
}

type wireMessage struct {
	Role    *string         `json:"role"`
	Content json.RawMessage `json:"content"`
}

type wirePart struct {
	Type string  `json:"type"`
	Text *string `json:"text"`
}

// maxTokensLimit bounds max_tokens before any arithmetic; vLLM rejects such
// values against max-model-len anyway.
const maxTokensLimit = 1 << 30

// parseRequest decodes and validates a request body for ep. Every error it
// returns is an *apiError with a 4xx status.
func parseRequest(ep endpoint, body []byte) (*parsedRequest, error) {
	var w wireRequest
	if err := json.Unmarshal(body, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, validationError("type_error", te.Field, "Input should be a valid "+te.Type.String())
		}
		return nil, validationError("json_invalid", "0", "JSON decode error")
	}
	p := &parsedRequest{endpoint: ep}
	if w.Model != nil {
		p.model = *w.Model
	}
	if w.CacheSalt != nil {
		if *w.CacheSalt == "" {
			return nil, badRequest("cache_salt", "Parameter 'cache_salt' must be a non-empty string if provided.")
		}
		p.cacheSalt = *w.CacheSalt
	}
	var err error
	switch ep {
	case epChat:
		err = p.parseChat(&w)
	case epCompletion:
		err = p.parseCompletion(&w)
	case epEmbedding:
		err = p.parseEmbedding(&w)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// parseGeneration reads the fields chat and completion share.
func (p *parsedRequest) parseGeneration(w *wireRequest) error {
	p.stream = w.Stream != nil && *w.Stream
	if o := w.StreamOptions; o != nil {
		if !p.stream {
			return badRequest("stream_options", "Stream options can only be defined when `stream=True`.")
		}
		p.includeUsage = o.IncludeUsage != nil && *o.IncludeUsage
		p.continuousUsage = o.ContinuousUsageStats != nil && *o.ContinuousUsageStats
	}
	mt := w.MaxTokens
	if p.endpoint == epChat && w.MaxCompletionTokens != nil {
		mt = w.MaxCompletionTokens
	}
	if mt != nil {
		if *mt < 1 {
			return badRequest("max_tokens", "max_tokens must be at least 1, got %d.", *mt)
		}
		p.maxTokens = int(min(*mt, maxTokensLimit))
	}
	p.ignoreEOS = w.IgnoreEOS != nil && *w.IgnoreEOS
	return nil
}

func (p *parsedRequest) parseChat(w *wireRequest) error {
	if isNull(w.Messages) {
		return validationError("missing", "messages", "Field required")
	}
	var msgs []wireMessage
	if err := json.Unmarshal(w.Messages, &msgs); err != nil {
		return validationError("list_type", "messages", "Input should be a valid list")
	}
	if len(msgs) == 0 {
		return validationError("too_short", "messages", "List should have at least 1 item after validation, not 0")
	}
	p.messages = make([]chatTurn, 0, len(msgs))
	for _, m := range msgs {
		if m.Role == nil || *m.Role == "" {
			return validationError("missing", "messages.role", "Field required")
		}
		text, err := messageText(m.Content)
		if err != nil {
			return err
		}
		p.messages = append(p.messages, chatTurn{role: *m.Role, content: text})
	}
	if !isNull(w.Tools) {
		p.tools = string(w.Tools)
	}
	return p.parseGeneration(w)
}

// messageText returns the text of a message content: a string, null, or an
// array of parts whose text parts are joined with newlines (other part types
// are ignored).
func messageText(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", validationError("string_type", "messages.content", "Input should be a valid string")
		}
		return s, nil
	}
	var parts []wirePart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", validationError("list_type", "messages.content", "Input should be a valid list")
	}
	var b strings.Builder
	for _, part := range parts {
		if part.Type != "text" || part.Text == nil {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(*part.Text)
	}
	return b.String(), nil
}

func (p *parsedRequest) parseCompletion(w *wireRequest) error {
	if isNull(w.Prompt) {
		return badRequest("prompt", "Either prompt or prompt_embeds must be provided and non-empty.")
	}
	texts, ids, err := textsOrTokens(w.Prompt, "prompt")
	if err != nil {
		return err
	}
	if len(texts)+len(ids) != 1 {
		return badRequest("prompt", "The simulator serves exactly one prompt per completion request, got %d.", len(texts)+len(ids))
	}
	if len(texts) == 1 {
		p.prompt = texts[0]
	} else {
		if len(ids[0]) == 0 {
			return badRequest("prompt", "Either prompt or prompt_embeds must be provided and non-empty.")
		}
		p.promptIDs = ids[0]
	}
	return p.parseGeneration(w)
}

func (p *parsedRequest) parseEmbedding(w *wireRequest) error {
	if isNull(w.Input) {
		return validationError("missing", "input", "Field required")
	}
	texts, ids, err := textsOrTokens(w.Input, "input")
	if err != nil {
		return err
	}
	if len(texts)+len(ids) == 0 {
		return badRequest("input", "Input must not be empty.")
	}
	for _, t := range ids {
		if len(t) == 0 {
			return badRequest("input", "Input must not be empty.")
		}
	}
	p.inputs, p.inputIDs = texts, ids
	p.encodingFormat = "float"
	if w.EncodingFormat != nil {
		switch f := *w.EncodingFormat; f {
		case "float", "base64":
			p.encodingFormat = f
		default:
			return validationError("literal_error", "encoding_format", "Input should be 'float' or 'base64'")
		}
	}
	if w.Dimensions != nil {
		if *w.Dimensions < 1 || *w.Dimensions > 65536 {
			return badRequest("dimensions", "dimensions must be between 1 and 65536, got %d.", *w.Dimensions)
		}
		p.dimensions = int(*w.Dimensions)
	}
	return nil
}

// textsOrTokens decodes the OpenAI prompt/input union: a string, an array of
// strings, an array of token ids, or an array of arrays of token ids.
func textsOrTokens(raw json.RawMessage, field string) (texts []string, ids [][]int64, err error) {
	invalid := validationError("union_type", field, "Input should be a string, a list of strings or a list of token ids")
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, nil, invalid
		}
		return []string{s}, nil, nil
	case '[':
	default:
		return nil, nil, invalid
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, nil, invalid
	}
	if len(items) == 0 {
		return nil, nil, nil
	}
	switch items[0][0] {
	case '"':
		if json.Unmarshal(raw, &texts) != nil {
			return nil, nil, invalid
		}
		return texts, nil, nil
	case '[':
		if json.Unmarshal(raw, &ids) != nil {
			return nil, nil, invalid
		}
		return nil, ids, nil
	default:
		var one []int64
		if json.Unmarshal(raw, &one) != nil {
			return nil, nil, invalid
		}
		return nil, [][]int64{one}, nil
	}
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}
