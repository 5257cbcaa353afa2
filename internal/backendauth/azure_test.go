package backendauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/backendauth/entratest"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

// azureAuth is the AzureCredentials of the fake tenant's application,
// with secret.
func azureAuth(entra *entratest.Server, secret string) *config.Auth {
	return &config.Auth{Policy: "default/azure", Type: config.AuthAzureCredentials, Azure: &config.AzureCredentials{
		TenantID: entra.Tenant, ClientID: entra.ClientID, ClientSecret: config.Secret(secret), AuthorityHost: entra.AuthorityHost(),
	}}
}

// TestAzureCredentials: the Entra ID library gets the token with the
// client secret and the Azure OpenAI scope; requests carry it as a Bearer
// token; it is fetched once and cached.
func TestAzureCredentials(t *testing.T) {
	entra := entratest.Start(t)
	a, err := New(azureAuth(entra, entra.Secret), Options{HTTPClient: entra.Client()})
	require.NoError(t, err)
	for range 3 {
		req := &llm.UpstreamRequest{Header: http.Header{}}
		require.NoError(t, a.Authenticate(t.Context(), req))
		require.Equal(t, "Bearer entra-token-1", req.Header.Get("Authorization"))
	}
	require.Equal(t, 1, entra.Tokens(), "the token is cached")
}

// TestAzureCredentialsRejected: a wrong secret fails the attempt with an
// error that names the policy and Entra's status, never the secret.
func TestAzureCredentialsRejected(t *testing.T) {
	entra := entratest.Start(t)
	a, err := New(azureAuth(entra, "wrong-secret"), Options{HTTPClient: entra.Client()})
	require.NoError(t, err)
	err = a.Authenticate(t.Context(), &llm.UpstreamRequest{Header: http.Header{}})
	require.ErrorContains(t, err, "policy default/azure")
	require.ErrorContains(t, err, "401")
	require.NotContains(t, err.Error(), "wrong-secret")
}

// stepCredential hands out tokens that expire an hour after the fake
// clock's time, or fails while broken.
type stepCredential struct {
	mu     sync.Mutex
	now    *time.Time
	n      int
	broken bool
	calls  chan struct{}
}

func (c *stepCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer func() {
		c.mu.Unlock()
		c.calls <- struct{}{}
	}()
	if c.broken {
		return azcore.AccessToken{}, errors.New("token endpoint unreachable")
	}
	c.n++
	return azcore.AccessToken{Token: "tok-" + string(rune('0'+c.n)), ExpiresOn: c.now.Add(time.Hour)}, nil
}

// TestTokenRefresh: near its expiry the token is refreshed in the
// background while the old one still serves; a failed refresh is logged
// and the old token serves until it expires; then requests fail.
func TestTokenRefresh(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cred := &stepCredential{now: &now, calls: make(chan struct{}, 10)}
	var logs syncbuf.Buffer
	ta := newTokenAuth("default/azure", cred, azureScope, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ta.tokens.now = clock
	bearer := func() (string, error) {
		req := &llm.UpstreamRequest{Header: http.Header{}}
		err := ta.Authenticate(t.Context(), req)
		return strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer "), err
	}

	tok, err := bearer()
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok)
	<-cred.calls

	advance(56 * time.Minute) // inside the refresh window
	tok, err = bearer()
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok, "the old token serves while the refresh runs")
	<-cred.calls
	require.Eventually(t, func() bool { tok, _ := bearer(); return tok == "tok-2" }, 5*time.Second, time.Millisecond)

	cred.mu.Lock()
	cred.broken = true
	cred.mu.Unlock()
	advance(56 * time.Minute)
	tok, err = bearer()
	require.NoError(t, err)
	require.Equal(t, "tok-2", tok)
	<-cred.calls
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "refreshing the backend's credential failed") }, 5*time.Second, time.Millisecond)
	tok, err = bearer()
	require.NoError(t, err)
	require.Equal(t, "tok-2", tok, "a failed refresh keeps the token until it expires")

	advance(5 * time.Minute) // expired
	_, err = bearer()
	require.ErrorContains(t, err, "token endpoint unreachable")
}
