package sim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aigw-dev/aigw/internal/labels"
)

// Response headers the simulator adds. Durations are simulated milliseconds.
const (
	// HeaderInstance names the instance ("host:port") that served a response.
	HeaderInstance = "x-sim-instance"
	// HeaderTTFT is the request's simulated time to first token.
	HeaderTTFT = "x-sim-ttft-ms"
	// HeaderQueue is the request's simulated time in the waiting queue.
	HeaderQueue = "x-sim-queue-ms"
	// HeaderE2E is the request's simulated end-to-end latency; streamed
	// responses carry it only when the request had finished before the
	// headers went out.
	HeaderE2E = "x-sim-e2e-ms"
	// HeaderCachedTokens is how many prompt tokens hit the prefix cache.
	HeaderCachedTokens = "x-sim-cached-tokens"
	// HeaderLoRALoaded is "true" when the request had to load its adapter.
	HeaderLoRALoaded = "x-sim-lora-loaded"
)

// maxBodyBytes bounds request bodies.
const maxBodyBytes = 64 << 20

// Instance is one simulated model server: an engine with its own queue, KV
// cache, LoRA slots and metrics registry, and the HTTP handler in front of it.
type Instance struct {
	name         string
	opts         Options
	logger       *slog.Logger
	eng          *engine
	metrics      *simMetrics
	mux          *http.ServeMux
	served       map[string]bool
	loras        map[string]LoRAModule
	defaultFault *faultSpec
	rngSalt      uint64
	requests     atomic.Uint64
	created      int64 // unix seconds of start, for /v1/models
}

// NewInstance starts an instance's engine, which runs until ctx ends, and
// returns the instance for in-process use through ServeHTTP. name is what the
// x-sim-instance header reports.
func NewInstance(ctx context.Context, opts Options, name string, logger *slog.Logger) (*Instance, error) {
	return newInstance(ctx, opts, name, 0, logger)
}

func newInstance(ctx context.Context, opts Options, name string, rank int, logger *slog.Logger) (*Instance, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("invalid options: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	in := &Instance{
		name:    name,
		opts:    opts,
		logger:  logger.With("instance", name),
		served:  map[string]bool{},
		loras:   map[string]LoRAModule{},
		created: time.Now().Unix(),
	}
	for _, n := range opts.servedNames() {
		in.served[n] = true
	}
	for _, m := range opts.LoRAModules {
		in.loras[m.Name] = m
	}
	if opts.Fault != "" {
		f, err := parseFaultSpec(opts.Fault)
		if err != nil {
			return nil, fmt.Errorf("--fault: %w", err)
		}
		in.defaultFault = f
	}
	for i := 0; i < len(name); i++ {
		in.rngSalt = (in.rngSalt ^ uint64(name[i])) * 1099511628211
	}
	in.metrics = newSimMetrics(&in.opts, rank)
	in.eng = newEngine(&in.opts, in.metrics)
	in.mux = http.NewServeMux()
	in.mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		in.serveGeneration(w, r, epChat)
	})
	in.mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) {
		in.serveGeneration(w, r, epCompletion)
	})
	in.mux.HandleFunc("POST /v1/embeddings", in.serveEmbeddings)
	in.mux.HandleFunc("GET /v1/models", in.serveModels)
	in.mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	in.mux.Handle("GET /metrics", promhttp.HandlerFor(in.metrics.reg, promhttp.HandlerOpts{}))
	in.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		// FastAPI's answer to an unknown route.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"detail":"Not Found"}`)
	})
	go in.eng.run(ctx)
	return in, nil
}

// Name returns the name the instance reports in x-sim-instance: its
// "host:port" when started by [Start].
func (in *Instance) Name() string { return in.name }

// Snapshot returns the engine's current state.
func (in *Instance) Snapshot() Snapshot { return in.eng.snapshot() }

// Gatherer returns the instance's Prometheus registry, the one /metrics serves.
func (in *Instance) Gatherer() prometheus.Gatherer { return in.metrics.reg }

// Done is closed when the instance's engine has stopped.
func (in *Instance) Done() <-chan struct{} { return in.eng.stopped }

// ServeHTTP implements [http.Handler].
func (in *Instance) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(HeaderInstance, in.name)
	in.mux.ServeHTTP(w, r)
}

// requestRNG returns a random source for one request, derived from --seed,
// the instance and the request's sequence number.
func (in *Instance) requestRNG() *rand.Rand {
	return rand.New(rand.NewPCG(uint64(in.opts.Seed), in.rngSalt^in.requests.Add(1)))
}

// readRequest reads and parses the body.
func (in *Instance) readRequest(w http.ResponseWriter, r *http.Request, ep endpoint) (*parsedRequest, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return nil, badRequest("", "cannot read the request body: %v", err)
	}
	return parseRequest(ep, body)
}

// resolveModel maps a request's model name to the name responses report and
// the adapter to use ("" for the base model), as vLLM does.
func (in *Instance) resolveModel(name string) (responseModel, lora string, err error) {
	base := in.opts.servedNames()[0]
	switch {
	case name == "" || in.served[name]:
		return base, "", nil
	case in.loras[name].Name != "":
		return name, name, nil
	default:
		return "", "", modelNotFound(name)
	}
}

// writeError answers with err as vLLM would.
func (in *Instance) writeError(w http.ResponseWriter, err error) {
	status, body := errorBody(err, in.opts.LegacyErrorFormat)
	if status >= http.StatusInternalServerError {
		// The message may quote the client's model name: cut.
		in.logger.Debug("request failed", "status", status, "error", labels.Truncate(err.Error(), labels.MaxLogErrorBytes))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeJSON answers 200 with v.
func (in *Instance) writeJSON(w http.ResponseWriter, v any) {
	body, err := marshalJSON(v)
	if err != nil {
		in.writeError(w, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// applyFault runs the parts of a fault that come before any response byte:
// the first-byte delay, the hang and the error status. It returns false when
// the request is answered (or abandoned) and must not go on.
func (in *Instance) applyFault(w http.ResponseWriter, r *http.Request, f *faultSpec, model string) bool {
	if f == nil {
		return true
	}
	ctx := r.Context()
	if f.slowFirstByte > 0 && !sleepCtx(ctx, in.eng.stopped, f.slowFirstByte) {
		return false
	}
	if f.hang {
		select {
		case <-ctx.Done():
		case <-in.eng.stopped:
		}
		return false
	}
	if f.failsRequest() {
		in.writeError(w, in.faultError(f, model))
		return false
	}
	return true
}

// sleepCtx sleeps for d; it returns false if ctx ends or stop closes first.
func sleepCtx(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}

// serveModels answers /v1/models: the served names, then the adapters.
func (in *Instance) serveModels(w http.ResponseWriter, _ *http.Request) {
	perm := func(id string) []modelPermission {
		var h uint64 = 14695981039346656037
		for i := 0; i < len(id); i++ {
			h = (h ^ uint64(id[i])) * 1099511628211
		}
		return []modelPermission{{
			ID: fmt.Sprintf("modelperm-%016x", h), Object: "model_permission", Created: in.created,
			AllowSampling: true, AllowLogprobs: true, AllowView: true, Organization: "*",
		}}
	}
	list := modelList{Object: "list"}
	maxLen := in.opts.MaxModelLen
	for _, n := range in.opts.servedNames() {
		list.Data = append(list.Data, modelCard{
			ID: n, Object: "model", Created: in.created, OwnedBy: "vllm", Root: in.opts.Model,
			MaxModelLen: &maxLen, Permission: perm(n),
		})
	}
	for _, m := range in.opts.LoRAModules {
		parent := m.BaseModelName
		if parent == "" {
			parent = in.opts.servedNames()[0]
		}
		list.Data = append(list.Data, modelCard{
			ID: m.Name, Object: "model", Created: in.created, OwnedBy: "vllm", Root: m.Path,
			Parent: &parent, Permission: perm(m.Name),
		})
	}
	in.writeJSON(w, list)
}
