package llm

import (
	"context"
	"net/http"
)

// Operation is an input endpoint's operation, named as the OTel GenAI
// attribute gen_ai.operation.name.
type Operation string

// Operations served today.
const (
	OperationChat       Operation = "chat"
	OperationCompletion Operation = "completion"
	OperationEmbeddings Operation = "embeddings"
	// OperationMessages is Anthropic's Messages API (/anthropic/v1/messages)
	// and OperationCountTokens its token counting.
	OperationMessages    Operation = "messages"
	OperationCountTokens Operation = "count_tokens"
	// OpenAI's other endpoints, served by OpenAI-compatible backends:
	// the Responses API and its token counting, image generation, speech,
	// and transcription and translation (multipart bodies).
	OperationResponses            Operation = "responses"
	OperationResponsesInputTokens Operation = "responses_input_tokens"
	OperationImageGeneration      Operation = "image_generation"
	OperationSpeech               Operation = "speech"
	OperationTranscription        Operation = "transcription"
	OperationTranslation          Operation = "translation"
	// OperationRerank is Cohere's Rerank API (/cohere/v2/rerank).
	OperationRerank Operation = "rerank"
	// OperationPassThrough is a request of a Gateway API HTTPRoute,
	// forwarded as it came (any path, any method).
	OperationPassThrough Operation = "passthrough"
)

// Multipart reports whether the operation's body is multipart/form-data
// rather than JSON.
func (o Operation) Multipart() bool {
	return o == OperationTranscription || o == OperationTranslation
}

// Request is the client's parsed request, shared read-only by every attempt.
type Request struct {
	Operation Operation
	// Method and Path (with the query) are the client's; translations of
	// AI operations build their own path.
	Method string
	Path   string
	// Body is the client's body as received.
	Body []byte
	// ContentType is the body's media type with its parameters (a
	// multipart body's boundary).
	ContentType string
	// Model is the body's model.
	Model string
	// Stream is true when the client asked for a streamed response.
	Stream bool
	// IncludeUsage is true when the client asked for usage in the stream.
	IncludeUsage bool
}

// UpstreamRequest is one attempt's request, before the transport sends it.
type UpstreamRequest struct {
	Method string
	// Host is the authority the request is sent to (the Host header), once
	// the attempt has its endpoint; a signature covers it.
	Host string
	// Path is the upstream path with its query.
	Path   string
	Header http.Header
	Body   []byte
	// Overrides are the client's x-aigw-* headers, taken out of Header:
	// per-request credentials a trusted filter set (a policy's
	// credentialOverride reads them), never sent upstream.
	Overrides http.Header
}

// DynamicMetadata is what a trusted filter attached to a request, by
// namespace and key: Envoy's dynamic metadata forwarded to the ext_proc
// server, or an in-process authentication step's.
type DynamicMetadata map[string]map[string]any

type dynamicMetadataKey struct{}

// WithDynamicMetadata returns ctx carrying md.
func WithDynamicMetadata(ctx context.Context, md DynamicMetadata) context.Context {
	return context.WithValue(ctx, dynamicMetadataKey{}, md)
}

// DynamicMetadataFrom returns the metadata ctx carries, or nil.
func DynamicMetadataFrom(ctx context.Context) DynamicMetadata {
	md, _ := ctx.Value(dynamicMetadataKey{}).(DynamicMetadata)
	return md
}

// Authenticator injects a backend's credentials into an upstream request.
// It runs last, so that a signature covers the final headers and body. The
// pipeline removes the client's credential headers before it runs.
type Authenticator interface {
	Authenticate(ctx context.Context, req *UpstreamRequest) error
}

// Usage is the token usage of one response. Counts absent from the
// response are zero.
type Usage struct {
	InputTokens              int64
	OutputTokens             int64
	TotalTokens              int64
	CachedInputTokens        int64
	CacheCreationInputTokens int64
	ReasoningTokens          int64
}
