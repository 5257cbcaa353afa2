// Package bedrock holds the parts of Amazon Bedrock's runtime API the
// translations read and write: Converse and ConverseStream (the
// model-independent chat API), Titan text embeddings, and the framing of
// InvokeModelWithResponseStream. Field names follow the API reference
// (docs.aws.amazon.com/bedrock/latest/APIReference).
package bedrock

import "encoding/json"

// Path segments of the runtime API: /model/{modelId}/{operation}.
const (
	OperationConverse             = "converse"
	OperationConverseStream       = "converse-stream"
	OperationInvoke               = "invoke"
	OperationInvokeResponseStream = "invoke-with-response-stream"
)

// ConverseRequest is the body of Converse and ConverseStream (the model is
// in the path).
type ConverseRequest struct {
	Messages                     []Message         `json:"messages"`
	System                       []SystemBlock     `json:"system,omitempty"`
	InferenceConfig              *InferenceConfig  `json:"inferenceConfig,omitempty"`
	ToolConfig                   *ToolConfig       `json:"toolConfig,omitempty"`
	AdditionalModelRequestFields json.RawMessage   `json:"additionalModelRequestFields,omitempty"`
	RequestMetadata              map[string]string `json:"requestMetadata,omitempty"`
}

// Message is one turn: role "user" or "assistant".
type Message struct {
	Role    string         `json:"role"`
	Content []ContentBlock `json:"content"`
}

// SystemBlock is a part of the system prompt.
type SystemBlock struct {
	Text       json.RawMessage `json:"text,omitempty"` // a JSON string
	CachePoint *CachePoint     `json:"cachePoint,omitempty"`
}

// ContentBlock is a union: exactly one field is set.
type ContentBlock struct {
	Text             json.RawMessage   `json:"text,omitempty"` // a JSON string
	Image            *Image            `json:"image,omitempty"`
	ToolUse          *ToolUse          `json:"toolUse,omitempty"`
	ToolResult       *ToolResult       `json:"toolResult,omitempty"`
	ReasoningContent *ReasoningContent `json:"reasoningContent,omitempty"`
	CachePoint       *CachePoint       `json:"cachePoint,omitempty"`
}

// CachePoint marks the end of a cacheable prefix.
type CachePoint struct {
	Type string `json:"type"` // "default"
}

// Image is an image given by its bytes (base64 in JSON).
type Image struct {
	Format string      `json:"format"` // png, jpeg, gif, webp
	Source ImageSource `json:"source"`
}

// ImageSource holds an image's bytes, base64-encoded.
type ImageSource struct {
	Bytes string `json:"bytes"`
}

// ToolUse is a model's call of a tool.
type ToolUse struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

// ToolResult answers a ToolUse.
type ToolResult struct {
	ToolUseID string              `json:"toolUseId"`
	Content   []ToolResultContent `json:"content"`
	Status    string              `json:"status,omitempty"` // success, error
}

// ToolResultContent is a part of a tool result.
type ToolResultContent struct {
	Text json.RawMessage `json:"text,omitempty"` // a JSON string
	JSON json.RawMessage `json:"json,omitempty"`
}

// ReasoningContent is a model's reasoning, with the signature that lets
// it be sent back in later turns.
type ReasoningContent struct {
	ReasoningText   *ReasoningText `json:"reasoningText,omitempty"`
	RedactedContent string         `json:"redactedContent,omitempty"`
}

// ReasoningText is reasoning in clear.
type ReasoningText struct {
	Text      string `json:"text"`
	Signature string `json:"signature,omitempty"`
}

// InferenceConfig holds the sampling parameters every model takes.
type InferenceConfig struct {
	MaxTokens     *int64   `json:"maxTokens,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

// ToolConfig declares the tools and how the model may use them.
type ToolConfig struct {
	Tools      []Tool      `json:"tools"`
	ToolChoice *ToolChoice `json:"toolChoice,omitempty"`
}

// Tool is a tool's specification.
type Tool struct {
	ToolSpec ToolSpec `json:"toolSpec"`
}

// ToolSpec describes a tool.
type ToolSpec struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	InputSchema InputSchema `json:"inputSchema"`
}

// InputSchema holds a tool's JSON schema.
type InputSchema struct {
	JSON json.RawMessage `json:"json"`
}

// ToolChoice is a union: auto, any (some tool) or one named tool.
type ToolChoice struct {
	Auto *struct{}     `json:"auto,omitempty"`
	Any  *struct{}     `json:"any,omitempty"`
	Tool *ToolChoiceOf `json:"tool,omitempty"`
}

// ToolChoiceOf names the tool the model must use.
type ToolChoiceOf struct {
	Name string `json:"name"`
}

// ConverseResponse is Converse's answer.
type ConverseResponse struct {
	Output struct {
		Message *Message `json:"message"`
	} `json:"output"`
	StopReason string `json:"stopReason"`
	Usage      *Usage `json:"usage"`
}

// Usage counts a response's tokens. InputTokens excludes the cached
// (read and written) input.
type Usage struct {
	InputTokens           int64 `json:"inputTokens"`
	OutputTokens          int64 `json:"outputTokens"`
	TotalTokens           int64 `json:"totalTokens"`
	CacheReadInputTokens  int64 `json:"cacheReadInputTokens"`
	CacheWriteInputTokens int64 `json:"cacheWriteInputTokens"`
}

// Stream event types of ConverseStream (the ":event-type" header).
const (
	EventMessageStart      = "messageStart"
	EventContentBlockStart = "contentBlockStart"
	EventContentBlockDelta = "contentBlockDelta"
	EventContentBlockStop  = "contentBlockStop"
	EventMessageStop       = "messageStop"
	EventMetadata          = "metadata"
	// EventChunk carries one event of the model's own stream, base64 in
	// "bytes" (InvokeModelWithResponseStream).
	EventChunk = "chunk"
)

// StreamEvent is the payload of one ConverseStream event; which fields
// are set depends on its type.
type StreamEvent struct {
	Role              string          `json:"role,omitempty"`
	ContentBlockIndex int             `json:"contentBlockIndex"`
	Start             *BlockStart     `json:"start,omitempty"`
	Delta             *BlockDelta     `json:"delta,omitempty"`
	StopReason        string          `json:"stopReason,omitempty"`
	Usage             *Usage          `json:"usage,omitempty"`
	Bytes             []byte          `json:"bytes,omitempty"` // EventChunk
	Message           string          `json:"message,omitempty"`
	Metrics           json.RawMessage `json:"metrics,omitempty"`
}

// BlockStart starts a content block (a tool use; text blocks start with
// their first delta).
type BlockStart struct {
	ToolUse *struct {
		ToolUseID string `json:"toolUseId"`
		Name      string `json:"name"`
	} `json:"toolUse,omitempty"`
}

// BlockDelta is a piece of a content block.
type BlockDelta struct {
	Text    json.RawMessage `json:"text,omitempty"` // a JSON string
	ToolUse *struct {
		Input string `json:"input"`
	} `json:"toolUse,omitempty"`
	ReasoningContent *struct {
		Text      string `json:"text,omitempty"`
		Signature string `json:"signature,omitempty"`
	} `json:"reasoningContent,omitempty"`
}

// ErrorResponse is the body of an error status; its type is in the
// x-amzn-ErrorType header.
type ErrorResponse struct {
	Message string `json:"message"`
}

// EmbeddingRequest is the body of a Titan text embedding model's
// InvokeModel.
type EmbeddingRequest struct {
	InputText  string `json:"inputText"`
	Dimensions *int   `json:"dimensions,omitempty"`
	Normalize  *bool  `json:"normalize,omitempty"`
}

// EmbeddingResponse is a Titan text embedding model's answer.
type EmbeddingResponse struct {
	Embedding           []float64 `json:"embedding"`
	InputTextTokenCount int64     `json:"inputTextTokenCount"`
}
