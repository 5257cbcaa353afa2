package scheduler

import (
	"errors"
	"net/http"
	"time"

	"github.com/aigw-dev/aigw/internal/flowcontrol"
)

// ErrNoEndpoints is returned by [Scheduler.Pick] when no endpoint is a
// candidate: the pool is empty, the subset hint is empty or matches no
// endpoint, or a filter dropped every candidate. The caller answers 503.
var ErrNoEndpoints = errors.New("scheduler: no eligible endpoints")

// ErrSaturated is returned by [Scheduler.Pick] for a sheddable request
// (priority < 0) when every candidate is saturated. The caller answers 429.
var ErrSaturated = errors.New("scheduler: all endpoints saturated")

// Errors of [Scheduler.Admit] when flow control is on, besides
// [ErrSaturated] for a sheddable request.
var (
	// ErrQueueFull: the request would exceed a queue limit. The caller
	// answers 429.
	ErrQueueFull = flowcontrol.ErrQueueFull
	// ErrQueueTimeout: the request waited its whole TTL. The caller
	// answers 503.
	ErrQueueTimeout = flowcontrol.ErrTTLExpired
)

// EngineTypeLabel is the Pod label GAIE uses to name a model server's engine
// (§7 of the GAIE notes); see [EngineVLLM] and its siblings. Without it the
// scraper detects the engine from the metric names.
const EngineTypeLabel = "inference.networking.k8s.io/engine-type"

// Engine types, the values of [EngineTypeLabel].
const (
	EngineVLLM   = "vllm"
	EngineSGLang = "sglang"
	EngineTRTLLM = "trtllm-serve"
	EngineTriton = "triton-tensorrt-llm"
)

// Endpoint is one model server of a pool.
type Endpoint struct {
	// Address is "ip:port"; metrics are scraped from http://Address/metrics.
	Address string
	// PodName names the Pod, when known (informational).
	PodName string
	// Labels are the Pod's labels; [EngineTypeLabel] selects the metric
	// mapping. The scheduler keeps its own copy.
	Labels map[string]string
}

// Metrics is one scrape of an endpoint's model-server metrics.
type Metrics struct {
	// WaitingQueue is the number of requests waiting (summed over series).
	WaitingQueue int
	// Running is the number of requests running (summed over series).
	Running int
	// KVCacheUsage is the KV-cache utilisation in [0,1] (mean over series).
	KVCacheUsage float64
	// ActiveAdapters are the LoRA adapters resident and running.
	ActiveAdapters []string
	// WaitingAdapters are the LoRA adapters requests are waiting for.
	WaitingAdapters []string
	// MaxLoRAs is how many adapters the server can hold at once (0: unknown).
	MaxLoRAs int
	// BlockSize is the KV-cache block size in tokens (0: not exposed).
	BlockSize int
	// NumBlocks is the number of KV-cache blocks (0: not exposed).
	NumBlocks int
	// UpdateTime is when the scrape completed.
	UpdateTime time.Time

	// picksBefore is the endpoint's pick count when the scrape began.
	picksBefore int64
}

// Request is what the scheduler knows of one request; the caller has parsed
// the body already.
type Request struct {
	// Model is the target model name (after any rewrite).
	Model string
	// Prompt is the text prefix hashing runs over, prepared as the reference
	// does (§6.4): a completion's prompt as plain text, chat messages as their
	// JSON encoding, embeddings input as JSON.
	Prompt string
	// CacheSalt is the request's cache_salt, mixed into the first prefix hash.
	CacheSalt string
	// LoRA is the LoRA adapter the request targets ("" for the base model).
	// Callers may pass the model name: it counts as an adapter only once a
	// server has reported an adapter of that name, so base-model requests
	// are not steered by adapter residency.
	LoRA string
	// Priority is the objective's priority; negative means sheddable.
	Priority int
	// FairnessID is the request's flow (x-gateway-inference-fairness-id)
	// and Bytes its size, for flow control's fairness and limits.
	FairnessID string
	Bytes      int64
	// Subset is the proxy's subset hint: nil means no hint; otherwise only
	// endpoints listed ("ip:port" exactly, or a bare IP for all its ports)
	// are candidates, and an empty non-nil subset matches nothing.
	Subset []string
	// Headers are the request headers, for plugins that route on them.
	Headers http.Header
}

// Candidate is one endpoint as plugins see it during a pick.
type Candidate struct {
	// Endpoint is the endpoint; plugins must not modify it.
	Endpoint *Endpoint
	// Metrics is the latest fresh scrape, nil when unknown (never scraped,
	// stale, or the last scrape failed). Plugins must not modify it.
	Metrics *Metrics
	// Failing reports that the last scrape of the endpoint failed.
	Failing bool
	// InFlight is the number of requests the scheduler's caller has started
	// on the endpoint and not yet finished.
	InFlight int64
	// PickedSinceScrape is how many requests the scheduler sent to the
	// endpoint (as primary) since its metrics were scraped and that are
	// still in flight, at most: load the metrics cannot show yet (0 when
	// metrics are unknown).
	PickedSinceScrape int64
	// PrefixMatched is how many of the request's PrefixTotal prefix blocks
	// the prefix index attributes to the endpoint (0 when prefix matching is
	// off or the prompt is shorter than a block).
	PrefixMatched int
	// PrefixTotal is the number of prefix blocks of the request.
	PrefixTotal int
}

// Result is a pick: Endpoints holds addresses, primary first, then the
// fallbacks in order; Scores holds the weighted total of each returned
// endpoint (only those, to keep a pick cheap).
type Result struct {
	// Endpoints are "ip:port" addresses, primary first.
	Endpoints []string
	// Scores maps each returned address to its weighted total score.
	Scores map[string]float64
}

// EndpointStatus is a read-only view of one endpoint's state, for status
// pages and the picker's own metrics.
type EndpointStatus struct {
	// Endpoint is the endpoint.
	Endpoint Endpoint
	// Metrics is the latest scrape (possibly stale), nil if none succeeded.
	Metrics *Metrics
	// InFlight is the scheduler's in-flight count.
	InFlight int64
	// Failing reports that the last scrape failed.
	Failing bool
	// LastError is the last scrape error, "" if none.
	LastError string
}
