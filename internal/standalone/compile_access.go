package standalone

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/aigw-dev/aigw/internal/config"
)

// htpasswdKey is the Secret data key of a basicAuth users file.
const htpasswdKey = ".htpasswd"

// accessPolicies compiles the Envoy Gateway SecurityPolicies: the one
// targeting the Gateway, and each route's (an AIGatewayRoute's name, as its
// generated HTTPRoute has it, or an HTTPRoute's). A second policy on a
// target, a target that matches nothing and a field the gateway cannot
// enforce are errors, never warnings: an ignored security policy would
// leave the route open.
func (c *compiler) accessPolicies() (map[nsName]*config.ClientAuth, map[nsName]*config.ClientAuth) {
	routes := map[nsName]bool{}
	for _, r := range c.s.routes {
		routes[r.key()] = true
	}
	for _, r := range c.s.httpRoutes {
		routes[r.key()] = true
	}
	gateways := map[nsName]*config.ClientAuth{}
	gatewayOwner := map[nsName]nsName{}
	out := map[nsName]*config.ClientAuth{}
	owner := map[nsName]nsName{}
	for _, pol := range byName(c.s.accessPolicies) {
		if pol.invalid {
			continue
		}
		auth := c.clientAuth(pol)
		targets := policyTargets(pol.obj.Spec.PolicyTargetReferences)
		if len(targets) == 0 || len(pol.obj.Spec.TargetSelectors) > 0 {
			c.d.errorf(pol.src, field.NewPath("spec", "targetRefs"), "required, naming the Gateway or routes (targetSelectors are not supported in standalone mode)")
			continue
		}
		for _, t := range targets {
			if t.ref.SectionName != nil {
				c.d.notSupported(pol.src, t.path.Child("sectionName"), "a SecurityPolicy on a section of a route or Gateway")
				continue
			}
			switch {
			case t.ref.Group == groupGatewayAPI && t.ref.Kind == "Gateway":
				gw := nsName{pol.src.Namespace, string(t.ref.Name)}
				if c.gatewayByKey(gw) == nil {
					c.d.errorf(pol.src, t.path, "Gateway %s not found: the policy would protect nothing", gw)
					continue
				}
				if other, dup := gatewayOwner[gw]; dup {
					c.d.errorf(pol.src, t.path, "Gateway %s is already targeted by SecurityPolicy %s", gw, other)
					continue
				}
				gatewayOwner[gw], gateways[gw] = pol.key(), auth
			case (t.ref.Group == groupGatewayAPI && t.ref.Kind == "HTTPRoute") || (t.ref.Group == groupAIGateway && t.ref.Kind == "AIGatewayRoute"):
				key := nsName{pol.src.Namespace, string(t.ref.Name)}
				if !routes[key] {
					c.d.errorf(pol.src, t.path, "no AIGatewayRoute or HTTPRoute %s: the policy would protect nothing", key)
					continue
				}
				if other, dup := owner[key]; dup {
					c.d.errorf(pol.src, t.path, "route %s is already targeted by SecurityPolicy %s", key, other)
					continue
				}
				owner[key], out[key] = pol.key(), auth
			default:
				c.d.errorf(pol.src, t.path, "a SecurityPolicy targets a Gateway, an HTTPRoute or an AIGatewayRoute, not %s %s", t.ref.Group, t.ref.Kind)
			}
		}
	}
	return gateways, out
}

// clientAuth compiles a SecurityPolicy's client authentication and
// authorization; nil when it failed (its errors are recorded).
func (c *compiler) clientAuth(pol *resource[egv1a1.SecurityPolicy]) *config.ClientAuth {
	spec := &pol.obj.Spec
	sp := field.NewPath("spec")
	failed := false
	refuse := func(p *field.Path, what string) {
		c.d.notSupported(pol.src, p, what)
		failed = true
	}
	if spec.CORS != nil {
		refuse(sp.Child("cors"), "CORS")
	}
	if spec.OIDC != nil {
		refuse(sp.Child("oidc"), "OIDC login")
	}
	if spec.ExtAuth != nil {
		refuse(sp.Child("extAuth"), "external authorization (extAuth)")
	}
	if spec.MergeType != nil {
		refuse(sp.Child("mergeType"), "merging route and Gateway policies (the route's replaces the Gateway's)")
	}
	out := &config.ClientAuth{Policy: pol.key().String()}
	if a := spec.APIKeyAuth; a != nil {
		out.APIKey = c.apiKeyAuthentication(pol, sp.Child("apiKeyAuth"), a, refuse)
		failed = failed || out.APIKey == nil
	}
	if b := spec.BasicAuth; b != nil {
		out.Basic = c.basicAuthentication(pol, sp.Child("basicAuth"), b)
		failed = failed || out.Basic == nil
	}
	if j := spec.JWT; j != nil {
		out.JWT = c.jwtAuthentication(pol, sp.Child("jwt"), j, refuse)
		failed = failed || out.JWT == nil
	}
	if a := spec.Authorization; a != nil {
		out.Authorization = c.authorization(sp.Child("authorization"), a, refuse)
		if out.Authorization != nil {
			providers := map[string]bool{}
			if out.JWT != nil {
				for _, p := range out.JWT.Providers {
					providers[p.Name] = true
				}
			}
			for i, r := range out.Authorization.Rules {
				if r.JWT != nil && !providers[r.JWT.Provider] {
					c.d.errorf(pol.src, sp.Child("authorization", "rules").Index(i).Child("principal", "jwt", "provider"),
						"no JWT provider %q in spec.jwt", r.JWT.Provider)
					failed = true
				}
			}
		}
	}
	if failed {
		return nil
	}
	return out
}

// apiKeyAuthentication reads the clients' keys: each credential Secret's
// data maps client IDs to keys.
func (c *compiler) apiKeyAuthentication(pol *resource[egv1a1.SecurityPolicy], p *field.Path, a *egv1a1.APIKeyAuth, refuse func(*field.Path, string)) *config.APIKeyAuthentication {
	out := &config.APIKeyAuthentication{Sanitize: a.Sanitize != nil && *a.Sanitize}
	if a.ForwardClientIDHeader != nil {
		out.ForwardClientIDHeader = *a.ForwardClientIDHeader
	}
	for i, e := range a.ExtractFrom {
		if e == nil {
			continue
		}
		ep := p.Child("extractFrom").Index(i)
		if len(e.Params) > 0 || len(e.Cookies) > 0 {
			refuse(ep, "API keys in query parameters or cookies (headers only)")
			return nil
		}
		out.Headers = append(out.Headers, e.Headers...)
	}
	if len(out.Headers) == 0 {
		c.d.errorf(pol.src, p.Child("extractFrom"), "required: the headers that carry the key")
		return nil
	}
	ids := map[string]bool{}
	for i, ref := range a.CredentialRefs {
		rp := p.Child("credentialRefs").Index(i)
		s, _ := c.secret(pol.src, rp, ref, pol.src.Namespace)
		if s == nil {
			return nil
		}
		for _, id := range sortedKeys(s.obj.Data) {
			key := bytes.TrimSpace(s.obj.Data[id])
			if len(key) == 0 || ids[id] {
				c.d.errorf(pol.src, rp, "Secret %s: client %q has an empty key, or is named twice", s.key(), id)
				return nil
			}
			ids[id] = true
			out.Clients = append(out.Clients, config.APIKeyClient{ID: id, Key: config.Secret(key)})
		}
	}
	if len(out.Clients) == 0 {
		c.d.errorf(pol.src, p.Child("credentialRefs"), "no client key: every request would be refused")
		return nil
	}
	return out
}

// basicAuthentication reads the users of an htpasswd file in a Secret.
func (c *compiler) basicAuthentication(pol *resource[egv1a1.SecurityPolicy], p *field.Path, b *egv1a1.BasicAuth) *config.BasicAuthentication {
	up := p.Child("users")
	s, key := c.secret(pol.src, up, b.Users, pol.src.Namespace)
	if s == nil {
		return nil
	}
	data, ok := c.secretKey(pol.src, up, s, key, htpasswdKey)
	if !ok {
		return nil
	}
	out := &config.BasicAuthentication{}
	if b.ForwardUsernameHeader != nil {
		out.ForwardUsernameHeader = *b.ForwardUsernameHeader
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok || name == "" || !strings.HasPrefix(hash, "{SHA}") {
			c.d.errorf(pol.src, up, "Secret %s: line %d of %s is not user:{SHA}hash (htpasswd -s; Envoy verifies SHA hashes only)", key, n, htpasswdKey)
			return nil
		}
		out.Users = append(out.Users, config.BasicUser{Name: name, Hash: config.Secret(hash)})
	}
	return out
}

// authorization compiles the rules; principals are client CIDRs, headers
// and JWT claims and scopes.
func (c *compiler) authorization(p *field.Path, a *egv1a1.Authorization, refuse func(*field.Path, string)) *config.Authorization {
	out := &config.Authorization{DefaultAction: config.AuthorizationDeny}
	if a.DefaultAction != nil {
		out.DefaultAction = config.AuthorizationAction(*a.DefaultAction)
	}
	for i, r := range a.Rules {
		rp := p.Child("rules").Index(i)
		rule := config.AuthorizationRule{Name: fmt.Sprintf("rule-%d", i), Action: config.AuthorizationAction(r.Action)}
		if r.Name != nil {
			rule.Name = *r.Name
		}
		if r.Operation != nil {
			refuse(rp.Child("operation"), "authorization by HTTP method")
		}
		if j := r.Principal.JWT; j != nil {
			rule.JWT = &config.JWTPrincipal{Provider: j.Provider}
			for _, cl := range j.Claims {
				rule.JWT.Claims = append(rule.JWT.Claims, config.HeaderValues{Name: cl.Name, Values: slices.Clone(cl.Values)})
			}
			for _, sc := range j.Scopes {
				rule.JWT.Scopes = append(rule.JWT.Scopes, string(sc))
			}
		}
		if len(r.Principal.ClientIPGeoLocations) > 0 {
			refuse(rp.Child("principal", "clientIPGeoLocations"), "authorization by client location")
		}
		for _, cidr := range r.Principal.ClientCIDRs {
			rule.ClientCIDRs = append(rule.ClientCIDRs, string(cidr))
		}
		for _, h := range r.Principal.Headers {
			rule.Headers = append(rule.Headers, config.HeaderValues{Name: h.Name, Values: slices.Clone(h.Values)})
		}
		out.Rules = append(out.Rules, rule)
	}
	return out
}

// jwksKey is the ConfigMap data key of a JWK Set.
const jwksKey = "jwks"

// jwtAuthentication compiles the JWT providers: a remote JWK Set (its
// URI, refreshed every cacheDuration) or a local one (inline, or a
// ConfigMap's "jwks"); tokens in headers.
func (c *compiler) jwtAuthentication(pol *resource[egv1a1.SecurityPolicy], p *field.Path, j *egv1a1.JWT, refuse func(*field.Path, string)) *config.JWTAuthentication {
	out := &config.JWTAuthentication{Optional: j.Optional != nil && *j.Optional}
	for i, pr := range j.Providers {
		pp := p.Child("providers").Index(i)
		prov := config.JWTProvider{Name: pr.Name, Issuer: pr.Issuer, Audiences: slices.Clone(pr.Audiences)}
		switch {
		case pr.RemoteJWKS != nil:
			prov.RemoteJWKS = pr.RemoteJWKS.URI
			if !strings.HasPrefix(prov.RemoteJWKS, "https://") {
				c.d.warnf(pol.src, pp.Child("remoteJWKS", "uri"), "not https: the keys that verify tokens could be tampered with on the way")
			}
			if d := pr.RemoteJWKS.CacheDuration; d != nil {
				dur, err := time.ParseDuration(string(*d))
				if err != nil || dur <= 0 {
					c.d.errorf(pol.src, pp.Child("remoteJWKS", "cacheDuration"), "must be a positive duration such as 300s")
					return nil
				}
				prov.CacheDuration = config.Duration(dur)
			}
		case pr.LocalJWKS != nil && pr.LocalJWKS.Inline != nil:
			prov.LocalJWKS = *pr.LocalJWKS.Inline
		case pr.LocalJWKS != nil && pr.LocalJWKS.ValueRef != nil:
			key := nsName{pol.src.Namespace, string(pr.LocalJWKS.ValueRef.Name)}
			cm, ok := c.s.configMaps[key]
			if !ok || cm.obj.Data[jwksKey] == "" {
				c.d.errorf(pol.src, pp.Child("localJWKS", "valueRef"), "ConfigMap %s with key %q not found", key, jwksKey)
				return nil
			}
			prov.LocalJWKS = cm.obj.Data[jwksKey]
		default:
			c.d.errorf(pol.src, pp, "remoteJWKS or localJWKS is required")
			return nil
		}
		if e := pr.ExtractFrom; e != nil {
			if len(e.Cookies) > 0 || len(e.Params) > 0 {
				refuse(pp.Child("extractFrom"), "JWTs in cookies or query parameters (headers only)")
				return nil
			}
			for _, h := range e.Headers {
				x := config.JWTExtractor{Header: h.Name}
				if h.ValuePrefix != nil {
					x.ValuePrefix = *h.ValuePrefix
				}
				prov.Extractors = append(prov.Extractors, x)
			}
		}
		for _, ch := range pr.ClaimToHeaders {
			prov.ClaimToHeaders = append(prov.ClaimToHeaders, config.ClaimToHeader{Header: ch.Header, Claim: ch.Claim})
		}
		out.Providers = append(out.Providers, prov)
	}
	return out
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
