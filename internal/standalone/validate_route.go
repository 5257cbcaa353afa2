package standalone

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
)

// routeNotFound is the name of the catch-all rule Envoy AI Gateway adds to
// every generated HTTPRoute.
const routeNotFound = "route-not-found"

// validateRoute mirrors the AIGatewayRoute CRD.
func validateRoute(c checker, r *aigv1b1.AIGatewayRoute) {
	spec := field.NewPath("spec")

	refs := spec.Child("parentRefs")
	c.maxItems(refs, len(r.Spec.ParentRefs), 16)
	for i, ref := range r.Spec.ParentRefs {
		p := refs.Index(i)
		if ref.Kind != nil && *ref.Kind != "Gateway" {
			c.errorf(refs, "only Gateway is supported")
		}
		c.group(p.Child("group"), ref.Group)
		c.kind(p.Child("kind"), ref.Kind)
		c.namespace(p.Child("namespace"), ref.Namespace)
		c.objectName(p.Child("name"), string(ref.Name))
		if ref.SectionName != nil && c.length(p.Child("sectionName"), string(*ref.SectionName), 1, 253) {
			c.pattern(p.Child("sectionName"), string(*ref.SectionName), preciseHostnameRe, "section name")
		}
		if ref.Port != nil {
			c.port(p.Child("port"), *ref.Port, 1)
		}
	}

	hosts := spec.Child("hostnames")
	c.maxItems(hosts, len(r.Spec.Hostnames), 16)
	for i, h := range r.Spec.Hostnames {
		if c.length(hosts.Index(i), string(h), 1, 253) {
			c.pattern(hosts.Index(i), string(h), hostnameRe, "hostname")
		}
	}

	rules := spec.Child("rules")
	if c.required(rules, r.Spec.Rules != nil) {
		c.maxItems(rules, len(r.Spec.Rules), 15)
	}
	names := map[gwapiv1.SectionName]bool{}
	for i := range r.Spec.Rules {
		rule := &r.Spec.Rules[i]
		validateRule(c, rules.Index(i), rule)
		if rule.Name != nil {
			if names[*rule.Name] {
				c.errorf(rules, "rule name must be unique within the route")
			}
			names[*rule.Name] = true
		}
	}

	c.maxItems(spec.Child("llmRequestCosts"), len(r.Spec.LLMRequestCosts), 36)
	c.costs(spec.Child("llmRequestCosts"), r.Spec.LLMRequestCosts, false)
}

func validateRule(c checker, p *field.Path, rule *aigv1b1.AIGatewayRouteRule) {
	if rule.Name != nil {
		n := string(*rule.Name)
		switch {
		case n == routeNotFound:
			c.errorf(p.Child("name"), "rule name route-not-found is reserved")
		case c.length(p.Child("name"), n, 1, 253):
			c.pattern(p.Child("name"), n, preciseHostnameRe, "rule name")
		}
	}

	matches := p.Child("matches")
	c.maxItems(matches, len(rule.Matches), 128)
	for i, m := range rule.Matches {
		headers := matches.Index(i).Child("headers")
		c.maxItems(headers, len(m.Headers), 16)
		seen := map[gwapiv1.HTTPHeaderName]bool{}
		for j, h := range m.Headers {
			hp := headers.Index(j)
			c.headerMatch(hp, string(h.Name), h.Value, h.Type)
			if seen[h.Name] {
				c.errorf(hp.Child("name"), "duplicate header name %q", h.Name)
			}
			seen[h.Name] = true
		}
	}

	// Envoy AI Gateway's rule-level CEL rules "cannot mix InferencePool and
	// AIServiceBackend references in the same rule" and "only one
	// InferencePool backend is allowed per rule" are deliberately not
	// enforced: pools are weighted and prioritised like any backend (gap
	// §23.2 of the API reference, Envoy AI Gateway issue #2231).
	backendRefs := p.Child("backendRefs")
	c.maxItems(backendRefs, len(rule.BackendRefs), 128)
	for i := range rule.BackendRefs {
		validateRuleBackendRef(c, backendRefs.Index(i), &rule.BackendRefs[i])
	}

	if rule.Timeouts != nil {
		tp := p.Child("timeouts")
		req, hasReq := c.duration(tp.Child("request"), rule.Timeouts.Request)
		be, hasBe := c.duration(tp.Child("backendRequest"), rule.Timeouts.BackendRequest)
		if hasReq && hasBe && req != 0 && be > req {
			c.errorf(tp, "backendRequest timeout cannot be longer than request timeout")
		}
	}
	c.duration(p.Child("streamIdleTimeout"), rule.StreamIdleTimeout)
}

func validateRuleBackendRef(c checker, p *field.Path, ref *aigv1b1.AIGatewayRouteRuleBackendRef) {
	c.length(p.Child("name"), ref.Name, 1, 0)
	c.namespace(p.Child("namespace"), ref.Namespace)
	if ref.Group != nil && c.length(p.Child("group"), *ref.Group, 0, 253) {
		c.pattern(p.Child("group"), *ref.Group, groupRe, "group")
	}
	if ref.Kind != nil && c.length(p.Child("kind"), *ref.Kind, 0, 63) {
		c.pattern(p.Child("kind"), *ref.Kind, optionalKindRe, "kind")
	}
	switch {
	case (ref.Group == nil) != (ref.Kind == nil):
		c.errorf(p, "group and kind must be specified together")
	case ref.Group != nil && !isPoolRef(*ref.Group, *ref.Kind):
		c.errorf(p, "only InferencePool from inference.networking.k8s.io or inference.networking.x-k8s.io group is supported")
	}
	if ref.Weight != nil && *ref.Weight < 0 {
		c.errorf(p.Child("weight"), "must be >= 0")
	}
	c.headerMutation(p.Child("headerMutation"), ref.HeaderMutation)
	c.bodyMutation(p.Child("bodyMutation"), ref.BodyMutation)
}

var schemaNames = []string{
	string(aigv1b1.APISchemaOpenAI), string(aigv1b1.APISchemaCohere), string(aigv1b1.APISchemaAWSBedrock),
	string(aigv1b1.APISchemaAzureOpenAI), string(aigv1b1.APISchemaGCPVertexAI), string(aigv1b1.APISchemaGCPAnthropic),
	string(aigv1b1.APISchemaAnthropic), string(aigv1b1.APISchemaAWSAnthropic),
}

// validateAIServiceBackend mirrors the AIServiceBackend CRD, with this
// project's extension: spec.backendRef may also be a Service or an
// InferencePool.
func validateAIServiceBackend(c checker, b *aigv1b1.AIServiceBackend) {
	spec := field.NewPath("spec")
	c.enum(spec.Child("schema", "name"), string(b.Spec.APISchema.Name), schemaNames...)

	if ref := b.Spec.BackendRef; ref == (gwapiv1.BackendObjectReference{}) {
		// Absent (or empty): one clear error, not one per defaulted field.
		c.errorf(spec.Child("backendRef"), "required")
	} else {
		validateBackendRef(c, spec.Child("backendRef"), ref)
	}
	c.headerMutation(spec.Child("headerMutation"), b.Spec.HeaderMutation)
	c.bodyMutation(spec.Child("bodyMutation"), b.Spec.BodyMutation)
}

// validateBackendRef checks an AIServiceBackend's spec.backendRef (at rp).
func validateBackendRef(c checker, rp *field.Path, ref gwapiv1.BackendObjectReference) {
	c.objectName(rp.Child("name"), string(ref.Name))
	c.group(rp.Child("group"), ref.Group)
	c.kind(rp.Child("kind"), ref.Kind)
	c.namespace(rp.Child("namespace"), ref.Namespace)
	if ref.Port != nil {
		c.port(rp.Child("port"), *ref.Port, 1)
	}
	switch backendRefKind(ref) {
	case kindEGBackend, kindInferencePool:
	case kindService:
		if ref.Port == nil {
			c.errorf(rp, "Must have port for Service reference%s", serviceDefaultHint(ref))
		}
	default:
		c.errorf(rp, "BackendRef must be a Backend resource of Envoy Gateway (group gateway.envoyproxy.io, kind Backend), a Service, or an InferencePool (group inference.networking.k8s.io or inference.networking.x-k8s.io)")
	}
}

// Kinds an AIServiceBackend's backendRef may point at.
const (
	kindEGBackend     = "Backend"
	kindService       = "Service"
	kindInferencePool = "InferencePool"
)

// backendRefKind classifies an AIServiceBackend backendRef, applying the
// Gateway API defaults (group "", kind Service). It returns "" for anything
// else.
func backendRefKind(ref gwapiv1.BackendObjectReference) string {
	group, kind := "", kindService
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	switch {
	case group == groupEnvoyGateway && kind == kindEGBackend && ref.Group != nil && ref.Kind != nil:
		return kindEGBackend
	case group == groupCore && kind == kindService:
		return kindService
	case isPoolRef(group, kind):
		return kindInferencePool
	}
	return ""
}

// serviceDefaultHint explains a Service reference that comes from the
// Gateway API default kind, since Envoy AI Gateway users expect a Backend.
func serviceDefaultHint(ref gwapiv1.BackendObjectReference) string {
	if ref.Kind == nil {
		return " (kind defaults to Service; for an Envoy Gateway Backend set kind: Backend and group: gateway.envoyproxy.io)"
	}
	return ""
}
