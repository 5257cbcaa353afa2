package dataplane

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// severalGatewaysConfig has two Gateways: "public" on publicPort, behind
// an API key, and "internal", whose two listeners share internalPort and
// are told apart by hostname. Each route is attached to some of them; the
// sim serves every route's model.
func severalGatewaysConfig(publicPort, internalPort int, sim string) string {
	sh, sp, _ := net.SplitHostPort(sim)
	route := func(name, m, parents string) string {
		return fmt.Sprintf(`apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: %s}
spec:
  parentRefs: %s
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: %s}]}]
      backendRefs: [{name: sim, modelNameOverride: %s}]
---
`, name, parents, m, model)
	}
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public}
spec:
  gatewayClassName: aigw
  listeners: [{name: http, protocol: HTTP, port: %d}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: internal}
spec:
  gatewayClassName: aigw
  listeners:
    - {name: a, protocol: HTTP, port: %d, hostname: a.internal}
    - {name: svc, protocol: HTTP, port: %[2]d, hostname: "*.svc.internal"}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: public-keys}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: public}]
  apiKeyAuth:
    credentialRefs: [{name: client-keys}]
    extractFrom: [{headers: [Authorization]}]
---
apiVersion: v1
kind: Secret
metadata: {name: client-keys}
stringData: {team-a: sk-team-a}
---
`, publicPort, internalPort) +
		route("public-route", "m-public", "[{name: public}]") +
		route("internal-route", "m-internal", "[{name: internal}]") +
		route("a-route", "m-a", "[{name: internal, sectionName: a}]") +
		route("both-route", "m-both", "[{name: public}, {name: internal, sectionName: svc}]") +
		fmt.Sprintf(`apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: sim}
spec:
  schema: {name: OpenAI}
  backendRef: {name: sim, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: sim}
spec:
  endpoints: [{ip: {address: %s, port: %s}}]
`, sh, sp)
}

// TestSeveralGateways serves two Gateways from one process: each listener
// serves the routes attached to it (by Gateway, or by sectionName), with
// its Gateway's client policy, and listeners of one port are told apart by
// the request's host.
func TestSeveralGateways(t *testing.T) {
	sims := startSims(t, 1, model)
	publicPort, internalPort := freePort(t), freePort(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(severalGatewaysConfig(publicPort, internalPort, sims[0])), 0o600))
	g := startGateway(t, path, publicPort)

	send := func(method string, port int, host, key, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), method, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), strings.NewReader(body))
		require.NoError(t, err)
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", key)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	call := func(port int, host, key, m string) (int, string) {
		return send(http.MethodPost, port, host, key, "/v1/chat/completions", `{"model":"`+m+`","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}`)
	}
	for _, tc := range []struct {
		name       string
		port       int
		host, key  string
		model      string
		wantStatus int
	}{
		{"public needs its key", publicPort, "gw.example.com", "", "m-public", http.StatusUnauthorized},
		{"public route", publicPort, "gw.example.com", "Bearer sk-team-a", "m-public", http.StatusOK},
		{"route of two Gateways, on the first", publicPort, "gw.example.com", "Bearer sk-team-a", "m-both", http.StatusOK},
		{"internal route not on public", publicPort, "gw.example.com", "Bearer sk-team-a", "m-internal", http.StatusNotFound},
		{"internal route, listener a", internalPort, "a.internal", "", "m-internal", http.StatusOK},
		{"route of listener a", internalPort, "a.internal:8080", "", "m-a", http.StatusOK},
		{"route of listener svc, not a", internalPort, "a.internal", "", "m-both", http.StatusNotFound},
		{"internal route, listener svc", internalPort, "x.svc.internal", "", "m-internal", http.StatusOK},
		{"route of two Gateways, on the second", internalPort, "x.svc.internal", "", "m-both", http.StatusOK},
		{"route of listener a, not svc", internalPort, "x.svc.internal", "", "m-a", http.StatusNotFound},
		{"public route not on internal", internalPort, "a.internal", "Bearer sk-team-a", "m-public", http.StatusNotFound},
		{"a host no listener of the port has", internalPort, "other.example.com", "", "m-internal", http.StatusNotFound},
	} {
		status, body := call(tc.port, tc.host, tc.key, tc.model)
		require.Equal(t, tc.wantStatus, status, "%s: %s\n%s", tc.name, body, g.stderr)
	}

	// /v1/models lists what the listener serves.
	models := func(port int, host, key string) string {
		_, body := send(http.MethodGet, port, host, key, "/v1/models", "")
		return body
	}
	a := models(internalPort, "a.internal", "")
	require.Contains(t, a, `"m-a"`)
	require.Contains(t, a, `"m-internal"`)
	require.NotContains(t, a, `"m-public"`)
	require.NotContains(t, a, `"m-both"`)
	public := models(publicPort, "gw.example.com", "Bearer sk-team-a")
	require.Contains(t, public, `"m-both"`)
	require.NotContains(t, public, `"m-internal"`)
}
