package router

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/aigw-dev/aigw/internal/config"
)

// pathMatcher matches a request path as Gateway API HTTPRoute does.
type pathMatcher struct {
	typ   config.PathMatchType
	value string
	re    *regexp.Regexp
}

func compilePath(pm *config.PathMatch) (pathMatcher, error) {
	if pm == nil {
		return pathMatcher{typ: config.PathMatchPathPrefix, value: "/"}, nil
	}
	m := pathMatcher{typ: pm.Type, value: pm.Value}
	switch pm.Type {
	case config.PathMatchPathPrefix, "":
		m.typ = config.PathMatchPathPrefix
		if v := strings.TrimSuffix(pm.Value, "/"); v != "" {
			m.value = v
		} else {
			m.value = "/"
		}
	case config.PathMatchExact:
	case config.PathMatchRegularExpression:
		re, err := regexp.Compile("^(?:" + pm.Value + ")$")
		if err != nil {
			return m, fmt.Errorf("path: invalid regular expression: %w", err)
		}
		m.re = re
	default:
		return m, fmt.Errorf("path: unknown match type %q", pm.Type)
	}
	return m, nil
}

func (m pathMatcher) matches(path string) bool {
	switch m.typ {
	case config.PathMatchExact:
		return path == m.value
	case config.PathMatchRegularExpression:
		return m.re.MatchString(path)
	default:
		// Element-wise prefix: "/foo" matches "/foo" and "/foo/…", not "/foobar".
		if m.value == "/" {
			return true
		}
		return path == m.value || strings.HasPrefix(path, m.value+"/")
	}
}

// specificity orders path matches: Exact first, then regular expressions,
// then the longest prefix. Gateway API leaves the rank of regular
// expressions to the implementation; this is Envoy Gateway's order.
func (m pathMatcher) specificity() (int, int) {
	switch m.typ {
	case config.PathMatchExact:
		return 0, -len(m.value)
	case config.PathMatchRegularExpression:
		return 1, 0
	default:
		return 2, -len(m.value)
	}
}

// ptCandidate is one match of a pass-through rule.
type ptCandidate[B any] struct {
	rule    *Rule[B]
	route   *Route
	path    pathMatcher
	headers []headerMatcher
	order   [5]int // path kind, -path length, -header count, route index, rule index
}

// compilePassThrough adds a pass-through route's rules to the table.
func (t *Table[B]) compilePassThrough(route *Route, cr *config.Route, ri int, resolve func(string) (B, bool)) []error {
	var errs []error
	for ui := range cr.Rules {
		cu := &cr.Rules[ui]
		rule, err := compileRule(route, cu, resolve)
		if err != nil {
			errs = append(errs, &config.PartError{Part: config.PartRoute, Name: cr.Name, Err: fmt.Errorf("route %s: rule %s: %w", cr.Name, cu.Name, err)})
			continue
		}
		rule.PassThrough = true
		t.rules = append(t.rules, rule)
		matches := cu.Matches
		if len(matches) == 0 {
			matches = []config.Match{{}}
		}
		for mi, m := range matches {
			pm, err := compilePath(m.Path)
			if err != nil {
				errs = append(errs, &config.PartError{Part: config.PartRoute, Name: cr.Name, Err: fmt.Errorf("route %s: rule %s: matches[%d]: %w", cr.Name, cu.Name, mi, err)})
				continue
			}
			hc, _, err := compileMatch(rule, route, config.Match{Headers: m.Headers})
			if err != nil {
				errs = append(errs, &config.PartError{Part: config.PartRoute, Name: cr.Name, Err: fmt.Errorf("route %s: rule %s: matches[%d]: %w", cr.Name, cu.Name, mi, err)})
				continue
			}
			kind, plen := pm.specificity()
			t.passThrough = append(t.passThrough, &ptCandidate[B]{
				rule: rule, route: route, path: pm, headers: hc.headers,
				order: [5]int{kind, plen, -len(hc.headers), ri, ui},
			})
		}
	}
	return errs
}

func (t *Table[B]) sortPassThrough() {
	slices.SortStableFunc(t.passThrough, func(a, b *ptCandidate[B]) int {
		for i := range a.order {
			if d := a.order[i] - b.order[i]; d != 0 {
				return d
			}
		}
		return 0
	})
}

// HasModelRoutes reports whether any AIGatewayRoute rule exists; without
// one, requests need no body parsing to be routed.
func (t *Table[B]) HasModelRoutes() bool { return len(t.byModel) > 0 || len(t.generic) > 0 }

// MatchPassThrough returns the HTTPRoute rule for a request path, host and
// headers, in Gateway API precedence, or false.
func (t *Table[B]) MatchPassThrough(path, host string, h http.Header) (*Rule[B], bool) {
	host = NormalizeHost(host)
	for _, c := range t.passThrough {
		if hostMatches(c.route.Hostnames, host) && c.path.matches(path) && allMatch(c.headers, h) {
			return c.rule, true
		}
	}
	return nil, false
}
