package standalone

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// validate checks every decoded resource against its CRD and marks the
// invalid ones, which compile then skips.
func (ls *Set) validate() {
	s := ls.store
	for _, r := range s.routes {
		r.invalid = check(ls.d, r.src, func(c checker) { validateRoute(c, r.obj) })
	}
	for _, r := range sortedValues(s.backends) {
		r.invalid = check(ls.d, r.src, func(c checker) { validateAIServiceBackend(c, r.obj) })
	}
	for _, r := range s.securityPolicies {
		r.invalid = check(ls.d, r.src, func(c checker) { validateSecurityPolicy(c, r.obj) })
	}
	for _, r := range sortedValues(s.gatewayConfigs) {
		r.invalid = check(ls.d, r.src, func(c checker) { validateGatewayConfig(c, r.obj) })
	}
	for _, r := range s.quotaPolicies {
		r.invalid = check(ls.d, r.src, func(c checker) { validateQuotaPolicy(c, r.obj) })
	}
	for _, r := range s.gateways {
		r.invalid = check(ls.d, r.src, func(c checker) { validateGateway(c, r.obj) })
	}
	for _, r := range sortedValues(s.egBackends) {
		r.invalid = check(ls.d, r.src, func(c checker) { validateEGBackend(c, r.obj) })
	}
	for _, r := range s.tlsPolicies {
		r.invalid = check(ls.d, r.src, func(c checker) { validateBackendTLSPolicy(c, r.obj) })
	}
	for _, r := range s.trafficPolicies {
		r.invalid = check(ls.d, r.src, func(c checker) { validateTrafficPolicy(c, r.obj) })
	}
	for _, r := range s.httpRoutes {
		r.invalid = check(ls.d, r.src, func(c checker) { validateHTTPRoute(c, r.obj) })
	}
	for _, r := range sortedPools(s.pools) {
		r.invalid = check(ls.d, r.src, func(c checker) {
			if r.obj.v1 != nil {
				validatePoolV1(c, r.obj.v1)
			} else {
				validatePoolV1Alpha2(c, r.obj.v1a2)
			}
		})
	}
	for _, r := range s.objectives {
		r.invalid = check(ls.d, r.src, func(c checker) { validateObjective(c, r.obj) })
	}
	for _, r := range s.modelRewrites {
		r.invalid = check(ls.d, r.src, func(c checker) { validateModelRewrite(c, r.obj) })
	}
	for _, r := range sortedValues(s.services) {
		r.invalid = check(ls.d, r.src, func(c checker) { validateService(c, r.obj) })
	}
	for _, r := range sortedValues(s.pods) {
		r.invalid = check(ls.d, r.src, func(c checker) { validatePod(c, r.obj) })
	}
}

// check runs fn and reports whether it found errors.
func check(d *diag, src Source, fn func(checker)) bool {
	before := len(d.errs)
	fn(checker{d: d, src: src})
	return len(d.errs) > before
}

// validateGateway mirrors the parts of the Gateway API Gateway CRD that
// standalone mode uses.
func validateGateway(c checker, g *gwapiv1.Gateway) {
	spec := field.NewPath("spec")
	c.objectName(spec.Child("gatewayClassName"), string(g.Spec.GatewayClassName))
	lp := spec.Child("listeners")
	if len(g.Spec.Listeners) == 0 {
		c.errorf(lp, "must have at least 1 item")
	}
	c.maxItems(lp, len(g.Spec.Listeners), 64)
	names := map[gwapiv1.SectionName]bool{}
	type combo struct {
		port     int32
		protocol gwapiv1.ProtocolType
		hostname string
	}
	combos := map[combo]bool{}
	for i, l := range g.Spec.Listeners {
		p := lp.Index(i)
		if c.length(p.Child("name"), string(l.Name), 1, 253) {
			c.pattern(p.Child("name"), string(l.Name), preciseHostnameRe, "listener name")
		}
		if names[l.Name] {
			c.errorf(lp, "Listener name must be unique within the Gateway")
		}
		names[l.Name] = true
		c.port(p.Child("port"), l.Port, 1)
		c.length(p.Child("protocol"), string(l.Protocol), 1, 255)
		host := ""
		if l.Hostname != nil {
			host = string(*l.Hostname)
			if c.length(p.Child("hostname"), host, 1, 253) {
				c.pattern(p.Child("hostname"), host, hostnameRe, "hostname")
			}
		}
		k := combo{l.Port, l.Protocol, host}
		if combos[k] {
			c.errorf(lp, "Combination of port, protocol and hostname must be unique for each listener")
		}
		combos[k] = true
		switch l.Protocol {
		case gwapiv1.HTTPProtocolType, gwapiv1.TCPProtocolType, gwapiv1.UDPProtocolType:
			if l.TLS != nil {
				c.errorf(lp, "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']")
			}
		case gwapiv1.HTTPSProtocolType:
			if l.TLS != nil && l.TLS.Mode != nil && *l.TLS.Mode != "" && *l.TLS.Mode != gwapiv1.TLSModeTerminate {
				c.errorf(lp, "tls mode must be Terminate for protocol HTTPS")
			}
		case gwapiv1.TLSProtocolType:
			if l.TLS == nil || l.TLS.Mode == nil || *l.TLS.Mode == "" {
				c.errorf(lp, "tls mode must be set for protocol TLS")
			}
		}
		if (l.Protocol == gwapiv1.TCPProtocolType || l.Protocol == gwapiv1.UDPProtocolType) && host != "" {
			c.errorf(lp, "hostname must not be specified for protocols ['TCP', 'UDP']")
		}
		if t := l.TLS; t != nil {
			terminate := t.Mode == nil || *t.Mode == gwapiv1.TLSModeTerminate
			if terminate && len(t.CertificateRefs) == 0 && len(t.Options) == 0 {
				c.errorf(p.Child("tls"), "certificateRefs or options must be specified when mode is Terminate")
			}
			for j := range t.CertificateRefs {
				c.secretRef(p.Child("tls", "certificateRefs").Index(j), &t.CertificateRefs[j])
			}
		}
	}
}

var tlsVersions = []string{"Auto", "1.0", "1.1", "1.2", "1.3"}

// validateEGBackend mirrors the Envoy Gateway Backend CRD.
func validateEGBackend(c checker, b *egv1a1.Backend) {
	spec := field.NewPath("spec")
	dynamic := false
	if b.Spec.Type != nil {
		c.enum(spec.Child("type"), string(*b.Spec.Type), string(egv1a1.BackendTypeEndpoints), string(egv1a1.BackendTypeDynamicResolver))
		dynamic = *b.Spec.Type == egv1a1.BackendTypeDynamicResolver
	}
	ep := spec.Child("endpoints")
	switch {
	case dynamic && b.Spec.Endpoints != nil:
		c.errorf(spec, "DynamicResolver type cannot have endpoints specified")
	case !dynamic && len(b.Spec.Endpoints) == 0:
		c.errorf(ep, "must have at least 1 item")
	}
	c.maxItems(ep, len(b.Spec.Endpoints), 256)
	fqdns := 0
	for i, e := range b.Spec.Endpoints {
		p := ep.Index(i)
		n := 0
		if e.FQDN != nil {
			n++
			fqdns++
			if c.length(p.Child("fqdn", "hostname"), e.FQDN.Hostname, 1, 253) {
				c.pattern(p.Child("fqdn", "hostname"), e.FQDN.Hostname, preciseHostnameRe, "hostname")
			}
			c.port(p.Child("fqdn", "port"), e.FQDN.Port, 0)
		}
		if e.IP != nil {
			n++
			c.length(p.Child("ip", "address"), e.IP.Address, 3, 45)
			c.port(p.Child("ip", "port"), e.IP.Port, 0)
		}
		if e.Unix != nil {
			n++
			if len(e.Unix.Path) > 108 {
				c.errorf(p.Child("unix", "path"), "unix domain socket path must not exceed 108 characters")
			}
		}
		switch {
		case n == 0:
			c.errorf(p, "one of fqdn, ip or unix must be specified")
		case n > 1:
			c.errorf(p, "only one of fqdn, ip or unix can be specified")
		}
		if e.Hostname != nil && c.length(p.Child("hostname"), *e.Hostname, 1, 253) {
			c.pattern(p.Child("hostname"), *e.Hostname, preciseHostnameRe, "hostname")
		}
	}
	if fqdns > 0 && fqdns != len(b.Spec.Endpoints) {
		c.errorf(ep, "fqdn addresses cannot be mixed with other address types")
	}
	for i, a := range b.Spec.AppProtocols {
		c.enum(spec.Child("appProtocols").Index(i), string(a),
			string(egv1a1.AppProtocolTypeH2C), string(egv1a1.AppProtocolTypeWS), string(egv1a1.AppProtocolTypeWSS))
	}
	if t := b.Spec.TLS; t != nil {
		tp := spec.Child("tls")
		hasCA := len(t.CACertificateRefs) > 0
		wellKnown := t.WellKnownCACertificates != nil && *t.WellKnownCACertificates != ""
		if hasCA && wellKnown {
			c.errorf(tp, "must not contain both CACertificateRefs and WellKnownCACertificates")
		}
		if t.InsecureSkipVerify != nil && *t.InsecureSkipVerify && (hasCA || wellKnown) {
			c.errorf(tp, "must not contain either CACertificateRefs or WellKnownCACertificates when InsecureSkipVerify is enabled")
		}
		if wellKnown {
			c.enum(tp.Child("wellKnownCACertificates"), string(*t.WellKnownCACertificates), string(gwapiv1.WellKnownCACertificatesSystem))
		}
		c.maxItems(tp.Child("caCertificateRefs"), len(t.CACertificateRefs), 8)
		if t.SNI != nil && c.length(tp.Child("sni"), string(*t.SNI), 1, 253) {
			c.pattern(tp.Child("sni"), string(*t.SNI), preciseHostnameRe, "hostname")
		}
		if t.BackendTLSConfig != nil {
			validateTLSVersions(c, tp, t.MinVersion, t.MaxVersion, len(t.Ciphers) > 0)
			if t.ClientCertificateRef != nil {
				c.secretRef(tp.Child("clientCertificateRef"), t.ClientCertificateRef)
			}
		}
	}
}

func validateTLSVersions(c checker, p *field.Path, minV, maxV *egv1a1.TLSVersion, ciphers bool) {
	order := map[egv1a1.TLSVersion]int{"Auto": 0, "1.0": 1, "1.1": 2, "1.2": 3, "1.3": 4}
	maxOrder := map[egv1a1.TLSVersion]int{"1.0": 1, "1.1": 2, "1.2": 3, "1.3": 4, "Auto": 5}
	okMin := minV == nil || c.enum(p.Child("minVersion"), string(*minV), tlsVersions...)
	okMax := maxV == nil || c.enum(p.Child("maxVersion"), string(*maxV), tlsVersions...)
	if !okMin || !okMax {
		return
	}
	if minV != nil && *minV == "1.3" && ciphers {
		c.errorf(p, "setting ciphers has no effect if the minimum possible TLS version is 1.3")
	}
	lo := 3 // the default minimum, 1.2
	if minV != nil {
		lo = order[*minV]
	}
	if maxV != nil && lo > maxOrder[*maxV] {
		c.errorf(p, "minVersion must be smaller or equal to maxVersion")
	}
}

// validateBackendTLSPolicy mirrors the Gateway API BackendTLSPolicy CRD.
func validateBackendTLSPolicy(c checker, b *gwapiv1.BackendTLSPolicy) {
	spec := field.NewPath("spec")
	tp := spec.Child("targetRefs")
	if len(b.Spec.TargetRefs) == 0 {
		c.errorf(tp, "must have at least 1 item")
	}
	c.maxItems(tp, len(b.Spec.TargetRefs), 16)
	type target struct {
		group, kind, name, section string
	}
	seen := map[target]int{}
	for i, ref := range b.Spec.TargetRefs {
		p := tp.Index(i)
		if c.length(p.Child("group"), string(ref.Group), 0, 253) {
			c.pattern(p.Child("group"), string(ref.Group), groupRe, "group")
		}
		c.length(p.Child("kind"), string(ref.Kind), 1, 63)
		c.objectName(p.Child("name"), string(ref.Name))
		section := ""
		if ref.SectionName != nil {
			section = string(*ref.SectionName)
		}
		seen[target{string(ref.Group), string(ref.Kind), string(ref.Name), section}]++
	}
	for t, n := range seen {
		if n > 1 {
			c.errorf(tp, "sectionName must be unique when targetRefs includes 2 or more references to the same target")
			break
		}
		if t.section != "" && seen[target{t.group, t.kind, t.name, ""}] > 0 {
			c.errorf(tp, "sectionName must be specified when targetRefs includes 2 or more references to the same target")
			break
		}
	}
	v := b.Spec.Validation
	vp := spec.Child("validation")
	hasCA := len(v.CACertificateRefs) > 0
	wellKnown := v.WellKnownCACertificates != nil && *v.WellKnownCACertificates != ""
	switch {
	case hasCA && wellKnown:
		c.errorf(vp, "must not contain both CACertificateRefs and WellKnownCACertificates")
	case !hasCA && !wellKnown:
		c.errorf(vp, "must specify either CACertificateRefs or WellKnownCACertificates")
	}
	if wellKnown {
		c.enum(vp.Child("wellKnownCACertificates"), string(*v.WellKnownCACertificates), string(gwapiv1.WellKnownCACertificatesSystem))
	}
	c.maxItems(vp.Child("caCertificateRefs"), len(v.CACertificateRefs), 8)
	for i, ref := range v.CACertificateRefs {
		p := vp.Child("caCertificateRefs").Index(i)
		c.length(p.Child("kind"), string(ref.Kind), 1, 63)
		c.objectName(p.Child("name"), string(ref.Name))
	}
	if c.length(vp.Child("hostname"), string(v.Hostname), 1, 253) {
		c.pattern(vp.Child("hostname"), string(v.Hostname), preciseHostnameRe, "hostname")
	}
	c.maxItems(vp.Child("subjectAltNames"), len(v.SubjectAltNames), 5)
}

// validateTrafficPolicy checks the parts of an Envoy Gateway
// BackendTrafficPolicy that standalone mode compiles (retry and timeout).
func validateTrafficPolicy(c checker, b *egv1a1.BackendTrafficPolicy) {
	spec := field.NewPath("spec")
	//lint:ignore SA1019 the deprecated targetRef is still accepted by Envoy Gateway.
	if b.Spec.TargetRef == nil && len(b.Spec.TargetRefs) == 0 && len(b.Spec.TargetSelectors) == 0 {
		c.errorf(spec, "either targetRef or targetRefs must be used")
	}
	if r := b.Spec.Retry; r != nil {
		rp := spec.Child("retry")
		if r.NumRetries != nil && *r.NumRetries < 0 {
			c.errorf(rp.Child("numRetries"), "must be >= 0")
		}
		if r.NumAttemptsPerPriority != nil && *r.NumAttemptsPerPriority < 0 {
			c.errorf(rp.Child("numAttemptsPerPriority"), "must be >= 0")
		}
		if on := r.RetryOn; on != nil {
			for i, t := range on.Triggers {
				c.enum(rp.Child("retryOn", "triggers").Index(i), string(t), retryTriggers...)
			}
			for i, code := range on.HTTPStatusCodes {
				if code < 100 || code > 599 {
					c.errorf(rp.Child("retryOn", "httpStatusCodes").Index(i), "must be between 100 and 599")
				}
			}
		}
		if pr := r.PerRetry; pr != nil {
			c.duration(rp.Child("perRetry", "timeout"), pr.Timeout)
			if bo := pr.BackOff; bo != nil {
				base, okBase := c.duration(rp.Child("perRetry", "backOff", "baseInterval"), bo.BaseInterval)
				maxI, okMax := c.duration(rp.Child("perRetry", "backOff", "maxInterval"), bo.MaxInterval)
				if okBase && okMax && maxI < base {
					c.errorf(rp.Child("perRetry", "backOff"), "maxInterval cannot be less than baseInterval")
				}
			}
		}
	}
	if t := b.Spec.Timeout; t != nil && t.HTTP != nil {
		hp := spec.Child("timeout", "http")
		c.duration(hp.Child("requestTimeout"), t.HTTP.RequestTimeout)
		c.duration(hp.Child("streamIdleTimeout"), t.HTTP.StreamIdleTimeout)
	}
}

var retryTriggers = []string{
	"5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx", "refused-stream",
	"retriable-status-codes", "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
}
