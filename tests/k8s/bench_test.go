package k8s

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// BenchmarkLargePromptTTFT is GAIE issue #2928's case: 220 KB prompts from
// 150 concurrent streaming clients, time to first token measured direct to
// the model servers and through the gateway asking GAIE's EPP v1.5.0, in
// one run, and through the gateway picking by itself (no picker), which
// separates the gateway's share from the picker's, and through the gateway
// asking aigw epp (echoing the body as GAIE's EPP does, or acknowledging
// it); it reports p50/p90 TTFT of each. Run it with
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
	ownPick := *pool
	ownPick.EndpointPicker = nil
	gwOwn := poolGateway(b, []*config.Pool{&ownPick}, []int32{1})

	prompt := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 220<<10/45)
	const clients, perClient = 150, 2
	run := func(target func(i int) string) []time.Duration {
		var mu sync.Mutex
		var ttfts []time.Duration
		var wg sync.WaitGroup
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: 0}}
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range perClient {
					body := fmt.Sprintf(`{"model":%q,"stream":true,"max_tokens":16,"messages":[{"role":"user","content":"client %d request %d %s"}]}`, model, c, r, prompt)
					start := time.Now()
					resp, err := client.Post(target(c*perClient+r)+"/v1/chat/completions", "application/json", strings.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					line, err := bufio.NewReader(resp.Body).ReadString('\n')
					ttft := time.Since(start)
					resp.Body.Close()
					if err != nil || !strings.HasPrefix(line, "data:") {
						b.Errorf("status %d, first line %q, %v", resp.StatusCode, line, err)
						return
					}
					mu.Lock()
					ttfts = append(ttfts, ttft)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		slices.Sort(ttfts)
		return ttfts
	}
	pct := func(d []time.Duration, p int) time.Duration {
		if len(d) == 0 {
			return 0
		}
		return d[(len(d)-1)*p/100]
	}
	for b.Loop() {
		direct := run(func(i int) string { return "http://" + addrs[i%len(addrs)] }) // round robin
		through := run(func(int) string { return gw.URL })
		own := run(func(int) string { return gwOwn.URL })
		echo := run(func(int) string { return gwEcho.URL })
		ack := run(func(int) string { return gwAck.URL })
		b.ReportMetric(float64(pct(direct, 50).Milliseconds()), "direct-p50-ttft-ms")
		b.ReportMetric(float64(pct(direct, 90).Milliseconds()), "direct-p90-ttft-ms")
		b.ReportMetric(float64(pct(through, 50).Milliseconds()), "gateway+epp-p50-ttft-ms")
		b.ReportMetric(float64(pct(through, 90).Milliseconds()), "gateway+epp-p90-ttft-ms")
		b.ReportMetric(float64(pct(own, 50).Milliseconds()), "gateway-own-pick-p50-ttft-ms")
		b.ReportMetric(float64(pct(own, 90).Milliseconds()), "gateway-own-pick-p90-ttft-ms")
		b.ReportMetric(float64(pct(echo, 50).Milliseconds()), "gateway+aigw-epp-p50-ttft-ms")
		b.ReportMetric(float64(pct(echo, 90).Milliseconds()), "gateway+aigw-epp-p90-ttft-ms")
		b.ReportMetric(float64(pct(ack, 50).Milliseconds()), "gateway+aigw-epp-ack-p50-ttft-ms")
		b.ReportMetric(float64(pct(ack, 90).Milliseconds()), "gateway+aigw-epp-ack-p90-ttft-ms")
	}
}
