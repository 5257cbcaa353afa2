// Package loadgen is an open-loop load generator for OpenAI-compatible
// chat-completion servers, the measuring half of the scheduling benchmark
// (issue #5).
//
// The contract:
//
//   - A [Workload] draws requests; [Mixed] (varied prompt and output
//     lengths), [SharedPrefix] (groups of requests sharing a long system
//     prompt, the shape of GAIE's prefix-cache benchmark) and [LoRA]
//     (requests spread over adapters with skewed popularity) are provided.
//     [Plan] turns a workload into a schedule of Poisson arrivals at a given
//     rate. Everything is deterministic from a seed: the same seed gives the
//     same requests at the same times, and the request sequence does not
//     depend on the rate.
//   - [Run] sends each planned request at its time whatever happened to the
//     earlier ones (open loop: a slow server cannot lower the offered load),
//     streaming (SSE, with stream_options.include_usage), and measures it
//     from its planned send time: time to first content token, time per
//     output token ((last token − first token) / (output tokens − 1)),
//     end-to-end latency, output tokens (from the usage chunk, or counted),
//     status and error. A bound on requests in flight turns overload into
//     counted drops instead of unbounded goroutines.
//   - [Summarize] reduces results to percentiles, throughput and error rate;
//     [CompletionRate] measures throughput over a window (for finding a
//     saturation rate).
//
// This package must not import any other package of this module: it talks
// HTTP to whatever serves the API (a model server, a gateway) and shares no
// code with what it measures.
package loadgen
