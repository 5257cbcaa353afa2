package standalone

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/aigw-dev/aigw/internal/config"
)

// A Gateway API HTTPRoute whose backendRefs include InferencePools or
// Services compiles to a config.Route with PassThrough set, the way GAIE
// users route to pools: path and header matches, weighted references, no
// model-from-body routing and no translation. HTTPRoutes that reference
// neither are ignored with a warning when decoded.

// httpRoutesToCompile returns the HTTPRoutes to compile. One with the name
// of an AIGatewayRoute is an error: Envoy AI Gateway generates an HTTPRoute
// of that name, and policies target routes by name.
func (c *compiler) httpRoutesToCompile() []*resource[gwapiv1.HTTPRoute] {
	ai := map[nsName]bool{}
	for _, r := range c.s.routes {
		ai[r.key()] = true
	}
	var out []*resource[gwapiv1.HTTPRoute]
	for _, r := range c.s.httpRoutes {
		if ai[r.key()] {
			c.d.errorf(r.src, field.NewPath("metadata", "name"),
				"AIGatewayRoute %s has the same name, which Envoy AI Gateway gives to the HTTPRoute it generates; rename one", r.key())
			continue
		}
		out = append(out, r)
	}
	return out
}

// httpRoute compiles one HTTPRoute; false when it is invalid or not
// attached to the Gateway.
func (c *compiler) httpRoute(r *resource[gwapiv1.HTTPRoute]) (config.Route, bool) {
	if r.invalid {
		return config.Route{}, false
	}
	at, ok := c.attached(r.src, r.obj.Spec.ParentRefs)
	if !ok {
		return config.Route{}, false
	}
	route := config.Route{Name: r.key().String(), Listeners: at.listeners, PassThrough: true}
	for _, h := range r.obj.Spec.Hostnames {
		route.Hostnames = append(route.Hostnames, string(h))
	}
	names := map[string]int{}
	for i := range r.obj.Spec.Rules {
		rule := c.httpRouteRule(r, i, at.gateway)
		if j, dup := names[rule.Name]; dup {
			c.d.errorf(r.src, field.NewPath("spec", "rules").Index(i),
				"rule name %q (the default name of an unnamed rule is rule-<index>) is also the name of spec.rules[%d]", rule.Name, j)
		}
		names[rule.Name] = i
		route.Rules = append(route.Rules, rule)
	}
	c.checkRateLimitCosts(r.src, &route, c.gatewayCostsOf[at.gateway])
	return route, true
}

// httpRouteRule compiles rule i of an HTTPRoute. Timeouts and retries
// follow the same defaults and BackendTrafficPolicies as AIGatewayRoute
// rules.
func (c *compiler) httpRouteRule(r *resource[gwapiv1.HTTPRoute], i int, gateway nsName) config.Rule {
	src := r.src
	p := field.NewPath("spec", "rules").Index(i)
	in := &r.obj.Spec.Rules[i]
	out := config.Rule{Name: fmt.Sprintf("rule-%d", i)}
	if in.Name != nil {
		out.Name = string(*in.Name)
	}
	for j := range in.Matches {
		out.Matches = append(out.Matches, c.httpRouteMatch(src, p.Child("matches").Index(j), &in.Matches[j]))
	}
	if len(in.Matches) == 0 {
		// The CRD default: a prefix match on "/".
		out.Matches = []config.Match{{Path: &config.PathMatch{Type: config.PathMatchPathPrefix, Value: "/"}}}
	}
	for j := range in.Filters {
		c.d.notSupported(src, p.Child("filters").Index(j), fmt.Sprintf("HTTPRoute filter %s", in.Filters[j].Type))
	}
	for j := range in.BackendRefs {
		if ref, ok := c.httpBackendRef(r, p.Child("backendRefs").Index(j), &in.BackendRefs[j]); ok {
			out.BackendRefs = append(out.BackendRefs, ref)
		}
	}
	if len(in.BackendRefs) == 0 {
		c.d.warnf(src, p.Child("backendRefs"), "empty: requests matching this rule fail")
	}
	if in.Retry != nil {
		c.d.ignored(src, p.Child("retry"), "retries follow a BackendTrafficPolicy targeting the route, or the default")
	}
	if in.SessionPersistence != nil {
		c.d.ignored(src, p.Child("sessionPersistence"), "not supported in standalone mode")
	}

	traffic := c.trafficFor(r.key(), out.Name, gateway)
	out.Timeouts.Request = config.Duration(defaultRequestTimeout)
	switch {
	case in.Timeouts != nil && in.Timeouts.Request != nil:
		out.Timeouts.Request = config.Duration(mustDuration(in.Timeouts.Request))
	case traffic != nil && traffic.request != nil:
		out.Timeouts.Request = config.Duration(*traffic.request)
	}
	switch {
	case in.Timeouts != nil && in.Timeouts.BackendRequest != nil:
		out.Timeouts.BackendRequest = config.Duration(mustDuration(in.Timeouts.BackendRequest))
	case traffic != nil && traffic.perTry != nil:
		out.Timeouts.BackendRequest = config.Duration(*traffic.perTry)
	}
	if traffic != nil && traffic.streamIdle != nil {
		out.Timeouts.StreamIdle = config.Duration(*traffic.streamIdle)
	}
	out.Retry = defaultRetry()
	if traffic != nil && traffic.retry != nil {
		out.Retry = *traffic.retry
	}
	if traffic != nil {
		out.RateLimits = traffic.rateLimits
	}
	return out
}

// httpRouteMatch compiles one match: the path (PathPrefix "/" by default)
// and the headers. Query parameter and method matches are refused, since
// ignoring them would widen the match.
func (c *compiler) httpRouteMatch(src Source, p *field.Path, m *gwapiv1.HTTPRouteMatch) config.Match {
	pm := &config.PathMatch{Type: config.PathMatchPathPrefix, Value: "/"}
	if m.Path != nil {
		if m.Path.Type != nil {
			pm.Type = config.PathMatchType(*m.Path.Type)
		}
		if m.Path.Value != nil {
			pm.Value = *m.Path.Value
		}
	}
	out := config.Match{Path: pm}
	for _, h := range m.Headers {
		t := config.HeaderMatchExact
		if h.Type != nil && *h.Type == gwapiv1.HeaderMatchRegularExpression {
			t = config.HeaderMatchRegularExpression
		}
		out.Headers = append(out.Headers, config.HeaderMatch{Type: t, Name: strings.ToLower(string(h.Name)), Value: h.Value})
	}
	if len(m.QueryParams) > 0 {
		c.d.notSupported(src, p.Child("queryParams"), "HTTPRoute query parameter matches")
	}
	if m.Method != nil {
		c.d.notSupported(src, p.Child("method"), "HTTPRoute method matches")
	}
	return out
}

// httpBackendRef resolves one HTTPRoute backendRef: an InferencePool of
// either group (its port is ignored, as GAIE requires) or a port of a core
// Service. A reference to a pool or Service that does not exist is not a
// load error: Gateway API accepts the route and fails the requests sent to
// that backend, so it compiles to a backend without endpoints, with a
// warning.
func (c *compiler) httpBackendRef(r *resource[gwapiv1.HTTPRoute], p *field.Path, in *gwapiv1.HTTPBackendRef) (config.BackendRef, bool) {
	ref := &in.BackendRef
	group, kind := groupCore, kindService
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	key := nsName{r.src.Namespace, string(ref.Name)}
	if ref.Namespace != nil {
		key.namespace = string(*ref.Namespace)
	}
	for j := range in.Filters {
		c.d.notSupported(r.src, p.Child("filters").Index(j), fmt.Sprintf("HTTPRoute filter %s", in.Filters[j].Type))
	}
	out := config.BackendRef{Weight: 1}
	if ref.Weight != nil {
		out.Weight = *ref.Weight
	}
	if !c.permitted(r.src, p, refTarget{group, kind, key}, true) {
		out.Backend = c.unservedBackend("refused", kind, key)
		return out, true
	}
	switch {
	case isPoolRef(group, kind):
		if ref.Port != nil {
			c.d.ignored(r.src, p.Child("port"), "the pool's targetPorts decide the ports")
		}
		pk := poolKey{group, key}
		name, found := c.poolBackend(pk)
		switch {
		case !found:
			c.d.reasonf(r.src, p, ReasonBackendNotFound, "%s not found: requests sent to this backend get 503 (the route stays, as Gateway API asks: ResolvedRefs=False, BackendNotFound)", pk)
			name = c.missingPoolBackend(pk)
		case name == "":
			return config.BackendRef{}, false // reported on the pool
		}
		out.Backend = name
	case group == groupCore && kind == kindService:
		if _, ok := c.s.services[key]; !ok {
			c.d.reasonf(r.src, p, ReasonBackendNotFound, "Service %s not found: requests sent to this backend fail (the route stays, as Gateway API asks: ResolvedRefs=False, BackendNotFound)", key)
		}
		name := c.serviceBackend(r.src, p, key, *ref.Port) // validation: port is set
		if name == "" {
			return config.BackendRef{}, false
		}
		out.Backend = name
	case group == groupEnvoyGateway && kind == kindEGBackend:
		c.d.notSupported(r.src, p, fmt.Sprintf("HTTPRoute backendRef of group %q and kind %q (only InferencePools and Services)", group, kind))
		return config.BackendRef{}, false
	default:
		// Gateway API keeps the route and fails the requests sent to this
		// backend (ResolvedRefs=False, InvalidKind).
		c.d.reasonf(r.src, p, ReasonInvalidKind, "a backendRef of group %q and kind %q: requests sent to this backend fail (the gateway routes to InferencePools and Services; the route stays, as Gateway API asks: ResolvedRefs=False, InvalidKind)", group, kind)
		out.Backend = c.unservedBackend("invalid", group+"/"+kind, key)
	}
	return out, true
}
