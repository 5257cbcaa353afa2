package standalone

import (
	"fmt"
	"slices"
	"time"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/aigw-dev/aigw/internal/config"
)

// Envoy's retry back-off when a retry policy sets none: 25ms base, ten
// times that at most.
const (
	envoyBackOffBase = 25 * time.Millisecond
	envoyBackOffMax  = 10 * envoyBackOffBase
)

// trafficTarget is what a BackendTrafficPolicy attaches to: the Gateway
// (gateway set), an HTTPRoute or an AIGatewayRoute (as the HTTPRoute Envoy
// AI Gateway generates with its name), or one rule of it (sectionName).
type trafficTarget struct {
	gateway nsName
	route   nsName
	rule    string
}

// compiledTraffic is what standalone mode takes from a BackendTrafficPolicy.
type compiledTraffic struct {
	retry                       *config.RetryPolicy
	request, perTry, streamIdle *time.Duration
	rateLimits                  []config.RateLimitRule
}

// trafficPolicies compiles the valid BackendTrafficPolicies and indexes them
// by target. Two policies on the same target are an error.
func (c *compiler) trafficPolicies() map[trafficTarget]*compiledTraffic {
	routes := map[nsName]bool{}
	for _, r := range c.s.routes {
		routes[r.key()] = true
	}
	for _, r := range c.s.httpRoutes {
		routes[r.key()] = true
	}
	out := map[trafficTarget]*compiledTraffic{}
	owner := map[trafficTarget]nsName{}
	for _, pol := range byName(c.s.trafficPolicies) {
		if pol.invalid {
			continue
		}
		c.specFieldsIgnored(pol.src, pol.specKeys, "targetRef", "targetRefs", "targetSelectors", "retry", "timeout", "rateLimit")
		if len(pol.obj.Spec.TargetSelectors) > 0 {
			c.d.ignored(pol.src, field.NewPath("spec", "targetSelectors"), "not supported in standalone mode")
		}
		ct := c.compileTraffic(pol)
		for _, t := range policyTargets(pol.obj.Spec.PolicyTargetReferences) {
			var target trafficTarget
			switch {
			case t.ref.Group == groupGatewayAPI && t.ref.Kind == "HTTPRoute":
				target.route = nsName{pol.src.Namespace, string(t.ref.Name)}
				if !routes[target.route] {
					c.d.warnf(pol.src, t.path, "ignored: no HTTPRoute %s, nor an AIGatewayRoute of that name (whose generated HTTPRoute has it)", target.route)
					continue
				}
				if t.ref.SectionName != nil {
					target.rule = string(*t.ref.SectionName)
				}
			case t.ref.Group == groupGatewayAPI && t.ref.Kind == "Gateway":
				gw := nsName{pol.src.Namespace, string(t.ref.Name)}
				if c.gatewayByKey(gw) == nil {
					c.d.warnf(pol.src, t.path, "ignored: Gateway %s not found", gw)
					continue
				}
				target = trafficTarget{gateway: gw}
			default:
				c.d.warnf(pol.src, t.path, "ignored: only HTTPRoute (an HTTPRoute's or an AIGatewayRoute's name) and Gateway targets are supported in standalone mode")
				continue
			}
			if other, dup := owner[target]; dup {
				c.d.errorf(pol.src, t.path, "target is already covered by BackendTrafficPolicy %s", other)
				continue
			}
			owner[target] = pol.key()
			out[target] = ct
		}
	}
	return out
}

// trafficFor returns the policy of a route rule: the rule's own, else the
// route's, else its Gateway's (the most specific wins, as in Envoy
// Gateway). A route attached to several Gateways takes the policy of the
// first it names.
func (c *compiler) trafficFor(route nsName, rule string, gateway nsName) *compiledTraffic {
	for _, t := range []trafficTarget{{route: route, rule: rule}, {route: route}, {gateway: gateway}} {
		if ct, ok := c.traffic[t]; ok {
			return ct
		}
	}
	return nil
}

// compileTraffic takes the retry and timeout blocks of a policy.
func (c *compiler) compileTraffic(pol *resource[egv1a1.BackendTrafficPolicy]) *compiledTraffic {
	out := &compiledTraffic{}
	spec := &pol.obj.Spec
	sp := field.NewPath("spec")
	if r := spec.Retry; r != nil {
		rp := c.retryPolicy(pol.src, sp.Child("retry"), r)
		out.retry = &rp
		if r.PerRetry != nil && r.PerRetry.Timeout != nil {
			out.perTry = ptr(mustDuration(r.PerRetry.Timeout))
		}
	}
	if rl := spec.RateLimit; rl != nil {
		out.rateLimits = c.rateLimits(pol, sp.Child("rateLimit"), rl)
	}
	if t := spec.Timeout; t != nil {
		tp := sp.Child("timeout")
		if t.TCP != nil {
			c.d.ignored(pol.src, tp.Child("tcp"), "not supported in standalone mode")
		}
		if h := t.HTTP; h != nil {
			if h.RequestTimeout != nil {
				out.request = ptr(mustDuration(h.RequestTimeout))
			}
			if h.StreamIdleTimeout != nil {
				out.streamIdle = ptr(mustDuration(h.StreamIdleTimeout))
			}
			if h.ConnectionIdleTimeout != nil || h.MaxConnectionDuration != nil || h.MaxStreamDuration != nil {
				c.d.ignored(pol.src, tp.Child("http"), "only requestTimeout and streamIdleTimeout are supported in standalone mode")
			}
		}
	}
	return out
}

// defaultTriggers are Envoy Gateway's retry triggers when retryOn is unset:
// connect-failure, refused-stream, unavailable, cancelled and
// retriable-status-codes (503).
var defaultTriggers = []egv1a1.TriggerEnum{
	egv1a1.ConnectFailure, egv1a1.RefusedStream, egv1a1.Unavailable, egv1a1.Cancelled, egv1a1.RetriableStatusCodes,
}

// retryPolicy converts an Envoy Gateway retry block.
func (c *compiler) retryPolicy(src Source, p *field.Path, r *egv1a1.Retry) config.RetryPolicy {
	out := config.RetryPolicy{NumRetries: 2}
	if r.NumRetries != nil {
		out.NumRetries = *r.NumRetries
	}
	// Envoy Gateway: unset or 0 sends every attempt to the highest healthy
	// priority. Without health checks every tier is healthy, so every
	// attempt stays on the first tier.
	out.NumAttemptsPerPriority = out.NumRetries + 1
	if r.NumAttemptsPerPriority != nil && *r.NumAttemptsPerPriority > 0 {
		out.NumAttemptsPerPriority = *r.NumAttemptsPerPriority
	}

	// As Envoy Gateway: retryOn without triggers keeps the default triggers,
	// and retryOn replaces the default status codes (503) even when it has
	// none.
	triggers, codes, explicit := defaultTriggers, []int32{503}, false
	if on := r.RetryOn; on != nil {
		if len(on.Triggers) > 0 {
			triggers, explicit = on.Triggers, true
		}
		codes = nil
		for _, code := range on.HTTPStatusCodes {
			codes = append(codes, int32(code))
		}
	}
	for i, t := range triggers {
		tp := p.Child("retryOn", "triggers").Index(i)
		var on config.RetryOn
		switch t {
		case egv1a1.Error5XX:
			on = config.RetryOn5xx
		case egv1a1.GatewayError:
			on = config.RetryOnGatewayError
		case egv1a1.Reset:
			on = config.RetryOnReset
		case egv1a1.ConnectFailure:
			on = config.RetryOnConnectFailure
		case egv1a1.Retriable4XX:
			on = config.RetryOnRetriable4xx
		case egv1a1.RetriableStatusCodes:
			on = config.RetryOnRetriableStatus
		case egv1a1.DeadlineExceeded:
			on = config.RetryOnDeadlineExceeded
		case egv1a1.ResetBeforeRequest, egv1a1.RefusedStream:
			on = config.RetryOnReset
			if explicit {
				c.d.warnf(src, tp, "%s is approximated as reset in standalone mode", t)
			}
		default: // gRPC status triggers: cancelled, internal, resource-exhausted, unavailable
			if explicit {
				c.d.ignored(src, tp, fmt.Sprintf("%s is a gRPC status trigger, which AI APIs do not use", t))
			}
			continue
		}
		if !slices.Contains(out.On, on) {
			out.On = append(out.On, on)
		}
	}
	if slices.Contains(out.On, config.RetryOnRetriableStatus) {
		out.StatusCodes = codes
	}

	out.BackOffBase, out.BackOffMax = config.Duration(envoyBackOffBase), config.Duration(envoyBackOffMax)
	if pr := r.PerRetry; pr != nil && pr.BackOff != nil {
		if pr.BackOff.BaseInterval != nil {
			out.BackOffBase = config.Duration(mustDuration(pr.BackOff.BaseInterval))
		}
		out.BackOffMax = 10 * out.BackOffBase
		if pr.BackOff.MaxInterval != nil {
			out.BackOffMax = config.Duration(mustDuration(pr.BackOff.MaxInterval))
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
