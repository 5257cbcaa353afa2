package standalone

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	infv1a2 "github.com/aigw-dev/aigw/api/inferencev1alpha2"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

// pool compiles a referenced InferencePool once. found is false when no
// pool has the key; the Pool is nil when the pool is invalid or failed to
// compile (reported on it). The caller must not modify the Pool.
func (c *compiler) pool(key poolKey) (pool *config.Pool, found bool) {
	r, ok := c.s.pools[key]
	if !ok {
		return nil, false
	}
	if p, done := c.pools[key]; done {
		return p, true
	}
	c.pools[key] = nil
	if r.invalid {
		return nil, true
	}
	before := len(c.d.errs)
	spec := r.obj.spec()
	out := &config.Pool{
		Name:        key.nsName.String(),
		TargetPorts: spec.targetPorts,
		AppProtocol: spec.appProtocol,
		Endpoints:   c.poolEndpoints(r, spec),
	}
	picker, ok := c.endpointPicker(r, spec)
	out.Scheduler = c.schedulerConfig(r, spec)
	out.Objectives, out.ModelRewrites = c.poolPolicy(key)
	if !ok || len(c.d.errs) > before {
		return nil, true
	}
	out.EndpointPicker = picker
	c.pools[key] = out
	return out, true
}

// schedulerConfig compiles the EndpointPickerConfig named by the pool's
// aigw.dev/scheduler-config annotation (errors and warnings name the
// ConfigMap); nil when unset or invalid. The data plane builds its
// scheduler from the result without parsing again.
func (c *compiler) schedulerConfig(r *resource[inferencePool], spec poolSpec) *config.Scheduler {
	name, ok := spec.annotations[annotationSchedulerConfig]
	if !ok {
		return nil
	}
	p := field.NewPath("metadata", "annotations").Key(annotationSchedulerConfig)
	key := nsName{r.src.Namespace, name}
	cm, ok := c.s.configMaps[key]
	if !ok {
		c.d.errorf(r.src, p, "ConfigMap %s not found", key)
		return nil
	}
	text, ok := cm.obj.Data[schedulerConfigKey]
	if !ok {
		c.d.errorf(r.src, p, "ConfigMap %s has no key %q", key, schedulerConfigKey)
		return nil
	}
	parsed, warnings, err := scheduler.ParsePickerConfig([]byte(text), scheduler.DefaultConfig())
	for _, w := range warnings {
		c.d.warnf(cm.src, field.NewPath("data").Key(schedulerConfigKey), "%s", w)
	}
	if err != nil {
		c.d.errorf(cm.src, field.NewPath("data").Key(schedulerConfigKey), "%v", err)
		return nil
	}
	out, err := scheduler.Spec(parsed)
	if err != nil { // cannot happen for a parsed configuration
		c.d.errorf(cm.src, field.NewPath("data").Key(schedulerConfigKey), "%v", err)
		return nil
	}
	return out
}

// poolEndpoints returns every ready Pod IP × target port of the pool. A pool
// without endpoints is valid (Pods come and go; the data plane may get
// fresher endpoints), with a warning.
func (c *compiler) poolEndpoints(r *resource[inferencePool], spec poolSpec) []config.PoolEndpoint {
	c.pods.Pools = append(c.pods.Pools, PoolPods{Pool: r.key().String(),
		PodSelector: PodSelector{Namespace: r.src.Namespace, Selector: spec.selector}, TargetPorts: spec.targetPorts})
	var out []config.PoolEndpoint
	for _, rp := range c.readyPods(r.src, spec.selectorPath, r.src.Namespace, spec.selector, "the pool") {
		for _, port := range spec.targetPorts {
			out = append(out, config.PoolEndpoint{Pod: rp.pod.key().String(), IP: rp.ip, Port: port})
		}
	}
	n := len(out)
	out = sortPoolEndpoints(out)
	if len(out) < n {
		c.d.warnf(r.src, spec.selectorPath, "selected Pods share a status.podIP: their duplicate endpoints are dropped")
	}
	if len(out) == 0 {
		c.d.warnf(r.src, spec.selectorPath, "no selected Pod is an endpoint (Ready, not terminating, with a status.podIP): the pool has no endpoint")
	}
	return out
}

// endpointPicker compiles the pool's endpoint picker reference: nil when it
// has none (the gateway picks); ok is false after an error.
//
// TLS is on by default without verification, as GAIE deploys its pickers
// with a self-signed certificate; the pool's aigw.dev/endpoint-picker-*
// annotations switch it off, add a CA and server name, set the health port
// and the message timeout.
func (c *compiler) endpointPicker(r *resource[inferencePool], spec poolSpec) (*config.EndpointPicker, bool) {
	ref := spec.picker
	if ref == nil {
		return nil, true
	}
	a := spec.annotations
	ap := field.NewPath("metadata", "annotations")
	out := &config.EndpointPicker{FailureMode: ref.failureMode}
	if a[annotationPickerTLS] == "false" {
		if _, ok := a[annotationPickerServerName]; ok {
			c.d.ignored(r.src, ap.Key(annotationPickerServerName), "the endpoint picker connection is plaintext ("+annotationPickerTLS+": \"false\")")
		}
	} else {
		out.TLS = &config.EndpointPickerTLS{ServerName: a[annotationPickerServerName]}
		if name := a[annotationPickerCASecret]; name != "" {
			out.TLS.CACertPEM = c.pickerCA(r, ap.Key(annotationPickerCASecret), name)
		}
	}
	if t, ok := a[annotationPickerTimeout]; ok {
		d, _ := time.ParseDuration(t) // validated
		out.MessageTimeout = config.Duration(d)
	}
	if v, ok := a[annotationPickerClientHeaders]; ok {
		for _, h := range strings.Split(v, ",") {
			h = strings.ToLower(strings.TrimSpace(h))
			// Validated: only control headers are listed.
			if h != "" && !slices.Contains(out.ClientHeaders, h) {
				out.ClientHeaders = append(out.ClientHeaders, h)
			}
		}
	}
	addr, state := c.resolvePicker(r, ref)
	out.Name = addr.name
	switch state {
	case pickerFailed:
		return nil, false
	case pickerUnresolved:
		// GAIE: a reference to a picker that cannot be resolved sets the
		// pool's ResolvedRefs=False, and requests routed to the pool MUST
		// get a 5xx (conformance test InferencePoolInvalidEPPService). This
		// is not a load error: the pool compiles with an EndpointPicker
		// whose Address is empty, which the data plane answers with 503.
		// FailOpen must not turn that into a success, so the mode is
		// FailClose.
		out.FailureMode = config.FailClose
		return out, true
	}
	out.Address = net.JoinHostPort(addr.host, strconv.Itoa(int(addr.port)))
	health := addr.port + 1 // GAIE: ext_proc on 9002, health on 9003
	if v, ok := a[annotationPickerHealthPort]; ok {
		n, _ := strconv.Atoi(v) // validated
		health = int32(n)
	} else if health > 65535 {
		c.d.warnf(r.src, ref.path, "no health checks: the picker port is 65535; set %s", annotationPickerHealthPort)
		health = 0
	}
	if health > 0 {
		out.HealthAddress = net.JoinHostPort(addr.host, strconv.Itoa(int(health)))
		out.HealthService = slices.Clone(pickerHealthServices)
	}
	return out, true
}

// pickerCA reads "ca.crt" of a Secret in the pool's namespace.
func (c *compiler) pickerCA(r *resource[inferencePool], p *field.Path, name string) string {
	key := nsName{r.src.Namespace, name}
	s, ok := c.s.secrets[key]
	if !ok {
		c.d.errorf(r.src, p, "Secret %s not found", key)
		return ""
	}
	v, ok := c.secretKey(r.src, p, s, key, "ca.crt")
	if !ok {
		return ""
	}
	if !hasPEMCertificate(v) {
		c.d.errorf(r.src, p, "\"ca.crt\" of Secret %s holds no PEM certificate", key)
		return ""
	}
	return string(v)
}

// pickerAddr is where a picker reference resolves.
type pickerAddr struct {
	name string // "namespace/name" of the Service or Backend
	host string
	port int32
}

// States of a picker reference.
const (
	pickerResolved = iota
	// pickerUnresolved: the referent does not exist (yet) or has no ready
	// address; warned about, requests get 503.
	pickerUnresolved
	// pickerFailed: the configuration is wrong; reported as an error.
	pickerFailed
)

// resolvePicker resolves a picker reference to a Service (its cluster IP,
// or for a headless Service the first ready Pod it selects) or to an Envoy
// Gateway Backend (its first ip or fqdn endpoint) in the pool's namespace.
func (c *compiler) resolvePicker(r *resource[inferencePool], ref *pickerRef) (pickerAddr, int) {
	key := nsName{r.src.Namespace, ref.name}
	addr := pickerAddr{name: key.String()}
	unresolved := func(format string, args ...any) (pickerAddr, int) {
		c.d.reasonf(r.src, ref.path, ReasonInvalidExtensionRef, "%s: requests routed to this pool get 503 until it resolves (GAIE: an unresolvable endpoint picker reference yields a 5xx, whatever the failureMode)",
			fmt.Sprintf(format, args...))
		return addr, pickerUnresolved
	}
	switch {
	case ref.group == groupCore && ref.kind == kindService:
		svc, ok := c.s.services[key]
		if !ok {
			return unresolved("Service %s not found", key)
		}
		c.usedServices[key] = true
		if svc.invalid {
			return addr, pickerFailed // reported on the Service
		}
		if svc.obj.Spec.Type == corev1.ServiceTypeExternalName {
			c.d.errorf(r.src, ref.path, "Service %s is of type ExternalName, which is not allowed for an endpoint picker (GAIE: implementations MUST NOT support ExternalName Services)", key)
			return addr, pickerFailed
		}
		sp := c.servicePort(r.src, ref.path, svc, ref.port)
		if sp == nil {
			return addr, pickerFailed
		}
		if ip := clusterIP(svc.obj); ip != "" {
			addr.host, addr.port = ip, ref.port
			return addr, pickerResolved
		}
		what := "endpoint picker Service " + key.String()
		c.pods.Services = append(c.pods.Services, PodSelector{Namespace: svc.src.Namespace, Selector: svc.obj.Spec.Selector})
		for _, rp := range c.readyPods(r.src, ref.path, svc.src.Namespace, svc.obj.Spec.Selector, what) {
			if tp, ok := targetPort(sp, rp.pod.obj); ok {
				addr.host, addr.port = rp.ip, tp
				return addr, pickerResolved
			}
			c.d.warnf(r.src, ref.path, "Pod %s, selected by %s, has no container port named %q", rp.pod.key(), what, sp.TargetPort.StrVal)
		}
		return unresolved("Service %s has no cluster IP and selects no ready Pod", key)
	case ref.group == groupEnvoyGateway && ref.kind == kindEGBackend:
		eg, ok := c.s.egBackends[key]
		if !ok {
			return unresolved("Backend %s (gateway.envoyproxy.io) not found", key)
		}
		if eg.invalid {
			return addr, pickerFailed // reported on the Backend
		}
		if eg.obj.Spec.TLS != nil || c.tlsPolicies[key] != nil {
			c.d.ignored(r.src, ref.path, fmt.Sprintf("the TLS settings of Backend %s do not apply to the endpoint picker; use the %s* annotations of the pool", key, annotationPrefix+"endpoint-picker-"))
		}
		for _, e := range eg.obj.Spec.Endpoints {
			switch {
			case e.IP != nil:
				addr.host, addr.port = e.IP.Address, e.IP.Port
			case e.FQDN != nil:
				addr.host, addr.port = e.FQDN.Hostname, e.FQDN.Port
			default:
				continue
			}
			if ref.port != 0 {
				addr.port = ref.port
			}
			if addr.port == 0 {
				c.d.errorf(r.src, ref.path, "Backend %s: its first ip or fqdn endpoint has no port; set the reference's port", key)
				return addr, pickerFailed
			}
			return addr, pickerResolved
		}
		c.d.errorf(r.src, ref.path, "Backend %s has no ip or fqdn endpoint", key)
		return addr, pickerFailed
	}
	c.d.notSupported(r.src, ref.path, fmt.Sprintf("endpoint picker reference of group %q and kind %q (use a Service, or an Envoy Gateway Backend: group gateway.envoyproxy.io, kind Backend)", ref.group, ref.kind))
	return addr, pickerFailed
}

// poolBackend returns the name of the config.Backend of a route's direct
// reference to a pool (see poolKey.backendName), compiling it once: schema
// OpenAI (prefix v1) and the auth of a BackendSecurityPolicy targeting the
// pool. found is false when no pool has the key; name is "" when the pool
// failed (reported on it).
func (c *compiler) poolBackend(key poolKey) (name string, found bool) {
	pool, found := c.pool(key)
	if pool == nil {
		return "", found
	}
	name = key.backendName()
	if _, done := c.direct[name]; !done {
		c.direct[name] = &config.Backend{
			Name:   name,
			Schema: passThroughSchema(),
			Pool:   clonePool(pool),
			HTTP2:  pool.AppProtocol == config.AppProtocolH2C,
			Auth:   c.poolAuth[key],
		}
	}
	return name, true
}

// missingPoolBackend returns the backend of an HTTPRoute's reference to a
// pool that does not exist. Gateway API and GAIE accept such a route
// (ResolvedRefs=False, reason BackendNotFound) and fail its traffic with a
// 5xx: the backend is a Pool with no target port, no endpoint and no
// endpoint picker, which the data plane can only answer with 503. The
// caller warns.
func (c *compiler) missingPoolBackend(key poolKey) string {
	name := key.backendName()
	if _, done := c.direct[name]; !done {
		c.direct[name] = &config.Backend{Name: name, Schema: passThroughSchema(), Pool: &config.Pool{Name: key.nsName.String()}}
	}
	return name
}

// clonePool copies a compiled pool so that backends do not share it.
func clonePool(p *config.Pool) *config.Pool {
	out := *p
	out.TargetPorts = slices.Clone(p.TargetPorts)
	out.Endpoints = slices.Clone(p.Endpoints)
	if p.EndpointPicker != nil {
		picker := *p.EndpointPicker
		picker.HealthService = slices.Clone(picker.HealthService)
		if picker.TLS != nil {
			t := *picker.TLS
			picker.TLS = &t
		}
		out.EndpointPicker = &picker
	}
	return &out
}

// unreferenced warns about InferencePools and Services that nothing
// references and Pods that no pool or Service selects. References from
// invalid resources count, so that one broken route does not make the rest
// look unused.
func (c *compiler) unreferenced() {
	pools, services := map[poolKey]bool{}, map[nsName]bool{}
	refKey := func(ns string, name string, refNS *gwapiv1.Namespace) nsName {
		if refNS != nil {
			ns = string(*refNS)
		}
		return nsName{ns, name}
	}
	for _, r := range c.s.routes {
		for _, rule := range r.obj.Spec.Rules {
			for _, ref := range rule.BackendRefs {
				if ref.Group != nil && ref.Kind != nil {
					pools[poolKey{*ref.Group, refKey(r.src.Namespace, ref.Name, ref.Namespace)}] = true
				}
			}
		}
	}
	for _, b := range c.s.backends {
		ref := b.obj.Spec.BackendRef
		key := refKey(b.src.Namespace, string(ref.Name), ref.Namespace)
		switch backendRefKind(ref) {
		case kindInferencePool:
			pools[poolKey{string(*ref.Group), key}] = true
		case kindService:
			services[key] = true
		}
	}
	for _, r := range c.s.httpRoutes {
		for _, rule := range r.obj.Spec.Rules {
			for _, ref := range rule.BackendRefs {
				group, kind := groupCore, kindService
				if ref.Group != nil {
					group = string(*ref.Group)
				}
				if ref.Kind != nil {
					kind = string(*ref.Kind)
				}
				key := refKey(r.src.Namespace, string(ref.Name), ref.Namespace)
				if isPoolRef(group, kind) {
					pools[poolKey{group, key}] = true
				} else if group == groupCore && kind == kindService {
					services[key] = true
				}
			}
		}
	}
	selected := map[nsName]bool{}
	selectPods := func(ns string, selector map[string]string) {
		for key, pod := range c.s.pods {
			if key.namespace == ns && selects(selector, pod.obj.Labels) {
				selected[key] = true
			}
		}
	}
	for _, p := range sortedPools(c.s.pools) {
		spec := p.obj.spec()
		selectPods(p.src.Namespace, spec.selector)
		if ref := spec.picker; ref != nil && ref.group == groupCore && ref.kind == kindService {
			services[nsName{p.src.Namespace, ref.name}] = true
		}
		if !pools[poolKey{p.obj.group(), p.key()}] && !p.invalid {
			c.d.warnf(p.src, nil, "not referenced by any AIGatewayRoute, HTTPRoute or AIServiceBackend")
		}
	}
	for _, o := range c.s.objectives {
		if !o.invalid {
			c.danglingPoolRef(o.src, &o.obj.Spec.PoolRef)
		}
	}
	for _, r := range c.s.modelRewrites {
		if !r.invalid {
			c.danglingPoolRef(r.src, r.obj.Spec.PoolRef)
		}
	}
	for _, s := range sortedValues(c.s.services) {
		selectPods(s.src.Namespace, s.obj.Spec.Selector)
		if !services[s.key()] && !c.usedServices[s.key()] && !s.invalid && !c.s.cluster {
			c.d.warnf(s.src, nil, "not referenced by any AIServiceBackend, HTTPRoute or InferencePool")
		}
	}
	for _, p := range sortedValues(c.s.pods) {
		if !selected[p.key()] && !p.invalid && !c.s.cluster {
			c.d.warnf(p.src, field.NewPath("metadata", "labels"), "selected by no InferencePool or Service in namespace %s", p.src.Namespace)
		}
	}
}

// poolPolicy gathers the valid InferenceObjectives and
// InferenceModelRewrites of the pool key, as GAIE's EPP does: objectives
// by name, rewrite rules oldest resource first (metadata.creationTimestamp;
// resources without one, as files usually are, keep their load order).
func (c *compiler) poolPolicy(key poolKey) (map[string]int, []config.ModelRewrite) {
	var objectives map[string]int
	for _, o := range c.s.objectives {
		if o.invalid || !refersTo(&o.obj.Spec.PoolRef, o.src.Namespace, key) {
			continue
		}
		if objectives == nil {
			objectives = map[string]int{}
		}
		objectives[o.src.Name] = 0
		if prio := o.obj.Spec.Priority; prio != nil {
			objectives[o.src.Name] = *prio
		}
	}
	var rewrites []*resource[infv1a2.InferenceModelRewrite]
	for _, r := range c.s.modelRewrites {
		if !r.invalid && refersTo(r.obj.Spec.PoolRef, r.src.Namespace, key) {
			rewrites = append(rewrites, r)
		}
	}
	slices.SortStableFunc(rewrites, func(a, b *resource[infv1a2.InferenceModelRewrite]) int {
		return a.obj.CreationTimestamp.Compare(b.obj.CreationTimestamp.Time)
	})
	var rules []config.ModelRewrite
	for _, r := range rewrites {
		for i, rule := range r.obj.Spec.Rules {
			out := config.ModelRewrite{Source: fmt.Sprintf("%s %s rules[%d]", kindInferenceModelRewrite, r.key(), i)}
			for _, m := range rule.Matches {
				out.Models = append(out.Models, m.Model.Value)
			}
			for _, t := range rule.Targets {
				out.Targets = append(out.Targets, config.ModelRewriteTarget{Model: t.ModelRewrite, Weight: int(t.Weight)})
			}
			rules = append(rules, out)
		}
	}
	return objectives, rules
}

// refersTo reports whether ref, in namespace ns, names the pool key.
func refersTo(ref *infv1a2.PoolObjectReference, ns string, key poolKey) bool {
	k, isPool := poolRefKey(ref, ns)
	return isPool && k == key
}

// poolRefKey is the pool ref names from namespace ns, with the CRD's
// defaults, and whether it names an InferencePool at all.
func poolRefKey(ref *infv1a2.PoolObjectReference, ns string) (poolKey, bool) {
	r := ref.Defaulted()
	return poolKey{string(r.Group), nsName{ns, string(r.Name)}}, r.Kind == infv1a2.DefaultPoolRefKind
}

// danglingPoolRef warns when an objective's or rewrite's pool is not
// defined: it applies to nothing (GAIE accepts it the same way).
func (c *compiler) danglingPoolRef(src Source, ref *infv1a2.PoolObjectReference) {
	key, isPool := poolRefKey(ref, src.Namespace)
	switch {
	case !isPool:
		c.d.warnf(src, field.NewPath("spec", "poolRef", "kind"), "%s is not an InferencePool: applies to nothing", ref.Kind)
	case c.s.pools[key] == nil:
		c.d.warnf(src, field.NewPath("spec", "poolRef"), "%s not found: applies to nothing", key)
	}
}
