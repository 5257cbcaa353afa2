package k8s

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/httpproxy"
	"github.com/aigw-dev/aigw/internal/sim"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// The gateway as the pickers' client: the data plane in-process (what
// `aigw run` serves), configured with the pool the API server holds, in
// front of the simulators, asking a real GAIE picker for every request.

// gatewayFor serves a gateway whose only model route goes to the pool, whose
// picker is at addr.
func gatewayFor(t *testing.T, picker *testenv.Picker, mode config.FailureMode) *httptest.Server {
	t.Helper()
	pool := &config.Pool{
		Name: "default/" + poolName, TargetPorts: []int32{serverPort},
		EndpointPicker: &config.EndpointPicker{
			Name: "default/" + pickerName, Address: picker.Addr, FailureMode: mode,
			MessageTimeout: config.Duration(5 * time.Second),
		},
	}
	if picker.TLS {
		pool.EndpointPicker.TLS = &config.EndpointPickerTLS{}
	}
	for i, ip := range podIPs {
		pool.Endpoints = append(pool.Endpoints, config.PoolEndpoint{Pod: fmt.Sprintf("default/vllm-%d", i), IP: ip, Port: serverPort})
	}
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{{Name: "default/pool", Schema: config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"}, Pool: pool}},
		Routes: []config.Route{{Name: "default/route", Rules: []config.Rule{{
			Name:        "rule-0",
			Matches:     []config.Match{{Headers: []config.HeaderMatch{{Type: config.HeaderMatchExact, Name: "x-ai-eg-model", Value: model}}}},
			BackendRefs: []config.BackendRef{{Backend: "default/pool", Weight: 1}},
			Timeouts:    config.Timeouts{Request: config.Duration(30 * time.Second)},
			Retry:       config.RetryPolicy{NumRetries: 0, NumAttemptsPerPriority: 1},
		}}}},
	}
	g := httpproxy.New(httpproxy.Options{})
	require.NoError(t, g.Apply(cfg))
	srv := httptest.NewServer(g)
	t.Cleanup(func() { srv.Close(); g.Close() })
	return srv
}

func chatRequest(t *testing.T, url, steer string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(`{"model":"`+model+`","max_tokens":4,"messages":[{"role":"user","content":"Hello from the conformance suite"}]}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if steer != "" {
		req.Header.Set(steeringHeader, steer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

// TestGatewayWithLWEPP reproduces GAIE's data-plane conformance tests with
// the conformance picker itself: following the pick, the served-endpoint
// report, and both failure modes with the picker really gone.
func TestGatewayWithLWEPP(t *testing.T) {
	env := testenv.StartEnv(t)
	modelServers(t, simOptions())
	createPool(t, env, 9002)
	picker := testenv.StartLWEPP(t, testenv.PickerOptions{
		Kubeconfig: env.Kubeconfig, PoolName: poolName, GRPCPort: 9002, HealthPort: 9003, MetricsPort: 9090, TLS: true,
	})
	waitForEndpoints(t, picker.Dial(t), model, endpoint(podIPs[0]), endpoint(podIPs[1]))
	gw := gatewayFor(t, picker, config.FailClose)

	t.Run("GatewayFollowingEPPRouting", func(t *testing.T) {
		for _, allowed := range [][]string{{podIPs[1]}, {podIPs[0]}, podIPs} {
			steer := strings.Join(allowed, ",")
			var mu sync.Mutex
			served := map[string]int{}
			var wg sync.WaitGroup
			work := make(chan struct{})
			for range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range work {
						resp := chatRequest(t, gw.URL, steer)
						mu.Lock()
						served[resp.Header.Get(sim.HeaderInstance)+"|"+fmt.Sprint(resp.StatusCode)]++
						mu.Unlock()
					}
				}()
			}
			for range 100 {
				work <- struct{}{}
			}
			close(work)
			wg.Wait()
			total := 0
			for k, n := range served {
				total += n
				ip, status, _ := strings.Cut(k, "|")
				require.Equal(t, "200", status, "%v", served)
				require.Contains(t, allowed, strings.Split(ip, ":")[0], "served by a pod outside %v: %v", allowed, served)
			}
			require.Equal(t, 100, total)
		}
	})

	t.Run("GatewayDestinationEndpointServed", func(t *testing.T) {
		for _, ip := range podIPs {
			resp := chatRequest(t, gw.URL, ip)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, endpoint(ip), resp.Header.Get(conformanceHeader), "the picker's response header mutation carries the served endpoint")
		}
	})

	t.Run("streaming through the picker", func(t *testing.T) {
		c := openai.NewClient(option.WithBaseURL(gw.URL+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
		s := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
			Model: model, MaxTokens: openai.Int(8), Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream me please")},
		})
		n := 0
		for s.Next() {
			n++
		}
		require.NoError(t, s.Err())
		require.Greater(t, n, 2)
	})

	t.Run("EppUnAvailable", func(t *testing.T) {
		failOpen := gatewayFor(t, picker, config.FailOpen)
		require.Equal(t, http.StatusOK, chatRequest(t, failOpen.URL, "").StatusCode)
		picker.Stop(t)
		for range 5 {
			require.Equal(t, http.StatusOK, chatRequest(t, failOpen.URL, "").StatusCode, "FailOpen serves with the picker gone")
			require.Equal(t, http.StatusServiceUnavailable, chatRequest(t, gw.URL, "").StatusCode, "FailClose answers 503")
		}
	})
}

// TestGatewayWithEPP routes through GAIE's full picker (v1.5.0), which
// scrapes the simulators' metrics: with one pod busy, the gateway's
// requests go to the idle one.
func TestGatewayWithEPP(t *testing.T) {
	env := testenv.StartEnv(t)
	opts := simOptions()
	opts.TimeScale = 1
	opts.TimeToFirstToken = time.Hour // held requests stay in flight
	busyOpts := opts
	sims := map[string]*testenv.Sim{}
	for i, ip := range podIPs {
		o := simOptions()
		if i == 0 {
			o = busyOpts
		}
		s := testenv.StartSim(t, endpoint(ip), o)
		sims[s.Addr] = s
	}
	createPool(t, env, 9012)
	picker := testenv.StartEPP(t, testenv.PickerOptions{
		Kubeconfig: env.Kubeconfig, PoolName: poolName, GRPCPort: 9012, HealthPort: 9013, MetricsPort: 9092,
	})
	gw := gatewayFor(t, picker, config.FailClose)

	// Hold requests on the first pod, directly.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	busy := sims[endpoint(podIPs[0])]
	for i := range 4 {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, busy.URL+"/v1/chat/completions",
				strings.NewReader(fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hold %d"}]}`, model, i)))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	require.Eventually(t, func() bool {
		s := busy.Instance.Snapshot()
		return s.Running+s.Waiting >= 4
	}, 10*time.Second, 10*time.Millisecond)
	// Wait until the picker has scraped the busy pod's new state.
	seen := busy.MetricsScrapes()
	require.Eventually(t, func() bool { return busy.MetricsScrapes() > seen+2 }, 10*time.Second, 10*time.Millisecond)

	for i := range 6 {
		resp := chatRequest(t, gw.URL, "")
		require.Equal(t, http.StatusOK, resp.StatusCode, "request %d", i)
		require.Equal(t, endpoint(podIPs[1]), resp.Header.Get(sim.HeaderInstance), "request %d: the picker sends it to the idle pod", i)
		require.Equal(t, "true", resp.Header.Get("X-Went-Into-Resp-Headers"), "the picker saw the response")
	}
}

// TestGatewayDataParallelWithLWEPP is GAIE's
// GatewayFollowingEPPRoutingWithDataParallelism: one pod with three target
// ports (ranks); a pick of "ip:port" lands on that rank, a bare "ip" on
// one of the pod's ranks.
func TestGatewayDataParallelWithLWEPP(t *testing.T) {
	env := testenv.StartEnv(t)
	const ip = "127.0.0.4"
	ranks := []int32{8000, 8002, 8004}
	for _, port := range ranks {
		testenv.StartSim(t, fmt.Sprintf("%s:%d", ip, port), simOptions())
	}
	labels := map[string]string{"app": "dp"}
	env.CreateReadyPod(t, testenv.Pod{Name: "dp-0", Labels: labels, IP: ip, Port: ranks[0], MorePorts: ranks[1:]})
	env.CreateService(t, testenv.Service{Name: "dp-epp", Selector: map[string]string{"app": "dp-epp"}, Port: 9022})
	env.CreatePool(t, testenv.Pool{Name: "dp-pool", Selector: labels, TargetPorts: ranks, EndpointPicker: "dp-epp", EndpointPickerPort: 9022})
	picker := testenv.StartLWEPP(t, testenv.PickerOptions{
		Kubeconfig: env.Kubeconfig, PoolName: "dp-pool", GRPCPort: 9022, HealthPort: 9023, MetricsPort: 9094,
	})
	pool := &config.Pool{Name: "default/dp-pool", TargetPorts: ranks,
		EndpointPicker: &config.EndpointPicker{Name: "default/dp-epp", Address: picker.Addr, FailureMode: config.FailClose}}
	for _, port := range ranks {
		pool.Endpoints = append(pool.Endpoints, config.PoolEndpoint{Pod: "default/dp-0", IP: ip, Port: port})
	}
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{{Name: "default/dp", Schema: config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"}, Pool: pool}},
		Routes: []config.Route{{Name: "default/dp", PassThrough: true, Rules: []config.Rule{{
			Name: "all", Matches: []config.Match{{Path: &config.PathMatch{Type: config.PathMatchPathPrefix, Value: "/"}}},
			BackendRefs: []config.BackendRef{{Backend: "default/dp", Weight: 1}},
			Retry:       config.RetryPolicy{NumAttemptsPerPriority: 1},
		}}}},
	}
	g := httpproxy.New(httpproxy.Options{})
	require.NoError(t, g.Apply(cfg))
	gw := httptest.NewServer(g)
	t.Cleanup(func() { gw.Close(); g.Close() })

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.Equal(c, http.StatusOK, chatRequest(t, gw.URL, ip).StatusCode)
	}, 30*time.Second, 100*time.Millisecond, "lwepp never saw the pod")
	for _, port := range ranks {
		steer := fmt.Sprintf("%s:%d", ip, port)
		for range 5 {
			resp := chatRequest(t, gw.URL, steer)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, steer, resp.Header.Get(sim.HeaderInstance), "an ip:port pick lands on that rank")
			require.Equal(t, steer, resp.Header.Get(conformanceHeader))
		}
	}
	for range 6 {
		resp := chatRequest(t, gw.URL, ip)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.True(t, strings.HasPrefix(resp.Header.Get(sim.HeaderInstance), ip+":"), "a bare-ip pick lands on one of the pod's ranks")
	}
}

// poolGateway serves a gateway whose HTTPRoute-style rule splits traffic
// over the given pools by weight.
func poolGateway(t testing.TB, pools []*config.Pool, weights []int32) *httptest.Server {
	t.Helper()
	cfg := &config.Config{Version: config.Version}
	rule := config.Rule{Name: "split", Matches: []config.Match{{Path: &config.PathMatch{Type: config.PathMatchPathPrefix, Value: "/"}}},
		Retry: config.RetryPolicy{NumAttemptsPerPriority: 1}}
	for i, p := range pools {
		name := p.Name + "/infpool"
		cfg.Backends = append(cfg.Backends, config.Backend{Name: name, Schema: config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"}, Pool: p})
		rule.BackendRefs = append(rule.BackendRefs, config.BackendRef{Backend: name, Weight: weights[i]})
	}
	cfg.Routes = []config.Route{{Name: "default/route", PassThrough: true, Rules: []config.Rule{rule}}}
	g := httpproxy.New(httpproxy.Options{})
	require.NoError(t, g.Apply(cfg))
	srv := httptest.NewServer(g)
	t.Cleanup(func() { srv.Close(); g.Close() })
	return srv
}

// TestGatewayWeightedPoolsAndH2C covers GAIE's
// GatewayWeightedAcrossTwoInferencePools (70/30 over two pools, each asked
// through its own lwepp, the steering header naming endpoints of both so
// that each picker keeps to its own) and InferencePoolAppProtocol (h2c).
func TestGatewayWeightedPoolsAndH2C(t *testing.T) {
	env := testenv.StartEnv(t)
	type poolSpec struct {
		name, ip string
		port     int32
		proto    config.AppProtocol
		grpc     int
	}
	specs := []poolSpec{
		{name: "pool-a", ip: "127.0.0.5", port: 8000, proto: config.AppProtocolHTTP, grpc: 9032},
		{name: "pool-b", ip: "127.0.0.6", port: 8001, proto: config.AppProtocolH2C, grpc: 9042},
	}
	var pools []*config.Pool
	for _, s := range specs {
		testenv.StartSim(t, fmt.Sprintf("%s:%d", s.ip, s.port), simOptions())
		labels := map[string]string{"app": s.name}
		env.CreateReadyPod(t, testenv.Pod{Name: s.name + "-0", Labels: labels, IP: s.ip, Port: s.port})
		env.CreateService(t, testenv.Service{Name: s.name + "-epp", Selector: map[string]string{"app": s.name + "-epp"}, Port: int32(s.grpc)})
		env.CreatePool(t, testenv.Pool{Name: s.name, Selector: labels, TargetPorts: []int32{s.port}, EndpointPicker: s.name + "-epp", EndpointPickerPort: int32(s.grpc)})
		picker := testenv.StartLWEPP(t, testenv.PickerOptions{Kubeconfig: env.Kubeconfig, PoolName: s.name, GRPCPort: s.grpc, HealthPort: s.grpc + 1, MetricsPort: s.grpc + 2})
		waitForEndpoints(t, picker.Dial(t), model, fmt.Sprintf("%s:%d", s.ip, s.port))
		pools = append(pools, &config.Pool{
			Name: "default/" + s.name, TargetPorts: []int32{s.port}, AppProtocol: s.proto,
			Endpoints:      []config.PoolEndpoint{{IP: s.ip, Port: s.port}},
			EndpointPicker: &config.EndpointPicker{Name: "default/" + s.name + "-epp", Address: picker.Addr, FailureMode: config.FailClose},
		})
	}
	gw := poolGateway(t, pools, []int32{70, 30})
	steer := specs[0].ip + "," + specs[1].ip
	const n = 200
	counts := map[string]int{}
	for range n {
		resp := chatRequest(t, gw.URL, steer)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		served := resp.Header.Get(sim.HeaderInstance)
		require.Equal(t, served, resp.Header.Get(conformanceHeader), "served by the pool the request was sent to")
		proto := resp.Header.Get(testenv.HeaderProto)
		switch served {
		case fmt.Sprintf("%s:%d", specs[0].ip, specs[0].port):
			require.Equal(t, "HTTP/1.1", proto, "appProtocol http")
		case fmt.Sprintf("%s:%d", specs[1].ip, specs[1].port):
			require.Equal(t, "HTTP/2.0", proto, "appProtocol kubernetes.io/h2c")
		default:
			t.Fatalf("served by %q", served)
		}
		counts[served]++
	}
	// GAIE's tolerance: max(0.10, 4.5σ) of the expected share.
	share := float64(counts[fmt.Sprintf("%s:%d", specs[0].ip, specs[0].port)]) / n
	require.InDelta(t, 0.70, share, 0.15, "%v", counts)
}
