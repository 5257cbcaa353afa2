// Package anthropic holds the wire types of Anthropic's Messages API
// (https://docs.anthropic.com/en/api/messages) that the gateway writes and
// reads when it translates to and from it.
//
// This package holds types only, no logic, and imports nothing of this
// module.
package anthropic

import "encoding/json"

// Version is the anthropic-version header the gateway sends.
const Version = "2023-06-01"

// Request is a Messages request.
type Request struct {
	Model         string      `json:"model"`
	MaxTokens     int64       `json:"max_tokens"`
	System        []Block     `json:"system,omitempty"`
	Messages      []Message   `json:"messages"`
	StopSequences []string    `json:"stop_sequences,omitempty"`
	Temperature   *float64    `json:"temperature,omitempty"`
	TopP          *float64    `json:"top_p,omitempty"`
	Stream        bool        `json:"stream,omitempty"`
	Tools         []Tool      `json:"tools,omitempty"`
	ToolChoice    *ToolChoice `json:"tool_choice,omitempty"`
	Metadata      *Metadata   `json:"metadata,omitempty"`
	Thinking      *Thinking   `json:"thinking,omitempty"`
}

// Thinking turns extended thinking on with a token budget.
type Thinking struct {
	Type         string `json:"type"`
	BudgetTokens int64  `json:"budget_tokens"`
}

// Message is one turn.
type Message struct {
	Role    string  `json:"role"`
	Content []Block `json:"content"`
}

// Block is a content block; Type selects the fields that apply.
type Block struct {
	Type string `json:"type"`
	// text, as its JSON string (it is copied between APIs without being
	// decoded)
	Text json.RawMessage `json:"text,omitempty"`
	// image
	Source *ImageSource `json:"source,omitempty"`
	// tool_use
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// tool_result
	ToolUseID string  `json:"tool_use_id,omitempty"`
	Content   []Block `json:"content,omitempty"`
	IsError   bool    `json:"is_error,omitempty"`
	// thinking, and redacted_thinking's Data
	Thinking  string `json:"thinking,omitempty"`
	Signature string `json:"signature,omitempty"`
	Data      string `json:"data,omitempty"`
	// CacheControl marks the end of a cacheable prefix.
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// ImageSource is an image, inline (base64) or by URL.
type ImageSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

// Tool is a client tool.
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

// ToolChoice says whether and which tool to use.
type ToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// Metadata is the request's metadata.
type Metadata struct {
	UserID string `json:"user_id,omitempty"`
}

// Response is a Messages response.
type Response struct {
	ID           string  `json:"id"`
	Type         string  `json:"type"`
	Role         string  `json:"role"`
	Model        string  `json:"model"`
	Content      []Block `json:"content"`
	StopReason   string  `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
	Usage        Usage   `json:"usage"`
}

// Usage is Messages token usage.
type Usage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}

// Event is one server-sent event of a streamed response; Type selects the
// fields that apply.
type Event struct {
	Type string `json:"type"`
	// message_start
	Message *Response `json:"message,omitempty"`
	// content_block_start, content_block_delta, content_block_stop
	Index        int    `json:"index"`
	ContentBlock *Block `json:"content_block,omitempty"`
	Delta        *Delta `json:"delta,omitempty"`
	// message_delta
	Usage *Usage `json:"usage,omitempty"`
	// error
	Error *Error `json:"error,omitempty"`
}

// Delta is a content_block_delta's or message_delta's change.
type Delta struct {
	Type        string          `json:"type"`
	Text        json.RawMessage `json:"text,omitempty"`
	PartialJSON string          `json:"partial_json,omitempty"`
	Thinking    string          `json:"thinking,omitempty"`
	Signature   string          `json:"signature,omitempty"`
	// message_delta
	StopReason   string  `json:"stop_reason,omitempty"`
	StopSequence *string `json:"stop_sequence,omitempty"`
}

// ErrorResponse is an error body.
type ErrorResponse struct {
	Type  string `json:"type"`
	Error Error  `json:"error"`
}

// Error is an error's type and message.
type Error struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// CountTokensResponse is the answer of /v1/messages/count_tokens.
type CountTokensResponse struct {
	InputTokens int64 `json:"input_tokens"`
}
