// Package entratest is a fake Entra ID tenant for tests: over TLS (the
// identity library accepts only https authorities), it serves the OpenID
// configuration and a token endpoint that checks the client credentials
// grant of one application, as Entra does.
package entratest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// Scope is the Azure OpenAI scope the token endpoint requires.
const Scope = "https://cognitiveservices.azure.com/.default"

// Server is a fake tenant. Its Client trusts its certificate.
type Server struct {
	*httptest.Server
	Tenant, ClientID, Secret string
	// Assertion, when set, accepts a federated client assertion (workload
	// identity federation) instead of the secret.
	Assertion func(string) bool
	tokens    atomic.Int32
}

// Start starts a tenant for application ClientID with Secret, stopped when
// the test ends. Tokens are "entra-token-<n>", valid for an hour.
func Start(t testing.TB) *Server {
	s := &Server{Tenant: "tenant-1", ClientID: "client-1", Secret: "s3cr3t"}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// AuthorityHost is the authority to configure.
func (s *Server) AuthorityHost() string { return s.URL + "/" }

// Tokens returns how many tokens were issued.
func (s *Server) Tokens() int { return int(s.tokens.Load()) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	base := s.URL + "/" + s.Tenant
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/" + s.Tenant + "/v2.0/.well-known/openid-configuration":
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_endpoint": base + "/oauth2/v2.0/token", "authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"issuer": base + "/v2.0", "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
		})
	case "/" + s.Tenant + "/oauth2/v2.0/token":
		_ = r.ParseForm()
		authenticated := r.Form.Get("client_secret") == s.Secret
		if s.Assertion != nil {
			authenticated = r.Form.Get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" &&
				s.Assertion(r.Form.Get("client_assertion"))
		}
		if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("client_id") != s.ClientID ||
			!authenticated || !slices.Contains(strings.Fields(r.Form.Get("scope")), Scope) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`))
			return
		}
		n := s.tokens.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": "entra-token-" + strconv.Itoa(int(n))})
	default:
		http.NotFound(w, r)
	}
}
