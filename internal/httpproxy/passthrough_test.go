package httpproxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/epp/epptest"
)

func prefix(v string) []config.Match {
	return []config.Match{{Path: &config.PathMatch{Type: config.PathMatchPathPrefix, Value: v}}}
}

func post(t *testing.T, url, body string) (*http.Response, string) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestHTTPRouteToPools reproduces GAIE's data-plane conformance cases that
// a plain HTTPRoute exercises: several rules to different pools, a weighted
// split where each pool's picker picks only its own endpoints, and a pool
// whose picker cannot be resolved failing with a 5xx.
func TestHTTPRouteToPools(t *testing.T) {
	a1, a2 := newFakeOpenAI(t, "a1"), newFakeOpenAI(t, "a2")
	b1 := newFakeOpenAI(t, "b1")
	pickA := epptest.Start(t, epptest.Ack, func(h map[string]string, _ []byte) epptest.Decision {
		if sel := h["test-epp-endpoint-selection"]; sel != "" {
			return epptest.Decision{Pick: sel}
		}
		return epptest.Decision{Pick: addrOf(a1)}
	})
	pickB := epptest.Start(t, epptest.Ack, func(map[string]string, []byte) epptest.Decision { return epptest.Decision{Pick: addrOf(b1)} })
	poolA := poolOf("default/pool-a/pool", pickerAt(pickA, config.FailClose), a1, a2)
	poolB := poolOf("default/pool-b/pool", pickerAt(pickB, config.FailClose), b1)
	broken := poolOf("default/broken/pool", &config.EndpointPicker{Name: "default/missing-epp", FailureMode: config.FailClose}, b1)
	rule := func(name string, m []config.Match, refs ...config.BackendRef) config.Rule {
		return config.Rule{Name: name, Matches: m, BackendRefs: refs, Retry: config.RetryPolicy{NumRetries: 0, NumAttemptsPerPriority: 1}}
	}
	wA, wB := ref(poolA.Name, 0), ref(poolB.Name, 0)
	wA.Weight, wB.Weight = 70, 30
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{poolA, poolB, broken},
		Routes: []config.Route{{Name: "default/llm-route", PassThrough: true, Rules: []config.Rule{
			rule("a", prefix("/a"), ref(poolA.Name, 0)),
			rule("b", prefix("/b"), ref(poolB.Name, 0)),
			rule("broken", prefix("/broken"), ref(broken.Name, 0)),
			rule("split", prefix("/"), wA, wB),
		}}},
	}
	tg := newTestGateway(t, cfg)

	resp, _ := post(t, tg.srv.URL+"/a/v1/completions", `{"model":"conformance-fake-model","prompt":"x"}`)
	require.Equal(t, "a1", resp.Header.Get("X-Served-By"))
	require.Equal(t, addrOf(a1), resp.Header.Get("X-Conformance-Test-Served-Endpoint"))
	resp, _ = post(t, tg.srv.URL+"/b/v1/completions", `{"model":"conformance-fake-model","prompt":"x"}`)
	require.Equal(t, "b1", resp.Header.Get("X-Served-By"))

	// The picker's steering header: 100 requests land on the allowed pod.
	for range 100 {
		req, _ := http.NewRequest(http.MethodPost, tg.srv.URL+"/a/v1/completions", strings.NewReader(`{"model":"m","prompt":"x"}`))
		req.Header.Set("test-epp-endpoint-selection", addrOf(a2))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, "a2", resp.Header.Get("X-Served-By"))
	}

	// The body is not parsed: even non-JSON reaches the pod.
	resp, _ = post(t, tg.srv.URL+"/b/anything", `not json`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	last := b1.requests()[len(b1.requests())-1]
	require.Equal(t, "/b/anything", last.Path, "the client's path goes on as it came")

	resp, body := post(t, tg.srv.URL+"/broken/v1/completions", `{"model":"m","prompt":"x"}`)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	require.Contains(t, body, `"error":{`)

	// 70/30 split; every request is served by a pod of the pool it went to.
	counts := map[string]int{}
	for range 400 {
		resp, _ := post(t, tg.srv.URL+"/v1/completions", `{"model":"m","prompt":"x"}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		counts[resp.Header.Get("X-Served-By")]++
	}
	require.InDelta(t, 280, counts["a1"], 60, "%v", counts)
	require.Equal(t, 400, counts["a1"]+counts["b1"], "%v", counts)
}

func TestHTTPRouteBesideModelRoutes(t *testing.T) {
	pod := newFakeOpenAI(t, "pod")
	provider := newFakeOpenAI(t, "provider")
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{poolOf("default/pool", nil, pod), backendOf("default/provider", provider)},
		Routes: []config.Route{
			{Name: "default/ai", Rules: []config.Rule{modelRule("gpt", ref("default/provider", 0))}},
			{Name: "default/http", PassThrough: true, Rules: []config.Rule{{Name: "all", Matches: prefix("/"), BackendRefs: []config.BackendRef{ref("default/pool", 0)}}}},
		},
	}
	tg := newTestGateway(t, cfg)
	resp, _ := post(t, tg.srv.URL+"/v1/chat/completions", `{"model":"gpt","messages":[]}`)
	require.Equal(t, "provider", resp.Header.Get("X-Served-By"), "an AIGatewayRoute owns the models it names")
	resp, _ = post(t, tg.srv.URL+"/v1/chat/completions", `{"model":"llama","messages":[]}`)
	require.Equal(t, "pod", resp.Header.Get("X-Served-By"), "other models fall to the HTTPRoute")
	r, err := http.Get(tg.srv.URL + "/health")
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, "pod", r.Header.Get("X-Served-By"), fmt.Sprintf("any method and path: %d", r.StatusCode))
}
