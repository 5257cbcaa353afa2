// Package sim is `aigw sim`: a vLLM-compatible model-server simulator for
// testing gateways and endpoint pickers without GPUs (issue #3).
//
// # What it serves
//
// Each instance answers like a vLLM OpenAI-compatible server:
// POST /v1/chat/completions and /v1/completions (plain, or streamed as
// server-sent events: a role delta first for chat, one chunk per token, the
// finish_reason with the last token, a usage-only chunk with empty choices when
// stream_options.include_usage is set, then `data: [DONE]`), POST
// /v1/embeddings, GET /v1/models, GET /health and GET /metrics. Errors use
// vLLM's body, {"error":{"message","type","param","code"}}: 404 NotFoundError
// for an unknown model, 400 BadRequestError for a prompt that does not fit
// --max-model-len, 400 "Bad Request" for a body that fails validation.
// --legacy-error-format switches to older vLLM's flat
// {"object":"error","message",...} body.
//
// # The engine
//
// Each instance runs one scheduler goroutine that simulates vLLM v1's
// continuous batching in simulated time (see engine): a waiting queue, a
// running batch of at most --max-num-seqs, a per-step token budget with
// chunked prefill, a KV cache of --kv-cache-size blocks of --block-size tokens
// that running requests fill as they grow (preempting the newest request when
// it runs out), a prefix cache keyed by chained block hashes with LRU
// eviction, and at most --max-loras resident LoRA adapters. A step lasts
//
//	decode:  inter-token-latency × (1 + (time-factor-under-load−1)·(b−1)/(max-num-seqs−1))  for b decoding requests
//	         + decode-time-per-context-token × their context tokens (attention's KV-cache reads)
//	prefill: time-to-first-token + prefill-time-per-token × prefilled tokens                 if any request prefills
//	lora:    lora-load-time × adapters loaded in the step
//
// so time to first token grows with prompt length and with queueing, shrinks
// with prefix-cache hits, and inter-token latency grows with the batch and
// with the context it holds.
// --time-scale multiplies simulated time into wall time; with 0 the engine
// runs steps back to back and adds no latency. The defaults approximate
// Llama-3.1-8B-Instruct on one H100-80GB; see [DefaultOptions].
//
// Token counts come from a deterministic approximate tokenizer (about four
// characters per token: whitespace joins the next piece, words are cut every
// four letters or digits, every other rune is a token; see tokenizer.go), and
// chat prompts are rendered with the Llama 3 chat template.
//
// # Observability for tests
//
// Responses carry x-sim-instance (the serving "host:port") and the simulated
// x-sim-ttft-ms, x-sim-queue-ms, x-sim-e2e-ms, x-sim-cached-tokens and
// x-sim-lora-loaded; streamed responses send their headers with the first
// token. /metrics exposes vLLM's series with its names, labels and buckets
// (vllm:num_requests_running, vllm:num_requests_waiting,
// vllm:kv_cache_usage_perc, vllm:gpu_cache_usage_perc, vllm:cache_config_info,
// vllm:lora_requests_info, vllm:prefix_cache_queries_total,
// vllm:prefix_cache_hits_total, TTFT/ITL/TPOT/e2e histograms, token counters),
// from a registry per instance; latency histograms are in simulated seconds.
// [Instance.Snapshot] returns the engine state directly.
//
// # Faults
//
// A request header `x-sim-fault: <spec>` or the --fault flag (for requests
// without the header) injects a fault. A spec is a comma-separated list of
//
//	status=N               answer with HTTP status N and a vLLM-shaped error
//	type=T                 answer with a canned failure: rate_limit, invalid_api_key,
//	                       context_length, server_error, invalid_request, model_not_found
//	hang                   never send a byte; wait for the client to give up
//	reset-after=N          reset the TCP connection after N stream events (reset = 0)
//	slow-first-byte=D      wait D (wall time) before handling the request
//	slow-stream=D          wait D (wall time) before every stream event
//	rate=P                 apply the spec to P percent of requests (default 100)
//
// --failure-injection-rate and --failure-types inject canned failures at a
// fixed rate, as llm-d-inference-sim does.
//
// This package must not import the gateway's own packages: it stands in for
// a model server and shares nothing with the code it tests.
package sim
