// Package openai holds the wire types of the OpenAI API that the gateway
// reads. Only the fields the gateway needs are declared: bodies are passed
// through, not re-encoded from these types.
//
// This package holds types only, no logic, and imports nothing of this
// module.
package openai

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
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details"`
}

// PromptTokensDetails breaks down prompt tokens.
type PromptTokensDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
}

// CompletionTokensDetails breaks down completion tokens.
type CompletionTokensDetails struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
}
