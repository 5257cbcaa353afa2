package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/app"
	"github.com/aigw-dev/aigw/internal/providertest"
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
	port, output := startAutoconfigGateway(t)

	client := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
	resp, err := client.Chat.Completions.New(t.Context(), chat("gpt-4o-mini"))
	require.NoError(t, err)
	require.Equal(t, "ok", resp.Choices[0].Message.Content)
	require.Equal(t, seenRequest{path: "/openai/deployments/gpt-4o-mini/chat/completions", query: "api-version=2024-10-21", model: "gpt-4o-mini", apiKey: "azure-secret"}, azure.last())
	require.NotContains(t, output(), "azure-secret", "the key never reaches a log")
}

// TestAutoconfigAnthropic runs `aigw run` configured from
// ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL: OpenAI clients' chat
// completions reach Anthropic's Messages API, translated both ways.
func TestAutoconfigAnthropic(t *testing.T) {
	claude := &fakeAnthropic{}
	srv := httptest.NewServer(claude)
	t.Cleanup(srv.Close)
	t.Setenv("ANTHROPIC_API_KEY", "sk-ant-test")
	t.Setenv("ANTHROPIC_BASE_URL", srv.URL)
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("AZURE_OPENAI_API_KEY", "")
	port, output := startAutoconfigGateway(t)
	require.NotContains(t, output(), "not served yet")

	client := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
	resp, err := client.Chat.Completions.New(t.Context(), chat("claude-haiku-4-5"))
	require.NoError(t, err)
	require.Equal(t, "ok", resp.Choices[0].Message.Content)
	seen := claude.last()
	require.Equal(t, "/v1/messages", seen.path)
	require.Equal(t, "sk-ant-test", seen.apiKey)
	require.Equal(t, "claude-haiku-4-5", seen.body["model"])
	require.NotContains(t, output(), "sk-ant-test", "the key never reaches a log")
}

// TestAutoconfigBedrock runs `aigw run` configured from AWS credentials in
// the environment with AWS_REGION and AWS_ENDPOINT_URL_BEDROCK_RUNTIME:
// chat completions reach Bedrock's Converse, signed with the session's
// credentials; none of them reaches the output.
func TestAutoconfigBedrock(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AKIDAUTOCONFIG", SecretAccessKey: "autoconfig-secret", SessionToken: "autoconfig-session"}
	bedrock := &providertest.Bedrock{Region: "eu-west-3", Credentials: creds}
	srv := httptest.NewServer(bedrock)
	t.Cleanup(srv.Close)
	for _, k := range []string{"OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", creds.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", creds.SessionToken)
	t.Setenv("AWS_REGION", "eu-west-3")
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", srv.URL)
	port, output := startAutoconfigGateway(t)

	client := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
	resp, err := client.Chat.Completions.New(t.Context(), chat("us.amazon.nova-micro-v1:0"))
	require.NoError(t, err)
	require.Equal(t, "ok", resp.Choices[0].Message.Content)
	require.Equal(t, "us.amazon.nova-micro-v1:0", bedrock.Last().Model)
	require.Equal(t, "converse", bedrock.Last().Operation)
	for _, secret := range []string{creds.SecretAccessKey, creds.SessionToken} {
		require.NotContains(t, output(), secret, "no credential reaches a log")
	}
}

// TestAutoconfigVertex runs `aigw run` configured from GOOGLE_CLOUD_PROJECT
// and GOOGLE_CLOUD_LOCATION, with Application Default Credentials from
// GOOGLE_APPLICATION_CREDENTIALS (a service account key whose token
// endpoint is the fake one): chat completions reach Gemini on Vertex AI
// with the minted token, under the project's and location's path.
func TestAutoconfigVertex(t *testing.T) {
	tokens := providertest.StartGoogleTokens(t)
	vertex := &providertest.Vertex{Tokens: tokens, Project: "test-project", Region: "europe-west4"}
	srv := httptest.NewServer(vertex)
	t.Cleanup(srv.Close)
	keyFile := filepath.Join(t.TempDir(), "key.json")
	require.NoError(t, os.WriteFile(keyFile, tokens.ServiceAccountJSON(), 0o600))
	for _, k := range []string{"OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("GOOGLE_CLOUD_PROJECT", "test-project")
	t.Setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
	t.Setenv("GOOGLE_VERTEX_BASE_URL", srv.URL)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", keyFile)
	port, output := startAutoconfigGateway(t)

	client := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
	resp, err := client.Chat.Completions.New(t.Context(), chat("gemini-2.5-flash"))
	require.NoError(t, err)
	require.Equal(t, "ok", resp.Choices[0].Message.Content)
	require.Equal(t, "gemini-2.5-flash", vertex.Last().Model)
	require.NotContains(t, output(), "PRIVATE KEY")
}

// startAutoconfigGateway runs `aigw run` with no file, configured from
// the environment the test set, and waits until it is ready; it returns
// the listener's port and the command's output.
func startAutoconfigGateway(t *testing.T) (port int, output func() string) {
	t.Helper()
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
	waitReady(t, adminPort, &stderr)
	return port, func() string { return stdout.String() + stderr.String() }
}

// waitReady waits until the admin port's /readyz answers 200.
func waitReady(t *testing.T, adminPort int, log fmt.Stringer) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", adminPort))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "not ready:\n%s", log)
}

// TestCredentialOverrideHeader: a policy whose credentialOverride reads
// x-aigw-api-key and does not fall back: a request with the header reaches
// the upstream with that key (and without the header); one without is
// answered 401, OpenAI-shaped.
func TestCredentialOverrideHeader(t *testing.T) {
	up := &recordingUpstream{}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	var seenOverride atomic.Bool
	check := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Aigw-Api-Key") != "" {
			seenOverride.Store(true)
		}
		up.ServeHTTP(w, r)
	}))
	t.Cleanup(check.Close)
	port := freePort(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := fmt.Sprintf(gatewayDoc, port) + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw}]
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m}]}]
      backendRefs: [{name: openai}]
` + backendDocs("openai", strings.TrimPrefix(check.URL, "http://")) + `---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: openai-key}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: openai}]
  type: APIKey
  apiKey: {secretRef: {name: openai-key}}
  credentialOverride: {fromRequestHeaders: {fallbackToConfigured: false}}
---
apiVersion: v1
kind: Secret
metadata: {name: openai-key}
stringData: {apiKey: sk-shared}
`
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	g := startGateway(t, path, port)

	client := openai.NewClient(option.WithBaseURL(g.url+"/v1"), option.WithAPIKey("client-key"), option.WithMaxRetries(0),
		option.WithHeader("x-aigw-api-key", "sk-tenant"))
	_, err := client.Chat.Completions.New(t.Context(), chat("m"))
	require.NoError(t, err)
	require.Equal(t, "Bearer sk-tenant", up.last().authorization)
	require.False(t, seenOverride.Load(), "the override header never reaches the upstream")

	plain := g.client()
	_, err = plain.Chat.Completions.New(t.Context(), chat("m"))
	var apiErr *openai.Error
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
	require.NotContains(t, g.stdout.String()+g.stderr.String(), "sk-tenant", "a client's credential is never logged")
}
