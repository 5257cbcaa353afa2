package k8s

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/httpproxy"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// BenchmarkLargePromptTTFT is GAIE issue #2928's case: 220 KB prompts from
// 150 concurrent streaming clients, time to first token measured direct to
// the model servers and through the gateway asking GAIE's EPP v1.5.0, in
// one run, and through the gateway picking by itself (no picker), which
// separates the gateway's share from the picker's, and through the gateway
// asking aigw epp (echoing the body as GAIE's EPP does, or acknowledging
// it), beside a plain httputil.ReverseProxy; each once with requests one at
// a time (the latency a request pays) and once as a burst of 150 clients
// (what CPU contention on 2 cores adds). It reports p50/p90 TTFT of each.
// Run it with
//
//	go test ./tests/k8s -run '^$' -bench LargePromptTTFT -benchtime 1x
func BenchmarkLargePromptTTFT(b *testing.B) {
	env := testenv.StartEnv(b)
	opts := simOptions()
	// No simulated model latency: TTFT is then what the transport, the
	// gateway and the picker cost, which is what this measures. (With GPU-like
	// latencies four servers saturate on these prompts and queueing hides
	// everything else: both paths measured ~75 s p50.)
	opts.TimeScale = 0
	var addrs []string
	for i, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.7", "127.0.0.8"} {
		s := testenv.StartSim(b, endpoint(ip), opts)
		addrs = append(addrs, s.Addr)
		env.CreateReadyPod(b, testenv.Pod{Name: fmt.Sprintf("vllm-%d", i), Labels: poolLabels, IP: ip, Port: serverPort})
	}
	env.CreateService(b, testenv.Service{Name: pickerName, Selector: map[string]string{"app": pickerName}, Port: 9052})
	env.CreatePool(b, testenv.Pool{Name: poolName, Selector: poolLabels, TargetPorts: []int32{serverPort}, EndpointPicker: pickerName, EndpointPickerPort: 9052})
	picker := testenv.StartEPP(b, testenv.PickerOptions{Kubeconfig: env.Kubeconfig, PoolName: poolName, GRPCPort: 9052, HealthPort: 9053, MetricsPort: 9054})
	pool := &config.Pool{Name: "default/" + poolName, TargetPorts: []int32{serverPort},
		EndpointPicker: &config.EndpointPicker{Name: "default/" + pickerName, Address: picker.Addr, FailureMode: config.FailClose, MessageTimeout: config.Duration(time.Minute)}}
	for _, a := range addrs {
		ip, _, _ := strings.Cut(a, ":")
		pool.Endpoints = append(pool.Endpoints, config.PoolEndpoint{IP: ip, Port: serverPort})
	}
	gw := poolGateway(b, []*config.Pool{pool}, []int32{1})
	// aigw epp, echoing bodies as GAIE's EPP does (what Envoy needs) and
	// acknowledging them (what aigw's gateway allows: it keeps its copy).
	aigwEPP := func(port int, extra ...string) *httptest.Server {
		startAigwEPP(b, append([]string{"--endpoints=" + strings.Join(addrs, ","), "--secure-serving=false", fmt.Sprintf("--grpc-port=%d", port), fmt.Sprintf("--grpc-health-port=%d", port+1), "--metrics-port=0"}, extra...)...)
		p := *pool
		p.EndpointPicker = &config.EndpointPicker{Name: "default/aigw-epp", Address: fmt.Sprintf("127.0.0.1:%d", port), FailureMode: config.FailClose, MessageTimeout: config.Duration(time.Minute)}
		return poolGateway(b, []*config.Pool{&p}, []int32{1})
	}
	gwEcho := aigwEPP(9072)
	gwAck := aigwEPP(9074, "--ack-request-body")
	// The same two paths with model routing, so the gateway parses the body
	// (the rows above are HTTPRoute-style: no parsing).
	gwOwnParsed := parsedPoolGateway(b, withoutPicker(pool))
	ackPool := *pool
	startAigwEPP(b, "--endpoints="+strings.Join(addrs, ","), "--secure-serving=false", "--grpc-port=9076", "--grpc-health-port=9077", "--metrics-port=0", "--ack-request-body")
	ackPool.EndpointPicker = &config.EndpointPicker{Name: "default/aigw-epp", Address: "127.0.0.1:9076", FailureMode: config.FailClose, MessageTimeout: config.Duration(time.Minute)}
	gwAckParsed := parsedPoolGateway(b, &ackPool)
	gwOwn := poolGateway(b, []*config.Pool{withoutPicker(pool)}, []int32{1})

	// The baseline proxy: httputil.ReverseProxy round-robin over the pods.
	var next atomic.Uint64
	rp := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.Out.URL.Scheme, pr.Out.URL.Host = "http", addrs[next.Add(1)%uint64(len(addrs))]
	}})
	b.Cleanup(rp.Close)

	prompt := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 220<<10/45)
	// One request's TTFT: the first SSE line of a streamed chat completion.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	ttft := func(url string, id int) (time.Duration, error) {
		body := fmt.Sprintf(`{"model":%q,"stream":true,"max_tokens":16,"messages":[{"role":"user","content":"request %d %s"}]}`, model, id, prompt)
		start := time.Now()
		resp, err := client.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		d := time.Since(start)
		if err != nil || !strings.HasPrefix(line, "data:") {
			return 0, fmt.Errorf("status %d, first line %q, %v", resp.StatusCode, line, err)
		}
		return d, nil
	}
	// burst: 150 clients send 2 requests each back to back (CPU-bound on
	// 2 cores: every extra microsecond of CPU per request queues the rest).
	burst := func(target func(i int) string) []time.Duration {
		const clients, perClient = 150, 2
		var mu sync.Mutex
		var out []time.Duration
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				for r := range perClient {
					d, err := ttft(target(c*perClient+r), c*perClient+r)
					if err != nil {
						b.Error(err)
						return
					}
					mu.Lock()
					out = append(out, d)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		slices.Sort(out)
		return out
	}
	// sequential: one request at a time, the latency a request pays on an
	// idle machine.
	sequential := func(target func(i int) string) []time.Duration {
		var out []time.Duration
		for i := range 30 {
			d, err := ttft(target(i), i)
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, d)
		}
		slices.Sort(out)
		return out
	}
	pct := func(d []time.Duration, p int) float64 {
		if len(d) == 0 {
			return 0
		}
		return float64(d[(len(d)-1)*p/100]) / 1e6
	}
	targets := []struct {
		name string
		url  func(i int) string
	}{
		{"direct", func(i int) string { return "http://" + addrs[i%len(addrs)] }}, // round robin
		{"reverseproxy", func(int) string { return rp.URL }},
		{"gateway-own-pick", func(int) string { return gwOwn.URL }},
		{"gateway+aigw-epp-ack", func(int) string { return gwAck.URL }},
		{"parsed/own-pick", func(int) string { return gwOwnParsed.URL }},
		{"parsed/aigw-epp-ack", func(int) string { return gwAckParsed.URL }},
		{"gateway+aigw-epp", func(int) string { return gwEcho.URL }},
		{"gateway+gaie-epp", func(int) string { return gw.URL }},
	}
	// Three rounds, the targets interleaved in each, samples pooled per
	// target: machine noise then spreads over every target alike.
	const rounds = 3
	for b.Loop() {
		seq := make([][]time.Duration, len(targets))
		bu := make([][]time.Duration, len(targets))
		for _, t := range targets {
			_ = sequential(t.url) // warm connections and caches
		}
		for range rounds {
			for i, t := range targets {
				seq[i] = append(seq[i], sequential(t.url)...)
				bu[i] = append(bu[i], burst(t.url)...)
			}
		}
		for i, t := range targets {
			slices.Sort(seq[i])
			slices.Sort(bu[i])
			b.ReportMetric(pct(seq[i], 50), t.name+"-seq-p50-ms")
			b.ReportMetric(pct(bu[i], 50), t.name+"-burst-p50-ms")
			b.ReportMetric(pct(bu[i], 90), t.name+"-burst-p90-ms")
			b.Logf("%-22s sequential p50 %7.2f ms (+%5.2f) p90 %7.2f ms | burst p50 %7.1f ms (+%6.1f) p90 %7.1f ms (+%6.1f)", t.name,
				pct(seq[i], 50), pct(seq[i], 50)-pct(seq[0], 50), pct(seq[i], 90),
				pct(bu[i], 50), pct(bu[i], 50)-pct(bu[0], 50), pct(bu[i], 90), pct(bu[i], 90)-pct(bu[0], 90))
		}
	}
}

// withoutPicker returns a copy of p that the gateway picks for itself.
func withoutPicker(p *config.Pool) *config.Pool {
	c := *p
	c.EndpointPicker = nil
	return &c
}

// parsedPoolGateway serves pool behind a model route (x-ai-eg-model =
// model), so that the gateway parses each body, as for an AIGatewayRoute.
func parsedPoolGateway(b *testing.B, p *config.Pool) *httptest.Server {
	b.Helper()
	name := p.Name + "/infpool"
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{{Name: name, Schema: config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"}, Pool: p}},
		Routes: []config.Route{{Name: "default/route", Rules: []config.Rule{{Name: "model",
			Matches:     []config.Match{{Headers: []config.HeaderMatch{{Type: config.HeaderMatchExact, Name: "x-ai-eg-model", Value: model}}}},
			BackendRefs: []config.BackendRef{{Backend: name, Weight: 1}},
			Retry:       config.RetryPolicy{NumAttemptsPerPriority: 1}}}}},
	}
	g := httpproxy.New(httpproxy.Options{})
	if err := g.Apply(cfg); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(g)
	b.Cleanup(func() { srv.Close(); g.Close() })
	return srv
}
