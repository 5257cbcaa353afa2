package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Response bodies, shaped field for field like vLLM's (pydantic models dumped
// with every field, nulls included, for non-streaming responses).

type usageInfo struct {
	PromptTokens        int       `json:"prompt_tokens"`
	TotalTokens         int       `json:"total_tokens"`
	CompletionTokens    int       `json:"completion_tokens"`
	PromptTokensDetails *struct{} `json:"prompt_tokens_details"`
}

type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	ServiceTier       *string      `json:"service_tier"`
	SystemFingerprint *string      `json:"system_fingerprint"`
	Usage             usageInfo    `json:"usage"`
	PromptLogprobs    *struct{}    `json:"prompt_logprobs"`
	KVTransferParams  *struct{}    `json:"kv_transfer_params"`
}

type chatChoice struct {
	Index        int         `json:"index"`
	Message      chatMessage `json:"message"`
	Logprobs     *struct{}   `json:"logprobs"`
	FinishReason string      `json:"finish_reason"`
	StopReason   *string     `json:"stop_reason"`
}

type chatMessage struct {
	Role             string     `json:"role"`
	Content          string     `json:"content"`
	Refusal          *string    `json:"refusal"`
	Annotations      *struct{}  `json:"annotations"`
	Audio            *struct{}  `json:"audio"`
	FunctionCall     *struct{}  `json:"function_call"`
	ToolCalls        []struct{} `json:"tool_calls"`
	ReasoningContent *string    `json:"reasoning_content"`
}

type textCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []textChoice `json:"choices"`
	ServiceTier       *string      `json:"service_tier"`
	SystemFingerprint *string      `json:"system_fingerprint"`
	Usage             usageInfo    `json:"usage"`
	KVTransferParams  *struct{}    `json:"kv_transfer_params"`
}

type textChoice struct {
	Index          int       `json:"index"`
	Text           string    `json:"text"`
	Logprobs       *struct{} `json:"logprobs"`
	FinishReason   string    `json:"finish_reason"`
	StopReason     *string   `json:"stop_reason"`
	PromptLogprobs *struct{} `json:"prompt_logprobs"`
}

type embeddingList struct {
	ID      string          `json:"id"`
	Object  string          `json:"object"`
	Created int64           `json:"created"`
	Model   string          `json:"model"`
	Data    []embeddingData `json:"data"`
	Usage   usageInfo       `json:"usage"`
}

type embeddingData struct {
	Index     int    `json:"index"`
	Object    string `json:"object"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string
}

type modelList struct {
	Object string      `json:"object"`
	Data   []modelCard `json:"data"`
}

type modelCard struct {
	ID          string            `json:"id"`
	Object      string            `json:"object"`
	Created     int64             `json:"created"`
	OwnedBy     string            `json:"owned_by"`
	Root        string            `json:"root"`
	Parent      *string           `json:"parent"`
	MaxModelLen *int              `json:"max_model_len"`
	Permission  []modelPermission `json:"permission"`
}

type modelPermission struct {
	ID                 string  `json:"id"`
	Object             string  `json:"object"`
	Created            int64   `json:"created"`
	AllowCreateEngine  bool    `json:"allow_create_engine"`
	AllowSampling      bool    `json:"allow_sampling"`
	AllowLogprobs      bool    `json:"allow_logprobs"`
	AllowSearchIndices bool    `json:"allow_search_indices"`
	AllowView          bool    `json:"allow_view"`
	AllowFineTuning    bool    `json:"allow_fine_tuning"`
	Organization       string  `json:"organization"`
	Group              *string `json:"group"`
	IsBlocking         bool    `json:"is_blocking"`
}

// Streaming chunks are appended by hand: one per token makes encoding/json's
// reflection the largest cost of a stream. vLLM dumps chunks with
// exclude_unset, so fields it never sets (usage, stop_reason before the last
// chunk of a chat) are absent rather than null.

// chunkPrefix returns `{"id":..,"object":..,"created":..,"model":..,"choices":[`.
func chunkPrefix(id, object string, created int64, model string) []byte {
	b := []byte(`{"id":`)
	b = appendJSONString(b, id)
	b = append(b, `,"object":`...)
	b = appendJSONString(b, object)
	b = append(b, `,"created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, model)
	return append(b, `,"choices":[`...)
}

// appendChatRoleChunk appends the first chat chunk, which carries the role.
func appendChatRoleChunk(b, prefix []byte) []byte {
	b = append(b, prefix...)
	return append(b, `{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`...)
}

// appendChatChunk appends a chat chunk with one token; finish is "" except
// on the last token.
func appendChatChunk(b, prefix []byte, text, finish string, usage *usageInfo) []byte {
	b = append(b, prefix...)
	b = append(b, `{"index":0,"delta":{"content":`...)
	b = appendJSONString(b, text)
	b = append(b, `},"logprobs":null,"finish_reason":`...)
	if finish == "" {
		b = append(b, `null}]`...)
	} else {
		b = appendJSONString(b, finish)
		b = append(b, `,"stop_reason":null}]`...)
	}
	return appendUsageTail(b, usage)
}

// appendTextChunk appends a completion chunk with one token.
func appendTextChunk(b, prefix []byte, text, finish string, usage *usageInfo) []byte {
	b = append(b, prefix...)
	b = append(b, `{"index":0,"text":`...)
	b = appendJSONString(b, text)
	b = append(b, `,"logprobs":null,"finish_reason":`...)
	if finish == "" {
		b = append(b, `null`...)
	} else {
		b = appendJSONString(b, finish)
	}
	b = append(b, `,"stop_reason":null}]`...)
	return appendUsageTail(b, usage)
}

// appendUsageChunk appends the final usage-only chunk: no choices.
func appendUsageChunk(b, prefix []byte, usage *usageInfo) []byte {
	b = append(b, prefix...)
	b = append(b, ']')
	return appendUsageTail(b, usage)
}

// appendUsageTail closes a chunk, with a usage object when usage is not nil.
func appendUsageTail(b []byte, u *usageInfo) []byte {
	if u == nil {
		return append(b, '}')
	}
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(u.PromptTokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(u.TotalTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CompletionTokens), 10)
	return append(b, `}}`...)
}

// marshalJSON encodes v like encoding/json but without HTML escaping, as
// Python's json module (and so vLLM) writes "<", ">" and "&" literally.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// appendJSONString appends s as a JSON string, escaped as marshalJSON
// escapes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			enc, err := marshalJSON(s)
			if err != nil { // cannot happen for a string
				return append(b, `""`...)
			}
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
