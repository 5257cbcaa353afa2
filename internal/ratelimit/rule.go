// Package ratelimit enforces rate limits and token budgets, as Envoy
// Gateway's BackendTrafficPolicy rateLimit rules define them and Envoy AI
// Gateway uses them for usage-based limits: a request is checked against
// every rule that selects it before any upstream is tried, and charged with
// its actual cost (tokens) once the response is done.
//
// Buckets are fixed windows aligned on the epoch, as Envoy's rate limit
// service keeps them, in a [Store]: [Memory] for one replica (and for
// local rules), [Redis] for replicas that share a budget.
package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aigw-dev/aigw/internal/config"
)

// Rule is a compiled [config.RateLimitRule].
type Rule struct {
	config.RateLimitRule
	selectors []selector
	window    time.Duration
}

type selector struct {
	headers []headerMatch
	source  *sourceMatch
	methods []config.RateLimitValueMatch
	path    *pathMatch
}

type headerMatch struct {
	config.RateLimitHeaderMatch
	re *regexp.Regexp
}

type sourceMatch struct {
	prefix   netip.Prefix
	distinct bool
	invert   bool
}

type pathMatch struct {
	config.RateLimitPathMatch
	re *regexp.Regexp
}

// Compile checks and compiles rules.
func Compile(rules []config.RateLimitRule) ([]*Rule, error) {
	out := make([]*Rule, 0, len(rules))
	for _, cr := range rules {
		r := &Rule{RateLimitRule: cr, window: cr.Window.Std()}
		if r.window < time.Second {
			return nil, fmt.Errorf("rate limit %s: the window must be at least a second", cr.Name)
		}
		for _, cs := range cr.Selectors {
			var s selector
			for _, h := range cs.Headers {
				hm := headerMatch{RateLimitHeaderMatch: h}
				hm.Name = http.CanonicalHeaderKey(h.Name)
				if h.Type == config.RateLimitRegex {
					re, err := regexp.Compile("^(?:" + h.Value + ")$")
					if err != nil {
						return nil, fmt.Errorf("rate limit %s: header %s: %w", cr.Name, h.Name, err)
					}
					hm.re = re
				}
				s.headers = append(s.headers, hm)
			}
			if src := cs.SourceCIDR; src != nil {
				p, err := parsePrefix(src.CIDR)
				if err != nil {
					return nil, fmt.Errorf("rate limit %s: sourceCIDR: %w", cr.Name, err)
				}
				s.source = &sourceMatch{prefix: p, distinct: src.Distinct, invert: src.Invert}
			}
			s.methods = cs.Methods
			if pm := cs.Path; pm != nil {
				m := &pathMatch{RateLimitPathMatch: *pm}
				if pm.Type == config.RateLimitRegex {
					re, err := regexp.Compile("^(?:" + pm.Value + ")$")
					if err != nil {
						return nil, fmt.Errorf("rate limit %s: path: %w", cr.Name, err)
					}
					m.re = re
				}
				s.path = m
			}
			r.selectors = append(r.selectors, s)
		}
		out = append(out, r)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR nor an address", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Request is what rules select on.
type Request struct {
	// Route is the matched route's name; buckets of unshared rules are
	// per route.
	Route  string
	Header http.Header
	Method string
	Path   string
	// Client is the client's address (invalid when unknown: a rule that
	// selects on it does not apply).
	Client netip.Addr
}

// bucket returns the key of r's bucket for req in the window starting at
// start, and whether r applies. Client-chosen values (Distinct) are
// hashed: a key's length is bounded whatever the client sends.
func (r *Rule) bucket(req *Request, start time.Time) (string, bool) {
	var scratch [4]string
	distinct := scratch[:0]
	for i := range r.selectors {
		vals, ok := r.selectors[i].match(req, distinct)
		if !ok {
			return "", false
		}
		distinct = vals
	}
	var buf [256]byte
	key := append(buf[:0], r.Name...)
	key = append(key, '|')
	if !r.Shared {
		key = append(key, req.Route...)
	}
	if len(distinct) > 0 {
		var in []byte
		for _, v := range distinct {
			in = strconv.AppendInt(in, int64(len(v)), 10)
			in = append(in, ':')
			in = append(in, v...)
		}
		sum := sha256.Sum256(in)
		key = append(key, '|')
		key = hex.AppendEncode(key, sum[:16])
	}
	key = append(key, '|')
	key = strconv.AppendInt(key, start.Unix(), 10)
	return string(key), true
}

// match reports whether every condition of s holds for req, and appends
// the values of its Distinct ones to distinct.
func (s *selector) match(req *Request, distinct []string) ([]string, bool) {
	for i := range s.headers {
		h := &s.headers[i]
		vals, present := req.Header[h.Name]
		v := ""
		if present && len(vals) > 0 {
			v = vals[0]
		}
		var ok bool
		switch h.Type {
		case config.RateLimitDistinct:
			if !present {
				return nil, false // no value, no bucket: the rule does not apply
			}
			distinct = append(distinct, v)
			continue
		case config.RateLimitRegex:
			ok = present && h.re.MatchString(v)
		default:
			ok = present && v == h.Value
		}
		if ok == h.Invert {
			return nil, false
		}
	}
	if src := s.source; src != nil {
		if !req.Client.IsValid() {
			return nil, false
		}
		in := src.prefix.Contains(req.Client.Unmap())
		if in == src.invert {
			return nil, false
		}
		if src.distinct {
			distinct = append(distinct, req.Client.Unmap().String())
		}
	}
	if len(s.methods) > 0 {
		ok := false
		for _, m := range s.methods {
			if strings.EqualFold(m.Value, req.Method) != m.Invert {
				ok = true
				break
			}
		}
		if !ok {
			return nil, false
		}
	}
	if p := s.path; p != nil {
		var ok bool
		switch p.Type {
		case config.RateLimitRegex:
			ok = p.re.MatchString(req.Path)
		case config.RateLimitPrefix:
			ok = pathHasPrefix(req.Path, p.Value)
		default:
			ok = req.Path == p.Value
		}
		if ok == p.Invert {
			return nil, false
		}
	}
	return distinct, true
}

// pathHasPrefix is Gateway API's PathPrefix: whole path segments.
func pathHasPrefix(path, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

// windowOf returns the start and end of the fixed window of length w that
// holds now, aligned on the epoch.
func windowOf(now time.Time, w time.Duration) (start, end time.Time) {
	ns := now.UnixNano()
	start = time.Unix(0, ns-ns%int64(w))
	return start, start.Add(w)
}
