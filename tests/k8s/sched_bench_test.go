package k8s

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/aigw-dev/aigw/internal/app"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/loadgen"
	"github.com/aigw-dev/aigw/internal/scheduler"
	"github.com/aigw-dev/aigw/internal/sim"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// BenchmarkScheduling is issue #5's scheduling-quality benchmark: four
// `aigw sim` model servers with GPU-like latencies (time scale 1) behind the
// gateway, an open-loop Poisson load (internal/loadgen) at rising fractions
// of saturation, three workloads (mixed lengths, shared system prompts,
// LoRA adapters), and in the same run one row per strategy: random,
// round-robin and least-request pickers and our default scheduler, each in
// its own fresh `aigw epp` behind the gateway; our scheduler inside the
// gateway (no picker); and GAIE's EPP v1.5.0 on the same Pods. It prints a
// table per workload and load with p50/p90/mean TTFT, p90 time per output
// token (decode only, and normalized: latency over output tokens, as GAIE's
// benchmarks report it), throughput, errors, prefix-cache hit rate and the ratios of ours to
// round-robin and to GAIE's EPP.
//
// Saturation is measured, not assumed: per workload, round-robin is driven
// at an overload (1.5× an estimate from the simulator's parameters, again
// at twice the completion rate while the servers complete more than two
// thirds of it) and the completion rate over the last two
// thirds of the arrival window, when every queue is backed up, is the
// saturation rate. Every point then gets fresh simulators (empty prefix
// caches, no resident adapters) and a fresh picker (empty prefix index), and
// every strategy receives the same planned requests at the same times: a
// warm-up (3 s) that fills caches and batches, then the measured window
// (15 s). Latencies are of the requests sent in the window, run to
// completion; throughput is completions per second during the window.
//
// Run it with `make bench-sched`, or
//
//	go test ./tests/k8s -run '^$' -bench Scheduling -benchtime 1x -timeout 60m
//
// (about 22 minutes on two cores). Environment: AIGW_SCHED_BENCH_KV_READ=1
// for servers whose decode reads the batch's KV cache (see
// schedSimOptions); AIGW_SCHED_BENCH_QUICK=1 for a smoke run
// (short points, load 80 % only); AIGW_SCHED_BENCH_DURATION=30s for the
// measured window; AIGW_SCHED_BENCH_LOADS=0.8,0.95 for the loads (fractions
// of saturation); AIGW_SCHED_BENCH_CANDIDATE=<EndpointPickerConfig YAML>
// adds a row "candidate" (an `aigw epp` with that configuration) to try a
// scheduler change side by side. A sub-benchmark pattern selects workloads,
// loads or strategies, e.g.
//
//	-bench 'Scheduling/shared-prefix/(saturation|load=90)/(offered|ours|round-robin)'
//
// as long as the workload's saturation sub-benchmark runs.
func BenchmarkScheduling(b *testing.B) {
	start := time.Now()
	s := newSchedBench(b)
	for _, w := range schedWorkloads() {
		b.Run(w.name, func(b *testing.B) { s.runWorkload(b, w) })
	}
	// Printed, not logged: a benchmark that runs sub-benchmarks shows its
	// log only with -v.
	fmt.Printf("\n%s\nwall time of the run: %v\n", s.verdicts(), time.Since(start).Round(time.Second))
}

// The pool of the benchmark: four Pods whose IPs the simulators listen on,
// picked for by a Service of GAIE's EPP.
const (
	schedPool       = "sched-pool"
	schedPickerSvc  = "sched-epp"
	gaieGRPCPort    = 9102
	aigwEPPGRPCPort = 9112
)

var (
	schedIPs    = []string{"127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"}
	schedLabels = map[string]string{"app": "sched-vllm"}
	adapters    = []string{"adapter-0", "adapter-1", "adapter-2", "adapter-3", "adapter-4", "adapter-5", "adapter-6", "adapter-7"}
)

// schedSimOptions are the model servers: a small GPU that saturates at a
// few requests per second each, so that four of them saturate at a rate two
// CPU cores can drive and stream. As on a real vLLM server, the KV cache
// binds before the batch does: 1 200 KV blocks of 16 tokens (19 200 tokens,
// about 20 requests of the mixed workload) under a batch of up to 64
// sequences, so a server that is sent too much admits requests until its
// cache runs out and then preempts (recomputes) the newest, and requests
// queue. Prefill at 25 000 tokens/s plus 15 ms a step; decode steps of 10 ms
// for one sequence to 20 ms for a full batch (decode is memory-bound:
// batching costs little), whatever the context, as when the weights
// dominate what a step reads (GAIE's benchmark deployment, Qwen3-32B on one
// H100, leaves about 8 GB of KV cache beside 64 GB of weights). Up to four
// resident LoRA adapters out of eight, 100 ms to load one (with two of
// eight, adapter starvation makes every strategy's p90 TTFT several seconds
// at 80 % of round-robin's saturation, and the saturation measured under
// overload, where deep queues let the engine batch by adapter, overstates
// what any strategy sustains).
//
// AIGW_SCHED_BENCH_KV_READ=1 runs servers whose decode steps also read the
// KV cache of every decoding sequence's context, as a small model's do: 5 ms
// for the weights (10 ms at a full batch) plus 650 ns a context token
// (12.5 ms for a full cache: 2.5× the weights, an H100's 55 GiB of KV cache
// beside Llama-3.1-8B's 16 GB; Llama-2-7B, the model of GAIE's published
// comparison, has ~4×). A server full of long contexts then decodes over
// twice as slowly as an idle one, which separates the strategies more on
// the mixed workload (p90 TTFT 0.07–0.11× round-robin, p90 NTPOT
// 0.57–0.73×) and less on shared prefixes at 80–90 % (mean TTFT 0.51–0.55×:
// longer steps make a cache hit's TTFT floor a larger part of a miss's).
//
// With the batch capped at 16 sequences (the cache never runs out, hardly
// any preemption) the per-output-token latencies of all strategies are
// alike, since only queueing and preemption separate them; a steeper
// decode slowdown with a larger batch (32 sequences, 10 → 30 ms, 2 500
// blocks) makes the servers share their capacity without queueing until
// very close to saturation, and round-robin's even spacing of arrivals
// then beats every load-aware strategy on p90 TTFT (see the reports of
// issue #5).
func schedSimOptions() sim.Options {
	o := sim.DefaultOptions()
	o.Model = model
	o.Mode = sim.ModeRandom
	o.Seed = 1
	o.TimeScale = 1
	o.MaxNumSeqs = 64 // the KV cache binds first
	o.MaxNumBatchedTokens = 2048
	o.MaxModelLen = 8192
	o.KVCacheSize = 1200
	o.BlockSize = 16
	o.TimeToFirstToken = 15 * time.Millisecond
	o.PrefillTimePerToken = 40 * time.Microsecond
	o.InterTokenLatency = 10 * time.Millisecond
	o.TimeFactorUnderLoad = 2
	o.DecodeTimePerContextToken = 0
	if os.Getenv("AIGW_SCHED_BENCH_KV_READ") != "" {
		o.InterTokenLatency = 5 * time.Millisecond
		o.DecodeTimePerContextToken = 650 * time.Nanosecond
	}
	for _, a := range adapters {
		o.LoRAModules = append(o.LoRAModules, sim.LoRAModule{Name: a, Path: "/adapters/" + a})
	}
	o.MaxLoRAs = 4
	o.LoRALoadTime = 100 * time.Millisecond
	return o
}

// schedWorkload is one workload of the benchmark.
type schedWorkload struct {
	name string
	w    loadgen.Workload
	seed uint64
	// ours is our default scheduler's EndpointPickerConfig for this
	// workload's pool ("" = the built-in default), also given to GAIE's EPP.
	ours string
}

// loraPickerConfig is our default for pools serving LoRA adapters: the
// built-in default (queue 2, KV cache 2, prefix 3) plus lora-affinity-scorer
// with the queue's weight, so that "adapter already active here" (1) or
// "room to load it" (0.8) against "every slot busy" (0) weighs as much as
// the queue difference does.
const loraPickerConfig = `apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
- type: lora-affinity-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: queue-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 2}
  - {pluginRef: prefix-cache-scorer, weight: 3}
  - {pluginRef: lora-affinity-scorer, weight: 2}
  - {pluginRef: max-score-picker}
`

func schedWorkloads() []schedWorkload {
	out := loadgen.LogNormal{Median: 96, Sigma: 0.8, Min: 16, Max: 512}
	return []schedWorkload{
		{
			// Independent requests, prompts of 100-4000 tokens (median 600),
			// outputs of 16-512 (median 96).
			name: "mixed", seed: 1,
			w: loadgen.Mixed{Model: model,
				PromptTokens: loadgen.LogNormal{Median: 600, Sigma: 0.8, Min: 100, Max: 4000}, OutputTokens: out},
		},
		{
			// GAIE's prefix benchmark scaled down: 32 system prompts of 1500
			// tokens (6000 characters), a 10-200-token question each. One
			// server's KV cache (1 200 blocks) holds 12 of the prompts (94
			// blocks each) when idle, fewer beside its batch: all 32 do not
			// fit, a quarter of them do.
			name: "shared-prefix", seed: 2,
			w: loadgen.SharedPrefix{Model: model, Groups: 32, SystemTokens: 1500, Seed: 7,
				QuestionTokens: loadgen.LogNormal{Median: 40, Sigma: 0.5, Min: 10, Max: 200},
				OutputTokens:   loadgen.LogNormal{Median: 96, Sigma: 0.6, Min: 16, Max: 256}},
		},
		{
			// Eight adapters, Zipf(1) popularity (37 %, 18 %, 12 %, ...),
			// four resident per server: each server could keep half of
			// them, the pool all of them twice over.
			name: "lora", seed: 3, ours: loraPickerConfig,
			w: loadgen.LoRA{Adapters: adapters, Skew: 1,
				PromptTokens: loadgen.LogNormal{Median: 400, Sigma: 0.8, Min: 64, Max: 2000},
				OutputTokens: loadgen.LogNormal{Median: 96, Sigma: 0.8, Min: 16, Max: 256}},
		},
	}
}

// Strategy kinds.
type pickerKind int

const (
	viaAigwEPP pickerKind = iota // `aigw epp` with config
	inGateway                    // no picker: the gateway's own scheduler
	viaGAIEEPP                   // GAIE's EPP v1.5.0 with config
)

type strategy struct {
	name   string
	kind   pickerKind
	config string // EndpointPickerConfig text; "" = the picker's default
	// eppArgs are extra `aigw epp` flags; clientHeaders the picker control
	// headers the gateway lets clients send (an objective, say).
	eppArgs       []string
	clientHeaders []string
}

const roundRobinConfig = "plugins: [{type: round-robin-picker}]"

const (
	stratRoundRobin = "round-robin"
	stratOurs       = "ours"
	stratGAIE       = "gaie-epp-v1.5.0"
)

func (w schedWorkload) strategies() []strategy {
	s := []strategy{
		{name: "random", config: "plugins: [{type: random-picker}]"},
		{name: stratRoundRobin, config: roundRobinConfig},
		{name: "least-request", config: "plugins: [{type: least-request-scorer}, {type: max-score-picker}]"},
		{name: stratOurs, config: w.ours},
		{name: "ours-in-gateway", kind: inGateway, config: w.ours},
		{name: stratGAIE, kind: viaGAIEEPP, config: w.ours},
	}
	if c := os.Getenv("AIGW_SCHED_BENCH_CANDIDATE"); c != "" {
		s = append(s, strategy{name: "candidate", config: c})
	}
	return s
}

// schedBench holds the run's settings, the envtest pool GAIE's EPP watches,
// and the results.
type schedBench struct {
	env      *testenv.Env
	quick    bool
	warmup   time.Duration // arrivals before the measured window of a point
	window   time.Duration // measured arrival window of a point
	probe    time.Duration // arrival window of a saturation probe
	loads    []float64
	loadsSet bool // AIGW_SCHED_BENCH_LOADS gave the loads
	mu       sync.Mutex
	sat      map[string]float64
	results  map[pointKey]pointResult
	loadsRun map[string][]float64
}

type pointKey struct {
	workload string
	load     float64
	strategy string
}

// pointResult is what one strategy achieved at one load.
type pointResult struct {
	loadgen.Summary
	// reqPerSec and tokPerSec are completions per second during the
	// measured window: the steady-state throughput, which falls short of the
	// offered rate when a strategy lets queues grow.
	reqPerSec, tokPerSec float64
	hitRate              float64 // cached prompt tokens / prompt tokens (simulator's view)
	loraLoads            int     // requests that had to load their adapter
	maxShare             float64 // share of the busiest server
	preempted            float64 // preemptions in the simulators
	unscraped            bool    // the picker had not scraped every server before the load
}

func newSchedBench(b *testing.B) *schedBench {
	s := &schedBench{
		quick:    os.Getenv("AIGW_SCHED_BENCH_QUICK") != "",
		warmup:   3 * time.Second,
		window:   15 * time.Second,
		probe:    20 * time.Second,
		loads:    []float64{0.8, 0.9, 0.95},
		sat:      map[string]float64{},
		results:  map[pointKey]pointResult{},
		loadsRun: map[string][]float64{},
	}
	if s.quick {
		s.warmup, s.window, s.probe, s.loads = 2*time.Second, 6*time.Second, 10*time.Second, []float64{0.8}
	}
	if v := os.Getenv("AIGW_SCHED_BENCH_LOADS"); v != "" {
		s.loads, s.loadsSet = nil, true
		for _, f := range strings.Split(v, ",") {
			l, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || l <= 0 {
				b.Fatalf("AIGW_SCHED_BENCH_LOADS=%q: %q is not a positive fraction", v, f)
			}
			s.loads = append(s.loads, l)
		}
	}
	if v := os.Getenv("AIGW_SCHED_BENCH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("AIGW_SCHED_BENCH_DURATION=%q: not a positive duration", v)
		}
		s.window = d
	}
	s.env = testenv.StartEnv(b)
	for i, ip := range schedIPs {
		s.env.CreateReadyPod(b, testenv.Pod{Name: "sched-vllm-" + strconv.Itoa(i), Labels: schedLabels, IP: ip, Port: serverPort})
	}
	s.env.CreateService(b, testenv.Service{Name: schedPickerSvc, Selector: map[string]string{"app": schedPickerSvc}, Port: gaieGRPCPort})
	s.env.CreatePool(b, testenv.Pool{Name: schedPool, Selector: schedLabels, TargetPorts: []int32{serverPort},
		EndpointPicker: schedPickerSvc, EndpointPickerPort: gaieGRPCPort})
	return s
}

// runWorkload finds the workload's saturation rate, then runs every
// strategy at every load, and prints the tables.
func (s *schedBench) runWorkload(b *testing.B, w schedWorkload) {
	sat := s.saturation(b, w)
	if sat == 0 {
		b.Skipf("%s: no saturation rate (the saturation sub-benchmark did not run)", w.name)
	}
	for _, load := range s.loads {
		rate := load * sat
		plan := loadgen.Plan(w.w, rate, s.warmup+s.window, w.seed)
		b.Run(fmt.Sprintf("load=%d", int(math.Round(load*100))), func(b *testing.B) {
			for _, st := range w.strategies() {
				b.Run(st.name, func(b *testing.B) {
					var pr pointResult
					for b.Loop() {
						pr = s.point(b, st, plan)
					}
					reportPoint(b, pr)
					s.mu.Lock()
					s.results[pointKey{w.name, load, st.name}] = pr
					s.mu.Unlock()
				})
			}
		})
		s.loadsRun[w.name] = append(s.loadsRun[w.name], load)
	}
	fmt.Printf("\n%s\n", s.table(w, sat))
}

// saturation drives round-robin at an overload, 1.5× the estimate from the
// simulator's parameters, and returns the completion rate over the last two
// thirds of the arrival window, once the queues are backed up. If the
// servers completed more than two thirds of the offered rate (the estimate
// was low: prefix hits, say), the overload was too mild for every queue to
// stay backed up, and it tries again at twice the completion rate. Each try
// is a sub-benchmark, with its own simulators.
func (s *schedBench) saturation(b *testing.B, w schedWorkload) float64 {
	rate := 1.5 * estimateCapacity(schedSimOptions(), loadgen.Plan(w.w, 100, time.Minute, w.seed), len(schedIPs))
	for attempt := 0; ; attempt++ {
		var got float64
		b.Run(fmt.Sprintf("saturation/offered=%.0f", rate), func(b *testing.B) {
			for b.Loop() {
				plan := loadgen.Plan(w.w, rate, s.probe, w.seed)
				ctx, cancel := context.WithTimeout(b.Context(), s.probe+2*time.Second)
				out := s.pointRun(ctx, b, strategy{name: stratRoundRobin, config: roundRobinConfig}, plan)
				cancel()
				got, _ = loadgen.CompletionRate(out.res, s.probe/3, s.probe)
			}
			b.ReportMetric(got, "completed-req/s")
			b.Logf("%s: round-robin offered %.1f req/s, completed %.1f req/s", w.name, rate, got)
		})
		if got == 0 || got < rate/1.5 || attempt == 2 {
			return got
		}
		rate = 2 * got
	}
}

// estimateCapacity is the pool's throughput from the simulator's parameters
// if every request missed the prefix cache and ran in a batch as large as
// the KV cache holds: its share of those decode steps (which read the whole
// cache), its prefill and one step overhead.
func estimateCapacity(o sim.Options, sample []loadgen.Arrival, servers int) float64 {
	var prompt, output float64
	for _, a := range sample {
		for _, m := range a.Request.Messages {
			prompt += float64(len(m.Content)) / 4
		}
		output += float64(a.Request.MaxTokens)
	}
	n := float64(len(sample))
	cache := float64(o.KVCacheSize * o.BlockSize)
	batch := min(float64(o.MaxNumSeqs), max(1, cache/((prompt+output)/n)))
	step := float64(o.InterTokenLatency)*(1+(o.TimeFactorUnderLoad-1)*(batch-1)/float64(max(1, o.MaxNumSeqs-1))) +
		float64(o.DecodeTimePerContextToken)*min(cache, batch*(prompt+output/2)/n)
	perRequest := output/n*step/batch + prompt/n*float64(o.PrefillTimePerToken) + float64(o.TimeToFirstToken)
	return float64(servers) * float64(time.Second) / perRequest
}

type runOutput struct {
	res       []loadgen.Result
	preempted float64
	unscraped bool
}

// point runs one strategy on fresh simulators with plan and reduces it.
func (s *schedBench) point(b *testing.B, st strategy, plan []loadgen.Arrival) pointResult {
	out := s.pointRun(b.Context(), b, st, plan)
	// The warm-up's requests fill prefix caches, load adapters and build
	// the batches; only those sent in the window are measured.
	measured := out.res[len(out.res):]
	if i := slices.IndexFunc(out.res, func(r loadgen.Result) bool { return r.At >= s.warmup }); i >= 0 {
		measured = out.res[i:]
	}
	pr := pointResult{Summary: loadgen.Summarize(measured), preempted: out.preempted, unscraped: out.unscraped}
	pr.reqPerSec, pr.tokPerSec = loadgen.CompletionRate(out.res, s.warmup, s.warmup+s.window)
	var cached, prompt float64
	perServer := map[string]int{}
	for i := range measured {
		r := &measured[i]
		if !r.OK() {
			continue
		}
		c, _ := strconv.Atoi(r.Headers[sim.HeaderCachedTokens])
		cached += float64(c)
		prompt += float64(r.PromptTokens)
		if r.Headers[sim.HeaderLoRALoaded] == "true" {
			pr.loraLoads++
		}
		perServer[r.Headers[sim.HeaderInstance]]++
	}
	if prompt > 0 {
		pr.hitRate = cached / prompt
	}
	for _, n := range perServer {
		pr.maxShare = max(pr.maxShare, float64(n)/float64(pr.Completed))
	}
	return pr
}

// pointRun starts fresh simulators, the strategy's picker and a gateway,
// and sends plan through the gateway. Everything it starts stops at the end
// of b.
func (s *schedBench) pointRun(ctx context.Context, b *testing.B, st strategy, plan []loadgen.Arrival) runOutput {
	b.Helper()
	var sims []*testenv.Sim
	pool := &config.Pool{Name: "default/" + schedPool, TargetPorts: []int32{serverPort}}
	var addrs []string
	for _, ip := range schedIPs {
		sm := testenv.StartSim(b, endpoint(ip), schedSimOptions())
		sims = append(sims, sm)
		addrs = append(addrs, sm.Addr)
		pool.Endpoints = append(pool.Endpoints, config.PoolEndpoint{IP: ip, Port: serverPort})
	}
	picker := &config.EndpointPicker{Name: "default/" + schedPickerSvc, FailureMode: config.FailClose, MessageTimeout: config.Duration(time.Minute),
		ClientHeaders: st.clientHeaders}
	switch st.kind {
	case viaAigwEPP:
		picker.Address = startSchedEPP(b, addrs, st.config, st.eppArgs...)
		pool.EndpointPicker = picker
	case viaGAIEEPP:
		var args []string
		if st.config != "" {
			args = append(args, "--config-text="+st.config)
		}
		p := testenv.StartEPP(b, testenv.PickerOptions{Kubeconfig: s.env.Kubeconfig, PoolName: schedPool,
			GRPCPort: gaieGRPCPort, HealthPort: gaieGRPCPort + 1, MetricsPort: gaieGRPCPort + 2, Args: args})
		picker.Address = p.Addr
		pool.EndpointPicker = picker
	case inGateway:
		// The gateway's own pick with the same profile (the pool's
		// aigw.dev/scheduler-config in YAML terms, compiled as the
		// control plane does); "" is the default.
		if st.config != "" {
			cfg, _, err := scheduler.ParsePickerConfig([]byte(st.config), scheduler.DefaultConfig())
			if err == nil {
				pool.Scheduler, err = scheduler.Spec(cfg)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	gw := poolGateway(b, []*config.Pool{pool}, []int32{1})
	// Pickers that score on load get the same start: metrics of every
	// server scraped a few times. (Random and round-robin `aigw epp` scrape
	// too; a picker that does not is not waited for long.)
	unscraped := !awaitScrapes(sims, 3, 5*time.Second)

	client := loadgen.NewClient()
	defer client.CloseIdleConnections()
	res := loadgen.Run(ctx, loadgen.Options{URL: gw.URL, Client: client, Timeout: 90 * time.Second,
		RecordHeaders: []string{sim.HeaderInstance, sim.HeaderCachedTokens, sim.HeaderLoRALoaded}}, plan)
	var preempted float64
	for _, sm := range sims {
		preempted += counterValue(b, sm, "vllm:num_preemptions_total")
	}
	return runOutput{res: res, preempted: preempted, unscraped: unscraped}
}

// startSchedEPP runs `aigw epp` in-process on the static endpoints, plaintext
// and acknowledging bodies (the gateway keeps its copy), until b ends, and
// returns its ext_proc address once it is SERVING.
func startSchedEPP(b *testing.B, endpoints []string, configText string, extra ...string) string {
	b.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", aigwEPPGRPCPort)
	args := []string{"epp", "--listen-address=127.0.0.1",
		"--grpc-port=" + strconv.Itoa(aigwEPPGRPCPort), "--grpc-health-port=" + strconv.Itoa(aigwEPPGRPCPort+1), "--metrics-port=0",
		"--secure-serving=false", "--ack-request-body", "--refresh-metrics-interval=50ms", "--log-level=warn",
		"--endpoints=" + strings.Join(endpoints, ",")}
	if configText != "" {
		args = append(args, "--config-text="+configText)
	}
	args = append(args, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- app.Main(ctx, args, io.Discard, logs) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("aigw epp: %v\n%s", err, logs)
		}
	})
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", aigwEPPGRPCPort+1), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	for deadline := time.Now().Add(20 * time.Second); ; {
		r, err := hc.Check(b.Context(), &healthpb.HealthCheckRequest{Service: testenv.EPPHealthService})
		if err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return addr
		}
		select {
		case err := <-done:
			b.Fatalf("aigw epp exited: %v\n%s", err, logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("aigw epp not SERVING after 20s: %v\n%s", err, logs)
		}
	}
}

// awaitScrapes waits until every simulator's /metrics has been read n more
// times, or timeout; it reports whether they were.
func awaitScrapes(sims []*testenv.Sim, n int64, timeout time.Duration) bool {
	want := make([]int64, len(sims))
	for i, sm := range sims {
		want[i] = sm.MetricsScrapes() + n
	}
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		done := true
		for i, sm := range sims {
			done = done && sm.MetricsScrapes() >= want[i]
		}
		if done {
			return true
		}
	}
	return false
}

// counterValue reads a counter of a simulator's registry (0 if absent).
func counterValue(b *testing.B, sm *testenv.Sim, name string) float64 {
	fams, err := sm.Instance.Gatherer().Gather()
	if err != nil {
		b.Fatalf("gather %s: %v", sm.Addr, err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func reportPoint(b *testing.B, pr pointResult) {
	b.ReportMetric(msec(pr.TTFTP50), "p50-ttft-ms")
	b.ReportMetric(msec(pr.TTFTP90), "p90-ttft-ms")
	b.ReportMetric(msec(pr.TTFTMean), "mean-ttft-ms")
	b.ReportMetric(msec(pr.TPOTP90), "p90-tpot-ms")
	b.ReportMetric(msec(pr.NTPOTP90), "p90-ntpot-ms")
	b.ReportMetric(pr.reqPerSec, "req/s")
	b.ReportMetric(pr.tokPerSec, "out-tok/s")
	b.ReportMetric(100*pr.ErrorRate, "err-%")
	b.ReportMetric(100*pr.hitRate, "prefix-hit-%")
}

func msec(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// table formats a workload's results, one block per load.
func (s *schedBench) table(w schedWorkload, sat float64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sb strings.Builder
	fmt.Fprintf(&sb, "== %s: saturation (round-robin, measured) %.1f req/s ==\n", w.name, sat)
	for _, load := range s.loadsRun[w.name] {
		rr, okRR := s.results[pointKey{w.name, load, stratRoundRobin}]
		fmt.Fprintf(&sb, "\n-- %s at %d%% of saturation (%.1f req/s offered, %d requests) --\n", w.name, int(math.Round(load*100)), load*sat, rr.Requests)
		tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "strategy\tp50 TTFT ms\tp90 TTFT ms\tmean TTFT ms\tp99 TTFT ms\tp90 TPOT ms\tp90 NTPOT ms\treq/s\tout tok/s\terr %\tprefix hit %\tLoRA loads\tbusiest server %\tpreemptions\t")
		for _, st := range w.strategies() {
			pr, ok := s.results[pointKey{w.name, load, st.name}]
			if !ok {
				continue
			}
			name := st.name
			if pr.unscraped {
				name += " (unscraped)"
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.1f\t%.1f\t%.2f\t%.0f\t%.1f\t%.0f\t%d\t%.0f\t%.0f\t\n", name,
				msec(pr.TTFTP50), msec(pr.TTFTP90), msec(pr.TTFTMean), msec(pr.TTFTP99), msec(pr.TPOTP90), msec(pr.NTPOTP90),
				pr.reqPerSec, pr.tokPerSec, 100*pr.ErrorRate, 100*pr.hitRate, pr.loraLoads, 100*pr.maxShare, pr.preempted)
		}
		_ = tw.Flush()
		ours, okOurs := s.results[pointKey{w.name, load, stratOurs}]
		if okRR && okOurs {
			fmt.Fprintf(&sb, "ours / round-robin: p90 TTFT %.2f×, p90 TPOT %.2f×, p90 NTPOT %.2f×, mean TTFT %.2f×, throughput %.3f×\n",
				ratio(ours.TTFTP90, rr.TTFTP90), ratio(ours.TPOTP90, rr.TPOTP90), ratio(ours.NTPOTP90, rr.NTPOTP90), ratio(ours.TTFTMean, rr.TTFTMean), ours.reqPerSec/rr.reqPerSec)
		}
		if gaie, ok := s.results[pointKey{w.name, load, stratGAIE}]; ok && okOurs {
			fmt.Fprintf(&sb, "ours / GAIE EPP v1.5.0: p90 TTFT %.2f×, p90 TPOT %.2f×, p90 NTPOT %.2f×, mean TTFT %.2f×, throughput %.3f×\n",
				ratio(ours.TTFTP90, gaie.TTFTP90), ratio(ours.TPOTP90, gaie.TPOTP90), ratio(ours.NTPOTP90, gaie.NTPOTP90), ratio(ours.TTFTMean, gaie.TTFTMean), ours.reqPerSec/gaie.reqPerSec)
		}
	}
	return sb.String()
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// verdicts checks issue #5's targets at the loads of 80-95 % of
// saturation: ours ≤ 0.5× round-robin's p90 TTFT and p90 time per output
// token — checked on NTPOT (latency over output tokens), the measure of
// GAIE's published comparison the target comes from; decode-only TPOT is
// printed beside it; on the
// shared-prefix workload ours ≤ 0.5× round-robin's mean TTFT; throughput
// not below round-robin's, within 2 % (both get the same requests at the
// same times; a completion rate counted over a window also moves with the
// latency of the requests at its edges).
func (s *schedBench) verdicts() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sb strings.Builder
	sb.WriteString("== issue #5 targets (ours vs round-robin at 80-95 % of saturation) ==\n")
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	for _, w := range schedWorkloads() {
		for _, load := range s.loadsRun[w.name] {
			if load < 0.8 || load > 0.95 {
				continue
			}
			ours, ok1 := s.results[pointKey{w.name, load, stratOurs}]
			rr, ok2 := s.results[pointKey{w.name, load, stratRoundRobin}]
			if !ok1 || !ok2 {
				continue
			}
			ttft, tpot, ntpot := ratio(ours.TTFTP90, rr.TTFTP90), ratio(ours.TPOTP90, rr.TPOTP90), ratio(ours.NTPOTP90, rr.NTPOTP90)
			tput := ours.reqPerSec / rr.reqPerSec
			fmt.Fprintf(&sb, "%-13s load=%d: p90 TTFT %.2f× (%s), p90 NTPOT %.2f× (%s; decode-only TPOT %.2f×), throughput %.3f× (%s)",
				w.name, int(math.Round(load*100)), ttft, mark(ttft <= 0.5), ntpot, mark(ntpot <= 0.5), tpot, tput, mark(tput >= 0.98))
			if w.name == "shared-prefix" {
				mean := ratio(ours.TTFTMean, rr.TTFTMean)
				fmt.Fprintf(&sb, ", mean TTFT %.2f× (%s)", mean, mark(mean <= 0.5))
			}
			sb.WriteString("\n")
		}
	}
	return sb.String()
}
