// Package metrics records the gateway's request metrics under the OTel
// GenAI semantic-convention names Envoy AI Gateway users already chart
// (gen_ai_client_token_usage, gen_ai_server_request_duration_seconds,
// gen_ai_server_time_to_first_token_seconds,
// gen_ai_server_time_per_output_token_seconds), on a Prometheus registerer
// passed in by the caller: this package registers nothing globally.
//
// The model labels come from clients and upstreams: each keeps at most
// [Options.MaxModelLabels] distinct values (later ones are recorded as
// "__other__"), each cut to 128 bytes, so that no client can grow the
// number or the size of series without bound.
//
// This package must not import the HTTP front end, the request pipeline
// (internal/processor), the translator or control-plane packages; the
// types it shares with them live in internal/llm.
package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigw-dev/aigw/internal/labels"
	"github.com/aigw-dev/aigw/internal/llm"
)

// Attributes are the labels shared by every GenAI metric of one request.
type Attributes struct {
	// Operation is gen_ai.operation.name (chat, completion, embeddings).
	Operation string
	// Provider is gen_ai.provider.name of the backend that served.
	Provider string
	// OriginalModel is the model in the client's body.
	OriginalModel string
	// RequestModel is the model sent upstream (after modelNameOverride).
	RequestModel string
	// ResponseModel is the model the response reports.
	ResponseModel string
}

// Recorder records one request's metrics. Implementations are safe for
// concurrent use.
type Recorder interface {
	// RequestDone records the request's duration; errorType is empty on
	// success.
	RequestDone(a Attributes, errorType string, d time.Duration)
	// Tokens records the token usage of a successful response.
	Tokens(a Attributes, u llm.Usage)
	// StreamTimings records a stream's time to first token and, when more
	// than one output token was produced, its time per output token.
	StreamTimings(a Attributes, ttft, total time.Duration, outputTokens int64)
}

// ErrorTypeOther is the error.type value on failed requests, as Envoy AI
// Gateway emits it.
const ErrorTypeOther = "_OTHER"

var baseLabels = []string{"gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_original_model", "gen_ai_request_model", "gen_ai_response_model"}

// DefaultMaxModelLabels is [Options.MaxModelLabels] when it is not set.
const DefaultMaxModelLabels = labels.DefaultMaxValues

// Options configure [NewPrometheus].
type Options struct {
	// MaxModelLabels bounds the distinct values of each of the
	// gen_ai_original_model, gen_ai_request_model and
	// gen_ai_response_model labels: the first MaxModelLabels values seen
	// are kept, later ones are recorded as "__other__". Zero or less means
	// [DefaultMaxModelLabels].
	MaxModelLabels int
}

// Prometheus is the Recorder backed by Prometheus histograms.
type Prometheus struct {
	tokenUsage *prometheus.HistogramVec
	duration   *prometheus.HistogramVec
	ttft       *prometheus.HistogramVec
	tpot       *prometheus.HistogramVec

	// Bounded value sets of the client- and upstream-chosen labels.
	originalModels, requestModels, responseModels *labels.Set
}

var _ Recorder = (*Prometheus)(nil)

// NewPrometheus registers the GenAI histograms on reg.
func NewPrometheus(reg prometheus.Registerer, opts Options) (*Prometheus, error) {
	p := &Prometheus{
		originalModels: labels.NewSet(opts.MaxModelLabels),
		requestModels:  labels.NewSet(opts.MaxModelLabels),
		responseModels: labels.NewSet(opts.MaxModelLabels),
		tokenUsage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_client_token_usage",
			Help:    "Number of tokens used per request (gen_ai.client.token.usage).",
			Buckets: []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864},
		}, append(append([]string{}, baseLabels...), "gen_ai_token_type")),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_server_request_duration_seconds",
			Help:    "Time from request headers to the end of the response (gen_ai.server.request.duration).",
			Buckets: []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92},
		}, append(append([]string{}, baseLabels...), "error_type")),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_server_time_to_first_token_seconds",
			Help:    "Time to the first streamed token (gen_ai.server.time_to_first_token).",
			Buckets: []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0},
		}, baseLabels),
		tpot: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_server_time_per_output_token_seconds",
			Help:    "Time per output token after the first (gen_ai.server.time_per_output_token).",
			Buckets: []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5},
		}, baseLabels),
	}
	for _, c := range []prometheus.Collector{p.tokenUsage, p.duration, p.ttft, p.tpot} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering GenAI metrics: %w", err)
		}
	}
	return p, nil
}

// values returns the label values of a, the model names bounded, with
// room for one more label (the vectors copy the values they keep).
func (p *Prometheus) values(a Attributes) []string {
	v := make([]string, 5, 6)
	v[0], v[1] = a.Operation, a.Provider
	v[2] = p.originalModels.Value(a.OriginalModel)
	v[3] = p.requestModels.Value(a.RequestModel)
	v[4] = p.responseModels.Value(a.ResponseModel)
	return v
}

// RequestDone implements [Recorder.RequestDone].
func (p *Prometheus) RequestDone(a Attributes, errorType string, d time.Duration) {
	p.duration.WithLabelValues(append(p.values(a), errorType)...).Observe(d.Seconds())
}

// Tokens implements [Recorder.Tokens]. One observation per token type that
// the response reported; gen_ai.token.type has no "total".
func (p *Prometheus) Tokens(a Attributes, u llm.Usage) {
	v := p.values(a)
	observe := func(kind string, n int64, always bool) {
		if n > 0 || always {
			p.tokenUsage.WithLabelValues(append(v, kind)...).Observe(float64(n))
		}
	}
	observe("input", u.InputTokens, true)
	observe("output", u.OutputTokens, a.Operation != "embeddings")
	observe("cached_input", u.CachedInputTokens, false)
	observe("cache_creation_input", u.CacheCreationInputTokens, false)
	observe("reasoning", u.ReasoningTokens, false)
}

// StreamTimings implements [Recorder.StreamTimings].
func (p *Prometheus) StreamTimings(a Attributes, ttft, total time.Duration, outputTokens int64) {
	v := p.values(a)
	p.ttft.WithLabelValues(v...).Observe(ttft.Seconds())
	if outputTokens > 1 {
		p.tpot.WithLabelValues(v...).Observe((total - ttft).Seconds() / float64(outputTokens-1))
	}
}
