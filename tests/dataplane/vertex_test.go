package dataplane

import (
	"fmt"
	"net"
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

// vertexConfig routes to Gemini (m-gemini), Claude on Vertex
// (m-vertex-claude) and a text embedding model (m-gecko).
const vertexConfig = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw}]
  llmRequestCosts:
    - {metadataKey: llm_total_token, type: TotalToken}
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-gemini}]}]
      backendRefs: [{name: gemini, modelNameOverride: gemini-2.5-flash}]
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-vertex-claude}]}]
      backendRefs: [{name: vertex-claude, modelNameOverride: "claude-sonnet-4-5@20250929"}]
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-gecko}]}]
      backendRefs: [{name: gemini, modelNameOverride: text-embedding-005}]
`

// gcpPolicyDocs are a GCPCredentials policy on the backends, with the
// service account key in a Secret.
func gcpPolicyDocs(key []byte, backends ...string) string {
	var refs []string
	for _, b := range backends {
		refs = append(refs, fmt.Sprintf("{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: %s}", b))
	}
	return fmt.Sprintf(`---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: gcp}
spec:
  targetRefs: [%s]
  type: GCPCredentials
  gcpCredentials:
    projectName: test-project
    region: europe-west4
    credentialsFile: {secretRef: {name: gcp-key}}
---
apiVersion: v1
kind: Secret
metadata: {name: gcp-key}
stringData:
  service_account.json: '%s'
`, strings.Join(refs, ", "), key)
}

// TestVertex: through both transports, openai-go and anthropic-sdk-go
// reach a fake Vertex AI that accepts only tokens its fake Google token
// endpoint minted for the service account (whose JWT it verified), under
// the project's and region's path: Gemini (streamed with a function
// call), Claude on Vertex from both front doors, text embeddings.
func TestVertex(t *testing.T) {
	tokens := providertest.StartGoogleTokens(t)
	vertex := &providertest.Vertex{Tokens: tokens, Project: "test-project", Region: "europe-west4"}
	srv := httptest.NewServer(vertex)
	t.Cleanup(srv.Close)
	vertexAddr := strings.TrimPrefix(srv.URL, "http://")

	cases := []struct {
		name string
		run  func(t *testing.T, client openai.Client, url string, metadata func() map[string]*structpb.Value)
	}{
		{name: "Gemini", run: func(t *testing.T, client openai.Client, _ string, metadata func() map[string]*structpb.Value) {
			resp, err := client.Chat.Completions.New(t.Context(), chat("m-gemini"))
			require.NoError(t, err)
			require.Equal(t, "ok", resp.Choices[0].Message.Content)
			require.EqualValues(t, 5, resp.Usage.TotalTokens)
			seen := vertex.Last()
			require.Equal(t, providertest.VertexRequest{Publisher: "google", Model: "gemini-2.5-flash", Method: "generateContent", Body: map[string]any{
				"contents":         []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": "Hello there"}}}},
				"generationConfig": map[string]any{"maxOutputTokens": float64(8)},
			}}, seen)
			if metadata != nil {
				require.InDelta(t, 5, metadata()["llm_total_token"].GetNumberValue(), 0)
			}

			params := chat("m-gemini")
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			stream := client.Chat.Completions.NewStreaming(t.Context(), params)
			var acc openai.ChatCompletionAccumulator
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			require.NoError(t, stream.Err())
			require.Equal(t, "ok", acc.Choices[0].Message.Content)
			require.EqualValues(t, 5, acc.Usage.TotalTokens)

			params.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
				Name: "weather", Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
			})}
			stream = client.Chat.Completions.NewStreaming(t.Context(), params)
			acc = openai.ChatCompletionAccumulator{}
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			require.NoError(t, stream.Err())
			require.Len(t, acc.Choices[0].Message.ToolCalls, 1)
			require.JSONEq(t, `{"city":"Paris"}`, acc.Choices[0].Message.ToolCalls[0].Function.Arguments)
			require.Equal(t, "tool_calls", acc.Choices[0].FinishReason)
		}},
		{name: "Claude on Vertex", run: func(t *testing.T, client openai.Client, url string, _ func() map[string]*structpb.Value) {
			resp, err := client.Chat.Completions.New(t.Context(), chat("m-vertex-claude"))
			require.NoError(t, err)
			require.Equal(t, "ok", resp.Choices[0].Message.Content)
			require.Equal(t, providertest.VertexRequest{Publisher: "anthropic", Model: "claude-sonnet-4-5@20250929", Method: "rawPredict"},
				providertest.VertexRequest{Publisher: vertex.Last().Publisher, Model: vertex.Last().Model, Method: vertex.Last().Method})

			ac := anthropicsdk.NewClient(anthropicoption.WithBaseURL(url+"/anthropic"), anthropicoption.WithAPIKey("client-key"), anthropicoption.WithMaxRetries(0))
			params := anthropicsdk.MessageNewParams{Model: "m-vertex-claude", MaxTokens: 64,
				Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))}}
			ms := ac.Messages.NewStreaming(t.Context(), params)
			var m anthropicsdk.Message
			for ms.Next() {
				require.NoError(t, m.Accumulate(ms.Current()))
			}
			require.NoError(t, ms.Err())
			require.Equal(t, "ok", m.Content[0].Text)
			require.Equal(t, "streamRawPredict", vertex.Last().Method)
			count, err := ac.Messages.CountTokens(t.Context(), anthropicsdk.MessageCountTokensParams{Model: "m-vertex-claude", Messages: params.Messages})
			require.NoError(t, err)
			require.EqualValues(t, 3, count.InputTokens)
			require.Equal(t, "claude-sonnet-4-5@20250929", vertex.Last().Body["model"])
		}},
		{name: "Anthropic client to Gemini", run: func(t *testing.T, _ openai.Client, url string, _ func() map[string]*structpb.Value) {
			ac := anthropicsdk.NewClient(anthropicoption.WithBaseURL(url+"/anthropic"), anthropicoption.WithAPIKey("client-key"), anthropicoption.WithMaxRetries(0))
			msg, err := ac.Messages.New(t.Context(), anthropicsdk.MessageNewParams{Model: "m-gemini", MaxTokens: 64,
				Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))}})
			require.NoError(t, err)
			require.Equal(t, "ok", msg.Content[0].Text)
			require.Equal(t, "generateContent", vertex.Last().Method)
		}},
		{name: "embeddings", run: func(t *testing.T, client openai.Client, _ string, _ func() map[string]*structpb.Value) {
			resp, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: "m-gecko",
				Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}}})
			require.NoError(t, err)
			require.Len(t, resp.Data, 2)
			require.Equal(t, []float64{0.25, -0.5, 1}, resp.Data[1].Embedding)
			require.EqualValues(t, 4, resp.Usage.PromptTokens)
			require.Equal(t, "predict", vertex.Last().Method)
		}},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			port := freePort(t)
			path := filepath.Join(t.TempDir(), "config.yaml")
			cfg := fmt.Sprintf(vertexConfig, port) +
				providertest.BackendDocs("gemini", "{name: GCPVertexAI}", vertexAddr) +
				providertest.BackendDocs("vertex-claude", "{name: GCPAnthropic}", vertexAddr) +
				gcpPolicyDocs(tokens.ServiceAccountJSON(), "gemini", "vertex-claude")
			require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
			url, metadata := tr.start(t, path, port)
			client := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, client, url, metadata) })
			}
		})
	}
	require.LessOrEqual(t, tokens.Minted(), 2, "one token per gateway, cached")
}

// crossProviderConfig falls back from Bedrock to Vertex AI to a pool of
// self-hosted servers, each tier translated and authenticated anew.
const crossProviderConfig = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw}]
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: %[2]s}]}]
      backendRefs:
        - {name: bedrock, priority: 0, modelNameOverride: fail-nova}
        - {name: gemini, priority: 1, modelNameOverride: fail-gemini}
        - {group: inference.networking.k8s.io, kind: InferencePool, name: vllm, priority: 2}
---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: {name: vllm}
spec:
  selector: {matchLabels: {app: vllm}}
  targetPorts: [{number: %[3]s}]
---
apiVersion: v1
kind: Pod
metadata: {name: vllm-0, labels: {app: vllm}}
status: {phase: Running, podIP: 127.0.0.1, conditions: [{type: Ready, status: "True"}]}
`

// TestCrossProviderFallback: Bedrock answers 503, then Vertex AI does; the
// request reaches the pool. Each attempt is translated for its provider
// (Converse, Gemini, the pool's OpenAI) and signed with its credentials
// (SigV4 that the fake Bedrock verified, a Google token the fake Vertex
// accepted, none for the pool).
func TestCrossProviderFallback(t *testing.T) {
	bedrock := &providertest.Bedrock{Region: "eu-west-3",
		Credentials: aws.Credentials{AccessKeyID: "AKIDBEDROCK", SecretAccessKey: "bedrock-secret", SessionToken: "bedrock-session"}}
	tokens := providertest.StartGoogleTokens(t)
	vertex := &providertest.Vertex{Tokens: tokens, Project: "test-project", Region: "europe-west4"}
	upstream := func(h http.Handler) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	bedrockAddr, vertexAddr := upstream(bedrock), upstream(vertex)
	sims := startSims(t, 1, model)
	_, simPort, _ := net.SplitHostPort(sims[0])

	port := freePort(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := fmt.Sprintf(crossProviderConfig, port, model, simPort) +
		providertest.BackendDocs("bedrock", "{name: AWSBedrock}", bedrockAddr) +
		providertest.BackendDocs("gemini", "{name: GCPVertexAI}", vertexAddr) +
		awsPolicyDocs("bedrock", "bedrock") + gcpPolicyDocs(tokens.ServiceAccountJSON(), "gemini")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	g := startGateway(t, path, port)

	client := g.client()
	resp, err := client.Chat.Completions.New(t.Context(), chat(model))
	require.NoError(t, err)
	require.NotEmpty(t, resp.Choices[0].Message.Content)
	require.Equal(t, model, resp.Model, "the pool answered")
	require.Equal(t, providertest.BedrockRequest{Model: "fail-nova", Operation: "converse"}, providertest.BedrockRequest{Model: bedrock.Last().Model, Operation: bedrock.Last().Operation})
	require.Equal(t, "fail-gemini", vertex.Last().Model)
	require.Equal(t, "generateContent", vertex.Last().Method)
	require.Contains(t, g.stdout.String(), `"attempts":3`)
}
