package scheduler

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// errUnknownEngine: the exposition has none of the known waiting-queue
// metrics.
var errUnknownEngine = errors.New("no known model-server metrics (vLLM, SGLang, trtllm-serve, Triton TensorRT-LLM)")

// engineNames maps one engine's signals to metric names (§7). Triton puts
// every signal in two families told apart by a label; see parseTriton.
type engineNames struct {
	waiting, running, kv, kvFallback string
	cacheInfo, blockSizeLabel        string // info gauge carrying block size / count labels
	numBlocksLabel                   string
	blockSize, numBlocks             string // plain gauges (trtllm-serve)
}

var (
	vllmNames = engineNames{
		waiting: "vllm:num_requests_waiting", running: "vllm:num_requests_running",
		kv: "vllm:kv_cache_usage_perc", kvFallback: "vllm:gpu_cache_usage_perc",
		cacheInfo: "vllm:cache_config_info", blockSizeLabel: "block_size", numBlocksLabel: "num_gpu_blocks",
	}
	sglangNames = engineNames{
		waiting: "sglang:num_queue_reqs", running: "sglang:num_running_reqs", kv: "sglang:token_usage",
		cacheInfo: "sglang:cache_config_info", blockSizeLabel: "page_size", numBlocksLabel: "num_pages",
	}
	trtllmNames = engineNames{
		waiting: "trtllm_num_requests_waiting", running: "trtllm_num_requests_running",
		kv: "trtllm_kv_cache_utilization", blockSize: "trtllm_kv_cache_tokens_per_block",
		numBlocks: "trtllm_kv_cache_max_blocks",
	}
)

// Triton TensorRT-LLM families and their selector labels.
const (
	tritonRequests = "nv_trt_llm_request_metrics"
	tritonKV       = "nv_trt_llm_kv_cache_block_metrics"
)

// parseMetrics reads a Prometheus text exposition and maps it to Metrics for
// engine (one of the Engine constants; "" detects it from the names, trying
// vLLM, SGLang, trtllm-serve, then Triton). Counts are summed over series
// (e.g. vLLM's per-engine series under data parallelism), utilisation is
// averaged.
func parseMetrics(r io.Reader, engine string) (*Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	if engine == "" {
		switch {
		case fams[vllmNames.waiting] != nil:
			engine = EngineVLLM
		case fams[sglangNames.waiting] != nil:
			engine = EngineSGLang
		case fams[trtllmNames.waiting] != nil:
			engine = EngineTRTLLM
		case fams[tritonRequests] != nil:
			engine = EngineTriton
		default:
			return nil, errUnknownEngine
		}
	}
	switch engine {
	case EngineVLLM:
		m, err := parseNamed(fams, &vllmNames)
		if err != nil {
			return nil, err
		}
		parseVLLMLoRA(fams, m)
		return m, nil
	case EngineSGLang:
		return parseNamed(fams, &sglangNames)
	case EngineTRTLLM:
		return parseNamed(fams, &trtllmNames)
	case EngineTriton:
		return parseTriton(fams)
	default:
		return nil, fmt.Errorf("unknown engine type %q", engine)
	}
}

func parseNamed(fams map[string]*dto.MetricFamily, n *engineNames) (*Metrics, error) {
	waiting, ok := sum(fams[n.waiting], nil)
	if !ok {
		return nil, fmt.Errorf("metric %s missing", n.waiting)
	}
	m := &Metrics{WaitingQueue: int(waiting)}
	if v, ok := sum(fams[n.running], nil); ok {
		m.Running = int(v)
	}
	kv, ok := mean(fams[n.kv], nil)
	if !ok && n.kvFallback != "" {
		kv, _ = mean(fams[n.kvFallback], nil)
	}
	m.KVCacheUsage = kv
	if f := fams[n.cacheInfo]; f != nil && len(f.GetMetric()) > 0 {
		lm := f.GetMetric()[0]
		m.BlockSize = atoi(label(lm, n.blockSizeLabel))
		m.NumBlocks = atoi(label(lm, n.numBlocksLabel))
	}
	if v, ok := mean(fams[n.blockSize], nil); ok {
		m.BlockSize = int(v)
	}
	if v, ok := sum(fams[n.numBlocks], nil); ok {
		m.NumBlocks = int(v)
	}
	return m, nil
}

// parseVLLMLoRA reads vllm:lora_requests_info, whose value is the timestamp
// of its last update: the series with the newest value wins.
func parseVLLMLoRA(fams map[string]*dto.MetricFamily, m *Metrics) {
	f := fams["vllm:lora_requests_info"]
	var newest *dto.Metric
	for _, s := range f.GetMetric() {
		if newest == nil || value(s) > value(newest) {
			newest = s
		}
	}
	if newest == nil {
		return
	}
	m.ActiveAdapters = splitList(label(newest, "running_lora_adapters"))
	m.WaitingAdapters = splitList(label(newest, "waiting_lora_adapters"))
	m.MaxLoRAs = atoi(label(newest, "max_lora"))
}

func parseTriton(fams map[string]*dto.MetricFamily) (*Metrics, error) {
	req := fams[tritonRequests]
	waiting, ok := sum(req, labelIs("request_type", "waiting"))
	if !ok {
		return nil, fmt.Errorf("metric %s{request_type=\"waiting\"} missing", tritonRequests)
	}
	m := &Metrics{WaitingQueue: int(waiting)}
	if v, ok := sum(req, labelIs("request_type", "scheduled")); ok {
		m.Running = int(v)
	}
	kv := fams[tritonKV]
	m.KVCacheUsage, _ = mean(kv, labelIs("kv_cache_block_type", "fraction"))
	if v, ok := mean(kv, labelIs("kv_cache_block_type", "tokens_per")); ok {
		m.BlockSize = int(v)
	}
	if v, ok := sum(kv, labelIs("kv_cache_block_type", "max")); ok {
		m.NumBlocks = int(v)
	}
	return m, nil
}

func labelIs(name, want string) func(*dto.Metric) bool {
	return func(s *dto.Metric) bool { return label(s, name) == want }
}

// sum adds the values of f's series that keep passes (all if keep is nil);
// ok is false if there are none.
func sum(f *dto.MetricFamily, keep func(*dto.Metric) bool) (total float64, ok bool) {
	for _, s := range f.GetMetric() {
		if keep == nil || keep(s) {
			total += value(s)
			ok = true
		}
	}
	return total, ok
}

// mean averages like sum adds.
func mean(f *dto.MetricFamily, keep func(*dto.Metric) bool) (float64, bool) {
	var total float64
	n := 0
	for _, s := range f.GetMetric() {
		if keep == nil || keep(s) {
			total += value(s)
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return total / float64(n), true
}

func value(s *dto.Metric) float64 {
	switch {
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Untyped != nil:
		return s.Untyped.GetValue()
	default:
		return 0
	}
}

func label(s *dto.Metric, name string) string {
	for _, l := range s.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func splitList(v string) []string {
	if v == "" {
		return nil
	}
	var out []string
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func atoi(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0
	}
	return n
}
