package dataplane

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	anthropicsdk "github.com/anthropics/anthropic-sdk-go/v2"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aigw-dev/aigw/internal/providertest"
)

// bedrockConfig routes to Bedrock's Converse (m-nova), Claude on Bedrock
// (m-aws-claude), Titan embeddings (m-titan), and from Bedrock to
// Anthropic when a Bedrock model fails (m-bedrock-fail) or cannot take the
// request (m-vision).
const bedrockConfig = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw}]
  llmRequestCosts:
    - {metadataKey: llm_total_token, type: TotalToken}
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-nova}]}]
      backendRefs: [{name: bedrock, modelNameOverride: "us.amazon.nova-lite-v1:0"}]
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-aws-claude}]}]
      backendRefs: [{name: aws-claude, modelNameOverride: "anthropic.claude-3-5-haiku-20241022-v1:0"}]
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-titan}]}]
      backendRefs: [{name: bedrock, modelNameOverride: "amazon.titan-embed-text-v2:0"}]
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-bedrock-fail}]}]
      backendRefs:
        - {name: bedrock, priority: 0, modelNameOverride: fail-model}
        - {name: claude, priority: 1, modelNameOverride: claude-sonnet-4-5}
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-vision}]}]
      backendRefs:
        - {name: bedrock, priority: 0, modelNameOverride: "us.amazon.nova-lite-v1:0"}
        - {name: claude, priority: 1, modelNameOverride: claude-sonnet-4-5}
`

// awsPolicyDocs are an AWSCredentials policy on the backends, with a
// credentials file of two profiles in a Secret.
func awsPolicyDocs(profile string, backends ...string) string {
	var refs []string
	for _, b := range backends {
		refs = append(refs, fmt.Sprintf("{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: %s}", b))
	}
	return fmt.Sprintf(`---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: aws}
spec:
  targetRefs: [%s]
  type: AWSCredentials
  awsCredentials:
    region: eu-west-3
    credentialsFile: {secretRef: {name: aws-creds}, profile: %s}
---
apiVersion: v1
kind: Secret
metadata: {name: aws-creds}
stringData:
  credentials: |
    [default]
    aws_access_key_id = AKIDWRONG
    aws_secret_access_key = wrong
    [bedrock]
    aws_access_key_id = AKIDBEDROCK
    aws_secret_access_key = bedrock-secret
    aws_session_token = bedrock-session
`, strings.Join(refs, ", "), profile)
}

// TestBedrock: through both transports, openai-go and anthropic-sdk-go
// reach a fake Bedrock that verifies every SigV4 signature as AWS does:
// chat (Converse, streamed with a tool call), Claude on Bedrock from both
// front doors, Titan embeddings, and a Bedrock 503 that falls back to
// Anthropic, re-translated and with the other backend's credentials.
func TestBedrock(t *testing.T) {
	bedrock := &providertest.Bedrock{Region: "eu-west-3",
		Credentials: aws.Credentials{AccessKeyID: "AKIDBEDROCK", SecretAccessKey: "bedrock-secret", SessionToken: "bedrock-session"}}
	claude := &fakeAnthropic{}
	upstream := func(h http.Handler) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	bedrockAddr, claudeAddr := upstream(bedrock), upstream(claude)

	cases := []struct {
		name string
		run  func(t *testing.T, client openai.Client, url string, metadata func() map[string]*structpb.Value)
	}{
		{name: "Converse", run: func(t *testing.T, client openai.Client, _ string, metadata func() map[string]*structpb.Value) {
			resp, err := client.Chat.Completions.New(t.Context(), chat("m-nova"))
			require.NoError(t, err)
			require.Equal(t, "ok", resp.Choices[0].Message.Content)
			require.EqualValues(t, 5, resp.Usage.TotalTokens)
			require.Equal(t, "us.amazon.nova-lite-v1:0", resp.Model)
			seen := bedrock.Last()
			require.Equal(t, providertest.BedrockRequest{Model: "us.amazon.nova-lite-v1:0", Operation: "converse", Body: map[string]any{
				"messages":        []any{map[string]any{"role": "user", "content": []any{map[string]any{"text": "Hello there"}}}},
				"inferenceConfig": map[string]any{"maxTokens": float64(8)},
			}}, seen)
			if metadata != nil {
				require.InDelta(t, 5, metadata()["llm_total_token"].GetNumberValue(), 0)
				require.Equal(t, "default/bedrock", metadata()["ai_service_backend_name"].GetStringValue())
			}

			params := chat("m-nova")
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			params.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
				Name: "weather", Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
			})}
			stream := client.Chat.Completions.NewStreaming(t.Context(), params)
			var acc openai.ChatCompletionAccumulator
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			require.NoError(t, stream.Err())
			require.Len(t, acc.Choices[0].Message.ToolCalls, 1)
			require.Equal(t, "weather", acc.Choices[0].Message.ToolCalls[0].Function.Name)
			require.JSONEq(t, `{"city":"Paris"}`, acc.Choices[0].Message.ToolCalls[0].Function.Arguments)
			require.Equal(t, "tool_calls", acc.Choices[0].FinishReason)
			require.EqualValues(t, 5, acc.Usage.TotalTokens)
			require.Equal(t, "converse-stream", bedrock.Last().Operation)
		}},
		{name: "Claude on Bedrock", run: func(t *testing.T, client openai.Client, url string, metadata func() map[string]*structpb.Value) {
			stream := client.Chat.Completions.NewStreaming(t.Context(), chat("m-aws-claude"))
			var acc openai.ChatCompletionAccumulator
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			require.NoError(t, stream.Err())
			require.Equal(t, "ok", acc.Choices[0].Message.Content)
			seen := bedrock.Last()
			require.Equal(t, "anthropic.claude-3-5-haiku-20241022-v1:0", seen.Model)
			require.Equal(t, "invoke-with-response-stream", seen.Operation)
			require.Equal(t, "bedrock-2023-05-31", seen.Body["anthropic_version"])
			if metadata != nil {
				require.InDelta(t, 5, metadata()["llm_total_token"].GetNumberValue(), 0)
			}

			ac := anthropicsdk.NewClient(anthropicoption.WithBaseURL(url+"/anthropic"), anthropicoption.WithAPIKey("client-key"), anthropicoption.WithMaxRetries(0))
			params := anthropicsdk.MessageNewParams{Model: "m-aws-claude", MaxTokens: 64,
				Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))}}
			msg, err := ac.Messages.New(t.Context(), params, anthropicoption.WithHeader("anthropic-beta", "context-1m-2025-08-07"))
			require.NoError(t, err)
			require.Equal(t, "ok", msg.Content[0].Text)
			require.Equal(t, "invoke", bedrock.Last().Operation)
			require.Equal(t, []any{"context-1m-2025-08-07"}, bedrock.Last().Body["anthropic_beta"], "Bedrock reads the betas in the body")
			ms := ac.Messages.NewStreaming(t.Context(), params)
			var m anthropicsdk.Message
			for ms.Next() {
				require.NoError(t, m.Accumulate(ms.Current()))
			}
			require.NoError(t, ms.Err())
			require.Equal(t, "ok", m.Content[0].Text)
			require.EqualValues(t, 2, m.Usage.OutputTokens)
			count, err := ac.Messages.CountTokens(t.Context(), anthropicsdk.MessageCountTokensParams{Model: "m-aws-claude", Messages: params.Messages})
			require.NoError(t, err)
			require.EqualValues(t, 3, count.InputTokens)
			require.Equal(t, "count-tokens", bedrock.Last().Operation)
		}},
		{name: "Anthropic client to Converse", run: func(t *testing.T, _ openai.Client, url string, _ func() map[string]*structpb.Value) {
			ac := anthropicsdk.NewClient(anthropicoption.WithBaseURL(url+"/anthropic"), anthropicoption.WithAPIKey("client-key"), anthropicoption.WithMaxRetries(0))
			ms := ac.Messages.NewStreaming(t.Context(), anthropicsdk.MessageNewParams{Model: "m-nova", MaxTokens: 64,
				Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))}})
			var m anthropicsdk.Message
			for ms.Next() {
				require.NoError(t, m.Accumulate(ms.Current()))
			}
			require.NoError(t, ms.Err())
			require.Equal(t, "ok", m.Content[0].Text)
			require.Equal(t, anthropicsdk.StopReasonEndTurn, m.StopReason)
			require.Equal(t, "converse-stream", bedrock.Last().Operation)
		}},
		{name: "Titan embeddings", run: func(t *testing.T, client openai.Client, _ string, _ func() map[string]*structpb.Value) {
			resp, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: "m-titan", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}})
			require.NoError(t, err)
			require.Equal(t, []float64{0.25, -0.5, 1}, resp.Data[0].Embedding)
			require.EqualValues(t, 2, resp.Usage.PromptTokens)
			require.Equal(t, map[string]any{"inputText": "hello"}, bedrock.Last().Body)
		}},
		{name: "Bedrock 503 falls back to Anthropic", run: func(t *testing.T, client openai.Client, _ string, metadata func() map[string]*structpb.Value) {
			before := bedrock.Requests()
			resp, err := client.Chat.Completions.New(t.Context(), chat("m-bedrock-fail"))
			require.NoError(t, err)
			require.Equal(t, "ok", resp.Choices[0].Message.Content)
			require.Equal(t, "claude-sonnet-4-5", resp.Model)
			require.Equal(t, before+1, bedrock.Requests())
			require.Equal(t, "fail-model", bedrock.Last().Model)
			seen := claude.last()
			require.Equal(t, "sk-ant-test", seen.apiKey, "the fallback is authenticated with its own key")
			require.Empty(t, seen.authorization, "no SigV4 signature reaches Anthropic")
			if metadata != nil {
				require.Equal(t, "default/claude", metadata()["ai_service_backend_name"].GetStringValue())
			}
		}},
		{name: "a request Bedrock cannot take goes to the next backend", run: func(t *testing.T, client openai.Client, _ string, metadata func() map[string]*structpb.Value) {
			before := bedrock.Requests()
			params := chat("m-vision")
			params.Messages = []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
				openai.TextContentPart("What is this?"), openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "https://example.com/cat.png"})})}
			resp, err := client.Chat.Completions.New(t.Context(), params)
			if metadata != nil {
				// Behind Envoy the refusal is the upstream filter's local
				// reply, which Envoy's retry policy (5xx) does not retry.
				var apiErr *openai.Error
				require.True(t, errors.As(err, &apiErr), "%v", err)
				require.Equal(t, http.StatusUnprocessableEntity, apiErr.StatusCode)
				require.Equal(t, "messages[0].content[1].image_url.url", apiErr.Param)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "claude-sonnet-4-5", resp.Model, "Anthropic fetches image URLs, Converse does not")
			require.Equal(t, before, bedrock.Requests(), "nothing was sent to Bedrock")
		}},
		{name: "Bedrock error", run: func(t *testing.T, client openai.Client, _ string, _ func() map[string]*structpb.Value) {
			_, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: "m-titan",
				Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}}})
			var apiErr *openai.Error
			require.True(t, errors.As(err, &apiErr), "%v", err)
			require.Equal(t, http.StatusUnprocessableEntity, apiErr.StatusCode)
			require.Equal(t, "input", apiErr.Param)
		}},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			port := freePort(t)
			path := filepath.Join(t.TempDir(), "config.yaml")
			cfg := fmt.Sprintf(bedrockConfig, port) +
				providertest.BackendDocs("bedrock", "{name: AWSBedrock}", bedrockAddr) +
				providertest.BackendDocs("aws-claude", "{name: AWSAnthropic}", bedrockAddr) +
				providertest.BackendDocs("claude", "{name: Anthropic}", claudeAddr) +
				awsPolicyDocs("bedrock", "bedrock", "aws-claude") +
				keyPolicyDocs("claude", "AnthropicAPIKey", "anthropicAPIKey", "sk-ant-test")
			require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
			url, metadata := tr.start(t, path, port)
			client := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, client, url, metadata) })
			}
		})
	}
}
