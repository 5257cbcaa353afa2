// Package openai holds the wire types of the OpenAI API that the gateway
// reads. Only the fields the gateway needs are declared: bodies are passed
// through, not re-encoded from these types.
//
// This package holds types only, no logic, and imports nothing of this
// module.
package openai

import "encoding/json"

// Paths of the OpenAI endpoints the gateway serves, relative to /v1.
const (
	PathChatCompletions = "chat/completions"
	PathCompletions     = "completions"
	PathEmbeddings      = "embeddings"
)

// ResponseHead is the part of a response or stream chunk the gateway reads.
type ResponseHead struct {
	Model   string `json:"model"`
	Usage   *Usage `json:"usage"`
	Choices []struct {
		Index int `json:"index"`
	} `json:"choices"`
}

// Usage is OpenAI's token usage block.
type Usage struct {
	PromptTokens            int64                    `json:"prompt_tokens"`
	CompletionTokens        int64                    `json:"completion_tokens"`
	TotalTokens             int64                    `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

// PromptTokensDetails breaks down prompt tokens.
type PromptTokensDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
}

// CompletionTokensDetails breaks down completion tokens.
type CompletionTokensDetails struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

// ChatRequest is a chat completion request, as far as a translation to
// another API reads it.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Stop                json.RawMessage `json:"stop"`
	Stream              bool            `json:"stream"`
	StreamOptions       *StreamOptions  `json:"stream_options"`
	Tools               []Tool          `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
	User                string          `json:"user"`
	ResponseFormat      *ResponseFormat `json:"response_format"`
	ReasoningEffort     string          `json:"reasoning_effort"`
	// Fields only some providers translate.
	N                *int64   `json:"n"`
	PresencePenalty  *float64 `json:"presence_penalty"`
	FrequencyPenalty *float64 `json:"frequency_penalty"`
	Seed             *int64   `json:"seed"`
	Logprobs         *bool    `json:"logprobs"`
	TopLogprobs      *int64   `json:"top_logprobs"`
}

// ResponseFormat asks for text, any JSON object, or JSON of a schema.
type ResponseFormat struct {
	Type       string            `json:"type"`
	JSONSchema *JSONSchemaFormat `json:"json_schema"`
}

// JSONSchemaFormat is a json_schema response format's schema and name.
type JSONSchemaFormat struct {
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema"`
}

// StreamOptions are a streamed request's options.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Message is one chat message. Content is a string, an array of parts, or
// null.
type Message struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	Name       string          `json:"name"`
	ToolCalls  []ToolCall      `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
	// ThinkingBlocks are an assistant turn's signed reasoning, sent back so
	// that the provider continues it.
	ThinkingBlocks []ThinkingBlock `json:"thinking_blocks"`
}

// ThinkingBlock is reasoning a provider signed (Anthropic's thinking and
// redacted_thinking blocks, Bedrock's reasoning content): returned to the
// client and sent back in later turns, as the thinking_blocks convention
// of OpenAI-compatible gateways has it.
type ThinkingBlock struct {
	Type      string `json:"type"` // "thinking" or "redacted_thinking"
	Thinking  string `json:"thinking,omitempty"`
	Signature string `json:"signature,omitempty"`
	Data      string `json:"data,omitempty"`
}

// ContentPart is one part of a message's content.
type ContentPart struct {
	Type     string    `json:"type"`
	Text     string    `json:"text"`
	Refusal  string    `json:"refusal"`
	ImageURL *ImageURL `json:"image_url"`
	// CacheControl marks the end of a cacheable prefix
	// ({"type":"ephemeral"}), for providers with prompt caching.
	CacheControl json.RawMessage `json:"cache_control"`
}

// ImageURL is an image part's URL (https or a data URL).
type ImageURL struct {
	URL string `json:"url"`
}

// ToolCall is an assistant's call of a function.
type ToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is a call's function name and JSON arguments.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Tool is a function the model may call.
type Tool struct {
	Type     string   `json:"type"`
	Function Function `json:"function"`
}

// Function describes a tool's function.
type Function struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

// ChatCompletion is a chat completion response.
type ChatCompletion struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []Choice `json:"choices"`
	Usage   *Usage   `json:"usage,omitempty"`
}

// Choice is one completion of a response.
type Choice struct {
	Index        int              `json:"index"`
	Message      *ResponseMessage `json:"message,omitempty"`
	Delta        *ResponseMessage `json:"delta,omitempty"`
	FinishReason *string          `json:"finish_reason"`
	Logprobs     *Logprobs        `json:"logprobs,omitempty"`
}

// Logprobs are a choice's tokens with their log probabilities.
type Logprobs struct {
	Content []TokenLogprob `json:"content"`
}

// TokenLogprob is a token's log probability, with the most likely
// alternatives at its position.
type TokenLogprob struct {
	Token       string         `json:"token"`
	Logprob     float64        `json:"logprob"`
	Bytes       []int          `json:"bytes"`
	TopLogprobs []TokenLogprob `json:"top_logprobs,omitempty"`
}

// ResponseMessage is a response's message, or a stream chunk's delta.
type ResponseMessage struct {
	Role             string          `json:"role,omitempty"`
	Content          *string         `json:"content,omitempty"`
	ReasoningContent string          `json:"reasoning_content,omitempty"`
	ThinkingBlocks   []ThinkingBlock `json:"thinking_blocks,omitempty"`
	ToolCalls        []ToolCall      `json:"tool_calls,omitempty"`
}
