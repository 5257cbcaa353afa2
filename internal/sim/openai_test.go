package sim

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newOpenAIClient returns the official client pointed at the instance.
func newOpenAIClient(addr string, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL("http://" + addr + "/v1"),
		option.WithAPIKey("unused"),
		option.WithMaxRetries(0),
	}, opts...)...)
}

func TestOpenAIClient(t *testing.T) {
	c := startCluster(t, func(o *Options) {
		o.ServedModelNames = []string{"m", "alias"}
		o.LoRAModules = []LoRAModule{{Name: "adapter", Path: "/adapters/a"}}
	})
	client := newOpenAIClient(c.Addrs()[0])
	ctx := t.Context()
	messages := []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage("You are terse."),
		openai.UserMessage("Say something."),
	}

	t.Run("chat", func(t *testing.T) {
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "alias", Messages: messages, MaxTokens: openai.Int(7),
		})
		require.NoError(t, err)
		require.Len(t, resp.Choices, 1)
		assert.Equal(t, "m", resp.Model, "vLLM answers with the first served name")
		assert.True(t, strings.HasPrefix(resp.ID, "chatcmpl-"))
		assert.Equal(t, "assistant", string(resp.Choices[0].Message.Role))
		assert.NotEmpty(t, resp.Choices[0].Message.Content)
		assert.Equal(t, "length", resp.Choices[0].FinishReason)
		assert.Equal(t, int64(7), resp.Usage.CompletionTokens)
		assert.Positive(t, resp.Usage.PromptTokens)
		assert.Equal(t, resp.Usage.PromptTokens+7, resp.Usage.TotalTokens)
	})

	t.Run("chat stream with usage", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model: "m", Messages: messages, MaxCompletionTokens: openai.Int(12),
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		var acc openai.ChatCompletionAccumulator
		chunks := 0
		for stream.Next() {
			require.True(t, acc.AddChunk(stream.Current()))
			chunks++
		}
		require.NoError(t, stream.Err())
		require.NoError(t, stream.Close())
		assert.Equal(t, 1+12+1, chunks, "role, one chunk per token, usage")
		require.Len(t, acc.Choices, 1)
		assert.Equal(t, 12, countTokens(acc.Choices[0].Message.Content))
		assert.Equal(t, "length", acc.Choices[0].FinishReason)
		assert.Equal(t, int64(12), acc.Usage.CompletionTokens)
		assert.Positive(t, acc.Usage.PromptTokens)
	})

	t.Run("completion", func(t *testing.T) {
		resp, err := client.Completions.New(ctx, openai.CompletionNewParams{
			Model:     "adapter",
			Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
			MaxTokens: openai.Int(5),
		})
		require.NoError(t, err)
		assert.Equal(t, "adapter", resp.Model)
		assert.NotEmpty(t, resp.Choices[0].Text)
		assert.Equal(t, int64(5), resp.Usage.CompletionTokens)
	})

	t.Run("completion stream with usage", func(t *testing.T) {
		stream := client.Completions.NewStreaming(ctx, openai.CompletionNewParams{
			Model:         "m",
			Prompt:        openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: []int64{1, 2, 3, 4}},
			MaxTokens:     openai.Int(6),
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		var text strings.Builder
		var usage openai.CompletionUsage
		for stream.Next() {
			chunk := stream.Current()
			for _, ch := range chunk.Choices {
				text.WriteString(ch.Text)
			}
			if chunk.Usage.TotalTokens > 0 {
				usage = chunk.Usage
			}
		}
		require.NoError(t, stream.Err())
		assert.Equal(t, 6, countTokens(text.String()))
		assert.Equal(t, int64(4), usage.PromptTokens)
		assert.Equal(t, int64(6), usage.CompletionTokens)
	})

	t.Run("embeddings", func(t *testing.T) {
		for _, format := range []openai.EmbeddingNewParamsEncodingFormat{"", openai.EmbeddingNewParamsEncodingFormatBase64} {
			resp, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
				Model:          "m",
				Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"first", "second"}},
				Dimensions:     openai.Int(8),
				EncodingFormat: format,
			})
			require.NoError(t, err, format)
			require.Len(t, resp.Data, 2)
			assert.Len(t, resp.Data[0].Embedding, 8)
			assert.NotEqual(t, resp.Data[0].Embedding, resp.Data[1].Embedding)
			assert.Positive(t, resp.Usage.PromptTokens)
		}
	})

	t.Run("models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		require.NoError(t, err)
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
			assert.Equal(t, "vllm", m.OwnedBy)
		}
		assert.Equal(t, []string{"m", "alias", "adapter"}, ids)
	})

	t.Run("unknown model", func(t *testing.T) {
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: messages})
		var apiErr *openai.Error
		require.True(t, errors.As(err, &apiErr), "%v", err)
		assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
		assert.Equal(t, "NotFoundError", apiErr.Type)
		assert.Equal(t, "The model `gpt-4o` does not exist.", apiErr.Message)
		assert.Equal(t, "model", apiErr.Param)
	})

	t.Run("routing header", func(t *testing.T) {
		var resp *http.Response
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "m", Messages: messages, MaxTokens: openai.Int(1),
		}, option.WithResponseInto(&resp))
		require.NoError(t, err)
		assert.Equal(t, c.Addrs()[0], resp.Header.Get(HeaderInstance))
	})
}
