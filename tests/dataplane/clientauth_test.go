package dataplane

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // htpasswd {SHA}
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"
)

// clientAuthConfig protects the Gateway with API keys (client ID
// forwarded in x-client-id, the key removed), and the "internal" model's
// route with basic auth for loopback clients only, in place of the
// Gateway's policy.
const clientAuthConfig = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: chat}
spec:
  parentRefs: [{name: gw}]
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m}]}]
      backendRefs: [{name: openai}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: internal}
spec:
  parentRefs: [{name: gw}]
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: internal}]}]
      backendRefs: [{name: openai}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: keys}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  apiKeyAuth:
    credentialRefs: [{name: client-keys}]
    extractFrom: [{headers: [Authorization]}]
    forwardClientIDHeader: x-client-id
    sanitize: true
---
apiVersion: v1
kind: Secret
metadata: {name: client-keys}
stringData: {team-a: sk-team-a}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: internal}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: internal}]
  basicAuth: {users: {name: htpasswd}, forwardUsernameHeader: x-user}
  authorization:
    defaultAction: Deny
    rules: [{name: loopback, action: Allow, principal: {clientCIDRs: [%[2]s]}}]
---
apiVersion: v1
kind: Secret
metadata: {name: htpasswd}
stringData: {.htpasswd: "alice:%[3]s"}
`

// TestClientAuthentication: through both transports, openai-go with a
// client's API key (as its bearer token) is served, its client ID
// forwarded and the key never reaching the upstream; a wrong or missing
// key is a 401, /v1/models included, and the listing leaves out the models
// of routes whose own policy refuses the client; the internal route takes basic auth
// from the allowed network only (403 from elsewhere), whatever the key.
func TestClientAuthentication(t *testing.T) {
	var seen struct {
		auth, clientID, user string
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.auth, seen.clientID, seen.user = r.Header.Get("Authorization"), r.Header.Get("X-Client-Id"), r.Header.Get("X-User")
		(&recordingUpstream{}).ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)
	sum := sha1.Sum([]byte("wonderland")) //nolint:gosec // htpasswd {SHA}
	htpasswd := "{SHA}" + base64.StdEncoding.EncodeToString(sum[:])
	for _, tr := range transports {
		for _, allowed := range []string{"127.0.0.0/8", "192.0.2.0/24"} {
			t.Run(tr.name+"/internal-allowed-from-"+strings.ReplaceAll(allowed, "/", "_"), func(t *testing.T) {
				port := freePort(t)
				path := filepath.Join(t.TempDir(), "config.yaml")
				cfg := fmt.Sprintf(clientAuthConfig, port, allowed, htpasswd) + backendDocs("openai", strings.TrimPrefix(up.URL, "http://"))
				require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
				url, _ := tr.start(t, path, port)
				client := func(opts ...option.RequestOption) openai.Client {
					return openai.NewClient(append([]option.RequestOption{option.WithBaseURL(url + "/v1"), option.WithMaxRetries(0)}, opts...)...)
				}
				status := func(err error) int {
					var apiErr *openai.Error
					if errors.As(err, &apiErr) {
						return apiErr.StatusCode
					}
					require.NoError(t, err)
					return http.StatusOK
				}

				teamA := client(option.WithAPIKey("sk-team-a"))
				_, err := teamA.Chat.Completions.New(t.Context(), chat("m"))
				require.NoError(t, err)
				require.Equal(t, "team-a", seen.clientID, "the client ID is forwarded")
				require.Empty(t, seen.auth, "the client's key never reaches the upstream")
				models, err := teamA.Models.List(t.Context())
				require.NoError(t, err)
				require.Len(t, models.Data, 1, "the internal route's model is not listed to a client its policy refuses")
				require.Equal(t, "m", models.Data[0].ID)

				wrong := client(option.WithAPIKey("sk-nope"))
				_, err = wrong.Chat.Completions.New(t.Context(), chat("m"))
				require.Equal(t, http.StatusUnauthorized, status(err))
				_, err = wrong.Models.List(t.Context())
				require.Equal(t, http.StatusUnauthorized, status(err), "the Gateway's policy guards /v1/models")

				alice := client(option.WithHeader("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:wonderland"))))
				_, err = alice.Chat.Completions.New(t.Context(), chat("internal"))
				if allowed == "127.0.0.0/8" {
					require.NoError(t, err)
					require.Equal(t, "alice", seen.user)
				} else {
					require.Equal(t, http.StatusForbidden, status(err), "authorization denies other networks")
				}
				_, err = teamA.Chat.Completions.New(t.Context(), chat("internal"))
				require.Equal(t, http.StatusUnauthorized, status(err), "the route's policy replaces the Gateway's")
				_, err = alice.Chat.Completions.New(t.Context(), chat("m"))
				require.Equal(t, http.StatusUnauthorized, status(err))
			})
		}
	}
}

// TestJWTAuthentication: through both transports, openai-go's bearer
// token is a JWT the gateway verifies with its identity provider's
// published keys; its team claim reaches the upstream as a header; only
// admins pass the route's authorization; a token of another issuer is a
// 401.
func TestJWTAuthentication(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())}}})
	}))
	t.Cleanup(jwksSrv.Close)
	token := func(c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		require.NoError(t, err)
		return s
	}
	var team string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		team = r.Header.Get("X-Team")
		(&recordingUpstream{}).ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)
	config := gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: chat}
spec:
  parentRefs: [{name: gw}]
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m}]}]
      backendRefs: [{name: openai}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: jwt}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  jwt:
    providers:
      - name: idp
        issuer: https://idp.example.com
        audiences: [aigw]
        remoteJWKS: {uri: "%[2]s"}
        claimToHeaders: [{header: x-team, claim: team}]
  authorization:
    defaultAction: Deny
    rules: [{name: admins, action: Allow, principal: {jwt: {provider: idp, claims: [{name: groups, values: [admins]}]}}}]
`
	claims := func(groups ...string) jwt.MapClaims {
		return jwt.MapClaims{"iss": "https://idp.example.com", "aud": "aigw", "sub": "alice", "team": "search", "groups": groups,
			"exp": time.Now().Add(time.Hour).Unix()}
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			port := freePort(t)
			path := filepath.Join(t.TempDir(), "config.yaml")
			cfg := fmt.Sprintf(config, port, jwksSrv.URL) + backendDocs("openai", strings.TrimPrefix(up.URL, "http://"))
			require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
			url, _ := tr.start(t, path, port)
			call := func(tok string) error {
				c := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithMaxRetries(0), option.WithAPIKey(tok))
				_, err := c.Chat.Completions.New(t.Context(), chat("m"))
				return err
			}
			statusOf := func(err error) int {
				var apiErr *openai.Error
				if errors.As(err, &apiErr) {
					return apiErr.StatusCode
				}
				require.NoError(t, err)
				return http.StatusOK
			}
			require.Eventually(t, func() bool { return call(token(claims("admins"))) == nil }, 5*time.Second, 20*time.Millisecond,
				"the provider's keys are fetched")
			require.Equal(t, "search", team, "the claim reaches the upstream as a header")
			require.Equal(t, http.StatusForbidden, statusOf(call(token(claims("devs")))))
			other := claims("admins")
			other["iss"] = "https://evil.example.com"
			require.Equal(t, http.StatusUnauthorized, statusOf(call(token(other))))
			require.Equal(t, http.StatusUnauthorized, statusOf(call("not-a-jwt")))
		})
	}
}
