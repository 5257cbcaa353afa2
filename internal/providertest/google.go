package providertest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2/jws" //nolint:staticcheck // the JWS the Google library signs, verified as Google's token endpoint does
)

// GoogleTokens is a fake Google OAuth 2.0 token endpoint for service
// accounts: it verifies the RS256 JWT assertion the Google library signs
// with the account's key (issuer, audience, scope, expiry, signature) and
// mints access tokens, which Valid then recognizes.
type GoogleTokens struct {
	Server *httptest.Server
	// Email is the service account's client_email.
	Email string
	key   *rsa.PrivateKey

	mu     sync.Mutex
	issued map[string]time.Time
	// Lifetime is the expires_in of the tokens minted (default an hour).
	Lifetime time.Duration
}

// StartGoogleTokens starts the endpoint for one service account.
func StartGoogleTokens(t testing.TB) *GoogleTokens {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	g := &GoogleTokens{Email: "gateway@test-project.iam.gserviceaccount.com", key: key, issued: map[string]time.Time{}, Lifetime: time.Hour}
	g.Server = httptest.NewServer(http.HandlerFunc(g.token))
	t.Cleanup(g.Server.Close)
	return g
}

// ServiceAccountJSON is the account's key file, its token_uri this
// endpoint.
func (g *GoogleTokens) ServiceAccountJSON() []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(g.key)
	b, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "test-project",
		"private_key_id": "key-1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   g.Email,
		"client_id":      "1234567890",
		"token_uri":      g.Server.URL + "/token",
	})
	return b
}

func (g *GoogleTokens) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthError(w, "unsupported_grant_type")
		return
	}
	assertion := r.Form.Get("assertion")
	if err := jws.Verify(assertion, &g.key.PublicKey); err != nil {
		oauthError(w, "invalid_grant")
		return
	}
	claims, err := jws.Decode(assertion)
	now := time.Now().Unix()
	if err != nil || claims.Iss != g.Email || claims.Aud != g.Server.URL+"/token" || !strings.Contains(claims.Scope, "https://www.googleapis.com/auth/cloud-platform") ||
		claims.Exp < now || claims.Iat > now+60 {
		oauthError(w, "invalid_grant")
		return
	}
	g.mu.Lock()
	tok := fmt.Sprintf("ya29.fake-%d", len(g.issued)+1)
	g.issued[tok] = time.Now().Add(g.Lifetime)
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": int(g.Lifetime.Seconds()), "token_type": "Bearer"})
}

func oauthError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

// Valid reports whether an Authorization header carries a token this
// endpoint minted and that has not expired.
func (g *GoogleTokens) Valid(authorization string) bool {
	tok, ok := strings.CutPrefix(authorization, "Bearer ")
	g.mu.Lock()
	defer g.mu.Unlock()
	exp, known := g.issued[tok]
	return ok && known && time.Now().Before(exp)
}

// Minted returns how many tokens were minted.
func (g *GoogleTokens) Minted() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.issued)
}
