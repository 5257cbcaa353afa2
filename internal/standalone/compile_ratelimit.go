package standalone

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/aigw-dev/aigw/internal/config"
)

// aiGatewayMetadata is the dynamic metadata namespace of Envoy AI
// Gateway's request costs, which usage-based rate limits charge from.
const aiGatewayMetadata = "io.envoy.ai_gateway"

// rateLimitWindows are the windows of Envoy's rate limit units (its rate
// limit service's: a month is 30 days, a year 365).
var rateLimitWindows = map[egv1a1.RateLimitUnit]time.Duration{
	egv1a1.RateLimitUnitSecond: time.Second,
	egv1a1.RateLimitUnitMinute: time.Minute,
	egv1a1.RateLimitUnitHour:   time.Hour,
	egv1a1.RateLimitUnitDay:    24 * time.Hour,
	egv1a1.RateLimitUnitMonth:  30 * 24 * time.Hour,
	egv1a1.RateLimitUnitYear:   365 * 24 * time.Hour,
}

// rateLimits compiles a BackendTrafficPolicy's rateLimit: its global rules
// (shared by the replicas through the rate limit store) and its local ones
// (per replica). What the gateway cannot enforce as written fails the
// load, so no budget is silently left open.
func (c *compiler) rateLimits(pol *resource[egv1a1.BackendTrafficPolicy], p *field.Path, rl *egv1a1.RateLimitSpec) []config.RateLimitRule {
	var out []config.RateLimitRule
	if rl.Global == nil && rl.Local == nil {
		c.d.errorf(pol.src, p, "sets neither global nor local rules")
	}
	if g := rl.Global; g != nil {
		for i := range g.Rules {
			if r, ok := c.rateLimitRule(pol, p.Child("global", "rules").Index(i), &g.Rules[i], "global", i); ok {
				out = append(out, r)
			}
		}
	}
	if l := rl.Local; l != nil {
		for i := range l.Rules {
			rp := p.Child("local", "rules").Index(i)
			if l.Rules[i].ShadowMode != nil && *l.Rules[i].ShadowMode {
				c.d.errorf(pol.src, rp.Child("shadowMode"), "shadow mode is only supported for global rules (as in Envoy Gateway)")
				continue
			}
			if r, ok := c.rateLimitRule(pol, rp, &l.Rules[i], "local", i); ok {
				r.Local = true
				out = append(out, r)
			}
		}
	}
	return out
}

func (c *compiler) rateLimitRule(pol *resource[egv1a1.BackendTrafficPolicy], p *field.Path, in *egv1a1.RateLimitRule, kind string, i int) (config.RateLimitRule, bool) {
	src := pol.src
	errs := len(c.d.errs)
	out := config.RateLimitRule{Name: pol.key().String() + "/" + kind + "/" + strconv.Itoa(i), Limit: uint64(in.Limit.Requests), RequestCost: 1}
	window, ok := rateLimitWindows[in.Limit.Unit]
	if !ok {
		c.d.errorf(src, p.Child("limit", "unit"), "%q is not one of Second, Minute, Hour, Day, Month, Year", in.Limit.Unit)
	}
	out.Window = config.Duration(window)
	if in.Shared != nil {
		out.Shared = *in.Shared
	}
	if in.ShadowMode != nil {
		out.Shadow = *in.ShadowMode
	}
	if h := in.XRateLimitHeaders; h != nil && *h == egv1a1.XRateLimitHeadersOptionDisabled {
		out.NoHeaders = true
	}
	if cost := in.Cost; cost != nil {
		cp := p.Child("cost")
		if r := cost.Request; r != nil {
			switch {
			case r.From == egv1a1.RateLimitCostFromNumber && r.Number != nil:
				out.RequestCost = *r.Number
			case r.From == egv1a1.RateLimitCostFromNumber:
				c.d.errorf(src, cp.Child("request", "number"), "required when from is Number")
			default:
				c.d.errorf(src, cp.Child("request", "from"), "only Number: a request's token costs are known after its response (charge them with cost.response)")
			}
		}
		if r := cost.Response; r != nil {
			rp := cp.Child("response")
			switch {
			case r.From == egv1a1.RateLimitCostFromNumber && r.Number != nil:
				out.ResponseCost = *r.Number
			case r.From == egv1a1.RateLimitCostFromMetadata && r.Metadata != nil:
				if r.Metadata.Namespace != aiGatewayMetadata {
					c.d.errorf(src, rp.Child("metadata", "namespace"), "only %s (the request costs of an AIGatewayRoute's llmRequestCosts) is known to the gateway", aiGatewayMetadata)
				}
				out.ResponseCostKey = r.Metadata.Key
			default:
				c.d.errorf(src, rp, "from Number needs number, from Metadata needs metadata")
			}
		}
	}
	for j := range in.ClientSelectors {
		if s, ok := c.rateLimitSelector(src, p.Child("clientSelectors").Index(j), &in.ClientSelectors[j]); ok {
			out.Selectors = append(out.Selectors, s)
		}
	}
	return out, len(c.d.errs) == errs
}

func (c *compiler) rateLimitSelector(src Source, p *field.Path, in *egv1a1.RateLimitSelectCondition) (config.RateLimitSelector, bool) {
	var out config.RateLimitSelector
	ok := true
	for k, h := range in.Headers {
		hp := p.Child("headers").Index(k)
		m := config.RateLimitHeaderMatch{Name: h.Name, Type: config.RateLimitExact}
		if h.Type != nil {
			switch *h.Type {
			case egv1a1.HeaderMatchExact:
			case egv1a1.HeaderMatchRegularExpression:
				m.Type = config.RateLimitRegex
			case egv1a1.HeaderMatchDistinct:
				m.Type = config.RateLimitDistinct
			default:
				c.d.errorf(src, hp.Child("type"), "%q is not Exact, RegularExpression or Distinct", *h.Type)
				ok = false
			}
		}
		if h.Invert != nil {
			m.Invert = *h.Invert
		}
		switch {
		case m.Type == config.RateLimitDistinct && (h.Value != nil || m.Invert):
			c.d.errorf(src, hp, "a Distinct match takes neither value nor invert")
			ok = false
		case m.Type != config.RateLimitDistinct && h.Value == nil:
			c.d.errorf(src, hp.Child("value"), "required unless the type is Distinct")
			ok = false
		case h.Value != nil:
			m.Value = *h.Value
		}
		out.Headers = append(out.Headers, m)
	}
	if s := in.SourceCIDR; s != nil {
		m := &config.RateLimitSourceMatch{CIDR: s.Value, Distinct: s.Type != nil && *s.Type == egv1a1.SourceMatchDistinct}
		if s.Invert != nil {
			m.Invert = *s.Invert
		}
		if _, err := parseCIDR(s.Value); err != nil {
			c.d.errorf(src, p.Child("sourceCIDR", "value"), "%v", err)
			ok = false
		}
		out.SourceCIDR = m
	}
	for _, m := range in.Methods {
		v := config.RateLimitValueMatch{Value: string(m.Value)}
		if m.Invert != nil {
			v.Invert = *m.Invert
		}
		out.Methods = append(out.Methods, v)
	}
	if pm := in.Path; pm != nil {
		m := &config.RateLimitPathMatch{Type: config.RateLimitPrefix, Value: pm.Value}
		if pm.Type != nil {
			switch *pm.Type {
			case gwapiv1.PathMatchExact:
				m.Type = config.RateLimitExact
			case gwapiv1.PathMatchRegularExpression:
				m.Type = config.RateLimitRegex
			}
		}
		if pm.Invert != nil {
			m.Invert = *pm.Invert
		}
		out.Path = m
	}
	if len(in.QueryParams) > 0 {
		c.d.notSupported(src, p.Child("queryParams"), "rate limit selection by query parameter (AI APIs carry their parameters in the body)")
		ok = false
	}
	return out, ok
}

// parseCIDR accepts a CIDR or a single address.
func parseCIDR(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR nor an IP address", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkRateLimitCosts fails the load when a rule of route charges a cost
// key the route does not compute (its llmRequestCosts, or the
// AIServiceBackends' global ones): the budget would never be charged.
func (c *compiler) checkRateLimitCosts(src Source, route *config.Route, global []config.RequestCost) {
	known := map[string]bool{}
	for _, rc := range route.RequestCosts {
		known[rc.MetadataKey] = true
	}
	for _, rc := range global {
		known[rc.MetadataKey] = true
	}
	reported := map[string]bool{}
	for _, rule := range route.Rules {
		for _, rl := range rule.RateLimits {
			if rl.ResponseCostKey == "" || known[rl.ResponseCostKey] || reported[rl.Name] {
				continue
			}
			reported[rl.Name] = true
			c.d.errorf(src, field.NewPath("spec", "llmRequestCosts"),
				"rate limit %s charges %s, which is not a metadataKey of this route's llmRequestCosts", rl.Name, rl.ResponseCostKey)
		}
	}
}
