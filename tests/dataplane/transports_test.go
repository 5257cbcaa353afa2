package dataplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	anthropicsdk "github.com/anthropics/anthropic-sdk-go/v2"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aigw-dev/aigw/internal/app"
	"github.com/aigw-dev/aigw/internal/providertest"
	"github.com/aigw-dev/aigw/internal/standalone"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

// seenRequest is what an upstream received.
type seenRequest struct {
	path, model, authorization string
	includeUsage               bool
	// query and apiKey are Azure OpenAI's api-version and api-key.
	query, apiKey string
}

// recordingUpstream is an OpenAI-compatible server that answers every chat
// request "ok" (streamed when asked, with usage when asked) and records it.
type recordingUpstream struct {
	mu   sync.Mutex
	seen []seenRequest
}

func (u *recordingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	raw, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(raw, &req)
	u.mu.Lock()
	u.seen = append(u.seen, seenRequest{path: r.URL.Path, model: req.Model, authorization: r.Header.Get("Authorization"), includeUsage: req.StreamOptions.IncludeUsage,
		query: r.URL.RawQuery, apiKey: r.Header.Get("Api-Key")})
	u.mu.Unlock()
	usage := `{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}`
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":%s}`, req.Model, usage)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	for _, piece := range []string{"o", "k"} {
		fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", req.Model, piece)
		w.(http.Flusher).Flush()
	}
	if req.StreamOptions.IncludeUsage {
		fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":%q,\"choices\":[],\"usage\":%s}\n\n", req.Model, usage)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func (u *recordingUpstream) last() seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return seenRequest{}
	}
	return u.seen[len(u.seen)-1]
}

// transportConfig routes m to an upstream with an API key, falling back to
// a second one with an override; m-fail to one that answers 503 first;
// m-html to one that answers an HTML error page.
const transportConfig = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw}]
  llmRequestCosts:
    - {metadataKey: llm_total_token, type: TotalToken}
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m}]}]
      backendRefs:
        - {name: primary, priority: 0}
        - {name: fallback, priority: 1, modelNameOverride: m-fb}
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-fail}]}]
      backendRefs:
        - {name: broken, priority: 0}
        - {name: fallback, priority: 1, modelNameOverride: m-fb}
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-html}]}]
      backendRefs: [{name: html}]
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-azure}]}]
      backendRefs: [{name: azure, modelNameOverride: gpt-4o-mini}]
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-claude}]}]
      backendRefs: [{name: claude, modelNameOverride: claude-sonnet-4-5}]
`

// keyPolicyDocs are a BackendSecurityPolicy of an API key type (typ, whose
// field is field) on the backend, and the Secret holding key.
func keyPolicyDocs(backend, typ, field, key string) string {
	return fmt.Sprintf(`---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: %[1]s-key}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: %[1]s}]
  type: %[2]s
  %[3]s: {secretRef: {name: %[1]s-key}}
---
apiVersion: v1
kind: Secret
metadata: {name: %[1]s-key}
stringData: {apiKey: %[4]s}
`, backend, typ, field, key)
}

// backendDocs are an AIServiceBackend of schema OpenAI and its Backend at
// host:port.
func backendDocs(name, hostPort string) string {
	return providertest.BackendDocs(name, "{name: OpenAI}", hostPort)
}

// transport starts the gateway on the configuration at path (whose
// listener is port) and returns its base URL, and the dynamic metadata of
// the last response when the transport has any.
type transport struct {
	name  string
	start func(t *testing.T, path string, port int) (url string, metadata func() map[string]*structpb.Value)
}

var transports = []transport{
	{name: "http", start: func(t *testing.T, path string, port int) (string, func() map[string]*structpb.Value) {
		return startGateway(t, path, port).url, nil
	}},
	{name: "extproc", start: startExtProcBehindEnvoy},
}

// startExtProcBehindEnvoy runs `aigw extproc` on the configuration and the
// fake Envoy in front of it.
func startExtProcBehindEnvoy(t *testing.T, path string, _ int) (string, func() map[string]*structpb.Value) {
	t.Helper()
	grpcPort, adminPort := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stdout, stderr syncbuf.Buffer
	go func() {
		done <- app.Main(ctx, []string{"extproc", fmt.Sprintf("--listen=127.0.0.1:%d", grpcPort), fmt.Sprintf("--admin-port=%d", adminPort), "--shutdown-timeout=5s", path}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	waitReady(t, adminPort, &stderr)
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	res, err := standalone.Load(t.Context(), path)
	require.NoError(t, err)
	envoy := &fakeEnvoy{cfg: res.Config, client: extprocv3.NewExternalProcessorClient(conn)}
	srv := httptest.NewServer(envoy)
	t.Cleanup(srv.Close)
	return srv.URL, envoy.lastMetadata
}

// TestTransports runs the same data-plane cases through both transports:
// `aigw run` serving HTTP, and `aigw extproc` behind Envoy.
func TestTransports(t *testing.T) {
	primary, fallback, azure, claude := &recordingUpstream{}, &recordingUpstream{}, &recordingUpstream{}, &fakeAnthropic{}
	upstream := func(h http.Handler) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	primaryAddr, fallbackAddr, azureAddr, claudeAddr := upstream(primary), upstream(fallback), upstream(azure), upstream(claude)
	brokenAddr := upstream(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":{"message":"overloaded"}}`, http.StatusServiceUnavailable)
	}))
	htmlAddr := upstream(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><head><title>Bad Gateway Page</title></head><body>oops</body></html>")
	}))

	cases := []struct {
		name string
		run  func(t *testing.T, client openai.Client, url string, metadata func() map[string]*structpb.Value)
	}{
		{name: "chat", run: func(t *testing.T, client openai.Client, _ string, metadata func() map[string]*structpb.Value) {
			resp, err := client.Chat.Completions.New(t.Context(), chat("m"))
			require.NoError(t, err)
			require.Equal(t, "ok", resp.Choices[0].Message.Content)
			require.EqualValues(t, 5, resp.Usage.TotalTokens)
			seen := primary.last()
			require.Equal(t, seenRequest{path: "/v1/chat/completions", model: "m", authorization: "Bearer sk-primary"}, seen, "the backend's key replaces the client's")
			if metadata != nil {
				require.InDelta(t, 5, metadata()["llm_total_token"].GetNumberValue(), 0, "costs for Envoy Gateway's rate limits")
			}
		}},
		{name: "stream with usage", run: func(t *testing.T, client openai.Client, _ string, _ func() map[string]*structpb.Value) {
			params := chat("m")
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			stream := client.Chat.Completions.NewStreaming(t.Context(), params)
			var acc openai.ChatCompletionAccumulator
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			require.NoError(t, stream.Err())
			require.Equal(t, "ok", acc.Choices[0].Message.Content)
			require.EqualValues(t, 5, acc.Usage.TotalTokens)
		}},
		{name: "stream without usage hides the forced usage", run: func(t *testing.T, client openai.Client, _ string, metadata func() map[string]*structpb.Value) {
			stream := client.Chat.Completions.NewStreaming(t.Context(), chat("m"))
			var chunks int
			for stream.Next() {
				chunks++
				require.Zero(t, stream.Current().Usage.TotalTokens, "no usage chunk reaches a client that did not ask")
			}
			require.NoError(t, stream.Err())
			require.Equal(t, 2, chunks)
			require.True(t, primary.last().includeUsage, "costs need usage: the gateway asks for it")
			if metadata != nil {
				require.InDelta(t, 5, metadata()["llm_total_token"].GetNumberValue(), 0)
			}
		}},
		{name: "fallback after 503", run: func(t *testing.T, client openai.Client, _ string, metadata func() map[string]*structpb.Value) {
			resp, err := client.Chat.Completions.New(t.Context(), chat("m-fail"))
			require.NoError(t, err)
			require.Equal(t, "m-fb", resp.Model)
			require.Equal(t, "m-fb", fallback.last().model, "the fallback's override applies to the original body")
			require.Equal(t, "Bearer client-key", fallback.last().authorization, "a backend without credentials gets the client's, never the primary's key")
			if metadata != nil {
				require.Equal(t, "default/fallback", metadata()["ai_service_backend_name"].GetStringValue())
			}
		}},
		{name: "Azure OpenAI", run: func(t *testing.T, client openai.Client, _ string, metadata func() map[string]*structpb.Value) {
			resp, err := client.Chat.Completions.New(t.Context(), chat("m-azure"))
			require.NoError(t, err)
			require.Equal(t, "ok", resp.Choices[0].Message.Content)
			require.Equal(t, seenRequest{path: "/openai/deployments/gpt-4o-mini/chat/completions", query: "api-version=2024-10-21", model: "gpt-4o-mini", apiKey: "azure-secret"},
				azure.last(), "the deployment path, the api-version and the api-key; no client credential")
			stream := client.Chat.Completions.NewStreaming(t.Context(), chat("m-azure"))
			var acc openai.ChatCompletionAccumulator
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			require.NoError(t, stream.Err())
			require.Equal(t, "ok", acc.Choices[0].Message.Content)
			require.True(t, azure.last().includeUsage, "costs need usage: Azure is asked for it too")
			if metadata != nil {
				require.Equal(t, "default/azure", metadata()["ai_service_backend_name"].GetStringValue())
				require.InDelta(t, 5, metadata()["llm_total_token"].GetNumberValue(), 0)
			}
		}},
		{name: "Anthropic", run: func(t *testing.T, client openai.Client, _ string, metadata func() map[string]*structpb.Value) {
			resp, err := client.Chat.Completions.New(t.Context(), chat("m-claude"))
			require.NoError(t, err)
			require.Equal(t, "ok", resp.Choices[0].Message.Content)
			require.EqualValues(t, 5, resp.Usage.TotalTokens)
			seen := claude.last()
			require.Equal(t, "/v1/messages", seen.path)
			require.Equal(t, "sk-ant-test", seen.apiKey)
			require.Equal(t, "2023-06-01", seen.version)
			require.Empty(t, seen.authorization, "the client's key never reaches Anthropic")
			require.Equal(t, "claude-sonnet-4-5", seen.body["model"])
			require.EqualValues(t, 8, seen.body["max_tokens"])

			// Streamed, with a tool call and usage.
			params := chat("m-claude")
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
			call := acc.Choices[0].Message.ToolCalls[0]
			require.Equal(t, "weather", call.Function.Name)
			require.JSONEq(t, `{"city":"Paris"}`, call.Function.Arguments)
			require.Equal(t, "tool_calls", acc.Choices[0].FinishReason)
			require.EqualValues(t, 5, acc.Usage.TotalTokens)
			if metadata != nil {
				require.Equal(t, "default/claude", metadata()["ai_service_backend_name"].GetStringValue())
				require.InDelta(t, 5, metadata()["llm_total_token"].GetNumberValue(), 0)
			}
		}},
		{name: "Anthropic front door", run: func(t *testing.T, _ openai.Client, url string, metadata func() map[string]*structpb.Value) {
			ac := anthropicsdk.NewClient(anthropicoption.WithBaseURL(url+"/anthropic"), anthropicoption.WithAPIKey("client-key"), anthropicoption.WithMaxRetries(0))
			params := anthropicsdk.MessageNewParams{Model: "m-claude", MaxTokens: 64,
				Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))}}
			msg, err := ac.Messages.New(t.Context(), params)
			require.NoError(t, err)
			require.Equal(t, "ok", msg.Content[0].Text)
			require.EqualValues(t, 3, msg.Usage.InputTokens)
			seen := claude.last()
			require.Equal(t, "/v1/messages", seen.path)
			require.Equal(t, "sk-ant-test", seen.apiKey, "the backend's key, not the client's")
			require.Equal(t, "claude-sonnet-4-5", seen.body["model"], "the route's override")
			if metadata != nil {
				require.InDelta(t, 5, metadata()["llm_total_token"].GetNumberValue(), 0, "usage is read from Anthropic's response")
			}

			stream := ac.Messages.NewStreaming(t.Context(), params)
			var acc anthropicsdk.Message
			for stream.Next() {
				require.NoError(t, acc.Accumulate(stream.Current()))
			}
			require.NoError(t, stream.Err())
			require.Equal(t, "ok", acc.Content[0].Text)
			require.EqualValues(t, 2, acc.Usage.OutputTokens)

			page, err := ac.Models.List(t.Context(), anthropicsdk.ModelListParams{Limit: anthropicsdk.Int(2)})
			require.NoError(t, err)
			require.Len(t, page.Data, 2, "Anthropic's List Models, paged")
			require.True(t, page.HasMore)
			var ids []string
			for m := range ac.Models.ListAutoPaging(t.Context(), anthropicsdk.ModelListParams{Limit: anthropicsdk.Int(2)}).All() {
				ids = append(ids, m.ID)
			}
			require.Contains(t, ids, "m-claude", "every model of the routes, page after page")

			params.Model = "nope"
			_, err = ac.Messages.New(t.Context(), params)
			var apiErr *anthropicsdk.Error
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, http.StatusNotFound, apiErr.StatusCode)
			require.EqualValues(t, "not_found_error", apiErr.Type(), "errors in Anthropic's shape for Anthropic clients")
		}},
		{name: "Anthropic client to an OpenAI backend", run: func(t *testing.T, _ openai.Client, url string, metadata func() map[string]*structpb.Value) {
			ac := anthropicsdk.NewClient(anthropicoption.WithBaseURL(url+"/anthropic"), anthropicoption.WithAPIKey("client-key"), anthropicoption.WithMaxRetries(0))
			params := anthropicsdk.MessageNewParams{Model: "m", MaxTokens: 64,
				System:   []anthropicsdk.TextBlockParam{{Text: "Be brief."}},
				Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))}}
			msg, err := ac.Messages.New(t.Context(), params)
			require.NoError(t, err)
			require.Equal(t, "ok", msg.Content[0].Text)
			require.EqualValues(t, 2, msg.Usage.OutputTokens)
			seen := primary.last()
			require.Equal(t, "/v1/chat/completions", seen.path, "the Messages request became a chat completion")
			require.Equal(t, "Bearer sk-primary", seen.authorization)

			stream := ac.Messages.NewStreaming(t.Context(), params)
			var acc anthropicsdk.Message
			for stream.Next() {
				require.NoError(t, acc.Accumulate(stream.Current()))
			}
			require.NoError(t, stream.Err())
			require.Equal(t, "ok", acc.Content[0].Text)
			require.Equal(t, anthropicsdk.StopReasonEndTurn, acc.StopReason)
			require.True(t, primary.last().includeUsage, "usage is asked for the message_delta")
			if metadata != nil {
				require.InDelta(t, 5, metadata()["llm_total_token"].GetNumberValue(), 0)
			}
		}},
		{name: "unknown model", run: func(t *testing.T, client openai.Client, _ string, _ func() map[string]*structpb.Value) {
			_, err := client.Chat.Completions.New(t.Context(), chat("nope"))
			var apiErr *openai.Error
			require.True(t, errors.As(err, &apiErr), "%v", err)
			require.Equal(t, http.StatusNotFound, apiErr.StatusCode)
			require.Equal(t, "model_not_found", apiErr.Code)
		}},
		{name: "malformed JSON", run: func(t *testing.T, _ openai.Client, url string, _ func() map[string]*structpb.Value) {
			resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":`))
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
			require.Equal(t, "invalid_request", e.Error.Code)
		}},
		{name: "HTML upstream error", run: func(t *testing.T, client openai.Client, _ string, _ func() map[string]*structpb.Value) {
			_, err := client.Chat.Completions.New(t.Context(), chat("m-html"))
			var apiErr *openai.Error
			require.True(t, errors.As(err, &apiErr), "%v", err)
			require.Equal(t, http.StatusBadGateway, apiErr.StatusCode)
			require.Contains(t, apiErr.Message, "Bad Gateway Page", "the page's title, OpenAI-shaped")
		}},
	}

	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			port := freePort(t)
			path := filepath.Join(t.TempDir(), "config.yaml")
			cfg := fmt.Sprintf(transportConfig, port) + backendDocs("primary", primaryAddr) + backendDocs("fallback", fallbackAddr) +
				backendDocs("broken", brokenAddr) + backendDocs("html", htmlAddr) +
				providertest.BackendDocs("azure", "{name: AzureOpenAI, version: 2024-10-21}", azureAddr) +
				providertest.BackendDocs("claude", "{name: Anthropic}", claudeAddr) +
				keyPolicyDocs("primary", "APIKey", "apiKey", "sk-primary") + keyPolicyDocs("azure", "AzureAPIKey", "azureAPIKey", "azure-secret") +
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
