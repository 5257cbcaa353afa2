package eppserver

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigw-dev/aigw/internal/labels"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

// Metrics are the picker's own Prometheus metrics: decisions by outcome,
// scheduling latency, per-endpoint picks, scores and state, pool
// saturation and token usage. Pool gauges keep GAIE's names
// (inference_pool_*) so that its dashboards work. A nil *Metrics records
// nothing.
type Metrics struct {
	sched *scheduler.Scheduler
	pool  string

	requests     *prometheus.CounterVec
	schedLatency prometheus.Histogram
	picks        *prometheus.CounterVec
	servedOther  prometheus.Counter
	tokens       *prometheus.CounterVec
	firstByte    prometheus.Histogram
	queueWait    *prometheus.HistogramVec

	// models bounds the model label values: names come from request
	// bodies and headers, which behind a proxy that forwards any model
	// name are the clients' choice.
	models *labels.Set

	mu     sync.Mutex
	scores map[string]float64 // endpoint → total score of its last pick
}

// NewMetrics registers the picker's metrics for pool (a label value, e.g.
// "namespace/name") on reg, reading endpoint state from sched.
func NewMetrics(reg prometheus.Registerer, pool string, sched *scheduler.Scheduler) (*Metrics, error) {
	m := &Metrics{
		sched: sched,
		pool:  pool,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aigw_epp_requests_total",
			Help: fmt.Sprintf("Requests the endpoint picker decided, by outcome (picked, bad_request, too_large, saturated, queue_full, queue_timeout, no_endpoint, cancelled), model and target model (the first %d distinct names, cut to %d bytes; later ones as %s).", labels.DefaultMaxValues, labels.MaxValueBytes, labels.Other),
		}, []string{"outcome", "model", "target_model"}),
		schedLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "aigw_epp_scheduling_duration_seconds",
			Help:    "Time the scheduler took to pick endpoints for one request.",
			Buckets: []float64{5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2},
		}),
		picks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aigw_epp_endpoint_picks_total",
			Help: "Requests for which the endpoint was the primary pick.",
		}, []string{"endpoint"}),
		servedOther: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aigw_epp_served_elsewhere_total",
			Help: "Responses the proxy reported as served by another endpoint than the primary pick (a fallback was used).",
		}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aigw_epp_usage_tokens_total",
			Help: "Tokens reported in responses' usage, by type (prompt, completion).",
		}, []string{"type"}),
		firstByte: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "aigw_epp_response_headers_seconds",
			Help:    "Time from the request's arrival at the picker to the model server's response headers (queueing, prefill for non-streamed responses).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aigw_epp_flow_control_queue_duration_seconds",
			Help:    "Time requests waited in flow control's queue, by outcome (dispatched, rejected, cancelled); only requests that found the pool saturated wait.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"outcome"}),
		scores: map[string]float64{},
		models: labels.NewSet(labels.DefaultMaxValues),
	}
	for _, c := range []prometheus.Collector{m.requests, m.schedLatency, m.picks, m.servedOther, m.tokens, m.firstByte, m.queueWait, (*poolCollector)(m)} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("eppserver: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) observePick(d time.Duration, res scheduler.Result) {
	if m == nil {
		return
	}
	m.schedLatency.Observe(d.Seconds())
	if len(res.Endpoints) == 0 {
		return
	}
	m.picks.WithLabelValues(res.Endpoints[0]).Inc()
	m.mu.Lock()
	for addr, score := range res.Scores {
		m.scores[addr] = score
	}
	m.mu.Unlock()
}

// observeAdmission records a request's time in flow control's queue.
func (m *Metrics) observeAdmission(d time.Duration, outcome string) {
	if m != nil {
		m.queueWait.WithLabelValues(outcome).Observe(d.Seconds())
	}
}

func (m *Metrics) servedElsewhere() {
	if m != nil {
		m.servedOther.Inc()
	}
}

func (m *Metrics) observeUsage(prompt, completion int64) {
	if m == nil {
		return
	}
	if prompt > 0 {
		m.tokens.WithLabelValues("prompt").Add(float64(prompt))
	}
	if completion > 0 {
		m.tokens.WithLabelValues("completion").Add(float64(completion))
	}
}

func (m *Metrics) observeRequest(outcome, model, target string, firstByte time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(outcome, m.models.Value(model), m.models.Value(target)).Inc()
	if firstByte > 0 {
		m.firstByte.Observe(firstByte.Seconds())
	}
}

// poolCollector reads endpoint and pool state at scrape time, so series of
// endpoints that left the pool disappear with them.
type poolCollector Metrics

var (
	descReadyPods = prometheus.NewDesc("inference_pool_ready_pods", "Endpoints of the pool (GAIE's name).", []string{"name"}, nil)
	descAvgKV     = prometheus.NewDesc("inference_pool_average_kv_cache_utilization", "Mean KV-cache utilisation over endpoints with fresh metrics (GAIE's name).", []string{"name"}, nil)
	descAvgQueue  = prometheus.NewDesc("inference_pool_average_queue_size", "Mean waiting queue over endpoints with fresh metrics (GAIE's name).", []string{"name"}, nil)
	descSat       = prometheus.NewDesc("aigw_epp_pool_saturation", "Pool saturation as GAIE's utilization-detector computes it; 1 or more is saturated.", []string{"name"}, nil)
	descScore     = prometheus.NewDesc("aigw_epp_endpoint_score", "Weighted total score of the endpoint when it was last returned by a pick.", []string{"endpoint"}, nil)
	descInFlight  = prometheus.NewDesc("aigw_epp_endpoint_in_flight", "Requests the picker sent to the endpoint that have not finished.", []string{"endpoint"}, nil)
	descQueue     = prometheus.NewDesc("aigw_epp_endpoint_queue_size", "Waiting queue scraped from the endpoint (absent when stale).", []string{"endpoint"}, nil)
	descKV        = prometheus.NewDesc("aigw_epp_endpoint_kv_cache_utilization", "KV-cache utilisation scraped from the endpoint (absent when stale).", []string{"endpoint"}, nil)
	descUp        = prometheus.NewDesc("aigw_epp_endpoint_metrics_fresh", "1 when the endpoint's scraped metrics are fresh, 0 when stale or failing.", []string{"endpoint"}, nil)
	descFlowQueue = prometheus.NewDesc("aigw_epp_flow_control_queue_size", "Requests flow control holds while the pool is saturated, by priority.", []string{"priority"}, nil)
)

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReadyPods, descAvgKV, descAvgQueue, descSat, descScore, descInFlight, descQueue, descKV, descUp, descFlowQueue} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	eps := c.sched.Endpoints()
	var kv, queue float64
	fresh := 0
	live := make(map[string]bool, len(eps))
	for _, e := range eps {
		addr := e.Endpoint.Address
		live[addr] = true
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(e.InFlight), addr)
		up := 0.0
		if c.sched.Fresh(e) {
			up = 1
			fresh++
			kv += e.Metrics.KVCacheUsage
			queue += float64(e.Metrics.WaitingQueue)
			ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(e.Metrics.WaitingQueue), addr)
			ch <- prometheus.MustNewConstMetric(descKV, prometheus.GaugeValue, e.Metrics.KVCacheUsage, addr)
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, addr)
	}
	ch <- prometheus.MustNewConstMetric(descReadyPods, prometheus.GaugeValue, float64(len(eps)), c.pool)
	if fresh > 0 {
		ch <- prometheus.MustNewConstMetric(descAvgKV, prometheus.GaugeValue, kv/float64(fresh), c.pool)
		ch <- prometheus.MustNewConstMetric(descAvgQueue, prometheus.GaugeValue, queue/float64(fresh), c.pool)
	}
	ch <- prometheus.MustNewConstMetric(descSat, prometheus.GaugeValue, c.sched.Saturation(), c.pool)
	for priority, n := range c.sched.Queued() {
		ch <- prometheus.MustNewConstMetric(descFlowQueue, prometheus.GaugeValue, float64(n), strconv.Itoa(priority))
	}
	c.mu.Lock()
	for addr, score := range c.scores {
		if !live[addr] {
			delete(c.scores, addr)
			continue
		}
		ch <- prometheus.MustNewConstMetric(descScore, prometheus.GaugeValue, score, addr)
	}
	c.mu.Unlock()
}
