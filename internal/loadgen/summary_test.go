package loadgen

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentile(t *testing.T) {
	ten := []time.Duration{ms(1), ms(2), ms(3), ms(4), ms(5), ms(6), ms(7), ms(8), ms(9), ms(10)}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{ms(7)}, 99, ms(7)},
		{"p50 of ten", ten, 50, ms(5)},
		{"p90 of ten", ten, 90, ms(9)},
		{"p91 of ten", ten, 91, ms(10)},
		{"p99 of ten", ten, 99, ms(10)},
		{"p100", ten, 100, ms(10)},
		{"tiny p", ten, 0.1, ms(1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Percentile(tc.sorted, tc.p))
		})
	}
}

func TestSummarize(t *testing.T) {
	ok := func(at, ttft, e2e, tpot time.Duration, tokens int) Result {
		return Result{At: at, TTFT: ttft, E2E: e2e, TPOT: tpot, OutputTokens: tokens, Status: 200}
	}
	tests := []struct {
		name    string
		results []Result
		want    Summary
	}{
		{"nothing", nil, Summary{}},
		{
			name: "mixed outcomes",
			results: []Result{
				ok(0, ms(100), ms(1000), ms(10), 91),
				ok(ms(500), ms(300), ms(1500), ms(20), 61),
				ok(ms(1000), ms(200), ms(1000), 0, 1), // one token: no TPOT sample
				{At: ms(1200), Err: ErrDropped},
				{At: ms(1300), Status: 503, Err: &StatusError{Code: 503}, E2E: ms(5)},
			},
			want: Summary{
				Requests: 5, Completed: 3, Failed: 2, Dropped: 1, ErrorRate: 0.4,
				TTFTMean: ms(200), TTFTP50: ms(200), TTFTP90: ms(300), TTFTP99: ms(300),
				TPOTP50: ms(10), TPOTP90: ms(20),
				// 1000/91, 1500/61 and 1000/1 ms per output token.
				NTPOTP50: ms(1500) / 61, NTPOTP90: ms(1000),
				E2EP90:  ms(1500),
				Elapsed: ms(2000), RequestsPerSec: 1.5, OutputTokensPerSec: 76.5,
			},
		},
		{
			name:    "all failed",
			results: []Result{{Err: errors.New("boom")}, {Err: ErrIncompleteStream}},
			want:    Summary{Requests: 2, Failed: 2, ErrorRate: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Summarize(tc.results))
		})
	}
}

func TestCompletionRate(t *testing.T) {
	results := []Result{
		{At: 0, E2E: ms(500), OutputTokens: 10},        // done at 0.5 s: before the window
		{At: ms(1000), E2E: ms(500), OutputTokens: 20}, // 1.5 s
		{At: ms(2000), E2E: ms(900), OutputTokens: 30}, // 2.9 s
		{At: ms(2000), E2E: ms(1000), OutputTokens: 5}, // 3.0 s: the window is half-open
		{At: ms(2000), E2E: ms(100), Err: ErrIncompleteStream},
	}
	tests := []struct {
		name     string
		from, to time.Duration
		req, tok float64
	}{
		{"window", ms(1000), ms(3000), 1, 25},
		{"everything", 0, ms(4000), 1, 16.25},
		{"empty window", ms(3000), ms(3000), 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, tok := CompletionRate(results, tc.from, tc.to)
			require.InDelta(t, tc.req, req, 1e-9)
			require.InDelta(t, tc.tok, tok, 1e-9)
		})
	}
}
