package providertest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// OIDCProvider is a fake OpenID Connect provider for one client: its
// discovery document names its token endpoint, which grants the client
// credentials of ClientID and ClientSecret (in the Authorization header or
// the form, as RFC 6749 allows), with the audience asked for.
type OIDCProvider struct {
	Server                 *httptest.Server
	ClientID, ClientSecret string

	mu     sync.Mutex
	issued map[string]string // token → audience
}

// StartOIDCProvider starts a provider, stopped when the test ends.
func StartOIDCProvider(t testing.TB) *OIDCProvider {
	t.Helper()
	p := &OIDCProvider{ClientID: "gateway", ClientSecret: "oidc-secret", issued: map[string]string{}}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Server.Close)
	return p
}

// Issuer is the provider's issuer URL.
func (p *OIDCProvider) Issuer() string { return p.Server.URL }

func (p *OIDCProvider) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.Server.URL, "token_endpoint": p.Server.URL + "/oauth/token"})
	case "/oauth/token":
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
		}
		if r.Form.Get("grant_type") != "client_credentials" || id != p.ClientID || secret != p.ClientSecret {
			oauthError(w, "invalid_client")
			return
		}
		p.mu.Lock()
		tok := fmt.Sprintf("oidc-token-%d", len(p.issued)+1)
		p.issued[tok] = r.Form.Get("audience")
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
	default:
		http.NotFound(w, r)
	}
}

// Issued reports whether the provider issued tok, for audience.
func (p *OIDCProvider) Issued(tok, audience string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	aud, ok := p.issued[tok]
	return ok && aud == audience
}

// AWSSTS is a fake AWS STS for AssumeRoleWithWebIdentity (the query
// protocol: a form in, XML out): it accepts web identity tokens its OIDC
// provider issued for RoleARN, and hands out temporary credentials,
// "ASIA<n>", valid for Lifetime.
type AWSSTS struct {
	Server   *httptest.Server
	OIDC     *OIDCProvider
	RoleARN  string
	Audience string
	Lifetime time.Duration

	mu     sync.Mutex
	issued []string
}

// StartAWSSTS starts the fake STS, stopped when the test ends.
func StartAWSSTS(t testing.TB, oidc *OIDCProvider, roleARN, audience string) *AWSSTS {
	t.Helper()
	s := &AWSSTS{OIDC: oidc, RoleARN: roleARN, Audience: audience, Lifetime: time.Hour}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Server.Close)
	return s
}

func (s *AWSSTS) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if r.Form.Get("Action") != "AssumeRoleWithWebIdentity" || r.Form.Get("RoleArn") != s.RoleARN || r.Form.Get("RoleSessionName") == "" ||
		!s.OIDC.Issued(r.Form.Get("WebIdentityToken"), s.Audience) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>Couldn't verify the token</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
		return
	}
	s.mu.Lock()
	n := len(s.issued) + 1
	s.issued = append(s.issued, fmt.Sprintf("ASIA%d", n))
	s.mu.Unlock()
	type creds struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	}
	var resp struct {
		XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleWithWebIdentityResponse"`
		Result  struct {
			Credentials     creds `xml:"Credentials"`
			AssumedRoleUser struct {
				Arn           string `xml:"Arn"`
				AssumedRoleID string `xml:"AssumedRoleId"`
			} `xml:"AssumedRoleUser"`
		} `xml:"AssumeRoleWithWebIdentityResult"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	resp.Result.Credentials = creds{AccessKeyID: fmt.Sprintf("ASIA%d", n), SecretAccessKey: fmt.Sprintf("sts-secret-%d", n),
		SessionToken: fmt.Sprintf("sts-session-%d", n), Expiration: time.Now().Add(s.Lifetime).UTC().Format(time.RFC3339)}
	resp.Result.AssumedRoleUser.Arn = s.RoleARN + "/aigw"
	resp.RequestID = "r"
	w.Header().Set("Content-Type", "text/xml")
	_ = xml.NewEncoder(w).Encode(&resp)
}

// Credentials returns the n-th credentials handed out (1-based): the key
// ID, secret and session token.
func (s *AWSSTS) Credentials(n int) (id, secret, session string) {
	return fmt.Sprintf("ASIA%d", n), fmt.Sprintf("sts-secret-%d", n), fmt.Sprintf("sts-session-%d", n)
}

// GoogleFederation is a fake of Google's STS token exchange and IAM
// Credentials' generateAccessToken: it exchanges subject tokens its OIDC
// provider issued for Audience, and impersonates ServiceAccount with the
// federated token. Client routes sts.googleapis.com and
// iamcredentials.googleapis.com to it.
type GoogleFederation struct {
	Server         *httptest.Server
	OIDC           *OIDCProvider
	Audience       string
	ServiceAccount string

	mu        sync.Mutex
	federated map[string]bool
	minted    map[string]bool
}

// StartGoogleFederation starts the fake, stopped when the test ends.
func StartGoogleFederation(t testing.TB, oidc *OIDCProvider, audience, serviceAccount string) *GoogleFederation {
	t.Helper()
	g := &GoogleFederation{OIDC: oidc, Audience: audience, ServiceAccount: serviceAccount, federated: map[string]bool{}, minted: map[string]bool{}}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.Server.Close)
	return g
}

// Client is an HTTP client that sends Google's STS and IAM Credentials
// requests to the fake.
func (g *GoogleFederation) Client() *http.Client {
	return &http.Client{Transport: rerouted{to: strings.TrimPrefix(g.Server.URL, "http://"),
		hosts: []string{"sts.googleapis.com", "iamcredentials.googleapis.com"}}}
}

type rerouted struct {
	to    string
	hosts []string
}

func (r rerouted) RoundTrip(req *http.Request) (*http.Response, error) {
	for _, h := range r.hosts {
		if req.URL.Host == h {
			req = req.Clone(req.Context())
			req.Header.Set("X-Original-Host", h)
			req.URL.Scheme, req.URL.Host = "http", r.to
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (g *GoogleFederation) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Header.Get("X-Original-Host") == "sts.googleapis.com" && r.URL.Path == "/v1/token":
		_ = r.ParseForm()
		if r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" || r.Form.Get("audience") != g.Audience ||
			r.Form.Get("subject_token_type") != "urn:ietf:params:oauth:token-type:jwt" || !g.OIDC.Issued(r.Form.Get("subject_token"), "") {
			oauthError(w, "invalid_grant")
			return
		}
		g.mu.Lock()
		tok := fmt.Sprintf("federated-%d", len(g.federated)+1)
		g.federated[tok] = true
		g.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
			"token_type": "Bearer", "expires_in": 3600})
	case r.Header.Get("X-Original-Host") == "iamcredentials.googleapis.com" &&
		r.URL.Path == "/v1/projects/-/serviceAccounts/"+g.ServiceAccount+":generateAccessToken":
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.federated[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")] {
			googleError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "invalid federated token")
			return
		}
		tok := fmt.Sprintf("ya29.impersonated-%d", len(g.minted)+1)
		g.minted[tok] = true
		_ = json.NewEncoder(w).Encode(map[string]string{"accessToken": tok, "expireTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	default:
		googleError(w, http.StatusNotFound, "NOT_FOUND", r.URL.Path)
	}
}

// Impersonated reports whether an Authorization header carries a token
// minted for the service account.
func (g *GoogleFederation) Impersonated(authorization string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.minted[strings.TrimPrefix(authorization, "Bearer ")]
}
