// Package gemini holds the parts of Vertex AI's Gemini API
// (generateContent, streamGenerateContent, and the text embedding models'
// predict) the translations read and write. Field names follow the
// Vertex AI REST reference (cloud.google.com/vertex-ai/docs/reference/rest).
package gemini

import "encoding/json"

// Methods of a publisher model: /publishers/google/models/{model}:{method}.
const (
	MethodGenerateContent       = "generateContent"
	MethodStreamGenerateContent = "streamGenerateContent"
	MethodPredict               = "predict"
)

// Request is the body of generateContent and streamGenerateContent.
type Request struct {
	Contents          []Content         `json:"contents"`
	SystemInstruction *Content          `json:"systemInstruction,omitempty"`
	Tools             []Tool            `json:"tools,omitempty"`
	ToolConfig        *ToolConfig       `json:"toolConfig,omitempty"`
	GenerationConfig  *GenerationConfig `json:"generationConfig,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
}

// Content is one turn: role "user" or "model" (none for the system
// instruction).
type Content struct {
	Role  string `json:"role,omitempty"`
	Parts []Part `json:"parts"`
}

// Part is a union: exactly one of its data fields is set.
type Part struct {
	Text             json.RawMessage   `json:"text,omitempty"` // a JSON string
	Thought          bool              `json:"thought,omitempty"`
	ThoughtSignature string            `json:"thoughtSignature,omitempty"`
	InlineData       *Blob             `json:"inlineData,omitempty"`
	FileData         *FileData         `json:"fileData,omitempty"`
	FunctionCall     *FunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse *FunctionResponse `json:"functionResponse,omitempty"`
}

// Blob is inline bytes, base64 in JSON.
type Blob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

// FileData is a file by URI (gs:// or https).
type FileData struct {
	MimeType string `json:"mimeType"`
	FileURI  string `json:"fileUri"`
}

// FunctionCall is the model's call of a function.
type FunctionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

// FunctionResponse answers a FunctionCall.
type FunctionResponse struct {
	ID       string          `json:"id,omitempty"`
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

// Tool declares functions.
type Tool struct {
	FunctionDeclarations []FunctionDeclaration `json:"functionDeclarations"`
}

// FunctionDeclaration describes a function; ParametersJSONSchema is its
// JSON schema as it is.
type FunctionDeclaration struct {
	Name                 string          `json:"name"`
	Description          string          `json:"description,omitempty"`
	ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema,omitempty"`
}

// ToolConfig says how the model may call functions.
type ToolConfig struct {
	FunctionCallingConfig FunctionCallingConfig `json:"functionCallingConfig"`
}

// FunctionCallingConfig: mode AUTO, ANY or NONE; ANY may name the allowed
// functions.
type FunctionCallingConfig struct {
	Mode                 string   `json:"mode"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

// GenerationConfig holds the sampling and output parameters.
type GenerationConfig struct {
	Temperature        *float64        `json:"temperature,omitempty"`
	TopP               *float64        `json:"topP,omitempty"`
	CandidateCount     *int64          `json:"candidateCount,omitempty"`
	MaxOutputTokens    *int64          `json:"maxOutputTokens,omitempty"`
	StopSequences      []string        `json:"stopSequences,omitempty"`
	PresencePenalty    *float64        `json:"presencePenalty,omitempty"`
	FrequencyPenalty   *float64        `json:"frequencyPenalty,omitempty"`
	Seed               *int64          `json:"seed,omitempty"`
	ResponseLogprobs   bool            `json:"responseLogprobs,omitempty"`
	Logprobs           *int64          `json:"logprobs,omitempty"`
	ResponseMimeType   string          `json:"responseMimeType,omitempty"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema,omitempty"`
	ThinkingConfig     *ThinkingConfig `json:"thinkingConfig,omitempty"`
}

// Empty reports whether g encodes to {}: every field is omitted.
func (g *GenerationConfig) Empty() bool {
	return g.Temperature == nil && g.TopP == nil && g.CandidateCount == nil && g.MaxOutputTokens == nil && len(g.StopSequences) == 0 &&
		g.PresencePenalty == nil && g.FrequencyPenalty == nil && g.Seed == nil && !g.ResponseLogprobs && g.Logprobs == nil &&
		g.ResponseMimeType == "" && len(g.ResponseJSONSchema) == 0 && g.ThinkingConfig == nil
}

// ThinkingConfig sets a thinking budget in tokens and asks for thought
// summaries.
type ThinkingConfig struct {
	ThinkingBudget  *int64 `json:"thinkingBudget,omitempty"`
	IncludeThoughts bool   `json:"includeThoughts,omitempty"`
}

// Response is generateContent's answer, and each event of
// streamGenerateContent (?alt=sse).
type Response struct {
	Candidates     []Candidate    `json:"candidates"`
	UsageMetadata  *UsageMetadata `json:"usageMetadata"`
	ModelVersion   string         `json:"modelVersion"`
	ResponseID     string         `json:"responseId"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
}

// Candidate is one generated answer.
type Candidate struct {
	Index          int             `json:"index"`
	Content        *Content        `json:"content"`
	FinishReason   string          `json:"finishReason"`
	LogprobsResult *LogprobsResult `json:"logprobsResult"`
}

// LogprobsResult holds the chosen tokens' log probabilities and, per
// position, the top candidates'.
type LogprobsResult struct {
	TopCandidates    []TopCandidates `json:"topCandidates"`
	ChosenCandidates []TokenLogprob  `json:"chosenCandidates"`
}

// TopCandidates are one position's most likely tokens.
type TopCandidates struct {
	Candidates []TokenLogprob `json:"candidates"`
}

// TokenLogprob is a token and its log probability.
type TokenLogprob struct {
	Token          string  `json:"token"`
	LogProbability float64 `json:"logProbability"`
}

// UsageMetadata counts a response's tokens: the prompt (cached included),
// the candidates, and the thoughts.
type UsageMetadata struct {
	PromptTokenCount        int64 `json:"promptTokenCount"`
	CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
	TotalTokenCount         int64 `json:"totalTokenCount"`
	CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
}

// ErrorResponse is Google's error body.
type ErrorResponse struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

// PredictRequest is a text embedding model's predict body.
type PredictRequest struct {
	Instances  []EmbeddingInstance `json:"instances"`
	Parameters *EmbeddingParams    `json:"parameters,omitempty"`
}

// EmbeddingInstance is one text to embed.
type EmbeddingInstance struct {
	Content string `json:"content"`
}

// EmbeddingParams are the embedding's options.
type EmbeddingParams struct {
	OutputDimensionality *int `json:"outputDimensionality,omitempty"`
}

// PredictResponse holds one embedding per instance.
type PredictResponse struct {
	Predictions []struct {
		Embeddings struct {
			Values     []float64 `json:"values"`
			Statistics struct {
				TokenCount float64 `json:"token_count"`
			} `json:"statistics"`
		} `json:"embeddings"`
	} `json:"predictions"`
}
