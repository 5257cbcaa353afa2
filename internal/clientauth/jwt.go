package clientauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/aigw-dev/aigw/internal/config"
)

// Options are what checks that fetch keys need.
type Options struct {
	// HTTPClient fetches remote JWK Sets; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Logger receives why a key refresh failed; nil discards.
	Logger *slog.Logger
}

// Bounds of JWT verification.
const (
	defaultJWKSCacheDuration = 5 * time.Minute
	jwksFetchTimeout         = 10 * time.Second
	jwtLeeway                = 30 * time.Second
	// maxTokenBytes bounds a token read from a header: a hostile client
	// cannot make the gateway decode more.
	maxTokenBytes = 16 << 10
)

// verifiedMethods are the signature algorithms accepted: the asymmetric
// ones JWKS publish (never "none", nor HMAC with a public key).
var verifiedMethods = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// jwtProviders verifies tokens with golang-jwt, the keys from each
// provider's JWK Set (keyfunc: fetched, cached and refreshed in the
// background for a remote one).
type jwtProviders struct {
	optional  bool
	providers []*jwtProvider
	cancel    context.CancelFunc
}

type jwtProvider struct {
	cfg    config.JWTProvider
	keys   keyfunc.Keyfunc
	parser *jwt.Parser
}

// claims are the verified tokens' claims, by provider.
type claims map[string]jwt.MapClaims

func newJWTProviders(a *config.JWTAuthentication, opts Options) (*jwtProviders, error) {
	ctx, cancel := context.WithCancel(context.Background())
	j := &jwtProviders{optional: a.Optional, cancel: cancel}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	for _, pc := range a.Providers {
		p := &jwtProvider{cfg: pc}
		var err error
		switch {
		case pc.RemoteJWKS != "":
			p.keys, err = remoteKeys(ctx, pc, opts.HTTPClient, logger)
		case pc.LocalJWKS != "":
			p.keys, err = keyfunc.NewJWKSetJSON(json.RawMessage(pc.LocalJWKS))
		default:
			err = errors.New("no JWK Set")
		}
		if err != nil {
			cancel()
			return nil, fmt.Errorf("provider %s: %w", pc.Name, err)
		}
		popts := []jwt.ParserOption{jwt.WithValidMethods(verifiedMethods), jwt.WithLeeway(jwtLeeway)}
		if pc.Issuer != "" {
			popts = append(popts, jwt.WithIssuer(pc.Issuer))
		}
		if len(pc.Audiences) > 0 {
			popts = append(popts, jwt.WithAudience(pc.Audiences...))
		}
		p.parser = jwt.NewParser(popts...)
		j.providers = append(j.providers, p)
	}
	return j, nil
}

// remoteKeys fetches a provider's JWK Set, refreshes it in the background
// every cache duration, and at most every five minutes on an unknown key
// ID; a failed refresh keeps the keys and is logged.
func remoteKeys(ctx context.Context, pc config.JWTProvider, client *http.Client, logger *slog.Logger) (keyfunc.Keyfunc, error) {
	every := pc.CacheDuration.Std()
	if every <= 0 {
		every = defaultJWKSCacheDuration
	}
	storage, err := jwkset.NewStorageFromHTTP(pc.RemoteJWKS, jwkset.HTTPClientStorageOptions{
		Client: client, Ctx: ctx, HTTPTimeout: jwksFetchTimeout, NoErrorReturnFirstHTTPReq: true, RefreshInterval: every,
		RefreshErrorHandler: func(_ context.Context, err error) {
			logger.Warn("refreshing a JWT provider's keys failed: the keys fetched before serve", "provider", pc.Name, "error", err)
		},
	})
	if err != nil {
		return nil, err
	}
	hc, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{pc.RemoteJWKS: storage},
		RefreshUnknownKID: rate.NewLimiter(rate.Every(5*time.Minute), 1),
	})
	if err != nil {
		return nil, err
	}
	return keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: hc})
}

// check verifies the request's tokens: the providers are alternatives
// (the request passes when a token verifies with one of them, as Envoy's
// requires_any), each reading its own extractors. It returns the verified
// claims by provider, and copies their claims into headers.
func (j *jwtProviders) check(h http.Header) (claims, error) {
	const challenge = "Bearer"
	out := claims{}
	var failure error
	found := false
	for _, p := range j.providers {
		tok, ok := p.token(h)
		if !ok {
			continue
		}
		found = true
		if len(tok) > maxTokenBytes {
			failure = unauthorized(challenge+` error="invalid_token"`, "the token is too large")
			continue
		}
		mc := jwt.MapClaims{}
		if _, err := p.parser.ParseWithClaims(tok, mc, p.keys.Keyfunc); err != nil {
			failure = unauthorized(challenge+` error="invalid_token"`, "the token is not valid for provider "+p.cfg.Name+": "+jwtReason(err))
			continue
		}
		out[p.cfg.Name] = mc
	}
	switch {
	case len(out) > 0:
	case found:
		return nil, failure
	case !j.optional:
		return nil, unauthorized(challenge, "the request carries no token")
	}
	// Claims are copied from the verified tokens only; a client's own
	// copies of the headers go in any case.
	for _, p := range j.providers {
		mc := out[p.cfg.Name]
		for _, ch := range p.cfg.ClaimToHeaders {
			h.Del(ch.Header)
			if v, ok := claimString(mc, ch.Claim); ok && mc != nil {
				h.Set(ch.Header, v)
			}
		}
	}
	return out, nil
}

// jwtReason names why a token failed without quoting it.
func jwtReason(err error) string {
	for _, e := range []error{jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet, jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidAudience,
		jwt.ErrTokenSignatureInvalid, jwt.ErrTokenUnverifiable, jwt.ErrTokenMalformed} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "verification failed"
}

// token reads the provider's token from the request.
func (p *jwtProvider) token(h http.Header) (string, bool) {
	if len(p.cfg.Extractors) == 0 {
		v, ok := cutFold(h.Get("Authorization"), "Bearer ")
		return strings.TrimSpace(v), ok && strings.TrimSpace(v) != ""
	}
	for _, e := range p.cfg.Extractors {
		v := h.Get(e.Header)
		if v == "" {
			continue
		}
		if e.ValuePrefix != "" {
			rest, ok := cutFold(v, e.ValuePrefix)
			if !ok {
				continue
			}
			v = rest
		}
		if v = strings.TrimSpace(v); v != "" {
			return v, true
		}
	}
	return "", false
}

// claimString is a claim (a dotted path for a nested one) as a header
// value: strings as they are, other JSON values encoded.
func claimString(mc jwt.MapClaims, path string) (string, bool) {
	v, ok := claimValue(mc, path)
	if !ok {
		return "", false
	}
	if s, ok := v.(string); ok {
		return s, true
	}
	b, err := json.Marshal(v)
	return string(b), err == nil
}

func claimValue(mc jwt.MapClaims, path string) (any, bool) {
	var cur any = map[string]any(mc)
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// scopes are a token's scopes: the space-separated "scope" claim, or a
// "scp" list.
func scopes(mc jwt.MapClaims) []string {
	if s, ok := mc["scope"].(string); ok {
		return strings.Fields(s)
	}
	var out []string
	if l, ok := mc["scp"].([]any); ok {
		for _, v := range l {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// close ends the background refreshes.
func (j *jwtProviders) close() { j.cancel() }
