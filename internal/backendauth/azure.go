package backendauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// azureScope is the scope of Azure OpenAI access tokens.
const azureScope = "https://cognitiveservices.azure.com/.default"

// Token refresh: a token is refreshed in the background once less than
// refreshBefore of its life is left, and not used within expirySkew of its
// expiry (clocks and the request's own time).
const (
	refreshBefore = 5 * time.Minute
	expirySkew    = 30 * time.Second
	fetchTimeout  = 30 * time.Second
)

// tokenAuth sends "Authorization: Bearer <token>" with tokens from an
// azcore credential, cached: a request never waits for a token while the
// cached one is valid. Near its expiry one background refresh replaces
// it; a refresh that fails is logged and the old token serves until it
// expires (the next request then fetches, and fails with the reason).
type tokenAuth struct {
	policy string
	cred   azcore.TokenCredential
	scope  string
	logger *slog.Logger
	now    func() time.Time

	mu         sync.Mutex
	tok        azcore.AccessToken
	refreshing bool
	// fetch serializes blocking fetches (no valid token cached).
	fetch sync.Mutex
}

var _ llm.Authenticator = (*tokenAuth)(nil)

func newAzureCredentials(a *config.Auth, opts Options) (*tokenAuth, error) {
	az := a.Azure
	if az == nil || az.TenantID == "" || az.ClientID == "" || az.ClientSecret == "" {
		return nil, fmt.Errorf("policy %s: AzureCredentials needs a tenant, a client ID and a client secret", a.Policy)
	}
	co := azidentity.ClientSecretCredentialOptions{}
	if az.AuthorityHost != "" {
		// A private or sovereign authority: no discovery through the
		// public cloud's.
		co.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: az.AuthorityHost}
		co.DisableInstanceDiscovery = true
	}
	if opts.HTTPClient != nil {
		co.Transport = opts.HTTPClient
	}
	cred, err := azidentity.NewClientSecretCredential(az.TenantID, az.ClientID, az.ClientSecret.Reveal(), &co)
	if err != nil {
		return nil, fmt.Errorf("policy %s: AzureCredentials: %w", a.Policy, err)
	}
	return &tokenAuth{policy: a.Policy, cred: cred, scope: azureScope, logger: opts.logger(), now: time.Now}, nil
}

// Authenticate implements [llm.Authenticator.Authenticate].
func (t *tokenAuth) Authenticate(ctx context.Context, req *llm.UpstreamRequest) error {
	tok, err := t.token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// token returns a valid token: the cached one (starting its refresh when
// it nears expiry), else a fresh one.
func (t *tokenAuth) token(ctx context.Context) (string, error) {
	if tok, ok := t.cached(); ok {
		return tok, nil
	}
	t.fetch.Lock()
	defer t.fetch.Unlock()
	if tok, ok := t.cached(); ok { // fetched while this one waited
		return tok, nil
	}
	tok, err := t.get(ctx)
	if err != nil {
		return "", err
	}
	return tok.Token, nil
}

// cached returns the cached token if it is valid, and starts a background
// refresh once it nears expiry.
func (t *tokenAuth) cached() (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.tok.Token == "" || !now.Before(t.tok.ExpiresOn.Add(-expirySkew)) {
		return "", false
	}
	if !t.refreshing && !now.Before(t.tok.ExpiresOn.Add(-refreshBefore)) {
		t.refreshing = true
		go t.refresh()
	}
	return t.tok.Token, true
}

// refresh replaces the token in the background.
func (t *tokenAuth) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	_, err := t.get(ctx)
	t.mu.Lock()
	t.refreshing = false
	expires := t.tok.ExpiresOn
	t.mu.Unlock()
	if err != nil {
		t.logger.Warn("refreshing the backend's access token failed: the current token serves until it expires",
			"policy", t.policy, "expires", expires, "error", err)
	}
}

// get fetches a token and caches it. Its error names the policy, never a
// credential.
func (t *tokenAuth) get(ctx context.Context) (azcore.AccessToken, error) {
	tok, err := t.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{t.scope}})
	if err != nil {
		var auth *azidentity.AuthenticationFailedError
		if errors.As(err, &auth) && auth.RawResponse != nil {
			err = fmt.Errorf("Entra ID answered %d", auth.RawResponse.StatusCode)
		}
		return azcore.AccessToken{}, fmt.Errorf("policy %s: getting an Azure access token: %w", t.policy, err)
	}
	t.mu.Lock()
	if tok.ExpiresOn.After(t.tok.ExpiresOn) {
		t.tok = tok
	}
	t.mu.Unlock()
	return tok, nil
}
