package standalone

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
	reqcosts "github.com/aigw-dev/aigw/internal/costs"
)

// Patterns of the Gateway API and Envoy Gateway CRDs.
var (
	hostnameRe        = regexp.MustCompile(`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	preciseHostnameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	groupRe           = regexp.MustCompile(`^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	kindRe            = regexp.MustCompile(`^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$`)
	optionalKindRe    = regexp.MustCompile(`^$|^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$`)
	namespaceRe       = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	headerNameRe      = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+\\-.^_`|~]+$")
	durationRe        = regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)
)

// checker reports validation errors about one resource.
type checker struct {
	d   *diag
	src Source
}

func (c checker) errorf(p *field.Path, format string, args ...any) {
	c.d.errorf(c.src, p, format, args...)
}

// required reports a missing field and returns present.
func (c checker) required(p *field.Path, present bool) bool {
	if !present {
		c.errorf(p, "required")
	}
	return present
}

func (c checker) maxItems(p *field.Path, n, limit int) {
	if n > limit {
		c.errorf(p, "must have at most %d items (has %d)", limit, n)
	}
}

// length checks a string's length; it never prints the value, which may be
// a header value or other user data.
func (c checker) length(p *field.Path, s string, minLen, maxLen int) bool {
	switch {
	case len(s) < minLen && minLen == 1:
		c.errorf(p, "must not be empty")
	case len(s) < minLen:
		c.errorf(p, "must be at least %d characters long", minLen)
	case maxLen > 0 && len(s) > maxLen:
		c.errorf(p, "must be at most %d characters long", maxLen)
	default:
		return true
	}
	return false
}

// pattern checks an identifier-like value (never a credential) against re.
func (c checker) pattern(p *field.Path, s string, re *regexp.Regexp, what string) bool {
	if !re.MatchString(s) {
		c.errorf(p, "%q is not a valid %s: must match %s", s, what, re.String())
		return false
	}
	return true
}

// enum checks that s is one of allowed.
func (c checker) enum(p *field.Path, s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	if s == "" {
		c.errorf(p, "required: supported values: %s", quoteList(allowed))
	} else {
		c.errorf(p, "unsupported value %q: supported values: %s", s, quoteList(allowed))
	}
	return false
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// duration parses a Gateway API Duration (GEP-2257).
func (c checker) duration(p *field.Path, d *gwapiv1.Duration) (time.Duration, bool) {
	if d == nil {
		return 0, false
	}
	if !durationRe.MatchString(string(*d)) {
		c.errorf(p, "invalid duration %q: must match %s, such as \"30s\" or \"1h30m\"", *d, durationRe)
		return 0, false
	}
	v, err := time.ParseDuration(string(*d))
	if err != nil {
		c.errorf(p, "invalid duration %q: %w", *d, err)
		return 0, false
	}
	return v, true
}

func (c checker) objectName(p *field.Path, name string) bool {
	return c.length(p, name, 1, 253)
}

func (c checker) namespace(p *field.Path, ns *gwapiv1.Namespace) {
	if ns != nil && c.length(p, string(*ns), 1, 63) {
		c.pattern(p, string(*ns), namespaceRe, "namespace")
	}
}

func (c checker) group(p *field.Path, g *gwapiv1.Group) {
	if g != nil && !knownGroups[string(*g)] && c.length(p, string(*g), 0, 253) {
		c.pattern(p, string(*g), groupRe, "group")
	}
}

func (c checker) kind(p *field.Path, k *gwapiv1.Kind) {
	if k != nil && !knownKinds[string(*k)] && c.length(p, string(*k), 1, 63) {
		c.pattern(p, string(*k), kindRe, "kind")
	}
}

// knownGroups and knownKinds are the groups and kinds references name in
// practice, all valid: they skip the patterns (a cluster's thousands of
// references are checked on every compilation).
var (
	knownGroups = map[string]bool{"": true, groupGatewayAPI: true, groupAIGateway: true, groupEnvoyGateway: true,
		groupInference: true, groupInferenceX: true}
	knownKinds = map[string]bool{"Gateway": true, "HTTPRoute": true, "Service": true, "Backend": true, "Secret": true,
		"ConfigMap": true, "AIServiceBackend": true, "AIGatewayRoute": true, kindInferencePool: true}
)

func (c checker) port(p *field.Path, port int32, minPort int32) {
	if port < minPort || port > 65535 {
		c.errorf(p, "must be between %d and 65535", minPort)
	}
}

// secretRef checks a required SecretObjectReference.
func (c checker) secretRef(p *field.Path, ref *gwapiv1.SecretObjectReference) {
	if !c.required(p, ref != nil) {
		return
	}
	c.objectName(p.Child("name"), string(ref.Name))
	c.group(p.Child("group"), ref.Group)
	c.kind(p.Child("kind"), ref.Kind)
	c.namespace(p.Child("namespace"), ref.Namespace)
}

// reservedHeader says why a header may never be mutated, or "".
func reservedHeader(lower string) string {
	switch {
	case strings.HasPrefix(lower, ":"):
		return "pseudo-headers cannot be mutated"
	case strings.HasPrefix(lower, "x-ai-eg-"):
		return "x-ai-eg-* headers belong to the gateway and cannot be mutated"
	case lower == "x-envoy-original-path":
		return "x-envoy-original-path belongs to the gateway and cannot be mutated"
	}
	return ""
}

// headerName checks a header name to be mutated.
func (c checker) headerName(p *field.Path, name string) bool {
	if why := reservedHeader(strings.ToLower(name)); why != "" {
		c.errorf(p, "header %q: %s", name, why)
		return false
	}
	return c.length(p, name, 1, 256) && c.pattern(p, name, headerNameRe, "header name")
}

func (c checker) headerMutation(p *field.Path, m *aigv1b1.HTTPHeaderMutation) {
	if m == nil {
		return
	}
	c.maxItems(p.Child("set"), len(m.Set), 16)
	seen := map[string]bool{}
	for i, h := range m.Set {
		hp := p.Child("set").Index(i)
		c.headerName(hp.Child("name"), string(h.Name))
		c.length(hp.Child("value"), h.Value, 1, 4096)
		if lower := strings.ToLower(string(h.Name)); seen[lower] {
			c.errorf(hp.Child("name"), "duplicate header name %q", h.Name)
		} else {
			seen[lower] = true
		}
	}
	c.maxItems(p.Child("remove"), len(m.Remove), 16)
	seen = map[string]bool{}
	for i, name := range m.Remove {
		rp := p.Child("remove").Index(i)
		c.headerName(rp, name)
		if lower := strings.ToLower(name); seen[lower] {
			c.errorf(rp, "duplicate header name %q", name)
		} else {
			seen[lower] = true
		}
	}
}

func (c checker) bodyMutation(p *field.Path, m *aigv1b1.HTTPBodyMutation) {
	if m == nil {
		return
	}
	c.maxItems(p.Child("set"), len(m.Set), 16)
	seen := map[string]bool{}
	for i, f := range m.Set {
		fp := p.Child("set").Index(i)
		if c.length(fp.Child("path"), f.Path, 1, 0) {
			if seen[f.Path] {
				c.errorf(fp.Child("path"), "duplicate path %q", f.Path)
			}
			seen[f.Path] = true
		}
	}
	c.maxItems(p.Child("remove"), len(m.Remove), 16)
	seen = map[string]bool{}
	for i, name := range m.Remove {
		rp := p.Child("remove").Index(i)
		if c.length(rp, name, 1, 0) {
			if seen[name] {
				c.errorf(rp, "duplicate field %q", name)
			}
			seen[name] = true
		}
	}
}

var costTypes = []string{
	string(aigv1b1.LLMRequestCostTypeOutputToken), string(aigv1b1.LLMRequestCostTypeInputToken),
	string(aigv1b1.LLMRequestCostTypeCachedInputToken), string(aigv1b1.LLMRequestCostTypeCacheCreationInputToken),
	string(aigv1b1.LLMRequestCostTypeTotalToken), string(aigv1b1.LLMRequestCostTypeReasoningToken),
	string(aigv1b1.LLMRequestCostTypeCEL),
}

// costs checks llmRequestCosts (route) or globalLLMRequestCosts (listMap:
// keyed by metadataKey, so duplicates are errors; on a route they are
// warned about and the last one wins).
func (c checker) costs(p *field.Path, costs []aigv1b1.LLMRequestCost, listMap bool) {
	seen := map[string]bool{}
	for i, cost := range costs {
		cp := p.Index(i)
		if c.length(cp.Child("metadataKey"), cost.MetadataKey, 1, 0) {
			switch {
			case seen[cost.MetadataKey] && listMap:
				c.errorf(cp.Child("metadataKey"), "duplicate metadataKey %q", cost.MetadataKey)
			case seen[cost.MetadataKey]:
				c.d.warnf(c.src, cp.Child("metadataKey"), "duplicate metadataKey %q: the last entry wins", cost.MetadataKey)
			}
			seen[cost.MetadataKey] = true
		}
		c.enum(cp.Child("type"), string(cost.Type), costTypes...)
		switch {
		case cost.Type == aigv1b1.LLMRequestCostTypeCEL && (cost.CEL == nil || strings.TrimSpace(*cost.CEL) == ""):
			c.errorf(cp.Child("cel"), "required when type is CEL")
		case cost.Type == aigv1b1.LLMRequestCostTypeCEL:
			// The data plane's own check, so that a broken expression
			// fails the load (and `aigw validate`, and a reload) here.
			if err := reqcosts.CheckCEL(*cost.CEL); err != nil {
				c.d.err(c.src, cp.Child("cel"), err)
			}
		case cost.CEL != nil:
			c.d.ignored(c.src, cp.Child("cel"), "cel is only used when type is CEL")
		}
	}
}

// oidc checks the parts of an Envoy Gateway OIDC block that the credential
// exchange needs.
func (c checker) oidc(p *field.Path, o *egv1a1.OIDC) {
	c.length(p.Child("provider", "issuer"), o.Provider.Issuer, 1, 0)
	if (o.ClientID != nil) == (o.ClientIDRef != nil) {
		c.errorf(p, "only one of clientID or clientIDRef must be set")
	}
	if o.ClientIDRef != nil {
		c.secretRef(p.Child("clientIDRef"), o.ClientIDRef)
	}
	c.secretRef(p.Child("clientSecret"), &o.ClientSecret)
}
