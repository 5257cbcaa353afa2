// Package clientauth decides who may call the gateway: the client
// authentication (API keys, basic auth) and authorization of an Envoy
// Gateway SecurityPolicy, compiled into a [config.ClientAuth], enforced on
// each request before any upstream sees it.
package clientauth

import (
	"crypto/sha1" //nolint:gosec // htpasswd's {SHA} scheme, the one Envoy's basic auth verifies
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/config"
)

// Request is what a check reads of a request. Its Header is edited: the
// identity forwarded (a client's own copy replaced), a sanitized key
// removed.
type Request struct {
	Header     http.Header
	RemoteAddr netip.Addr
}

// Checker enforces one policy. It is safe for concurrent use.
type Checker struct {
	policy string
	apiKey *apiKeys
	basic  *basicUsers
	jwt    *jwtProviders
	authz  *authorization
}

// New compiles a policy's checks; remote JWK Sets start being fetched.
// Close ends their refreshes.
func New(a *config.ClientAuth, opts Options) (*Checker, error) {
	c := &Checker{policy: a.Policy}
	var err error
	if a.APIKey != nil {
		if c.apiKey, err = newAPIKeys(a.APIKey); err != nil {
			return nil, fmt.Errorf("policy %s: apiKeyAuth: %w", a.Policy, err)
		}
	}
	if a.Basic != nil {
		if c.basic, err = newBasicUsers(a.Basic); err != nil {
			return nil, fmt.Errorf("policy %s: basicAuth: %w", a.Policy, err)
		}
	}
	if a.Authorization != nil {
		if c.authz, err = newAuthorization(a.Authorization); err != nil {
			return nil, fmt.Errorf("policy %s: authorization: %w", a.Policy, err)
		}
	}
	if a.JWT != nil {
		if c.jwt, err = newJWTProviders(a.JWT, opts); err != nil {
			return nil, fmt.Errorf("policy %s: jwt: %w", a.Policy, err)
		}
	}
	return c, nil
}

// Close ends the background refreshes of remote JWK Sets.
func (c *Checker) Close() {
	if c.jwt != nil {
		c.jwt.close()
	}
}

// Policy is "namespace/name" of the policy checked.
func (c *Checker) Policy() string { return c.policy }

// Check authenticates r by every method the policy sets (each must pass,
// as Envoy's filters do one after the other), then authorizes it. It
// returns the client's identity (the API key's client ID, else the basic
// auth user; empty when the policy only authorizes), or an
// *apierror.Error: 401 when a credential is missing or wrong, 403 when
// authorization denies. Nothing of a credential reaches the error.
func (c *Checker) Check(r *Request) (string, error) {
	var identity string
	if c.apiKey != nil {
		id, err := c.apiKey.check(r.Header)
		if err != nil {
			return "", err
		}
		identity = id
	}
	if c.basic != nil {
		user, err := c.basic.check(r.Header)
		if err != nil {
			return "", err
		}
		if identity == "" {
			identity = user
		}
	}
	var verified claims
	if c.jwt != nil {
		var err error
		if verified, err = c.jwt.check(r.Header); err != nil {
			return "", err
		}
		for _, mc := range verified {
			if sub, _ := mc["sub"].(string); identity == "" && sub != "" {
				identity = sub
			}
		}
	}
	if c.authz != nil && !c.authz.allows(r, verified) {
		return "", &apierror.Error{Status: http.StatusForbidden, Type: apierror.TypePermission, Code: "forbidden",
			Message: "the request is not allowed by the gateway's authorization policy"}
	}
	return identity, nil
}

// unauthorized is the 401 of a request without valid credentials.
func unauthorized(challenge, why string) error {
	return &apierror.Error{Status: http.StatusUnauthorized, Type: apierror.TypeAuthentication, Code: "invalid_credentials",
		Challenge: challenge, Message: why}
}

// apiKeys checks an API key against the clients' keys, comparing their
// SHA-256 digests in constant time, all of them whatever matches.
type apiKeys struct {
	headers   []string
	clients   []keyDigest
	forward   string
	sanitize  bool
	challenge string
}

type keyDigest struct {
	id     string
	digest [sha256.Size]byte
}

func newAPIKeys(a *config.APIKeyAuthentication) (*apiKeys, error) {
	if len(a.Headers) == 0 {
		return nil, errors.New("no header to read the key from")
	}
	k := &apiKeys{headers: a.Headers, forward: a.ForwardClientIDHeader, sanitize: a.Sanitize}
	for _, c := range a.Clients {
		if c.Key == "" {
			return nil, fmt.Errorf("client %q has an empty key", c.ID)
		}
		k.clients = append(k.clients, keyDigest{id: c.ID, digest: sha256.Sum256([]byte(c.Key.Reveal()))})
	}
	return k, nil
}

func (k *apiKeys) check(h http.Header) (string, error) {
	var key, from string
	for _, name := range k.headers {
		if v := h.Get(name); v != "" {
			key, from = v, name
			break
		}
	}
	if key == "" {
		return "", unauthorized("", "the request carries no API key (header "+strings.Join(k.headers, " or ")+")")
	}
	// Bearer tokens are the usual carrier of keys in Authorization.
	if strings.EqualFold(from, "Authorization") {
		if rest, ok := cutFold(key, "Bearer "); ok {
			key = rest
		}
	}
	d := sha256.Sum256([]byte(key))
	id, found := "", 0
	for _, c := range k.clients {
		if subtle.ConstantTimeCompare(d[:], c.digest[:]) == 1 {
			id, found = c.id, 1
		}
	}
	if found == 0 {
		return "", unauthorized("", "the API key is not valid")
	}
	if k.sanitize {
		h.Del(from)
	}
	if k.forward != "" {
		h.Set(k.forward, id)
	}
	return id, nil
}

// cutFold cuts a case-insensitive prefix.
func cutFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// basicUsers checks HTTP basic credentials against htpasswd {SHA} hashes,
// the scheme Envoy's basic auth verifies, in constant time.
type basicUsers struct {
	users   map[string][sha1.Size]byte
	forward string
}

func newBasicUsers(b *config.BasicAuthentication) (*basicUsers, error) {
	u := &basicUsers{users: map[string][sha1.Size]byte{}, forward: b.ForwardUsernameHeader}
	for _, user := range b.Users {
		enc, ok := strings.CutPrefix(user.Hash.Reveal(), "{SHA}")
		if !ok {
			return nil, fmt.Errorf("user %q: only {SHA} password hashes are supported (htpasswd -s), as by Envoy", user.Name)
		}
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(raw) != sha1.Size {
			return nil, fmt.Errorf("user %q: the {SHA} hash is not base64 of 20 bytes", user.Name)
		}
		u.users[user.Name] = [sha1.Size]byte(raw)
	}
	return u, nil
}

func (u *basicUsers) check(h http.Header) (string, error) {
	const challenge = `Basic realm="aigw"`
	v, ok := cutFold(h.Get("Authorization"), "Basic ")
	if !ok {
		return "", unauthorized(challenge, "the request carries no basic credentials")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil {
		return "", unauthorized(challenge, "the basic credentials are malformed")
	}
	name, password, ok := strings.Cut(string(raw), ":")
	want, known := u.users[name]
	got := sha1.Sum([]byte(password)) //nolint:gosec // htpasswd {SHA}
	if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !known {
		return "", unauthorized(challenge, "the user name or password is not valid")
	}
	if u.forward != "" {
		h.Set(u.forward, name)
	}
	return name, nil
}

// authorization applies the first matching rule's action.
type authorization struct {
	def   config.AuthorizationAction
	rules []rule
}

type rule struct {
	action  config.AuthorizationAction
	cidrs   []netip.Prefix
	headers []config.HeaderValues
	jwt     *config.JWTPrincipal
}

func newAuthorization(a *config.Authorization) (*authorization, error) {
	out := &authorization{def: a.DefaultAction}
	if out.def == "" {
		out.def = config.AuthorizationDeny
	}
	for i, r := range a.Rules {
		cr := rule{action: r.Action, headers: r.Headers, jwt: r.JWT}
		for _, c := range r.ClientCIDRs {
			p, err := netip.ParsePrefix(c)
			if err != nil {
				return nil, fmt.Errorf("rules[%d]: clientCIDRs: %w", i, err)
			}
			cr.cidrs = append(cr.cidrs, p.Masked())
		}
		out.rules = append(out.rules, cr)
	}
	return out, nil
}

func (a *authorization) allows(r *Request, verified claims) bool {
	for _, rl := range a.rules {
		if rl.matches(r, verified) {
			return rl.action == config.AuthorizationAllow
		}
	}
	return a.def == config.AuthorizationAllow
}

// matches reports whether every condition the rule sets holds.
func (rl *rule) matches(r *Request, verified claims) bool {
	if p := rl.jwt; p != nil && !jwtMatches(p, verified[p.Provider]) {
		return false
	}
	if len(rl.cidrs) > 0 {
		addr := r.RemoteAddr.Unmap()
		in := false
		for _, p := range rl.cidrs {
			in = in || (addr.IsValid() && p.Contains(addr))
		}
		if !in {
			return false
		}
	}
	for _, hv := range rl.headers {
		ok := false
		for _, v := range r.Header.Values(hv.Name) {
			for _, want := range hv.Values {
				ok = ok || v == want
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// jwtMatches reports whether a verified token (nil: none) has every claim
// of the principal, with one of its values (a list claim: any element),
// and every scope.
func jwtMatches(p *config.JWTPrincipal, mc map[string]any) bool {
	if mc == nil {
		return false
	}
	for _, want := range p.Claims {
		v, ok := claimValue(mc, want.Name)
		if !ok || !claimHasOne(v, want.Values) {
			return false
		}
	}
	have := scopes(mc)
	for _, s := range p.Scopes {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}

// claimHasOne reports whether a claim (a string, or a list of them) holds
// one of values.
func claimHasOne(v any, values []string) bool {
	switch c := v.(type) {
	case string:
		return slices.Contains(values, c)
	case []any:
		for _, e := range c {
			if s, ok := e.(string); ok && slices.Contains(values, s) {
				return true
			}
		}
	}
	return false
}
