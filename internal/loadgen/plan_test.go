package loadgen

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPlan(t *testing.T) {
	w := Mixed{Model: "m", PromptTokens: LogNormal{Median: 50, Sigma: 1, Min: 1, Max: 500}, OutputTokens: LogNormal{Median: 8, Sigma: 1, Min: 1, Max: 64}}
	tests := []struct {
		name string
		rate float64
		d    time.Duration
		seed uint64
	}{
		{"slow", 5, 60 * time.Second, 1},
		{"fast", 200, 20 * time.Second, 1},
		{"other seed", 200, 20 * time.Second, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := Plan(w, tc.rate, tc.d, tc.seed)
			want := tc.rate * tc.d.Seconds()
			// Poisson count: within four standard deviations (seeded, so the
			// result never changes).
			require.InDelta(t, want, len(plan), 4*math.Sqrt(want))
			for i, a := range plan {
				require.GreaterOrEqual(t, a.At, time.Duration(0))
				require.Less(t, a.At, tc.d)
				if i > 0 {
					require.GreaterOrEqual(t, a.At, plan[i-1].At, "arrivals in order")
				}
			}
			require.Equal(t, plan, Plan(w, tc.rate, tc.d, tc.seed), "deterministic")
		})
	}

	// The request sequence does not depend on the rate.
	slow, fast := Plan(w, 5, 60*time.Second, 1), Plan(w, 200, 20*time.Second, 1)
	for i := range slow {
		require.Equal(t, slow[i].Request, fast[i].Request, "request %d", i)
	}
	require.NotEqual(t, fast[0].Request, Plan(w, 200, 20*time.Second, 2)[0].Request)

	require.Empty(t, Plan(w, 0, time.Second, 1))
	require.Empty(t, Plan(w, 10, 0, 1))
}
