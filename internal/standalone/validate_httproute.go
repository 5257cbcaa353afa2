package standalone

import (
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// pathValueRe is the character set of Exact and PathPrefix path values.
var pathValueRe = regexp.MustCompile(`^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$`)

// validateHTTPRoute mirrors the Gateway API HTTPRoute CRD (v1.5) for the
// fields standalone mode compiles; the others are rejected or warned about
// when compiled.
func validateHTTPRoute(c checker, r *gwapiv1.HTTPRoute) {
	spec := field.NewPath("spec")
	refs := spec.Child("parentRefs")
	c.maxItems(refs, len(r.Spec.ParentRefs), 32)
	for i, ref := range r.Spec.ParentRefs {
		p := refs.Index(i)
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

	// An HTTPRoute is only kept when a rule references a pool or a Service,
	// so rules is never empty here.
	rules := spec.Child("rules")
	c.maxItems(rules, len(r.Spec.Rules), 16)
	matches := 0
	names := map[gwapiv1.SectionName]bool{}
	for i := range r.Spec.Rules {
		rule := &r.Spec.Rules[i]
		matches += len(rule.Matches)
		validateHTTPRouteRule(c, rules.Index(i), rule)
		if rule.Name != nil {
			if names[*rule.Name] {
				c.errorf(rules, "Rule name must be unique within the route")
			}
			names[*rule.Name] = true
		}
	}
	if matches > 128 {
		c.errorf(rules, "While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128")
	}
}

func validateHTTPRouteRule(c checker, p *field.Path, rule *gwapiv1.HTTPRouteRule) {
	if rule.Name != nil && c.length(p.Child("name"), string(*rule.Name), 1, 253) {
		c.pattern(p.Child("name"), string(*rule.Name), preciseHostnameRe, "rule name")
	}
	mp := p.Child("matches")
	c.maxItems(mp, len(rule.Matches), 64)
	for i := range rule.Matches {
		m := &rule.Matches[i]
		if m.Path != nil {
			validatePathMatch(c, mp.Index(i).Child("path"), m.Path)
		}
		hp := mp.Index(i).Child("headers")
		c.maxItems(hp, len(m.Headers), 16)
		seen := map[string]bool{}
		for j, h := range m.Headers {
			c.headerMatch(hp.Index(j), string(h.Name), h.Value, h.Type)
			if lower := strings.ToLower(string(h.Name)); seen[lower] {
				c.errorf(hp.Index(j).Child("name"), "duplicate header name %q", h.Name)
			} else {
				seen[lower] = true
			}
		}
	}
	bp := p.Child("backendRefs")
	c.maxItems(bp, len(rule.BackendRefs), 16)
	for i := range rule.BackendRefs {
		ref := &rule.BackendRefs[i].BackendRef
		rp := bp.Index(i)
		c.objectName(rp.Child("name"), string(ref.Name))
		c.group(rp.Child("group"), ref.Group)
		c.kind(rp.Child("kind"), ref.Kind)
		c.namespace(rp.Child("namespace"), ref.Namespace)
		if ref.Port != nil {
			c.port(rp.Child("port"), *ref.Port, 1)
		}
		if (ref.Group == nil || *ref.Group == groupCore) && (ref.Kind == nil || *ref.Kind == kindService) && ref.Port == nil {
			c.errorf(rp, "Must have port for Service reference")
		}
		if ref.Weight != nil && (*ref.Weight < 0 || *ref.Weight > 1000000) {
			c.errorf(rp.Child("weight"), "must be between 0 and 1000000")
		}
	}
	if t := rule.Timeouts; t != nil {
		tp := p.Child("timeouts")
		req, hasReq := c.duration(tp.Child("request"), t.Request)
		be, hasBe := c.duration(tp.Child("backendRequest"), t.BackendRequest)
		if hasReq && hasBe && req != 0 && be > req {
			c.errorf(tp, "backendRequest timeout cannot be longer than request timeout")
		}
	}
}

// validatePathMatch applies the CEL rules of HTTPPathMatch, with their
// messages.
func validatePathMatch(c checker, p *field.Path, m *gwapiv1.HTTPPathMatch) {
	t := gwapiv1.PathMatchPathPrefix
	if m.Type != nil {
		t = *m.Type
	}
	v := "/"
	if m.Value != nil {
		v = *m.Value
	}
	if !c.length(p.Child("value"), v, 0, 1024) {
		return
	}
	switch t {
	case gwapiv1.PathMatchExact, gwapiv1.PathMatchPathPrefix:
		const types = " when type one of ['Exact', 'PathPrefix']"
		switch {
		case !strings.HasPrefix(v, "/"):
			c.errorf(p, "value must be an absolute path and start with '/'%s", types)
		case strings.Contains(v, "//"):
			c.errorf(p, "must not contain '//'%s", types)
		case strings.Contains(v, "/./"):
			c.errorf(p, "must not contain '/./'%s", types)
		case strings.Contains(v, "/../"):
			c.errorf(p, "must not contain '/../'%s", types)
		case strings.Contains(v, "%2f"):
			c.errorf(p, "must not contain '%%2f'%s", types)
		case strings.Contains(v, "%2F"):
			c.errorf(p, "must not contain '%%2F'%s", types)
		case strings.Contains(v, "#"):
			c.errorf(p, "must not contain '#'%s", types)
		case strings.HasSuffix(v, "/.."):
			c.errorf(p, "must not end with '/..'%s", types)
		case strings.HasSuffix(v, "/."):
			c.errorf(p, "must not end with '/.'%s", types)
		case !pathValueRe.MatchString(v):
			c.errorf(p, "must only contain valid characters (matching %s)%s", pathValueRe, types)
		}
	case gwapiv1.PathMatchRegularExpression:
		if _, err := regexp.Compile(v); err != nil {
			c.errorf(p.Child("value"), "invalid regular expression (RE2 syntax): %w", err)
		}
	default:
		c.errorf(p, "type must be one of ['Exact', 'PathPrefix', 'RegularExpression']")
	}
}

// headerMatch checks a Gateway API header match (AIGatewayRoute and
// HTTPRoute share it). It never prints the value.
func (c checker) headerMatch(p *field.Path, name, value string, t *gwapiv1.HeaderMatchType) {
	if c.length(p.Child("name"), name, 1, 256) {
		c.pattern(p.Child("name"), name, headerNameRe, "header name")
	}
	c.length(p.Child("value"), value, 1, 4096)
	if t != nil && c.enum(p.Child("type"), string(*t), string(gwapiv1.HeaderMatchExact), string(gwapiv1.HeaderMatchRegularExpression)) &&
		*t == gwapiv1.HeaderMatchRegularExpression {
		if _, err := regexp.Compile(value); err != nil {
			c.errorf(p.Child("value"), "invalid regular expression (RE2 syntax): %w", err)
		}
	}
}
