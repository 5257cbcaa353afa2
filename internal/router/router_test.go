package router

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
)

func exact(model string) config.Match {
	return config.Match{Headers: []config.HeaderMatch{{Type: config.HeaderMatchExact, Name: ModelHeader, Value: model}}}
}

func rule(name string, matches ...config.Match) config.Rule {
	return config.Rule{Name: name, Matches: matches, BackendRefs: []config.BackendRef{{Backend: "b", Weight: 1}}, Retry: config.RetryPolicy{NumRetries: 2, NumAttemptsPerPriority: 1}}
}

func table(t *testing.T, routes ...config.Route) *Table[string] {
	tb, err := New(routes, nil, func(name string) (string, bool) { return name, name != "missing" })
	require.NoError(t, err)
	return tb
}

func match(tb *Table[string], model, host string, extra ...string) string {
	h := http.Header{}
	h.Set(ModelHeader, model)
	for i := 0; i+1 < len(extra); i += 2 {
		h.Add(extra[i], extra[i+1])
	}
	r, ok := tb.Match(model, host, h)
	if !ok {
		return ""
	}
	return r.Route.Name + "/" + r.Name
}

func TestMatch(t *testing.T) {
	tenant := exact("gpt")
	tenant.Headers = append(tenant.Headers, config.HeaderMatch{Name: "X-Tenant", Value: "blue"})
	regex := config.Match{Headers: []config.HeaderMatch{{Type: config.HeaderMatchRegularExpression, Name: ModelHeader, Value: "llama-.*"}}}
	tb := table(t,
		config.Route{Name: "r1", Rules: []config.Rule{rule("gpt", exact("gpt")), rule("gpt-tenant", tenant), rule("llama", regex)}},
		config.Route{Name: "r2", Rules: []config.Rule{rule("gpt-again", exact("gpt")), rule("catch-all")}},
		config.Route{Name: "scoped", Hostnames: []string{"*.example.com"}, Rules: []config.Rule{rule("claude", exact("claude"))}},
	)
	tests := []struct {
		name, model, host string
		extra             []string
		want              string
	}{
		{name: "exact", model: "gpt", want: "r1/gpt"},
		{name: "more headers win", model: "gpt", extra: []string{"X-Tenant", "blue"}, want: "r1/gpt-tenant"},
		{name: "other header value", model: "gpt", extra: []string{"X-Tenant", "red"}, want: "r1/gpt"},
		{name: "regex is anchored", model: "llama-3", want: "r1/llama"},
		{name: "regex does not match a prefix", model: "xllama-3", want: "r2/catch-all"},
		{name: "unknown model falls to catch-all", model: "nope", want: "r2/catch-all"},
		{name: "wildcard host", model: "claude", host: "api.eu.example.com:443", want: "scoped/claude"},
		{name: "host mismatch", model: "claude", host: "example.com", want: "r2/catch-all"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, match(tb, tc.model, tc.host, tc.extra...))
		})
	}
}

func TestNoMatch(t *testing.T) {
	tb := table(t, config.Route{Name: "r", Rules: []config.Rule{rule("a", exact("a"))}})
	require.Empty(t, match(tb, "b", ""))
}

func TestNewErrors(t *testing.T) {
	_, err := New([]config.Route{{Name: "r", Rules: []config.Rule{{Name: "x", BackendRefs: []config.BackendRef{{Backend: "missing", Weight: 1}}}}}}, nil, func(name string) (string, bool) { return "", false })
	require.ErrorContains(t, err, `route r: rule x: backendRefs[0]: backend "missing" is not defined`)
}

func TestPlan(t *testing.T) {
	refs := []config.BackendRef{{Backend: "p0a", Weight: 1, Priority: 0}, {Backend: "p1", Weight: 1, Priority: 1}, {Backend: "off", Weight: 0, Priority: 0}, {Backend: "p0b", Weight: 1, Priority: 0}}
	tests := []struct {
		name          string
		retries, per  int32
		wantTierOrder []string // tier of each attempt, "p0" or "p1"
	}{
		{name: "each retry moves down", retries: 2, per: 1, wantTierOrder: []string{"p0", "p1", "p1"}},
		{name: "two per tier", retries: 3, per: 2, wantTierOrder: []string{"p0", "p0", "p1", "p1"}},
		{name: "no retries", retries: 0, per: 1, wantTierOrder: []string{"p0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := table(t, config.Route{Name: "r", Rules: []config.Rule{{Name: "x", BackendRefs: refs, Retry: config.RetryPolicy{NumRetries: tc.retries, NumAttemptsPerPriority: tc.per}}}})
			r, ok := tb.Match("m", "", http.Header{})
			require.True(t, ok)
			p := r.Plan(rand.New(rand.NewPCG(1, 2)))
			var got []string
			seen := map[string]bool{}
			for {
				ref, ok := p.Next()
				if !ok {
					break
				}
				require.NotEqual(t, "off", ref.Backend, "weight 0 disables a backend")
				got = append(got, ref.Backend[:2])
				if ref.Backend[:2] == "p0" {
					require.False(t, seen[ref.Backend], "a tier's untried backends come first")
					seen[ref.Backend] = true
				}
			}
			require.Equal(t, tc.wantTierOrder, got)
		})
	}
}

func TestModels(t *testing.T) {
	tb := table(t,
		config.Route{Name: "a", Rules: []config.Rule{rule("x", exact("m1"), exact("m2")), rule("y", exact("m1"))}},
		config.Route{Name: "b", Hostnames: []string{"api.example.com"}, Rules: []config.Rule{rule("z", exact("m3"))}},
		config.Route{Name: "c", Hostnames: []string{"*.example.com"}, Rules: []config.Rule{rule("w", exact("m4"))}},
		config.Route{Name: "d", Hostnames: []string{"api.example.com"}, Rules: []config.Rule{rule("v", exact("m1"))}},
	)
	ids := func(host string) []string {
		var out []string
		for _, m := range tb.Models(host) {
			out = append(out, m.ID)
		}
		return out
	}
	require.Equal(t, []string{"m3", "m1", "m2"}, ids("API.example.com"))
	routes := func(host, id string) []string {
		var out []string
		for _, m := range tb.Models(host) {
			if m.ID == id {
				for _, r := range m.Routes {
					out = append(out, r.Name)
				}
			}
		}
		return out
	}
	require.Equal(t, []string{"d", "a"}, routes("api.example.com", "m1"), "every route serving the model to the host")
	require.Equal(t, []string{"a"}, routes("localhost", "m1"), "one entry for the two rules of route a")
	require.Equal(t, []string{"a"}, routes("api.example.com", "m2"))
	require.Equal(t, []string{"m4", "m1", "m2"}, ids("other.example.com"))
	require.Equal(t, []string{"m1", "m2"}, ids("deep.other.example.com"), "a /v1/models wildcard is one label")
	require.Equal(t, []string{"m1", "m2"}, ids("localhost"))
}

// BenchmarkMatch shows matching costs O(1) in the number of exact-model
// rules: compare the sub-benchmarks.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			var rules []config.Rule
			for i := range n {
				rules = append(rules, rule(fmt.Sprint(i), exact(fmt.Sprintf("model-%d", i))))
			}
			tb, err := New([]config.Route{{Name: "r", Rules: rules}}, nil, func(name string) (string, bool) { return name, true })
			if err != nil {
				b.Fatal(err)
			}
			h := http.Header{}
			model := fmt.Sprintf("model-%d", n/2)
			h.Set(ModelHeader, model)
			b.ResetTimer()
			for b.Loop() {
				if _, ok := tb.Match(model, "", h); !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}

func TestMatchPassThroughPrecedence(t *testing.T) {
	pm := func(typ config.PathMatchType, v string) []config.Match {
		return []config.Match{{Path: &config.PathMatch{Type: typ, Value: v}}}
	}
	tenant := pm(config.PathMatchPathPrefix, "/v1")
	tenant[0].Headers = []config.HeaderMatch{{Name: "x-tenant", Value: "blue"}}
	tb := table(t, config.Route{Name: "h", PassThrough: true, Rules: []config.Rule{
		rule("root", pm(config.PathMatchPathPrefix, "/")...),
		rule("v1", pm(config.PathMatchPathPrefix, "/v1/")...),
		rule("v1-tenant", tenant...),
		rule("chat", pm(config.PathMatchPathPrefix, "/v1/chat")...),
		rule("exact", pm(config.PathMatchExact, "/v1/chat/completions")...),
		rule("regex", pm(config.PathMatchRegularExpression, "/v[0-9]+/models")...),
	}})
	require.False(t, tb.HasModelRoutes())
	tests := []struct{ path, tenant, want string }{
		{"/v1/chat/completions", "", "exact"},
		{"/v1/chat/completions/x", "", "chat"},
		{"/v1/chatty", "", "v1"},
		{"/v1/embeddings", "blue", "v1-tenant"},
		{"/v1/embeddings", "", "v1"},
		{"/v2/models", "", "regex"},
		{"/v1/models", "", "regex"},
		{"/health", "", "root"},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.tenant != "" {
			h.Set("X-Tenant", tc.tenant)
		}
		r, ok := tb.MatchPassThrough(tc.path, "", h)
		require.True(t, ok, tc.path)
		require.Equal(t, tc.want, r.Name, tc.path)
		require.True(t, r.PassThrough)
	}
}

func TestPlanExclude(t *testing.T) {
	refs := []config.BackendRef{{Backend: "p0a", Weight: 1, Priority: 0}, {Backend: "p0b", Weight: 1, Priority: 0}, {Backend: "p1", Weight: 1, Priority: 1}}
	tb := table(t, config.Route{Name: "r", Rules: []config.Rule{{Name: "x", BackendRefs: refs, Retry: config.RetryPolicy{NumRetries: 3, NumAttemptsPerPriority: 4}}}})
	r, ok := tb.Match("m", "", http.Header{})
	require.True(t, ok)
	p := r.Plan(rand.New(rand.NewPCG(1, 2)))
	var got []string
	for {
		ref, ok := p.Next()
		if !ok {
			break
		}
		got = append(got, ref.Backend)
		if ref.Backend != "p1" {
			p.Exclude(ref) // its quota is exhausted
		}
	}
	require.Len(t, got, 4)
	require.ElementsMatch(t, []string{"p0a", "p0b"}, got[:2], "each tier-0 backend once")
	require.Equal(t, []string{"p1", "p1"}, got[2:], "then the next tier, though the first had attempts left, within the attempt budget")
}

func TestMostSpecificHostname(t *testing.T) {
	listeners := []string{"", "*.example.com", "*.api.example.com", "a.api.example.com"}
	for _, tc := range []struct {
		host string
		want int
	}{
		{"a.api.example.com", 3},
		{"A.API.example.com:8443", 3},
		{"b.api.example.com", 2},
		{"x.example.com", 1},
		{"example.com", 0},
		{"other.org.", 0},
	} {
		require.Equal(t, tc.want, mostSpecificHostname(listeners, tc.host), tc.host)
	}
	require.Equal(t, -1, mostSpecificHostname([]string{"a.example.com", "*.svc"}, "b.example.com"), "no listener for the host")
	require.Equal(t, -1, mostSpecificHostname(nil, "a"))
}

// mostSpecificHostname returns the index of the listener hostname that
// host matches most specifically (HostnameSpecificity), -1 for none.
func mostSpecificHostname(hostnames []string, host string) int {
	host = NormalizeHost(host)
	best, bestScore := -1, -1
	for i, hn := range hostnames {
		if score := HostnameSpecificity(hn, host); score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}
