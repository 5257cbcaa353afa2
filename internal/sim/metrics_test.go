package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// engineLabels are the labels vLLM puts on engine series.
const engineLabels = `engine="0",model_name="m"`

func TestMetricFamiliesMatchVLLM(t *testing.T) {
	in := newTestInstance(t, func(o *Options) { o.LoRAModules = []LoRAModule{{Name: "a"}} })
	families, err := in.Gatherer().Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	assert.Equal(t, []string{
		"vllm:cache_config_info",
		"vllm:e2e_request_latency_seconds",
		"vllm:generation_tokens_total",
		"vllm:gpu_cache_usage_perc",
		"vllm:inter_token_latency_seconds",
		"vllm:iteration_tokens_total",
		"vllm:kv_cache_usage_perc",
		"vllm:lora_requests_info",
		"vllm:num_preemptions_total",
		"vllm:num_requests_running",
		"vllm:num_requests_waiting",
		"vllm:prefix_cache_hits_total",
		"vllm:prefix_cache_queries_total",
		"vllm:prompt_tokens_total",
		"vllm:request_decode_time_seconds",
		"vllm:request_generation_tokens",
		"vllm:request_inference_time_seconds",
		"vllm:request_params_max_tokens",
		"vllm:request_prefill_time_seconds",
		"vllm:request_prompt_tokens",
		"vllm:request_queue_time_seconds",
		"vllm:request_success_total",
		"vllm:request_time_per_output_token_seconds",
		"vllm:time_per_output_token_seconds",
		"vllm:time_to_first_token_seconds",
	}, names)

	plain := newTestInstance(t, nil)
	n, err := testutil.GatherAndCount(plain.Gatherer(), "vllm:lora_requests_info")
	require.NoError(t, err)
	assert.Zero(t, n, "like vLLM, no LoRA series without LoRA adapters")
}

func TestMetricsCountRequests(t *testing.T) {
	in := newTestInstance(t, nil)
	body := chatBody("m", longText(100, "p"), 3, "")
	first := call(t, in, http.MethodPost, "/v1/chat/completions", body)
	require.Equal(t, http.StatusOK, first.Code)
	second := call(t, in, http.MethodPost, "/v1/chat/completions", body)
	require.Equal(t, http.StatusOK, second.Code)

	var resp chatCompletion
	require.NoError(t, json.Unmarshal(second.Body.Bytes(), &resp))
	prompt := resp.Usage.PromptTokens
	hits, err := strconv.Atoi(second.Header().Get(HeaderCachedTokens))
	require.NoError(t, err)
	require.Positive(t, hits)
	// The engine retires a request in the step after its last token went
	// out, so the client can have its answer a moment before the gauges
	// drop back to zero.
	require.Eventually(t, func() bool { s := in.Snapshot(); return s.Running == 0 && s.Waiting == 0 }, 5*time.Second, time.Millisecond)

	expected := fmt.Sprintf(`
# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig
# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size="16",num_gpu_blocks="1024"} 1
# HELP vllm:generation_tokens_total Number of generation tokens processed.
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{%[1]s} 6
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{%[1]s} 0
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{%[1]s} 0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{%[1]s} 0
# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{%[1]s} %[3]d
# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{%[1]s} %[2]d
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{%[1]s} %[2]d
# HELP vllm:request_success_total Count of successfully processed requests.
# TYPE vllm:request_success_total counter
vllm:request_success_total{engine="0",finished_reason="abort",model_name="m"} 0
vllm:request_success_total{engine="0",finished_reason="error",model_name="m"} 0
vllm:request_success_total{engine="0",finished_reason="length",model_name="m"} 2
vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 0
`, engineLabels, 2*prompt, hits)
	require.NoError(t, testutil.GatherAndCompare(in.Gatherer(), strings.NewReader(expected),
		"vllm:cache_config_info", "vllm:generation_tokens_total", "vllm:kv_cache_usage_perc",
		"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:prefix_cache_hits_total",
		"vllm:prefix_cache_queries_total", "vllm:prompt_tokens_total", "vllm:request_success_total"))

	ttfts, err := testutil.GatherAndCount(in.Gatherer(), "vllm:time_to_first_token_seconds")
	require.NoError(t, err)
	assert.Equal(t, 1, ttfts)
}

// TestMetricsReflectLiveState scrapes /metrics over HTTP while requests sit in
// the engine: a first request prefills for a simulated hour (time-scale 1),
// the others queue behind it.
func TestMetricsReflectLiveState(t *testing.T) {
	c := startCluster(t, func(o *Options) {
		o.TimeScale = 1
		o.TimeToFirstToken = time.Hour
		o.MaxNumSeqs = 1
	})
	in := c.Instance(0)
	url := "http://" + c.Addrs()[0]
	gauges := func(running, waiting int, usage float64, aborted int) string {
		return fmt.Sprintf(`
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{%[1]s} %[4]s
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{%[1]s} %[2]d
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{%[1]s} %[3]d
# HELP vllm:request_success_total Count of successfully processed requests.
# TYPE vllm:request_success_total counter
vllm:request_success_total{engine="0",finished_reason="abort",model_name="m"} %[5]d
vllm:request_success_total{engine="0",finished_reason="error",model_name="m"} 0
vllm:request_success_total{engine="0",finished_reason="length",model_name="m"} 0
vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 0
`, engineLabels, running, waiting, strconv.FormatFloat(usage, 'g', -1, 64), aborted)
	}
	names := []string{"vllm:kv_cache_usage_perc", "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:request_success_total"}

	var wg sync.WaitGroup
	cancels := make([]context.CancelFunc, 3)
	for i := range cancels {
		ctx, cancel := context.WithCancel(t.Context())
		cancels[i] = cancel
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions",
				strings.NewReader(chatBody("m", longText(50, "r"), 5, `"stream":true`)))
			if !assert.NoError(t, err) {
				return
			}
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_ = resp.Body.Close()
				t.Errorf("request %d answered %d; it should still be in the engine", i, resp.StatusCode)
			}
		})
	}
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
		wg.Wait()
	}()

	waitFor(t, "one running and two waiting", func() bool {
		s := in.Snapshot()
		return s.Running == 1 && s.Waiting == 2
	})
	s := in.Snapshot()
	require.Positive(t, s.KVCacheUsage)
	require.NoError(t, testutil.ScrapeAndCompare(url+"/metrics", strings.NewReader(gauges(1, 2, s.KVCacheUsage, 0)), names...))

	// A client that goes away leaves the queue at once.
	cancels[0]()
	waitFor(t, "the abort to be reaped", func() bool { s := in.Snapshot(); return s.Running+s.Waiting == 2 })
	s = in.Snapshot()
	require.NoError(t, testutil.ScrapeAndCompare(url+"/metrics",
		strings.NewReader(gauges(s.Running, s.Waiting, s.KVCacheUsage, 1)), names...))

	for _, cancel := range cancels {
		cancel()
	}
	waitFor(t, "all aborts to be reaped", func() bool { s := in.Snapshot(); return s.Running+s.Waiting == 0 })
	require.NoError(t, testutil.ScrapeAndCompare(url+"/metrics", strings.NewReader(gauges(0, 0, 0, 3)), names...))
}

func TestLoRARequestsInfo(t *testing.T) {
	in := newTestInstance(t, func(o *Options) {
		o.TimeScale = 1
		o.TimeToFirstToken = time.Hour
		o.LoRAModules = []LoRAModule{{Name: "a"}, {Name: "b"}}
		o.MaxLoRAs = 1
	})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	send := func(model string) {
		wg.Go(func() {
			r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/chat/completions",
				strings.NewReader(chatBody(model, "hi", 1, "")))
			in.ServeHTTP(httptest.NewRecorder(), r)
		})
	}
	send("a")
	waitFor(t, "a to be admitted", func() bool { return in.Snapshot().Running == 1 })
	send("b")
	waitFor(t, "a running, b waiting for the adapter slot", func() bool {
		s := in.Snapshot()
		return s.Running == 1 && s.Waiting == 1
	})
	families, err := in.Gatherer().Gather()
	require.NoError(t, err)
	var found bool
	for _, f := range families {
		if f.GetName() != "vllm:lora_requests_info" {
			continue
		}
		require.Len(t, f.GetMetric(), 1)
		m := f.GetMetric()[0]
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		assert.Equal(t, map[string]string{"max_lora": "1", "running_lora_adapters": "a", "waiting_lora_adapters": "b"}, got)
		assert.InDelta(t, float64(time.Now().Unix()), m.GetGauge().GetValue(), 3600, "the value is a timestamp")
		found = true
	}
	assert.True(t, found)
	assert.Equal(t, []string{"a"}, in.Snapshot().ResidentLoRAs)
	cancel()
	wg.Wait()
}
