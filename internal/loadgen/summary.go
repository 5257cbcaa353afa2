package loadgen

import (
	"errors"
	"math"
	"slices"
	"time"
)

// Summary reduces the results of one run.
type Summary struct {
	// Requests is how many were planned; Completed how many finished
	// without error; Failed = Requests − Completed, of which Dropped were
	// never sent (ErrDropped).
	Requests, Completed, Failed, Dropped int
	// ErrorRate is Failed / Requests.
	ErrorRate float64
	// Time to first token over the completed requests.
	TTFTMean, TTFTP50, TTFTP90, TTFTP99 time.Duration
	// Time per output token over the completed requests with two or more
	// output tokens.
	TPOTP50, TPOTP90 time.Duration
	// Normalized time per output token, end-to-end latency over output
	// tokens (queueing and prefill included), over the completed requests
	// with output: the "per output token latency" of GAIE's benchmarks
	// (its latency profile generator and inference-perf).
	NTPOTP50, NTPOTP90 time.Duration
	// E2EP90 is the 90th percentile end-to-end latency.
	E2EP90 time.Duration
	// Elapsed is from the start of the run to the end of the last completed
	// request.
	Elapsed time.Duration
	// RequestsPerSec and OutputTokensPerSec are the completed requests and
	// their output tokens over Elapsed.
	RequestsPerSec, OutputTokensPerSec float64
}

// Summarize computes the summary of results. Percentiles are nearest-rank.
func Summarize(results []Result) Summary {
	s := Summary{Requests: len(results)}
	var ttft, tpots, ntpots, e2e []time.Duration
	var sum time.Duration
	tokens := 0
	for i := range results {
		r := &results[i]
		if !r.OK() {
			s.Failed++
			if errors.Is(r.Err, ErrDropped) {
				s.Dropped++
			}
			continue
		}
		s.Completed++
		ttft = append(ttft, r.TTFT)
		sum += r.TTFT
		e2e = append(e2e, r.E2E)
		if r.OutputTokens >= 2 {
			tpots = append(tpots, r.TPOT)
		}
		if r.OutputTokens >= 1 {
			ntpots = append(ntpots, r.E2E/time.Duration(r.OutputTokens))
		}
		tokens += r.OutputTokens
		s.Elapsed = max(s.Elapsed, r.Done())
	}
	if s.Requests > 0 {
		s.ErrorRate = float64(s.Failed) / float64(s.Requests)
	}
	if s.Completed > 0 {
		s.TTFTMean = sum / time.Duration(s.Completed)
	}
	slices.Sort(ttft)
	slices.Sort(tpots)
	slices.Sort(ntpots)
	slices.Sort(e2e)
	s.TTFTP50, s.TTFTP90, s.TTFTP99 = Percentile(ttft, 50), Percentile(ttft, 90), Percentile(ttft, 99)
	s.TPOTP50, s.TPOTP90 = Percentile(tpots, 50), Percentile(tpots, 90)
	s.NTPOTP50, s.NTPOTP90 = Percentile(ntpots, 50), Percentile(ntpots, 90)
	s.E2EP90 = Percentile(e2e, 90)
	if s.Elapsed > 0 {
		s.RequestsPerSec = float64(s.Completed) / s.Elapsed.Seconds()
		s.OutputTokensPerSec = float64(tokens) / s.Elapsed.Seconds()
	}
	return s
}

// Percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted, or 0 when it is empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// Nearest rank: the smallest value with at least p% of the values at or
	// below it, ceil(p × n / 100) counted from one (the epsilon keeps an exact
	// product from rounding up).
	rank := int(math.Ceil(p*float64(len(sorted))/100 - 1e-9))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// CompletionRate returns the completed requests per second, and their
// output tokens per second, over the requests that ended within [from, to)
// of the run. Under sustained overload that is the servers' capacity.
func CompletionRate(results []Result, from, to time.Duration) (reqPerSec, tokPerSec float64) {
	if to <= from {
		return 0, 0
	}
	n, tokens := 0, 0
	for i := range results {
		r := &results[i]
		if r.OK() && r.Done() >= from && r.Done() < to {
			n++
			tokens += r.OutputTokens
		}
	}
	secs := (to - from).Seconds()
	return float64(n) / secs, float64(tokens) / secs
}
