package clientauth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/config"
)

// signer is a JWT issuer's key.
type signer struct {
	kid string
	key *rsa.PrivateKey
}

func newSigner(t *testing.T, kid string) signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return signer{kid: kid, key: k}
}

// jwks is the JWK Set of the signers' public keys.
func jwks(signers ...signer) string {
	var keys []map[string]string
	for _, s := range signers {
		keys = append(keys, map[string]string{"kty": "RSA", "kid": s.kid, "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(s.key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(s.key.E)).Bytes())})
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return string(b)
}

func (s signer) token(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = s.kid
	out, err := tok.SignedString(s.key)
	require.NoError(t, err)
	return out
}

func status(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 200
	}
	var e *apierror.Error
	require.True(t, errors.As(err, &e), "%v", err)
	return e.Status
}

// TestJWT: tokens of a provider whose keys are given inline are verified
// by golang-jwt (signature, issuer, audience, expiry, algorithm); claims
// are copied into headers (a client's own copy replaced); a missing token
// passes only when optional; authorization matches claims and scopes.
func TestJWT(t *testing.T) {
	idp, other := newSigner(t, "k1"), newSigner(t, "k2")
	provider := config.JWTProvider{Name: "idp", Issuer: "https://idp.example", Audiences: []string{"aigw"}, LocalJWKS: jwks(idp),
		ClaimToHeaders: []config.ClaimToHeader{{Header: "x-team", Claim: "org.team"}}}
	policy := &config.ClientAuth{Policy: "default/jwt", JWT: &config.JWTAuthentication{Providers: []config.JWTProvider{provider}},
		Authorization: &config.Authorization{DefaultAction: config.AuthorizationDeny, Rules: []config.AuthorizationRule{
			{Name: "admins", Action: config.AuthorizationAllow, JWT: &config.JWTPrincipal{Provider: "idp",
				Claims: []config.HeaderValues{{Name: "groups", Values: []string{"admins"}}}, Scopes: []string{"chat"}}},
		}}}
	c, err := New(policy, Options{})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	now := time.Now()
	good := jwt.MapClaims{"iss": "https://idp.example", "aud": "aigw", "sub": "alice", "exp": now.Add(time.Hour).Unix(),
		"groups": []string{"devs", "admins"}, "scope": "chat embed", "org": map[string]any{"team": "search"}}
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range good {
			c[k] = v
		}
		change(c)
		return c
	}
	check := func(h http.Header) (string, error) { return c.Check(&Request{Header: h}) }

	h := http.Header{"Authorization": {"Bearer " + idp.token(t, good)}, "X-Team": {"forged"}}
	id, err := check(h)
	require.NoError(t, err)
	require.Equal(t, "alice", id)
	require.Equal(t, "search", h.Get("X-Team"), "the claim, not the client's copy")

	for name, tok := range map[string]string{
		"expired":        idp.token(t, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })),
		"wrong issuer":   idp.token(t, with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })),
		"wrong audience": idp.token(t, with(func(c jwt.MapClaims) { c["aud"] = "other" })),
		"unknown key":    other.token(t, good),
		"garbage":        "not.a.token",
	} {
		_, err := check(http.Header{"Authorization": {"Bearer " + tok}})
		require.Equal(t, 401, status(t, err), name)
	}
	_, err = check(http.Header{})
	require.Equal(t, 401, status(t, err), "a token is required")
	_, err = check(http.Header{"Authorization": {"Bearer " + idp.token(t, with(func(c jwt.MapClaims) { c["groups"] = []string{"devs"} }))}})
	require.Equal(t, 403, status(t, err), "not an admin")
	_, err = check(http.Header{"Authorization": {"Bearer " + idp.token(t, with(func(c jwt.MapClaims) { c["scope"] = "embed" }))}})
	require.Equal(t, 403, status(t, err), "no chat scope")

	// HMAC signed with the public key as a secret, or "none": refused.
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, good)
	hs.Header["kid"] = "k1"
	forged, err := hs.SignedString(idp.key.N.Bytes())
	require.NoError(t, err)
	_, err = check(http.Header{"Authorization": {"Bearer " + forged}})
	require.Equal(t, 401, status(t, err))

	optional, err := New(&config.ClientAuth{Policy: "p", JWT: &config.JWTAuthentication{Optional: true, Providers: []config.JWTProvider{provider}}}, Options{})
	require.NoError(t, err)
	t.Cleanup(optional.Close)
	_, err = optional.Check(&Request{Header: http.Header{}})
	require.NoError(t, err, "optional: no token passes")
	_, err = optional.Check(&Request{Header: http.Header{"Authorization": {"Bearer " + other.token(t, good)}}})
	require.Equal(t, 401, status(t, err), "optional: a bad token still fails")
}

// TestRemoteJWKS: keys are fetched from the provider's JWK Set URL once,
// and again when a token names a key the set did not have (a rotation).
func TestRemoteJWKS(t *testing.T) {
	first, rotated := newSigner(t, "k1"), newSigner(t, "k2")
	var mu sync.Mutex
	set, fetches := jwks(first), 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(set))
	}))
	t.Cleanup(srv.Close)
	c, err := New(&config.ClientAuth{Policy: "p", JWT: &config.JWTAuthentication{Providers: []config.JWTProvider{{Name: "idp", RemoteJWKS: srv.URL}}}},
		Options{HTTPClient: srv.Client()})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	claims := jwt.MapClaims{"sub": "bob", "exp": time.Now().Add(time.Hour).Unix()}
	require.Eventually(t, func() bool {
		_, err := c.Check(&Request{Header: http.Header{"Authorization": {"Bearer " + first.token(t, claims)}}})
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	for range 5 {
		_, err := c.Check(&Request{Header: http.Header{"Authorization": {"Bearer " + first.token(t, claims)}}})
		require.NoError(t, err)
	}
	mu.Lock()
	require.Equal(t, 1, fetches, "the keys are cached")
	set = jwks(first, rotated)
	mu.Unlock()
	_, err = c.Check(&Request{Header: http.Header{"Authorization": {"Bearer " + rotated.token(t, claims)}}})
	require.NoError(t, err, "an unknown key ID refreshes the set")
}

// TestJWTProvidersAreAlternatives: a token passes when one provider
// verifies it; claim headers come from the provider that did, a client's
// copies of the others' removed.
func TestJWTProvidersAreAlternatives(t *testing.T) {
	a, b := newSigner(t, "a1"), newSigner(t, "b1")
	c, err := New(&config.ClientAuth{Policy: "p", JWT: &config.JWTAuthentication{Providers: []config.JWTProvider{
		{Name: "a", LocalJWKS: jwks(a), ClaimToHeaders: []config.ClaimToHeader{{Header: "x-a", Claim: "sub"}}},
		{Name: "b", LocalJWKS: jwks(b), ClaimToHeaders: []config.ClaimToHeader{{Header: "x-b", Claim: "sub"}}},
	}}}, Options{})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	h := http.Header{"Authorization": {"Bearer " + b.token(t, jwt.MapClaims{"sub": "bob", "exp": time.Now().Add(time.Hour).Unix()})}, "X-A": {"forged"}}
	id, err := c.Check(&Request{Header: h})
	require.NoError(t, err)
	require.Equal(t, "bob", id)
	require.Equal(t, "bob", h.Get("X-B"))
	require.Empty(t, h.Values("X-A"), "a client's copy of another provider's claim header goes")
}
