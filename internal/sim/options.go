package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Mode selects how the simulator produces completion text.
type Mode string

const (
	// ModeEcho answers with the request's own text: the last user message of a
	// chat, or the prompt of a completion, cut at the token limit.
	ModeEcho Mode = "echo"
	// ModeRandom answers with sentences picked from a fixed corpus by the
	// instance's seeded random source.
	ModeRandom Mode = "random"
)

// FailureType names a canned failure that --failure-injection-rate injects; the
// names are those of llm-d-inference-sim.
type FailureType string

// Failure types understood by --failure-types and the `type=` fault directive.
const (
	FailureRateLimit      FailureType = "rate_limit"
	FailureInvalidAPIKey  FailureType = "invalid_api_key"
	FailureContextLength  FailureType = "context_length"
	FailureServerError    FailureType = "server_error"
	FailureInvalidRequest FailureType = "invalid_request"
	FailureModelNotFound  FailureType = "model_not_found"
)

// allFailureTypes lists every FailureType in a fixed order; it is the default
// set when --failure-types is empty.
func allFailureTypes() []FailureType {
	return []FailureType{
		FailureRateLimit, FailureInvalidAPIKey, FailureContextLength,
		FailureServerError, FailureInvalidRequest, FailureModelNotFound,
	}
}

// LoRAModule is one LoRA adapter the simulator serves next to the base model.
type LoRAModule struct {
	// Name is the model name clients put in requests.
	Name string `json:"name"`
	// Path is reported as the adapter's root in /v1/models; nothing is read from it.
	Path string `json:"path,omitempty"`
	// BaseModelName is reported as the adapter's parent; empty means the first
	// served model name.
	BaseModelName string `json:"base_model_name,omitempty"`
}

// ParseLoRAModule parses one --lora-modules value: `name=path`, a plain `name`,
// or the JSON object form `{"name":..,"path":..,"base_model_name":..}` that vLLM
// and llm-d-inference-sim accept.
func ParseLoRAModule(s string) (LoRAModule, error) {
	s = strings.TrimSpace(s)
	var m LoRAModule
	switch {
	case s == "":
		return m, errors.New("empty LoRA module")
	case strings.HasPrefix(s, "{"):
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return m, fmt.Errorf("LoRA module %q: %w", s, err)
		}
	default:
		name, path, _ := strings.Cut(s, "=")
		m = LoRAModule{Name: name, Path: path}
	}
	if m.Name == "" {
		return m, fmt.Errorf("LoRA module %q has no name", s)
	}
	if m.Path == "" {
		m.Path = m.Name
	}
	return m, nil
}

// Options are the simulator settings (what the flags set). Latencies are in
// simulated time; TimeScale maps them to wall-clock time. The defaults
// approximate Llama-3.1-8B-Instruct in bf16 served by vLLM v1 on one H100-80GB.
type Options struct {
	// Host is the address the servers bind (--host); loopback by default.
	Host string
	// Port is the first port (--port); instance i listens on Port+i. Zero picks
	// a free port for every instance.
	Port int
	// Instances is how many independent model servers to run (--instances).
	Instances int
	// DataParallelSize is how many data-parallel ranks each instance has
	// (--data-parallel-size); every rank is a server with its own engine, on
	// consecutive ports, like llm-d-inference-sim.
	DataParallelSize int

	// Model is the model path (--model), reported as root in /v1/models.
	Model string
	// ServedModelNames are the names clients may use (--served-model-name);
	// empty means Model. The first one labels the metrics.
	ServedModelNames []string
	// LoRAModules are the adapters served next to the base model (--lora-modules).
	LoRAModules []LoRAModule
	// MaxLoRAs is how many adapters can be resident at once (--max-loras).
	MaxLoRAs int
	// LoRALoadTime is the engine time spent loading a non-resident adapter
	// (--lora-load-time); it lengthens the step that admits the request.
	LoRALoadTime time.Duration

	// MaxNumSeqs bounds the running batch (--max-num-seqs).
	MaxNumSeqs int
	// MaxNumBatchedTokens is the per-step token budget (--max-num-batched-tokens);
	// longer prompts are prefilled in chunks over several steps.
	MaxNumBatchedTokens int
	// MaxModelLen is the context window: prompt plus completion tokens (--max-model-len).
	MaxModelLen int
	// KVCacheSize is the number of KV-cache blocks (--kv-cache-size).
	KVCacheSize int
	// BlockSize is the number of tokens per KV-cache block (--block-size).
	BlockSize int

	// TimeToFirstToken is the fixed cost of an engine step that prefills
	// (--time-to-first-token): on an idle server a request's TTFT is
	// TimeToFirstToken + PrefillTimePerToken × uncached prompt tokens.
	TimeToFirstToken time.Duration
	// PrefillTimePerToken is the engine time per prefilled (uncached) prompt
	// token (--prefill-time-per-token).
	PrefillTimePerToken time.Duration
	// InterTokenLatency is the duration of a decode step with one sequence
	// (--inter-token-latency).
	InterTokenLatency time.Duration
	// TimeFactorUnderLoad multiplies the decode step time when the batch holds
	// MaxNumSeqs sequences, linearly from 1 at one sequence
	// (--time-factor-under-load, as in llm-d-inference-sim).
	TimeFactorUnderLoad float64
	// DecodeTimePerContextToken is what a decode step adds per token of
	// context its decoding sequences attend to (--decode-time-per-context-token):
	// attention reads every such token's KV cache each step, so a server whose
	// cache is full of long contexts decodes slower than one with the same
	// batch of short ones. 0 leaves the step time to the batch size alone.
	DecodeTimePerContextToken time.Duration
	// TimeScale multiplies every simulated duration to get wall-clock time
	// (--time-scale); 0 means no latency at all, the engine runs as fast as it can.
	TimeScale float64

	// Mode is echo or random (--mode).
	Mode Mode
	// Seed seeds response text, ids and failure injection (--seed).
	Seed int64
	// EmbeddingDim is the length of /v1/embeddings vectors when the request
	// does not set dimensions (--embedding-dim).
	EmbeddingDim int

	// FailureInjectionRate is the percentage (0-100) of requests that fail
	// with one of FailureTypes (--failure-injection-rate).
	FailureInjectionRate float64
	// FailureTypes restricts the injected failures (--failure-types); empty means all.
	FailureTypes []FailureType
	// Fault is a fault spec applied to every request that carries no
	// x-sim-fault header (--fault), e.g. "status=503,rate=10"; see doc.go.
	Fault string
	// LegacyErrorFormat answers errors with the flat body older vLLM releases
	// sent ({"object":"error","message",...}) instead of {"error":{...}}
	// (--legacy-error-format).
	LegacyErrorFormat bool
}

// DefaultOptions returns the defaults; see [Options] for what they approximate.
func DefaultOptions() Options {
	return Options{
		Host:             "127.0.0.1",
		Port:             8000,
		Instances:        1,
		DataParallelSize: 1,
		Model:            "meta-llama/Llama-3.1-8B-Instruct",
		MaxLoRAs:         1,
		LoRALoadTime:     25 * time.Millisecond,
		// vLLM's default batch limits for an online server.
		MaxNumSeqs:          256,
		MaxNumBatchedTokens: 8192,
		MaxModelLen:         131072,
		// 80 GB × 0.9 − 16 GB weights − activations ≈ 55 GiB of KV cache at
		// 128 KiB per token (32 layers × 8 KV heads × 128 dims × 2 × bf16):
		// about 448 K tokens, 28 000 blocks of 16.
		KVCacheSize: 28000,
		BlockSize:   16,
		// An H100 prefills an 8B model at roughly 33 K tokens/s and decodes one
		// sequence at ~7 ms/token (memory-bound on 16 GB of weights); a full
		// batch of 256 roughly triples the decode step. Attention reads each
		// context token's 128 KiB of KV at ~3.35 TB/s: ~39 ns a token, so a
		// step over a full cache (448 K tokens) spends ~17 ms reading it.
		TimeToFirstToken:          10 * time.Millisecond,
		PrefillTimePerToken:       30 * time.Microsecond,
		InterTokenLatency:         7 * time.Millisecond,
		TimeFactorUnderLoad:       3,
		DecodeTimePerContextToken: 39 * time.Nanosecond,
		TimeScale:                 1,
		Mode:                      ModeRandom,
		EmbeddingDim:              1024,
	}
}

// servedNames returns the names clients may use for the base model.
func (o *Options) servedNames() []string {
	if len(o.ServedModelNames) > 0 {
		return o.ServedModelNames
	}
	return []string{o.Model}
}

// Validate reports the first setting that cannot work, naming its flag.
func (o *Options) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(o.Port >= 0 && o.Port <= 65535, "--port %d is out of range", o.Port)
	check(o.Instances >= 1, "--instances must be at least 1, got %d", o.Instances)
	check(o.DataParallelSize >= 1, "--data-parallel-size must be at least 1, got %d", o.DataParallelSize)
	if o.Port > 0 {
		last := o.Port + o.Instances*o.DataParallelSize - 1
		check(last <= 65535, "ports %d-%d run past 65535", o.Port, last)
	}
	check(o.Model != "", "--model must not be empty")
	check(o.MaxNumSeqs >= 1, "--max-num-seqs must be at least 1, got %d", o.MaxNumSeqs)
	check(o.MaxNumBatchedTokens >= 1, "--max-num-batched-tokens must be at least 1, got %d", o.MaxNumBatchedTokens)
	check(o.MaxModelLen >= 2, "--max-model-len must be at least 2, got %d", o.MaxModelLen)
	check(o.BlockSize >= 1, "--block-size must be at least 1, got %d", o.BlockSize)
	check(o.KVCacheSize >= 1, "--kv-cache-size must be at least 1, got %d", o.KVCacheSize)
	// vLLM refuses to start when one sequence of max-model-len cannot fit.
	check(o.KVCacheSize*o.BlockSize >= o.MaxModelLen,
		"--max-model-len %d is larger than the KV cache holds (%d blocks × %d tokens)",
		o.MaxModelLen, o.KVCacheSize, o.BlockSize)
	check(o.TimeToFirstToken >= 0, "--time-to-first-token must not be negative")
	check(o.PrefillTimePerToken >= 0, "--prefill-time-per-token must not be negative")
	check(o.InterTokenLatency >= 0, "--inter-token-latency must not be negative")
	check(o.LoRALoadTime >= 0, "--lora-load-time must not be negative")
	check(o.DecodeTimePerContextToken >= 0, "--decode-time-per-context-token must not be negative")
	check(o.TimeFactorUnderLoad >= 1, "--time-factor-under-load must be at least 1, got %v", o.TimeFactorUnderLoad)
	check(o.TimeScale >= 0, "--time-scale must not be negative, got %v", o.TimeScale)
	check(o.Mode == ModeEcho || o.Mode == ModeRandom, "--mode must be echo or random, got %q", o.Mode)
	check(o.EmbeddingDim >= 1, "--embedding-dim must be at least 1, got %d", o.EmbeddingDim)
	check(o.FailureInjectionRate >= 0 && o.FailureInjectionRate <= 100,
		"--failure-injection-rate must be within 0-100, got %v", o.FailureInjectionRate)
	for _, t := range o.FailureTypes {
		check(slices.Contains(allFailureTypes(), t), "--failure-types: unknown type %q", t)
	}
	if o.Fault != "" {
		if _, err := parseFaultSpec(o.Fault); err != nil {
			errs = append(errs, fmt.Errorf("--fault: %w", err))
		}
	}
	if len(o.LoRAModules) > 0 {
		check(o.MaxLoRAs >= 1, "--max-loras must be at least 1 when --lora-modules is set, got %d", o.MaxLoRAs)
	}
	seen := map[string]bool{}
	for _, n := range o.servedNames() {
		check(n != "", "--served-model-name must not be empty")
		check(!seen[n], "model name %q is served twice", n)
		seen[n] = true
	}
	for _, m := range o.LoRAModules {
		check(m.Name != "", "--lora-modules: adapter without a name")
		check(!seen[m.Name], "model name %q is served twice", m.Name)
		seen[m.Name] = true
	}
	return errors.Join(errs...)
}
