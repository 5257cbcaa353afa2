package backendauth

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/google/externalaccount"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// gcpScope is the scope of Vertex AI access tokens.
const gcpScope = "https://www.googleapis.com/auth/cloud-platform"

// gcpAuth sends "Authorization: Bearer <token>" with Google access tokens,
// cached and refreshed in the background, and places the request under the
// project's and region's Vertex AI path (/v1/projects/P/locations/R), which
// the translations leave to it.
type gcpAuth struct {
	prefix string
	tokens refresher[string]
}

var _ llm.Authenticator = (*gcpAuth)(nil)

func newGCPCredentials(a *config.Auth, opts Options) (*gcpAuth, error) {
	g := a.GCP
	if g == nil || g.ProjectName == "" || g.Region == "" {
		return nil, fmt.Errorf("policy %s: GCPCredentials needs a project and a region", a.Policy)
	}
	ctx := context.Background()
	if opts.HTTPClient != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, opts.HTTPClient)
	}
	load := func(ctx context.Context) (*google.Credentials, error) {
		params := google.CredentialsParams{Scopes: []string{gcpScope}}
		if wi := g.WorkloadIdentity; wi != nil {
			return workloadIdentity(ctx, a.Policy, wi, opts)
		}
		if g.CredentialsFile == "" {
			return google.FindDefaultCredentialsWithParams(ctx, params)
		}
		var head struct {
			Type       string `json:"type"`
			PrivateKey string `json:"private_key"`
		}
		if err := json.Unmarshal([]byte(g.CredentialsFile.Reveal()), &head); err != nil {
			return nil, errors.New("the credentials file is not JSON")
		}
		if head.Type == string(google.ServiceAccount) {
			if b, _ := pem.Decode([]byte(head.PrivateKey)); b == nil {
				return nil, errors.New("the service account key has no PEM private_key")
			}
		}
		return google.CredentialsFromJSONWithTypeAndParams(ctx, []byte(g.CredentialsFile.Reveal()), google.CredentialsType(head.Type), params)
	}
	// The credentials are checked now, so that a broken file fails the
	// load, not every request (unless every request brings its own).
	if o := a.Override; o == nil || o.FallbackToConfigured {
		if _, err := load(ctx); err != nil {
			return nil, fmt.Errorf("policy %s: GCPCredentials: %w", a.Policy, err)
		}
	}
	t := &gcpAuth{prefix: "/v1/projects/" + url.PathEscape(g.ProjectName) + "/locations/" + url.PathEscape(g.Region)}
	t.tokens = refresher[string]{policy: a.Policy, what: "Google access token", logger: opts.logger(), now: time.Now,
		fetch: func(fctx context.Context) (string, time.Time, error) {
			// New credentials each time: the library's token sources cache,
			// and would hand back the token being replaced.
			if opts.HTTPClient != nil {
				fctx = context.WithValue(fctx, oauth2.HTTPClient, opts.HTTPClient)
			}
			creds, err := load(fctx)
			if err == nil {
				var tok *oauth2.Token
				if tok, err = creds.TokenSource.Token(); err == nil {
					return tok.AccessToken, tok.Expiry, nil
				}
			}
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && re.Response != nil {
				err = fmt.Errorf("the token endpoint answered %d %s", re.Response.StatusCode, oauthErrorCode(re))
			}
			return "", time.Time{}, fmt.Errorf("policy %s: getting a Google access token: %w", a.Policy, err)
		}}
	return t, nil
}

// Authenticate implements [llm.Authenticator.Authenticate].
func (t *gcpAuth) Authenticate(ctx context.Context, req *llm.UpstreamRequest) error {
	tok, err := t.tokens.get(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Path = t.prefix + req.Path
	return nil
}

// oauthErrorCode is an OAuth error's code ("invalid_grant"), from the
// library or the body, cut short; the body's other members, which may
// echo what was sent, are left out.
func oauthErrorCode(re *oauth2.RetrieveError) string {
	code := re.ErrorCode
	if code == "" {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(re.Body, &e)
		code = e.Error
	}
	if len(code) > 64 {
		code = code[:64]
	}
	return code
}

// Google's endpoints for workload identity federation.
const (
	googleSTSURL           = "https://sts.googleapis.com/v1/token"
	googleImpersonationURL = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/%s:generateAccessToken"
)

// workloadIdentity is workload identity federation through
// golang.org/x/oauth2/google/externalaccount: the OIDC provider's token,
// exchanged at Google's STS for the pool's provider, then for the service
// account's token when one is impersonated.
func workloadIdentity(ctx context.Context, policy string, wi *config.GCPWorkloadIdentity, opts Options) (*google.Credentials, error) {
	cfg := externalaccount.Config{
		Audience: fmt.Sprintf("//iam.googleapis.com/projects/%s/locations/global/workloadIdentityPools/%s/providers/%s",
			wi.ProjectNumber, wi.Pool, wi.Provider),
		SubjectTokenType:     "urn:ietf:params:oauth:token-type:jwt",
		TokenURL:             googleSTSURL,
		Scopes:               []string{gcpScope},
		SubjectTokenSupplier: subjectToken{newOIDCClient(policy, wi.OIDC, opts)},
	}
	if wi.ServiceAccount != "" {
		cfg.ServiceAccountImpersonationURL = fmt.Sprintf(googleImpersonationURL, url.PathEscape(wi.ServiceAccount))
	}
	ts, err := externalaccount.NewTokenSource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &google.Credentials{TokenSource: ts}, nil
}

// subjectToken supplies the OIDC provider's token to Google's STS.
type subjectToken struct{ oidc *oidcClient }

// SubjectToken implements [externalaccount.SubjectTokenSupplier].
func (s subjectToken) SubjectToken(ctx context.Context, _ externalaccount.SupplierOptions) (string, error) {
	return s.oidc.token(ctx)
}
