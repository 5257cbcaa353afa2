package router

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/aigw-dev/aigw/internal/config"
)

// ModelHeader is the request header the gateway sets from the body's model,
// and that rules usually match on.
const ModelHeader = "x-ai-eg-model"

// Route is the compiled form of one config.Route.
type Route struct {
	// Name is "namespace/name".
	Name string
	// Hostnames restrict the route; empty means every host.
	Hostnames []string
	// RequestCosts are the route's costs merged over the global ones.
	RequestCosts []config.RequestCost
	// ClientAuth is who may call the route: its own policy, else the
	// Gateway's; nil for anyone.
	ClientAuth *config.ClientAuth
}

// Rule is the compiled form of one config.Rule. Backend is the data plane's
// handle for a config.Backend (the router never looks inside it).
type Rule[B any] struct {
	// Route is the route the rule belongs to.
	Route *Route
	// Name is the rule's name.
	Name string
	// Timeouts and Retry are copied from the configuration.
	Timeouts config.Timeouts
	Retry    config.RetryPolicy
	// PassThrough marks a rule of a Gateway API HTTPRoute: no model
	// routing, no translation; the request goes on as it came.
	PassThrough bool
	// RateLimits are the rule's rate limits, as configured.
	RateLimits []config.RateLimitRule
	// Refs are the rule's enabled backend references (weight > 0).
	Refs []*Ref[B]
	// tiers groups Refs by ascending priority.
	tiers [][]*Ref[B]
}

// Ref is one enabled backend reference of a rule.
type Ref[B any] struct {
	// Config is the reference as configured.
	Config config.BackendRef
	// Backend is the data plane's handle for the referenced backend.
	Backend B
}

// Model is an entry of /v1/models.
type Model struct {
	ID      string
	OwnedBy string
	Created int64
	// Routes are the routes that serve the model to the host listed for,
	// so a listing can leave out the models a client may not call.
	Routes []*Route
}

// Table is an immutable, compiled routing table.
type Table[B any] struct {
	// byModel maps an exact model to every candidate that can match a
	// request for that model, in precedence order; generic holds the
	// candidates for models that no rule names exactly.
	byModel map[string][]*candidate[B]
	generic []*candidate[B]
	models  modelIndex
	routes  []*Route
	rules   []*Rule[B]
	// passThrough holds the HTTPRoute rules, in precedence order.
	passThrough []*ptCandidate[B]
}

type candidate[B any] struct {
	rule       *Rule[B]
	route      *Route
	headers    []headerMatcher
	precedence [3]int // header count (desc), route index, rule index
}

type headerMatcher struct {
	name  string
	exact string
	re    *regexp.Regexp
}

func (m headerMatcher) matches(h http.Header) bool {
	vals := h.Values(m.name)
	for _, v := range vals {
		if m.re != nil {
			if m.re.MatchString(v) {
				return true
			}
		} else if v == m.exact {
			return true
		}
	}
	return false
}

// Empty returns a table without routes: every request matches nothing.
func Empty[B any]() *Table[B] { return &Table[B]{byModel: map[string][]*candidate[B]{}} }

// New compiles routes, served by gw (its costs and client policy are the
// routes' defaults; nil for none). resolve maps a config.Backend name to
// the data plane's handle; an error names the route, rule and reference.
func New[B any](routes []config.Route, gw *config.Gateway, resolve func(name string) (B, bool)) (*Table[B], error) {
	var globalCosts []config.RequestCost
	var gatewayAuth *config.ClientAuth
	if gw != nil {
		globalCosts, gatewayAuth = gw.RequestCosts, gw.ClientAuth
	}
	t := &Table[B]{byModel: map[string][]*candidate[B]{}}
	var errs []error
	for ri := range routes {
		cr := &routes[ri]
		route := &Route{Name: cr.Name, Hostnames: lowerAll(cr.Hostnames), RequestCosts: mergeCosts(globalCosts, cr.RequestCosts),
			ClientAuth: cmp.Or(cr.ClientAuth, gatewayAuth)}
		t.routes = append(t.routes, route)
		if cr.PassThrough {
			errs = append(errs, t.compilePassThrough(route, cr, ri, resolve)...)
			continue
		}
		for ui := range cr.Rules {
			cu := &cr.Rules[ui]
			rule, err := compileRule(route, cu, resolve)
			if err != nil {
				errs = append(errs, &config.PartError{Part: config.PartRoute, Name: cr.Name, Err: fmt.Errorf("route %s: rule %s: %w", cr.Name, cu.Name, err)})
				continue
			}
			t.rules = append(t.rules, rule)
			matches := cu.Matches
			if len(matches) == 0 {
				matches = []config.Match{{}}
			}
			for mi := range matches {
				c, model, err := compileMatch(rule, route, matches[mi])
				if err != nil {
					errs = append(errs, &config.PartError{Part: config.PartRoute, Name: cr.Name, Err: fmt.Errorf("route %s: rule %s: matches[%d]: %w", cr.Name, cu.Name, mi, err)})
					continue
				}
				c.precedence = [3]int{-len(c.headers), ri, ui}
				if model != "" {
					t.byModel[model] = append(t.byModel[model], c)
					t.models.add(route, cu, model)
				} else {
					t.generic = append(t.generic, c)
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Every exact-model list also holds the generic candidates, so one map
	// lookup yields the whole ordered candidate list.
	for model, list := range t.byModel {
		list = append(list, t.generic...)
		sortCandidates(list)
		t.byModel[model] = list
	}
	sortCandidates(t.generic)
	t.sortPassThrough()
	return t, nil
}

func sortCandidates[B any](list []*candidate[B]) {
	slices.SortStableFunc(list, func(a, b *candidate[B]) int {
		for i := range a.precedence {
			if d := a.precedence[i] - b.precedence[i]; d != 0 {
				return d
			}
		}
		return 0
	})
}

func compileRule[B any](route *Route, cu *config.Rule, resolve func(string) (B, bool)) (*Rule[B], error) {
	rule := &Rule[B]{Route: route, Name: cu.Name, Timeouts: cu.Timeouts, Retry: cu.Retry, RateLimits: cu.RateLimits}
	for i, ref := range cu.BackendRefs {
		if ref.Weight <= 0 {
			continue
		}
		b, ok := resolve(ref.Backend)
		if !ok {
			return nil, fmt.Errorf("backendRefs[%d]: backend %q is not defined", i, ref.Backend)
		}
		rule.Refs = append(rule.Refs, &Ref[B]{Config: ref, Backend: b})
	}
	sorted := slices.Clone(rule.Refs)
	slices.SortStableFunc(sorted, func(a, b *Ref[B]) int {
		switch {
		case a.Config.Priority < b.Config.Priority:
			return -1
		case a.Config.Priority > b.Config.Priority:
			return 1
		}
		return 0
	})
	for i, ref := range sorted {
		if i == 0 || ref.Config.Priority != sorted[i-1].Config.Priority {
			rule.tiers = append(rule.tiers, nil)
		}
		rule.tiers[len(rule.tiers)-1] = append(rule.tiers[len(rule.tiers)-1], ref)
	}
	return rule, nil
}

// compileMatch returns the candidate and, when the match names the model
// header exactly, that model.
func compileMatch[B any](rule *Rule[B], route *Route, m config.Match) (*candidate[B], string, error) {
	c := &candidate[B]{rule: rule, route: route}
	var model string
	for _, h := range m.Headers {
		name := strings.ToLower(h.Name)
		hm := headerMatcher{name: http.CanonicalHeaderKey(name)}
		switch h.Type {
		case config.HeaderMatchExact, "":
			hm.exact = h.Value
			if name == ModelHeader && model == "" {
				model = h.Value
			}
		case config.HeaderMatchRegularExpression:
			re, err := regexp.Compile("^(?:" + h.Value + ")$")
			if err != nil {
				return nil, "", fmt.Errorf("header %s: invalid regular expression: %w", h.Name, err)
			}
			hm.re = re
		default:
			return nil, "", fmt.Errorf("header %s: unknown match type %q", h.Name, h.Type)
		}
		c.headers = append(c.headers, hm)
	}
	return c, model, nil
}

// Match returns the rule that serves a request for model on host with the
// given headers (which must already carry the model header), or false.
func (t *Table[B]) Match(model, host string, h http.Header) (*Rule[B], bool) {
	list, ok := t.byModel[model]
	if !ok {
		list = t.generic
	}
	host = NormalizeHost(host)
	for _, c := range list {
		if hostMatches(c.route.Hostnames, host) && allMatch(c.headers, h) {
			return c.rule, true
		}
	}
	return nil, false
}

// allMatch reports whether every header matcher matches h (a match's
// headers are ANDed).
func allMatch(ms []headerMatcher, h http.Header) bool {
	for _, hm := range ms {
		if !hm.matches(h) {
			return false
		}
	}
	return true
}

// Routes returns the compiled routes, in configuration order.
func (t *Table[B]) Routes() []*Route { return t.routes }

// Rules returns every compiled rule, model-routed and pass-through.
func (t *Table[B]) Rules() []*Rule[B] { return t.rules }

// Models lists the models served to host, per the /v1/models rules.
func (t *Table[B]) Models(host string) []Model {
	return t.models.list(NormalizeHost(host))
}

func lowerAll(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}

// mergeCosts returns the route's costs plus the global ones whose key the
// route does not define.
func mergeCosts(global, route []config.RequestCost) []config.RequestCost {
	if len(global) == 0 {
		return route
	}
	out := slices.Clone(route)
	for _, g := range global {
		if !slices.ContainsFunc(route, func(r config.RequestCost) bool { return r.MetadataKey == g.MetadataKey }) {
			out = append(out, g)
		}
	}
	return out
}
