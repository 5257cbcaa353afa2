package dataplane

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/app"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

// TestAutoconfigAzure runs `aigw run` with no file, configured from
// AZURE_OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT and OPENAI_API_VERSION as
// Envoy AI Gateway's autoconfig is: the openai-go client's requests reach
// the Azure deployment named by the model, with the api-version and the
// api-key.
func TestAutoconfigAzure(t *testing.T) {
	azure := &recordingUpstream{}
	srv := httptest.NewServer(azure)
	t.Cleanup(srv.Close)
	t.Setenv("AZURE_OPENAI_API_KEY", "azure-secret")
	t.Setenv("AZURE_OPENAI_ENDPOINT", srv.URL)
	t.Setenv("OPENAI_API_VERSION", "2024-10-21")
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("AIGW_CONFIG_HOME", t.TempDir())

	port, adminPort := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stdout, stderr syncbuf.Buffer
	go func() {
		done <- app.Main(ctx, []string{"run", fmt.Sprintf("--port=%d", port), fmt.Sprintf("--admin-port=%d", adminPort), "--drain-delay=0"}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", adminPort))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "aigw run did not become ready:\n%s", &stderr)

	client := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
	resp, err := client.Chat.Completions.New(t.Context(), chat("gpt-4o-mini"))
	require.NoError(t, err)
	require.Equal(t, "ok", resp.Choices[0].Message.Content)
	require.Equal(t, seenRequest{path: "/openai/deployments/gpt-4o-mini/chat/completions", query: "api-version=2024-10-21", model: "gpt-4o-mini", apiKey: "azure-secret"}, azure.last())
	require.NotContains(t, stdout.String()+stderr.String(), "azure-secret", "the key never reaches a log")
}
