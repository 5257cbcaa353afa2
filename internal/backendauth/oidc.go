package backendauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/aigw-dev/aigw/internal/config"
)

// maxDiscoveryBytes bounds an OIDC discovery document.
const maxDiscoveryBytes = 1 << 20

// oidcClient gets tokens from an OpenID Connect provider with the client
// credentials grant (golang.org/x/oauth2/clientcredentials), to exchange
// for a cloud's credentials; the token endpoint is configured or
// discovered once from the issuer.
type oidcClient struct {
	policy string
	cfg    config.OIDCClient
	http   *http.Client

	mu       sync.Mutex
	tokenURL string
}

func newOIDCClient(policy string, cfg config.OIDCClient, opts Options) *oidcClient {
	return &oidcClient{policy: policy, cfg: cfg, http: opts.HTTPClient, tokenURL: cfg.TokenEndpoint}
}

// token returns a fresh token from the provider: its access token (the
// web identity a cloud's token exchange takes). Errors name the policy
// and the provider's answer, never a secret.
func (o *oidcClient) token(ctx context.Context) (string, error) {
	if o.http != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, o.http)
	}
	tokenURL, err := o.endpoint(ctx)
	if err != nil {
		return "", fmt.Errorf("policy %s: OIDC provider %s: %w", o.policy, o.cfg.Issuer, err)
	}
	cc := clientcredentials.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret.Reveal(), TokenURL: tokenURL, Scopes: o.cfg.Scopes}
	if o.cfg.Audience != "" {
		cc.EndpointParams = url.Values{"audience": {o.cfg.Audience}}
	}
	tok, err := cc.Token(ctx)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			err = fmt.Errorf("the token endpoint answered %d %s", re.Response.StatusCode, oauthErrorCode(re))
		}
		return "", fmt.Errorf("policy %s: getting a token from OIDC provider %s: %w", o.policy, o.cfg.Issuer, err)
	}
	return tok.AccessToken, nil
}

// endpoint returns the token endpoint, discovered from the issuer's
// /.well-known/openid-configuration the first time.
func (o *oidcClient) endpoint(ctx context.Context) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tokenURL != "" {
		return o.tokenURL, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(o.cfg.Issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", err
	}
	client := o.http
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery: the issuer answered %d", resp.StatusCode)
	}
	var doc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDiscoveryBytes)).Decode(&doc); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	if doc.TokenEndpoint == "" {
		return "", errors.New("discovery: no token_endpoint")
	}
	o.tokenURL = doc.TokenEndpoint
	return o.tokenURL, nil
}
