package httpproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/epp/epptest"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

// poolOf returns a pool backend over fake model servers.
func poolOf(name string, picker *config.EndpointPicker, servers ...*fakeOpenAI) config.Backend {
	p := &config.Pool{Name: name, EndpointPicker: picker}
	for _, s := range servers {
		host, port := s.hostPort()
		p.Endpoints = append(p.Endpoints, config.PoolEndpoint{IP: host, Port: port})
		p.TargetPorts = append(p.TargetPorts, port)
	}
	return config.Backend{Name: name, Schema: config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"}, Pool: p}
}

func pickerAt(s *epptest.Server, mode config.FailureMode) *config.EndpointPicker {
	return &config.EndpointPicker{Name: "default/epp", Address: s.Addr, FailureMode: mode, MessageTimeout: config.Duration(500 * time.Millisecond)}
}

func addrOf(f *fakeOpenAI) string {
	host, port := f.hostPort()
	return fmt.Sprintf("%s:%d", host, port)
}

func poolConfig(backends ...config.Backend) *config.Config {
	var refs []config.BackendRef
	for i, b := range backends {
		refs = append(refs, config.BackendRef{Backend: b.Name, Weight: 1, Priority: uint32(i)})
	}
	return &config.Config{Version: config.Version, Backends: backends,
		Routes: []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", refs...)}, RequestCosts: tokenCosts}}}
}

func TestPoolFollowsThePick(t *testing.T) {
	for _, style := range []epptest.Style{epptest.Replace, epptest.Ack} {
		t.Run(fmt.Sprint("style ", style), func(t *testing.T) {
			a, b := newFakeOpenAI(t, "a"), newFakeOpenAI(t, "b")
			var sawDestination []string
			picker := epptest.Start(t, style, func(h map[string]string, body []byte) epptest.Decision {
				sawDestination = append(sawDestination, h["x-gateway-destination-endpoint"])
				return epptest.Decision{Pick: addrOf(b)}
			})
			tg := newTestGateway(t, poolConfig(poolOf("default/pool", pickerAt(picker, config.FailClose), a, b)))
			for range 5 {
				req, _ := http.NewRequest(http.MethodPost, tg.srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[]}`))
				req.Header.Set("X-Gateway-Destination-Endpoint", addrOf(a)) // a client cannot choose the pod
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.Equal(t, "b", resp.Header.Get("X-Served-By"))
				require.Equal(t, "true", resp.Header.Get("X-Went-Into-Resp-Headers"), "the picker's response header mutations apply")
				if style == epptest.Ack {
					require.Equal(t, addrOf(b), resp.Header.Get("X-Conformance-Test-Served-Endpoint"))
				}
			}
			require.Empty(t, a.requests())
			require.Len(t, b.requests(), 5)
			require.Equal(t, []string{"", "", "", "", ""}, sawDestination)
			require.Equal(t, []string{addrOf(b), addrOf(b), addrOf(b), addrOf(b), addrOf(b)}, picker.Served())
		})
	}
}

func TestPoolStreamingThroughPicker(t *testing.T) {
	for _, style := range []epptest.Style{epptest.Replace, epptest.Ack} {
		t.Run(fmt.Sprint("style ", style), func(t *testing.T) {
			a := newFakeOpenAI(t, "a")
			picker := epptest.Start(t, style, func(map[string]string, []byte) epptest.Decision {
				return epptest.Decision{Pick: addrOf(a), RewriteModel: "rewritten"}
			})
			tg := newTestGateway(t, poolConfig(poolOf("default/pool", pickerAt(picker, config.FailClose), a)))
			c := tg.client()
			s := c.Chat.Completions.NewStreaming(context.Background(), chatParams("m"))
			var text strings.Builder
			for s.Next() {
				require.NotEmpty(t, s.Current().Choices, "usage forced by costs stays hidden")
				text.WriteString(s.Current().Choices[0].Delta.Content)
			}
			require.NoError(t, s.Err())
			require.Equal(t, "tok0 tok1 tok2 ", text.String())
			resp, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
			require.NoError(t, err)
			require.Equal(t, "hello from a", resp.Choices[0].Message.Content)
			if style == epptest.Replace {
				require.Equal(t, "rewritten", a.requests()[0].Body["model"], "the picker's body replacement is what the pod gets")
			}
		})
	}
}

func TestPoolFallbackList(t *testing.T) {
	good := newFakeOpenAI(t, "good")
	broken := newFakeOpenAI(t, "broken")
	broken.setFault("status=503")
	dead := fmt.Sprintf("127.0.0.1:%d", closedPort(t))
	picker := epptest.Start(t, epptest.Replace, func(map[string]string, []byte) epptest.Decision {
		return epptest.Decision{Pick: dead + "," + addrOf(broken) + "," + addrOf(good)}
	})
	tg := newTestGateway(t, poolConfig(poolOf("default/pool", pickerAt(picker, config.FailClose), good, broken)))
	c := tg.client()
	resp, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
	require.NoError(t, err)
	require.Equal(t, "hello from good", resp.Choices[0].Message.Content)
	require.Len(t, broken.requests(), 1)
	require.Equal(t, []string{addrOf(good)}, picker.Served(), "the served endpoint is the one that answered")
	require.Eventually(t, func() bool { return strings.Contains(tg.log.String(), `"attempts":1`) }, time.Second, 5*time.Millisecond)
}

func TestPoolFailureModes(t *testing.T) {
	tests := []struct {
		name     string
		decision epptest.Decision
		stop     bool
		noAddr   bool
	}{
		{name: "picker error", decision: epptest.Decision{Fail: true}},
		{name: "picker hangs past its timeout", decision: epptest.Decision{Hang: true}},
		{name: "picker down", stop: true},
		{name: "no pick", decision: epptest.Decision{Pick: ""}},
		{name: "invalid pick", decision: epptest.Decision{Pick: "not-an-ip:80"}},
		{name: "unresolvable picker", noAddr: true},
	}
	for _, tc := range tests {
		for _, mode := range []config.FailureMode{config.FailClose, config.FailOpen} {
			t.Run(tc.name+" "+string(mode), func(t *testing.T) {
				a := newFakeOpenAI(t, "a")
				picker := epptest.Start(t, epptest.Replace, func(map[string]string, []byte) epptest.Decision { return tc.decision })
				if tc.stop {
					picker.Stop()
				}
				pc := pickerAt(picker, mode)
				if tc.noAddr {
					pc.Address = ""
				}
				tg := newTestGateway(t, poolConfig(poolOf("default/pool", pc, a)))
				c := tg.client()
				resp, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
				if mode == config.FailOpen {
					require.NoError(t, err)
					require.Equal(t, "hello from a", resp.Choices[0].Message.Content)
					return
				}
				var apiErr *openai.Error
				require.True(t, errors.As(err, &apiErr), "%v", err)
				require.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
				require.Contains(t, apiErr.Message, "endpoint picker is unavailable")
				require.Empty(t, a.requests())
			})
		}
	}
}

func TestPoolImmediateResponses(t *testing.T) {
	a := newFakeOpenAI(t, "a")
	provider := newFakeOpenAI(t, "provider")
	code := 400
	picker := epptest.Start(t, epptest.Replace, func(map[string]string, []byte) epptest.Decision { return epptest.Decision{Immediate: code} })
	tg := newTestGateway(t, poolConfig(poolOf("default/pool", pickerAt(picker, config.FailClose), a), backendOf("default/provider", provider)))
	c := tg.client()
	_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
	var apiErr *openai.Error
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, 400, apiErr.StatusCode, "a 400 from the picker is the client's answer")
	require.Contains(t, apiErr.Message, "inference error: injected")
	require.Empty(t, provider.requests())

	for _, code = range []int{429, 503} {
		resp, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
		require.NoError(t, err, "a pool that sheds the request (%d) hands it to the next tier", code)
		require.Equal(t, "hello from provider", resp.Choices[0].Message.Content)
	}
	require.Empty(t, a.requests())
}

func TestPoolToProviderWhenEndpointsFail(t *testing.T) {
	a := newFakeOpenAI(t, "a")
	a.setFault("status=500")
	provider := newFakeOpenAI(t, "provider")
	picker := epptest.Start(t, epptest.Ack, func(map[string]string, []byte) epptest.Decision { return epptest.Decision{Pick: addrOf(a)} })
	tg := newTestGateway(t, poolConfig(poolOf("default/pool", pickerAt(picker, config.FailClose), a), backendOf("default/provider", provider)))
	c := tg.client()
	resp, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
	require.NoError(t, err)
	require.Equal(t, "hello from provider", resp.Choices[0].Message.Content)
	require.Len(t, a.requests(), 1)
}

func TestPoolWithoutPickerBalances(t *testing.T) {
	a, b := newFakeOpenAI(t, "a"), newFakeOpenAI(t, "b")
	// Long enough that the held request is still in flight while the next
	// three are served, also under -race on a loaded machine.
	a.setFault("slow-first-byte=2s")
	b.setFault("slow-first-byte=2s")
	tg := newTestGateway(t, poolConfig(poolOf("default/pool", nil, a, b)))
	c := tg.client()
	// Both endpoints' metrics known (and fresh scrapes after the held pick
	// keep it counted in flight): an endpoint not yet scraped scores
	// neutral, which can lose to a scraped idle one that is busy with the
	// held request.
	awaitScrapes(t, 2, a, b)
	done := make(chan error, 1)
	go func() {
		_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
		done <- err
	}()
	require.Eventually(t, func() bool { return len(a.requests())+len(b.requests()) == 1 }, 5*time.Second, time.Millisecond)
	a.setFault("")
	b.setFault("")
	idle := b
	if len(b.requests()) == 1 {
		idle = a
	}
	// While one request is in flight on one endpoint, the next ones go to
	// the other (least outstanding requests).
	for range 3 {
		_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
		require.NoError(t, err)
	}
	require.Len(t, idle.requests(), 3)
	require.NoError(t, <-done)
}

func TestPoolBarePickUsesATargetPort(t *testing.T) {
	a := newFakeOpenAI(t, "a")
	picker := epptest.Start(t, epptest.Ack, func(map[string]string, []byte) epptest.Decision {
		return epptest.Decision{Pick: "127.0.0.1", HeaderOnly: true}
	})
	tg := newTestGateway(t, poolConfig(poolOf("default/pool", pickerAt(picker, config.FailClose), a)))
	c := tg.client()
	_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
	require.NoError(t, err)
	require.Equal(t, []string{addrOf(a)}, picker.Served())
}

func TestSetPoolEndpoints(t *testing.T) {
	a, b := newFakeOpenAI(t, "a"), newFakeOpenAI(t, "b")
	tg := newTestGateway(t, poolConfig(poolOf("default/pool", nil, a)))
	host, port := b.hostPort()
	require.True(t, tg.SetPoolEndpoints("default/pool", []config.PoolEndpoint{{IP: host, Port: port}}))
	require.False(t, tg.SetPoolEndpoints("default/other", nil))
	c := tg.client()
	_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
	require.NoError(t, err)
	require.Len(t, b.requests(), 1)
	require.Empty(t, a.requests())
}

func TestPoolH2C(t *testing.T) {
	// A model server that speaks only HTTP/2 cleartext (as gRPC-style
	// servers behind appProtocol kubernetes.io/h2c do).
	f := newFakeOpenAI(t, "h2c")
	f.srv.Close()
	h2 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(w, "h2c only", http.StatusHTTPVersionNotSupported)
			return
		}
		f.serve(w, r)
	}))
	h2.Config.Protocols = new(http.Protocols)
	h2.Config.Protocols.SetUnencryptedHTTP2(true)
	h2.Start()
	t.Cleanup(h2.Close)
	f.srv = h2
	for _, proto := range []config.AppProtocol{config.AppProtocolH2C, config.AppProtocolHTTP} {
		t.Run(string(proto), func(t *testing.T) {
			b := poolOf("default/pool", nil, f)
			b.Pool.AppProtocol = proto
			tg := newTestGateway(t, poolConfig(b))
			resp, _ := post(t, tg.srv.URL+"/v1/chat/completions", `{"model":"m","messages":[]}`)
			if proto == config.AppProtocolH2C {
				require.Equal(t, http.StatusOK, resp.StatusCode)
			} else {
				require.NotEqual(t, http.StatusOK, resp.StatusCode, "HTTP/1.1 to an h2c-only server fails")
			}
		})
	}
}

func TestPoolRetryExcludesFailedEndpoints(t *testing.T) {
	bad, good := newFakeOpenAI(t, "bad"), newFakeOpenAI(t, "good")
	bad.setFault("status=503")
	picker := epptest.Start(t, epptest.Replace, func(map[string]string, []byte) epptest.Decision { return epptest.Decision{Pick: addrOf(bad)} })
	b := poolOf("default/pool", pickerAt(picker, config.FailClose), bad, good)
	cfg := poolConfig(b)
	cfg.Routes[0].Rules[0].Retry.NumRetries = 1 // a second attempt on the same pool
	tg := newTestGateway(t, cfg)
	resp, _ := post(t, tg.srv.URL+"/v1/chat/completions", `{"model":"m","messages":[]}`)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "this picker insists on the bad endpoint")
	require.Equal(t, [][]string{nil, {addrOf(good)}}, picker.Subsets(), "the retry asks the picker for an endpoint other than the failed one")
}

func TestPoolControlHeaders(t *testing.T) {
	a := newFakeOpenAI(t, "a")
	var seen map[string]string
	picker := epptest.Start(t, epptest.Ack, func(h map[string]string, _ []byte) epptest.Decision {
		seen = h
		return epptest.Decision{Pick: addrOf(a)}
	})
	pc := pickerAt(picker, config.FailClose)
	pc.ClientHeaders = []string{"x-gateway-inference-objective"}
	tg := newTestGateway(t, poolConfig(poolOf("default/pool", pc, a)))
	req, _ := http.NewRequest(http.MethodPost, tg.srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[]}`))
	req.Header.Set("X-Gateway-Inference-Objective", "critical")
	req.Header.Set("X-Gateway-Inference-Fairness-Id", "someone-else")
	req.Header.Set("X-Gateway-Model-Name-Rewrite", "expensive-model")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "critical", seen["x-gateway-inference-objective"], "allowed by the pool")
	require.NotContains(t, seen, "x-gateway-inference-fairness-id")
	require.NotContains(t, seen, "x-gateway-model-name-rewrite")
	require.Empty(t, a.requests()[0].Header.Get("X-Gateway-Model-Name-Rewrite"), "nor does the pod get it")
}

// TestPoolSchedulerReadsMetrics checks the gateway's own picking (a pool
// without a picker) uses the model servers' scraped queue lengths.
func TestPoolSchedulerReadsMetrics(t *testing.T) {
	busy, idle := newFakeOpenAI(t, "busy"), newFakeOpenAI(t, "idle")
	busy.setWaiting(20)
	tg := newTestGateway(t, poolConfig(poolOf("default/pool", nil, busy, idle)))
	c := tg.client()
	// Until the first scrape lands, metrics are unknown and picks spread;
	// wait until the scheduler has seen the busy queue.
	require.Eventually(t, func() bool {
		n := len(idle.requests())
		for range 5 {
			if _, err := c.Chat.Completions.New(context.Background(), chatParams("m")); err != nil {
				return false
			}
		}
		return len(idle.requests()) == n+5
	}, 10*time.Second, 50*time.Millisecond, "picks never settled on the idle server")
	before := len(busy.requests())
	for range 10 {
		_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
		require.NoError(t, err)
	}
	require.Equal(t, before, len(busy.requests()), "the server with a long queue gets nothing")
}

// TestReloadRetiresPickerConnections checks that a reload dropping a pool's
// picker closes its connection, a rejected reload keeps the pickers in
// force, and a picker kept across reloads keeps its connection.
func TestReloadRetiresPickerConnections(t *testing.T) {
	a := newFakeOpenAI(t, "a")
	decide := func(map[string]string, []byte) epptest.Decision { return epptest.Decision{Pick: addrOf(a)} }
	p1, p2 := epptest.Start(t, epptest.Replace, decide), epptest.Start(t, epptest.Replace, decide)
	tg := newTestGateway(t, poolConfig(poolOf("default/pool", pickerAt(p1, config.FailClose), a)))
	send := func() {
		resp, err := http.Post(tg.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[]}`))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	send()
	require.Equal(t, 1, tg.pipeline.Pools().PickerConns())

	require.NoError(t, tg.Apply(poolConfig(poolOf("default/pool", pickerAt(p2, config.FailClose), a))))
	require.Equal(t, 1, tg.pipeline.Pools().PickerConns(), "the first picker's connection is retired")
	send()
	require.Equal(t, 1, p1.Requests())
	require.Equal(t, 1, p2.Requests())

	broken := poolConfig(poolOf("default/pool", pickerAt(p1, config.FailClose), a))
	broken.Routes[0].Rules[0].BackendRefs[0].Backend = "default/missing"
	require.Error(t, tg.Apply(broken))
	require.Equal(t, 1, tg.pipeline.Pools().PickerConns(), "a rejected configuration's pickers are not kept")
	send()
	require.Equal(t, 2, p2.Requests())

	require.NoError(t, tg.Apply(poolConfig(poolOf("default/pool", nil, a))))
	require.Zero(t, tg.pipeline.Pools().PickerConns())
	send()
}

// TestPoolSchedulerConfig checks that a pool's EndpointPickerConfig drives
// the gateway's own picking (round robin here, which is deterministic), and
// that changing it on reload takes effect.
func TestPoolSchedulerConfig(t *testing.T) {
	a, b := newFakeOpenAI(t, "a"), newFakeOpenAI(t, "b")
	pool := poolOf("default/pool", nil, a, b)
	pool.Pool.Scheduler = schedulerSpec(t, "plugins: [{type: round-robin-picker}]")
	tg := newTestGateway(t, poolConfig(pool))
	served := func(n int) []string {
		var out []string
		for range n {
			resp, err := http.Post(tg.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[]}`))
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			out = append(out, resp.Header.Get("X-Served-By"))
		}
		return out
	}
	got := served(4)
	require.NotEqual(t, got[0], got[1], "round robin alternates: %v", got)
	require.Equal(t, []string{got[0], got[1], got[0], got[1]}, got)

	// A configuration the scheduler cannot build is rejected; the running
	// one stays.
	bad := poolOf("default/pool", nil, a, b)
	bad.Pool.Scheduler = &config.Scheduler{Scorers: []config.WeightedScorer{{Type: "magic", Weight: 1}}, Picker: scheduler.PluginMaxScorePicker}
	require.ErrorContains(t, tg.Apply(poolConfig(bad)), `"magic" is not a scorer`)
	got = served(2)
	require.NotEqual(t, got[0], got[1])
}

// TestPoolOwnPickPolicy checks that the gateway's own picking applies the
// pool's InferenceModelRewrites (a rule beats the rewrite header) and
// InferenceObjectives (a sheddable objective set by the route gets 429
// once every endpoint is saturated; a client cannot name an objective the
// pool does not let it send).
func TestPoolOwnPickPolicy(t *testing.T) {
	a := newFakeOpenAI(t, "a")
	backend := poolOf("default/pool", nil, a)
	backend.Pool.Objectives = map[string]int{"batch": -1}
	backend.Pool.ModelRewrites = []config.ModelRewrite{
		{Models: []string{"m"}, Targets: []config.ModelRewriteTarget{{Model: "m-v2"}}, Source: "InferenceModelRewrite default/canary rules[0]"},
	}
	cfg := poolConfig(backend)
	// A second route for the same pool whose requests are sheddable.
	shed := modelRule("batch-m", config.BackendRef{Backend: backend.Name, Weight: 1,
		HeaderMutation: &config.HeaderMutation{Set: []config.HeaderValue{{Name: "x-gateway-inference-objective", Value: "batch"}}}})
	cfg.Routes[0].Rules = append(cfg.Routes[0].Rules, shed)
	tg := newTestGateway(t, cfg)
	postBody := func(body string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, tg.srv.URL+"/v1/chat/completions", strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	post := func(model string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		return postBody(`{"model":"`+model+`","messages":[]}`, hdr)
	}

	resp, body := post("m", map[string]string{"X-Gateway-Model-Name-Rewrite": "other"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "m-v2", a.requests()[0].Body["model"], "the rule rewrote the model")
	require.Contains(t, body, `"model":"m"`, "the client gets its model name back, as from GAIE's picker")
	require.NotContains(t, body, "m-v2")
	resp, body = postBody(`{"model":"m","messages":[],"stream":true}`, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "m-v2", a.requests()[1].Body["model"])
	require.Contains(t, body, `"model":"m"`, "in every event of a stream")
	require.NotContains(t, body, "m-v2")

	a.setWaiting(50) // every endpoint saturated (GAIE's default queue threshold is 5)
	// A scrape that read the old queue before setWaiting may land after it
	// (and a stale scrape also counts as saturated): only once a scrape that
	// began after setWaiting is in the scheduler is "saturated" settled. The
	// scraper is sequential, so the third scrape served from now is past
	// the second, which began after the first finished.
	awaitScrapes(t, 3, a)
	require.Eventually(t, func() bool {
		resp, _ := post("batch-m", nil)
		return resp.StatusCode == http.StatusTooManyRequests
	}, 10*time.Second, 20*time.Millisecond, "the sheddable route was never shed")
	resp, body = post("batch-m", nil)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Contains(t, body, `"type":"rate_limit_error"`)
	require.Contains(t, body, "sheddable request dropped")

	resp, _ = post("m", map[string]string{"X-Gateway-Inference-Objective": "batch"})
	require.Equal(t, http.StatusOK, resp.StatusCode, "a client-sent objective is dropped: the request is not sheddable")
	require.Equal(t, http.StatusOK, func() int { r, _ := post("m", nil); return r.StatusCode }(), "priority 0 is served while saturated")
}

// TestPoolOwnPickFlowControl checks the gateway's own picking with GAIE's
// flowControl feature gate: while every endpoint is saturated a request
// waits instead of piling onto a server, a full queue answers 429, and the
// waiting request is served once the server drains.
func TestPoolOwnPickFlowControl(t *testing.T) {
	a := newFakeOpenAI(t, "a")
	a.setWaiting(50)
	backend := poolOf("default/pool", nil, a)
	backend.Pool.Scheduler = schedulerSpec(t, `featureGates: [flowControl]
flowControl: {maxRequests: 1}
plugins: [{type: queue-scorer}, {type: kv-cache-utilization-scorer}]
`)
	tg := newTestGateway(t, poolConfig(backend))
	post := func() (*http.Response, string) {
		resp, err := http.Post(tg.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[]}`))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	held := make(chan int, 1)
	require.Eventually(t, func() bool {
		// Once the gateway has scraped the saturated server, a request waits.
		go func() { r, _ := post(); held <- r.StatusCode }()
		select {
		case code := <-held: // served before the first scrape
			if code != http.StatusOK {
				t.Errorf("status %d before the pool was seen saturated", code)
			}
			return false
		case <-time.After(100 * time.Millisecond):
			return true
		}
	}, 10*time.Second, time.Millisecond, "no request was ever held")
	served := len(a.requests())

	resp, body := post()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, body)
	require.Contains(t, body, `"code":"queue_full"`)

	a.setWaiting(0)
	select {
	case code := <-held:
		require.Equal(t, http.StatusOK, code)
	case <-time.After(10 * time.Second):
		t.Fatal("the held request was never served")
	}
	require.Len(t, a.requests(), served+1)
}

// TestPoolOwnPickReadsUnparsedModel checks that a request of an HTTPRoute
// (forwarded without parsing) still gets the pool's rewrite rules and LoRA
// affinity: the gateway reads the body's model for its own pick.
func TestPoolOwnPickReadsUnparsedModel(t *testing.T) {
	a := newFakeOpenAI(t, "a")
	backend := poolOf("default/pool", nil, a)
	backend.Pool.ModelRewrites = []config.ModelRewrite{{Targets: []config.ModelRewriteTarget{{Model: "base"}}}} // generic
	cfg := &config.Config{Version: config.Version, Backends: []config.Backend{backend},
		Routes: []config.Route{{Name: "default/httproute", PassThrough: true, Rules: []config.Rule{{
			Name:        "all",
			Matches:     []config.Match{{Path: &config.PathMatch{Type: config.PathMatchPathPrefix, Value: "/"}}},
			BackendRefs: []config.BackendRef{{Backend: backend.Name, Weight: 1}},
			Retry:       config.RetryPolicy{NumAttemptsPerPriority: 1},
		}}}}}
	tg := newTestGateway(t, cfg)
	for _, body := range []string{
		`{"messages":[{"role":"user","content":"hi"}],"model":"adapter-1"}`,
		`{"model":"adapter-2","messages":[]}`,
	} {
		resp, err := http.Post(tg.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	resp, err := http.Post(tg.srv.URL+"/v1/completions", "text/plain", strings.NewReader("not json"))
	require.NoError(t, err)
	resp.Body.Close()
	reqs := a.requests()
	require.Len(t, reqs, 3)
	require.Equal(t, "base", reqs[0].Body["model"])
	require.Equal(t, "base", reqs[1].Body["model"])
	require.Nil(t, reqs[2].Body, "a body without a model is forwarded as it came")
}

// schedulerSpec compiles an EndpointPickerConfig as the control plane does.
func schedulerSpec(t *testing.T, yaml string) *config.Scheduler {
	t.Helper()
	cfg, _, err := scheduler.ParsePickerConfig([]byte(yaml), scheduler.DefaultConfig())
	require.NoError(t, err)
	spec, err := scheduler.Spec(cfg)
	require.NoError(t, err)
	return spec
}
