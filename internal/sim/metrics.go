package sim

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Bucket boundaries copied from vLLM v1 (vllm/v1/metrics/loggers.py).
func ttftBuckets() []float64 {
	return []float64{
		0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
		2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
	}
}

func tokenLatencyBuckets() []float64 {
	return []float64{
		0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
		5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
	}
}

func requestLatencyBuckets() []float64 {
	return []float64{
		0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0,
		50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
	}
}

func iterationTokenBuckets() []float64 {
	return []float64{1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384}
}

// simMetrics holds one instance's Prometheus collectors, registered on the
// instance's own registry. Names, labels and buckets follow vLLM v1; durations
// are simulated seconds. Only the scheduler goroutine writes them.
type simMetrics struct {
	reg *prometheus.Registry

	waiting, running    prometheus.Gauge
	kvUsage, gpuKVUsage prometheus.Gauge
	prefixQueries       prometheus.Counter
	prefixHits          prometheus.Counter
	promptTokens        prometheus.Counter
	generationTokens    prometheus.Counter
	preemptions         prometheus.Counter
	success             map[string]prometheus.Counter // read-only after construction
	ttft, itl, tpot     prometheus.Observer
	e2e, queue, prefill prometheus.Observer
	decode, inference   prometheus.Observer
	requestTPOT         prometheus.Observer
	requestPromptTokens prometheus.Observer
	requestGenTokens    prometheus.Observer
	requestMaxTokens    prometheus.Observer
	iterationTokens     prometheus.Observer
	loraInfo            *prometheus.GaugeVec // nil without LoRA adapters
	maxLoRA             string
	loraLabels          [2]string
	loraGauge           prometheus.Gauge
}

func newSimMetrics(opts *Options, engineIndex int) *simMetrics {
	reg := prometheus.NewRegistry()
	labels := prometheus.Labels{"model_name": opts.servedNames()[0], "engine": strconv.Itoa(engineIndex)}
	m := &simMetrics{reg: reg, success: map[string]prometheus.Counter{}}

	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels})
		reg.MustRegister(g)
		return g
	}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels})
		reg.MustRegister(c)
		return c
	}
	histogram := func(name, help string, buckets []float64) prometheus.Observer {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets, ConstLabels: labels})
		reg.MustRegister(h)
		return h
	}
	tokenBuckets := build125Buckets(opts.MaxModelLen)

	m.running = gauge("vllm:num_requests_running", "Number of requests in model execution batches.")
	m.waiting = gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.")
	m.kvUsage = gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.")
	m.gpuKVUsage = gauge("vllm:gpu_cache_usage_perc",
		"GPU KV-cache usage. 1 means 100 percent usage. DEPRECATED: Use vllm:kv_cache_usage_perc instead.")
	m.prefixQueries = counter("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.")
	m.prefixHits = counter("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.")
	m.preemptions = counter("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.")
	m.promptTokens = counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.")
	m.generationTokens = counter("vllm:generation_tokens_total", "Number of generation tokens processed.")

	success := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vllm:request_success_total", Help: "Count of successfully processed requests.", ConstLabels: labels,
	}, []string{"finished_reason"})
	reg.MustRegister(success)
	// The finished_reason values of vLLM's FinishReason.
	for _, r := range [...]string{"stop", "length", "abort", "error"} {
		m.success[r] = success.WithLabelValues(r)
	}

	m.requestPromptTokens = histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", tokenBuckets)
	m.requestGenTokens = histogram("vllm:request_generation_tokens", "Number of generation tokens processed.", tokenBuckets)
	m.requestMaxTokens = histogram("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", tokenBuckets)
	m.iterationTokens = histogram("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.", iterationTokenBuckets())
	m.ttft = histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttftBuckets())
	m.itl = histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", tokenLatencyBuckets())
	m.tpot = histogram("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.", tokenLatencyBuckets())
	m.requestTPOT = histogram("vllm:request_time_per_output_token_seconds",
		"Histogram of time_per_output_token_seconds per request.", tokenLatencyBuckets())
	m.e2e = histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", requestLatencyBuckets())
	m.queue = histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", requestLatencyBuckets())
	m.inference = histogram("vllm:request_inference_time_seconds",
		"Histogram of time spent in RUNNING phase for request.", requestLatencyBuckets())
	m.prefill = histogram("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", requestLatencyBuckets())
	m.decode = histogram("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", requestLatencyBuckets())

	// vLLM logs the cache config as an info gauge; llm-d-inference-sim and the
	// endpoint pickers read only these two labels.
	cacheInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vllm:cache_config_info", Help: "Information of the LLMEngine CacheConfig",
	}, []string{"block_size", "num_gpu_blocks"})
	reg.MustRegister(cacheInfo)
	cacheInfo.WithLabelValues(strconv.Itoa(opts.BlockSize), strconv.Itoa(opts.KVCacheSize)).Set(1)

	// vLLM registers the LoRA gauge only when LoRA is enabled. It has no
	// model_name label; its value is the time of the last update, and a
	// scraper takes the series with the newest value.
	if len(opts.LoRAModules) > 0 {
		m.maxLoRA = strconv.Itoa(opts.MaxLoRAs)
		m.loraInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vllm:lora_requests_info", Help: "Running stats on lora requests.",
		}, []string{"max_lora", "waiting_lora_adapters", "running_lora_adapters"})
		reg.MustRegister(m.loraInfo)
		m.setLoRA("", "", time.Now())
	}
	return m
}

// setLoRA records the adapters in use at wall time now.
func (m *simMetrics) setLoRA(running, waiting string, now time.Time) {
	if m.loraInfo == nil {
		return
	}
	if m.loraGauge == nil || m.loraLabels != [2]string{running, waiting} {
		// vLLM keeps every label set it ever exported; the simulator drops the
		// previous one so that the series stay bounded. Scrapers that take the
		// newest series see the same thing.
		if m.loraGauge != nil {
			m.loraInfo.DeleteLabelValues(m.maxLoRA, m.loraLabels[1], m.loraLabels[0])
		}
		m.loraLabels = [2]string{running, waiting}
		m.loraGauge = m.loraInfo.With(prometheus.Labels{
			"max_lora": m.maxLoRA, "running_lora_adapters": running, "waiting_lora_adapters": waiting,
		})
	}
	m.loraGauge.Set(float64(now.UnixNano()) / 1e9)
}

// build125Buckets returns 1, 2, 5, 10, 20, 50, ... up to max, as vLLM's
// build_1_2_5_buckets does.
func build125Buckets(maxValue int) []float64 {
	var b []float64
	for e := 1; ; e *= 10 {
		for _, m := range [...]int{1, 2, 5} {
			if m*e > maxValue {
				return b
			}
			b = append(b, float64(m*e))
		}
	}
}
