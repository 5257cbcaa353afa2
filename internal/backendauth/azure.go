package backendauth

import (
	"context"
	"errors"
	"fmt"
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

// tokenAuth sends "Authorization: Bearer <token>" with tokens from an
// azcore credential, cached and refreshed in the background.
type tokenAuth struct {
	policy string
	cred   azcore.TokenCredential
	scope  string
	tokens refresher[string]
}

var _ llm.Authenticator = (*tokenAuth)(nil)

func newAzureCredentials(a *config.Auth, opts Options) (*tokenAuth, error) {
	az := a.Azure
	if az == nil || az.TenantID == "" || az.ClientID == "" || (az.ClientSecret == "") == (az.Federated == nil) {
		return nil, fmt.Errorf("policy %s: AzureCredentials needs a tenant, a client ID, and a client secret or a federated OIDC provider", a.Policy)
	}
	co := azcore.ClientOptions{}
	disableDiscovery := false
	if az.AuthorityHost != "" {
		// A private or sovereign authority: no discovery through the
		// public cloud's.
		co.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: az.AuthorityHost}
		disableDiscovery = true
	}
	if opts.HTTPClient != nil {
		co.Transport = opts.HTTPClient
	}
	var cred azcore.TokenCredential
	var err error
	if az.Federated != nil {
		oidc := newOIDCClient(a.Policy, *az.Federated, opts)
		cred, err = azidentity.NewClientAssertionCredential(az.TenantID, az.ClientID, oidc.token,
			&azidentity.ClientAssertionCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: disableDiscovery})
	} else {
		cred, err = azidentity.NewClientSecretCredential(az.TenantID, az.ClientID, az.ClientSecret.Reveal(),
			&azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: disableDiscovery})
	}
	if err != nil {
		return nil, fmt.Errorf("policy %s: AzureCredentials: %w", a.Policy, err)
	}
	return newTokenAuth(a.Policy, cred, azureScope, opts), nil
}

func newTokenAuth(policy string, cred azcore.TokenCredential, scope string, opts Options) *tokenAuth {
	t := &tokenAuth{policy: policy, cred: cred, scope: scope}
	t.tokens = refresher[string]{policy: policy, what: "Azure access token", fetch: t.fetch, logger: opts.logger(), now: time.Now}
	return t
}

// Authenticate implements [llm.Authenticator.Authenticate].
func (t *tokenAuth) Authenticate(ctx context.Context, req *llm.UpstreamRequest) error {
	tok, err := t.tokens.get(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// fetch gets a token. Its error names the policy, never a credential.
func (t *tokenAuth) fetch(ctx context.Context) (string, time.Time, error) {
	tok, err := t.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{t.scope}})
	if err != nil {
		var auth *azidentity.AuthenticationFailedError
		if errors.As(err, &auth) && auth.RawResponse != nil {
			err = fmt.Errorf("Entra ID answered %d", auth.RawResponse.StatusCode)
		}
		return "", time.Time{}, fmt.Errorf("policy %s: getting an Azure access token: %w", t.policy, err)
	}
	return tok.Token, tok.ExpiresOn, nil
}
