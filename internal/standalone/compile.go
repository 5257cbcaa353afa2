package standalone

import (
	"fmt"
	"slices"
	"strings"
	"time"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
	"github.com/aigw-dev/aigw/internal/config"
)

// Defaults applied by the compiler, as Envoy AI Gateway's controller and
// CRDs apply them.
const (
	defaultRequestTimeout = 60 * time.Second
	defaultModelsOwnedBy  = "Envoy AI Gateway"
)

// modelsCreatedAtFallback is the created time of /v1/models entries whose
// rule sets no modelsCreatedAt and whose route has no creationTimestamp
// (usual in files). The Unix epoch keeps the output deterministic, which the
// load time would not; a file that cares sets modelsCreatedAt.
func modelsCreatedAtFallback() time.Time { return time.Unix(0, 0).UTC() }

// defaultRetry is the retry policy of a rule that no BackendTrafficPolicy
// covers: two retries, each on the next priority tier, on connection
// failures, resets, 5xx and 429; no back-off.
func defaultRetry() config.RetryPolicy {
	return config.RetryPolicy{
		NumRetries:             2,
		NumAttemptsPerPriority: 1,
		On: []config.RetryOn{
			config.RetryOnConnectFailure, config.RetryOnReset, config.RetryOn5xx, config.RetryOnRetriableStatus,
		},
		StatusCodes: []int32{429},
	}
}

// compiler turns the validated store into a config.Config.
type compiler struct {
	d *diag
	s *store
	// pods are the Pod selectors read, for a control plane watching Pods.
	pods PodSelection
	// gatewayList are the Gateways served, in order; none for the default
	// listener.
	gatewayList []*resource[gwapiv1.Gateway]
	// gatewayCostsOf are the llmRequestCosts of each Gateway's
	// GatewayConfig.
	gatewayCostsOf map[nsName][]config.RequestCost
	// auth is the credential of each AIServiceBackend, by its name.
	auth map[nsName]*config.Auth
	// backends are the compiled AIServiceBackends; nil values failed.
	backends map[nsName]*config.Backend
	// used are the AIServiceBackends referenced by a route rule.
	used map[nsName]bool
	// upstreams caches resolved Envoy Gateway Backends; nil values failed.
	upstreams map[nsName]*upstream
	// tlsPolicies maps an Envoy Gateway Backend to its BackendTLSPolicy.
	tlsPolicies map[nsName]*resource[gwapiv1.BackendTLSPolicy]
	// traffic maps targets to BackendTrafficPolicies; see trafficFor.
	traffic map[trafficTarget]*compiledTraffic
	// poolAuth is the credential of each InferencePool targeted by a
	// BackendSecurityPolicy.
	poolAuth map[poolKey]*config.Auth
	// pools are the compiled InferencePools, by key; nil values failed.
	pools map[poolKey]*config.Pool
	// direct are the backends of routes' direct references to pools and
	// Services, by backend name; nil values failed.
	direct map[string]*config.Backend
	// usedServices are the Services something resolved.
	usedServices map[nsName]bool
}

// compile builds the Config. Errors go to d; the Config is meaningless when
// d has any.
func compile(d *diag, s *store) (*config.Config, PodSelection) {
	c := &compiler{
		d: d, s: s,
		backends:     map[nsName]*config.Backend{},
		used:         map[nsName]bool{},
		upstreams:    map[nsName]*upstream{},
		pools:        map[poolKey]*config.Pool{},
		direct:       map[string]*config.Backend{},
		usedServices: map[nsName]bool{},
	}
	cfg := &config.Config{Version: config.Version}
	cfg.Gateways = c.gateways()
	c.gatewayCostsOf = map[nsName][]config.RequestCost{}
	for _, g := range cfg.Gateways {
		ns, name, _ := strings.Cut(g.Name, "/")
		c.gatewayCostsOf[nsName{ns, name}] = g.RequestCosts
	}
	c.unreferencedGatewayConfigs()
	c.auth, c.poolAuth = c.securityPolicies()
	c.tlsPolicies = c.indexTLSPolicies()
	for _, b := range sortedValues(s.backends) {
		if !b.invalid {
			c.backends[b.key()] = c.compileBackend(b)
		}
	}
	c.traffic = c.trafficPolicies()
	gatewayAuth, routeAuth := c.accessPolicies()
	for i := range cfg.Gateways {
		ns, name, _ := strings.Cut(cfg.Gateways[i].Name, "/")
		cfg.Gateways[i].ClientAuth = gatewayAuth[nsName{ns, name}]
	}
	cfg.Routes = c.routes()
	for i := range cfg.Routes {
		ns, name, _ := strings.Cut(cfg.Routes[i].Name, "/")
		cfg.Routes[i].ClientAuth = routeAuth[nsName{ns, name}]
	}
	named := c.namedBackends()
	for _, b := range sortedValues(s.backends) {
		switch cb := c.backends[b.key()]; {
		case c.used[b.key()] && cb != nil:
			cfg.Backends = append(cfg.Backends, *cb)
		case !named[b.key()] && !b.invalid:
			d.warnf(b.src, nil, "not referenced by any AIGatewayRoute rule")
		}
	}
	// Backends of direct references ("ns/name/infpool", "ns/name/svc/80"
	// …) follow the AIServiceBackends, by name.
	names := make([]string, 0, len(c.direct))
	for name, b := range c.direct {
		if b != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		cfg.Backends = append(cfg.Backends, *c.direct[name])
	}
	c.unreferenced()
	quotas := c.quotas()
	for i := range cfg.Backends {
		ns, name, _ := strings.Cut(cfg.Backends[i].Name, "/")
		cfg.Backends[i].Quota = quotas[nsName{ns, name}]
	}
	return cfg, c.pods
}

// routeEntry is an AIGatewayRoute or an HTTPRoute, for ordering.
type routeEntry struct {
	created time.Time
	key     nsName
	compile func() (config.Route, bool)
}

// routes compiles the valid AIGatewayRoutes and HTTPRoutes together in
// Gateway API precedence order of their resources: oldest
// creationTimestamp first, then namespace/name. Routes without a
// creationTimestamp (usual in files) sort first.
func (c *compiler) routes() []config.Route {
	var entries []routeEntry
	for _, r := range c.s.routes {
		entries = append(entries, routeEntry{r.obj.CreationTimestamp.Time, r.key(), func() (config.Route, bool) { return c.aiRoute(r) }})
	}
	for _, r := range c.httpRoutesToCompile() {
		entries = append(entries, routeEntry{r.obj.CreationTimestamp.Time, r.key(), func() (config.Route, bool) { return c.httpRoute(r) }})
	}
	slices.SortStableFunc(entries, func(a, b routeEntry) int {
		if x := a.created.Compare(b.created); x != 0 {
			return x
		}
		return compareNames(a.key, b.key)
	})
	var out []config.Route
	for _, e := range entries {
		if route, ok := e.compile(); ok {
			out = append(out, route)
		}
	}
	return out
}

// aiRoute compiles one AIGatewayRoute; false when it is invalid or not
// attached to the Gateway.
func (c *compiler) aiRoute(r *resource[aigv1b1.AIGatewayRoute]) (config.Route, bool) {
	if r.invalid {
		return config.Route{}, false
	}
	at, ok := c.attached(r.src, r.obj.Spec.ParentRefs)
	if !ok {
		return config.Route{}, false
	}
	route := config.Route{Name: r.key().String(), Listeners: at.listeners, RequestCosts: costs(r.obj.Spec.LLMRequestCosts)}
	for _, h := range r.obj.Spec.Hostnames {
		route.Hostnames = append(route.Hostnames, string(h))
	}
	names := map[string]int{}
	for i := range r.obj.Spec.Rules {
		rule := c.rule(r, i, at.gateway)
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

// namedBackends returns the AIServiceBackends named by any route, valid or
// not, so that a broken route does not make its backends look unused.
func (c *compiler) namedBackends() map[nsName]bool {
	out := map[nsName]bool{}
	for _, r := range c.s.routes {
		for _, rule := range r.obj.Spec.Rules {
			for _, ref := range rule.BackendRefs {
				if ref.Group != nil || ref.Kind != nil {
					continue // an InferencePool
				}
				key := nsName{r.src.Namespace, ref.Name}
				if ref.Namespace != nil {
					key.namespace = string(*ref.Namespace)
				}
				out[key] = true
			}
		}
	}
	return out
}

// attachment is where a route is served.
type attachment struct {
	// listeners are the names of the listeners; empty for the default
	// listener.
	listeners []string
	// gateway is the first Gateway among them, whose BackendTrafficPolicy
	// and GatewayConfig costs the route's rules take.
	gateway nsName
}

// attached returns where a route with parentRefs is served: the listeners
// its parentRefs name (a Gateway's, all or those its sectionName and port
// select). With no Gateway resource, every route attaches to the default
// listener, with a warning when a parentRef names a Gateway (which no file
// defines, then: a forgotten file, or a typo in a file's Gateway). False
// when it attaches to no Gateway served.
func (c *compiler) attached(src Source, parentRefs []gwapiv1.ParentReference) (attachment, bool) {
	refs := field.NewPath("spec", "parentRefs")
	if len(c.s.gateways) == 0 {
		for i, pr := range parentRefs {
			if (pr.Group != nil && *pr.Group != groupGatewayAPI) || (pr.Kind != nil && *pr.Kind != "Gateway") {
				continue
			}
			ns := src.Namespace
			if pr.Namespace != nil {
				ns = string(*pr.Namespace)
			}
			c.d.warnf(src, refs.Index(i), "no file defines Gateway %s/%s: the route is served on the default listener (port %d)",
				ns, pr.Name, defaultListenerPort)
		}
		return attachment{gateway: nsName{defaultNamespace, defaultGatewayName}}, true
	}
	if len(c.gatewayList) == 0 {
		c.d.errorf(src, refs, "no Gateway is served: see the Gateways' errors")
		return attachment{}, false
	}
	if len(parentRefs) == 0 {
		if len(c.s.gateways) > 1 {
			c.d.errorf(src, refs, "empty: with several Gateways, a route names the ones it attaches to")
			return attachment{}, false
		}
		gw := c.gatewayList[0]
		c.d.warnf(src, refs, "empty: the route is attached to %s, the only Gateway", gw.src.ref())
		return attachment{listeners: c.listenerNames(gw, nil, nil), gateway: gw.key()}, true
	}
	var out attachment
	matched := false
	for i, pr := range parentRefs {
		ns := src.Namespace
		if pr.Namespace != nil {
			ns = string(*pr.Namespace)
		}
		if (pr.Group != nil && *pr.Group != groupGatewayAPI) || (pr.Kind != nil && *pr.Kind != "Gateway") {
			continue
		}
		gw := c.gatewayByKey(nsName{ns, string(pr.Name)})
		if gw == nil {
			continue
		}
		if !matched {
			out.gateway = gw.key()
		}
		matched = true
		names := c.listenerNames(gw, pr.SectionName, pr.Port)
		if len(names) == 0 {
			c.d.errorReasonf(src, refs.Index(i), ReasonNoMatchingParent, "no listener of %s matches the sectionName and port", gw.src.ref())
			continue
		}
		for _, n := range names {
			if !slices.Contains(out.listeners, n) {
				out.listeners = append(out.listeners, n)
			}
		}
	}
	if !matched {
		c.d.errorf(src, refs, "no parentRef names a Gateway served here (%s)", strings.Join(c.gatewayNames(), ", "))
	}
	// No listener (each parentRef's was reported): not attached, and not
	// to every listener, which an empty list would mean.
	return out, len(out.listeners) > 0
}

// gatewayByKey returns the served Gateway key, or nil.
func (c *compiler) gatewayByKey(key nsName) *resource[gwapiv1.Gateway] {
	for _, gw := range c.gatewayList {
		if gw.key() == key {
			return gw
		}
	}
	return nil
}

// gatewayNames are the names of the Gateways served.
func (c *compiler) gatewayNames() []string {
	out := make([]string, 0, len(c.gatewayList))
	for _, gw := range c.gatewayList {
		out = append(out, gw.key().String())
	}
	return out
}

// listenerNames returns the names of gw's listeners that a parentRef's
// sectionName and port select (nil: any).
func (c *compiler) listenerNames(gw *resource[gwapiv1.Gateway], section *gwapiv1.SectionName, port *gwapiv1.PortNumber) []string {
	var out []string
	for _, l := range gw.obj.Spec.Listeners {
		if (section == nil || l.Name == *section) && (port == nil || l.Port == *port) {
			out = append(out, fmt.Sprintf("%s/%s/%s", gw.src.Namespace, gw.src.Name, l.Name))
		}
	}
	return out
}

// rule compiles rule i of route r, served by gateway.
func (c *compiler) rule(r *resource[aigv1b1.AIGatewayRoute], i int, gateway nsName) config.Rule {
	src := r.src
	p := field.NewPath("spec", "rules").Index(i)
	in := &r.obj.Spec.Rules[i]
	out := config.Rule{Name: fmt.Sprintf("rule-%d", i)}
	if in.Name != nil {
		out.Name = string(*in.Name)
	}
	for _, m := range in.Matches {
		var cm config.Match
		for _, h := range m.Headers {
			t := config.HeaderMatchExact
			if h.Type != nil && *h.Type == gwapiv1.HeaderMatchRegularExpression {
				t = config.HeaderMatchRegularExpression
			}
			cm.Headers = append(cm.Headers, config.HeaderMatch{Type: t, Name: strings.ToLower(string(h.Name)), Value: h.Value})
		}
		out.Matches = append(out.Matches, cm)
	}
	for j := range in.BackendRefs {
		if ref, ok := c.ruleBackendRef(r, p.Child("backendRefs").Index(j), &in.BackendRefs[j]); ok {
			out.BackendRefs = append(out.BackendRefs, ref)
		}
	}
	if len(in.BackendRefs) == 0 {
		c.d.warnf(src, p.Child("backendRefs"), "empty: requests matching this rule fail")
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
	switch {
	case in.StreamIdleTimeout != nil:
		out.Timeouts.StreamIdle = config.Duration(mustDuration(in.StreamIdleTimeout))
	case traffic != nil && traffic.streamIdle != nil:
		out.Timeouts.StreamIdle = config.Duration(*traffic.streamIdle)
	}
	out.Retry = defaultRetry()
	if traffic != nil && traffic.retry != nil {
		out.Retry = *traffic.retry
	}
	if traffic != nil {
		out.RateLimits = traffic.rateLimits
	}

	out.ModelsOwnedBy = defaultModelsOwnedBy
	if in.ModelsOwnedBy != nil {
		out.ModelsOwnedBy = *in.ModelsOwnedBy
	}
	switch {
	case in.ModelsCreatedAt != nil:
		out.ModelsCreatedAt = in.ModelsCreatedAt.UTC()
	case !r.obj.CreationTimestamp.IsZero():
		out.ModelsCreatedAt = r.obj.CreationTimestamp.UTC()
	default:
		out.ModelsCreatedAt = modelsCreatedAtFallback()
	}
	return out
}

// ruleBackendRef resolves one rule backendRef: an AIServiceBackend, or an
// InferencePool referenced directly (group and kind set). A direct pool
// reference is a backend of its own (see poolKey.backendName) with its
// weight, priority (unlike Envoy AI Gateway, which ignores it), model name
// override and mutations (which Envoy AI Gateway ignores for pools).
func (c *compiler) ruleBackendRef(r *resource[aigv1b1.AIGatewayRoute], p *field.Path, ref *aigv1b1.AIGatewayRouteRuleBackendRef) (config.BackendRef, bool) {
	key := nsName{r.src.Namespace, ref.Name}
	if ref.Namespace != nil {
		key.namespace = string(*ref.Namespace)
	}
	out := config.BackendRef{Weight: 1, ModelNameOverride: ref.ModelNameOverride}
	if ref.Weight != nil {
		out.Weight = *ref.Weight
	}
	if ref.Priority != nil {
		out.Priority = *ref.Priority
	}
	if ref.Group != nil || ref.Kind != nil {
		// Validation allows only an InferencePool here.
		pk := poolKey{*ref.Group, key}
		if !c.permitted(r.src, p.Child("namespace"), refTarget{pk.group, kindInferencePool, key}, false) {
			return config.BackendRef{}, false
		}
		name, found := c.poolBackend(pk)
		if !found {
			c.d.errorf(r.src, p.Child("name"), "%s not found", pk)
			return config.BackendRef{}, false
		}
		if name == "" {
			return config.BackendRef{}, false // reported on the pool
		}
		out.Backend = name
		out.HeaderMutation = mergeHeaderMutation(nil, ref.HeaderMutation)
		out.BodyMutation = mergeBodyMutation(nil, ref.BodyMutation)
		return out, true
	}
	if !c.permitted(r.src, p.Child("namespace"), refTarget{groupAIGateway, "AIServiceBackend", key}, false) {
		return config.BackendRef{}, false
	}
	b, ok := c.s.backends[key]
	if !ok {
		c.d.errorf(r.src, p.Child("name"), "AIServiceBackend %s not found", key)
		return config.BackendRef{}, false
	}
	c.used[key] = true
	if b.invalid || c.backends[key] == nil {
		return config.BackendRef{}, false // reported on the backend
	}
	out.Backend = key.String()
	out.HeaderMutation = mergeHeaderMutation(b.obj.Spec.HeaderMutation, ref.HeaderMutation)
	out.BodyMutation = mergeBodyMutation(b.obj.Spec.BodyMutation, ref.BodyMutation)
	return out, true
}

// costs converts llmRequestCosts; for a repeated metadataKey the last entry
// wins (validation warned), in the position of the first.
func costs(in []aigv1b1.LLMRequestCost) []config.RequestCost {
	var out []config.RequestCost
	index := map[string]int{}
	for _, c := range in {
		rc := config.RequestCost{MetadataKey: c.MetadataKey, Type: config.CostType(c.Type)}
		if c.Type == aigv1b1.LLMRequestCostTypeCEL && c.CEL != nil {
			rc.CEL = *c.CEL
		}
		if i, ok := index[c.MetadataKey]; ok {
			out[i] = rc
			continue
		}
		index[c.MetadataKey] = len(out)
		out = append(out, rc)
	}
	return out
}

// gatewayCosts returns the costs of the GatewayConfig gw refers to.
func (c *compiler) gatewayCosts(gw *resource[gwapiv1.Gateway]) []config.RequestCost {
	name, ok := gw.obj.Annotations[aigv1b1.GatewayConfigAnnotationKey]
	if !ok {
		return nil
	}
	key := nsName{gw.src.Namespace, name}
	ref := c.s.gatewayConfigs[key]
	if ref == nil {
		c.d.errorf(gw.src, field.NewPath("metadata", "annotations").Key(aigv1b1.GatewayConfigAnnotationKey),
			"GatewayConfig %s not found (it must be in the Gateway's namespace)", key)
		return nil
	}
	if ref.invalid {
		return nil
	}
	return costs(ref.obj.Spec.GlobalLLMRequestCosts)
}

// unreferencedGatewayConfigs warns about GatewayConfigs no Gateway served
// refers to, and about what the others set that is not supported.
func (c *compiler) unreferencedGatewayConfigs() {
	referenced := map[nsName]bool{}
	for _, gw := range c.gatewayList {
		if name, ok := gw.obj.Annotations[aigv1b1.GatewayConfigAnnotationKey]; ok {
			referenced[nsName{gw.src.Namespace, name}] = true
		}
	}
	for _, g := range sortedValues(c.s.gatewayConfigs) {
		switch {
		case !referenced[g.key()]:
			c.d.warnf(g.src, nil, "ignored: no Gateway refers to it with the %s annotation", aigv1b1.GatewayConfigAnnotationKey)
		case !g.invalid && g.obj.Spec.ForwardProxy != nil:
			c.d.notSupported(g.src, field.NewPath("spec", "forwardProxy"), "forward proxies")
		}
	}
}

// mustDuration parses a Gateway API duration that validation accepted.
func mustDuration(d *gwapiv1.Duration) time.Duration {
	v, _ := time.ParseDuration(string(*d))
	return v
}

// specFieldsIgnored warns about top-level spec fields standalone mode does
// not honour.
func (c *compiler) specFieldsIgnored(src Source, keys []string, honoured ...string) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(honoured, k) {
			c.d.ignored(src, field.NewPath("spec", k), "not supported in standalone mode")
		}
	}
}

// policyTarget is a targetRef of an Envoy Gateway policy and its path.
type policyTarget struct {
	ref  gwapiv1.LocalPolicyTargetReferenceWithSectionName
	path *field.Path
}

// policyTargets returns the targetRef and targetRefs of an Envoy Gateway
// policy.
func policyTargets(t egv1a1.PolicyTargetReferences) []policyTarget {
	var out []policyTarget
	spec := field.NewPath("spec")
	//lint:ignore SA1019 deprecated in Envoy Gateway but still accepted there, so here too.
	if ref := t.TargetRef; ref != nil {
		out = append(out, policyTarget{*ref, spec.Child("targetRef")})
	}
	for i, r := range t.TargetRefs {
		out = append(out, policyTarget{r, spec.Child("targetRefs").Index(i)})
	}
	return out
}
