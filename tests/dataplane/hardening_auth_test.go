package dataplane

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"
)

// headerRecorder is an OpenAI-compatible upstream that records the headers
// of every chat request, by model.
type headerRecorder struct {
	mu   sync.Mutex
	seen map[string]http.Header
}

func (h *headerRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Model string `json:"model"`
	}
	raw, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(raw, &body)
	h.mu.Lock()
	h.seen[body.Model] = r.Header.Clone()
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`, body.Model)
}

func (h *headerRecorder) header(model string) http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[model]
}

// authConfig has one rule per model, each to its own AIServiceBackend on
// the recording upstream; three of them have a BackendSecurityPolicy.
const authConfig = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw}]
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-apikey}]}]
      backendRefs: [{name: apikey}]
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-azure}]}]
      backendRefs: [{name: azure}]
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-anthropic}]}]
      backendRefs: [{name: anthropic}]
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m-none}]}]
      backendRefs: [{name: none}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: upstream}
spec:
  endpoints: [{ip: {address: %[2]s, port: %[3]s}}]
---
apiVersion: v1
kind: Secret
metadata: {name: gateway-key}
stringData: {apiKey: sk-gateway}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: apikey}
spec: {schema: {name: OpenAI}, backendRef: {name: upstream, kind: Backend, group: gateway.envoyproxy.io}}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: azure}
spec: {schema: {name: OpenAI}, backendRef: {name: upstream, kind: Backend, group: gateway.envoyproxy.io}}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: anthropic}
spec: {schema: {name: OpenAI}, backendRef: {name: upstream, kind: Backend, group: gateway.envoyproxy.io}}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: none}
spec: {schema: {name: OpenAI}, backendRef: {name: upstream, kind: Backend, group: gateway.envoyproxy.io}}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: apikey}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: apikey}]
  type: APIKey
  apiKey: {secretRef: {name: gateway-key}}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: azure}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: azure}]
  type: AzureAPIKey
  azureAPIKey: {secretRef: {name: gateway-key}}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: anthropic}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: anthropic}]
  type: AnthropicAPIKey
  anthropicAPIKey: {secretRef: {name: gateway-key}}
`

// TestInjectedCredentialReplacesClientCredentials: on a backend with a
// BackendSecurityPolicy the upstream sees only the gateway's key, none of
// the credential headers the client sent; without one they pass through.
func TestInjectedCredentialReplacesClientCredentials(t *testing.T) {
	rec := &headerRecorder{seen: map[string]http.Header{}}
	up := httptest.NewServer(rec)
	t.Cleanup(up.Close)
	host, upPort, _ := net.SplitHostPort(up.Listener.Addr().String())
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	port := freePort(t)
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, authConfig, port, host, upPort), 0o644))
	g := startGateway(t, cfg, port)

	client := map[string]string{
		"Authorization": "Bearer client-key",
		"X-Api-Key":     "client-x-api-key",
		"Api-Key":       "client-api-key",
		"Cookie":        "session=client",
	}
	tests := []struct {
		model string
		// want are the credential headers the upstream must see, and no
		// other of the client's.
		want map[string]string
	}{
		{model: "m-apikey", want: map[string]string{"Authorization": "Bearer sk-gateway"}},
		{model: "m-azure", want: map[string]string{"Api-Key": "sk-gateway"}},
		{model: "m-anthropic", want: map[string]string{"X-Api-Key": "sk-gateway"}},
		{model: "m-none", want: client},
	}
	c := openai.NewClient(option.WithBaseURL(g.url+"/v1"), option.WithAPIKey("client-key"), option.WithMaxRetries(0),
		option.WithHeader("X-Api-Key", client["X-Api-Key"]), option.WithHeader("Api-Key", client["Api-Key"]), option.WithHeader("Cookie", client["Cookie"]))
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			resp, err := c.Chat.Completions.New(context.Background(), chat(tc.model))
			require.NoError(t, err)
			require.Equal(t, "ok", resp.Choices[0].Message.Content)
			seen := rec.header(tc.model)
			require.NotNil(t, seen)
			for name := range client {
				if want, ok := tc.want[name]; ok {
					require.Equal(t, []string{want}, seen.Values(name), name)
				} else {
					require.Empty(t, seen.Values(name), "the client's %s reached the upstream", name)
				}
			}
			require.Empty(t, seen.Values("Proxy-Authorization"))
		})
	}
}
