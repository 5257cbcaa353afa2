package httpproxy

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/backendauth/entratest"
	"github.com/aigw-dev/aigw/internal/config"
)

// TestAzureOpenAIWithEntraToken: an Azure OpenAI backend with
// AzureCredentials gets its deployment path and an Entra ID access token
// (fetched once with the application's secret, then cached) instead of the
// client's credential.
func TestAzureOpenAIWithEntraToken(t *testing.T) {
	entra := entratest.Start(t)
	up := newFakeOpenAI(t, "azure")
	backend := backendOf("default/azure", up)
	backend.Schema = config.Schema{Name: config.SchemaAzureOpenAI, Version: "2024-10-21"}
	backend.Auth = &config.Auth{Policy: "default/entra", Type: config.AuthAzureCredentials, Azure: &config.AzureCredentials{
		TenantID: entra.Tenant, ClientID: entra.ClientID, ClientSecret: config.Secret(entra.Secret), AuthorityHost: entra.AuthorityHost(),
	}}
	route := config.BackendRef{Backend: "default/azure", Weight: 1, ModelNameOverride: "gpt-4o-mini"}
	cfg := &config.Config{Version: config.Version, Backends: []config.Backend{backend},
		Routes: []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("chat", route)}}}}

	g := New(Options{AuthHTTPClient: entra.Client()})
	t.Cleanup(g.Close)
	require.NoError(t, g.Apply(cfg))
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	tg := &testGateway{Gateway: g, srv: srv}

	client := tg.client()
	for range 3 {
		resp, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
			Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		require.NoError(t, err)
		require.Equal(t, "hello from azure", resp.Choices[0].Message.Content)
	}
	seen := up.requests()
	require.Len(t, seen, 3)
	for _, s := range seen {
		require.Equal(t, "/openai/deployments/gpt-4o-mini/chat/completions", s.Path)
		require.Equal(t, "Bearer entra-token-1", s.Header.Get("Authorization"), "the Entra token, not the client's key")
	}
	require.Equal(t, 1, entra.Tokens(), "one token serves every request")
}

// TestUnservedSchema: a backend whose schema cannot serve the operation (a
// chat completion to Cohere, which reranks) is skipped for the route's
// next backend, or answered 422 when it is the last.
func TestUnservedSchema(t *testing.T) {
	up := newFakeOpenAI(t, "openai")
	cohere := backendOf("default/cohere", up)
	cohere.Schema = config.Schema{Name: config.SchemaCohere}
	cfg := &config.Config{Version: config.Version, Backends: []config.Backend{cohere, backendOf("default/openai", up)},
		Routes: []config.Route{{Name: "default/r", Rules: []config.Rule{
			modelRule("with-fallback", ref("default/cohere", 0), ref("default/openai", 1)),
			modelRule("alone", ref("default/cohere", 0)),
		}}}}
	client := newTestGateway(t, cfg).client()
	resp, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
		Model: "with-fallback", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	require.NoError(t, err)
	require.Equal(t, "hello from openai", resp.Choices[0].Message.Content)

	_, err = client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
		Model: "alone", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	var apiErr *openai.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusUnprocessableEntity, apiErr.StatusCode)
	require.Equal(t, "unsupported_translation", apiErr.Code)
	require.Contains(t, apiErr.Message, "chat to Cohere")
	require.Len(t, up.requests(), 1, "nothing was sent for the unserved backend")
}
