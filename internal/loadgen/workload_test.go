package loadgen

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLogNormalDraw(t *testing.T) {
	tests := []struct {
		name     string
		d        LogNormal
		min, max int
	}{
		{"fixed", LogNormal{Median: 100}, 100, 100},
		{"clipped", LogNormal{Median: 600, Sigma: 1, Min: 100, Max: 4000}, 100, 4000},
		{"median above max", LogNormal{Median: 900, Max: 512}, 512, 512},
		{"never below one", LogNormal{Median: 0}, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			below := 0
			for range 2000 {
				n := tc.d.Draw(rng)
				require.GreaterOrEqual(t, n, tc.min)
				require.LessOrEqual(t, n, tc.max)
				if n < tc.d.Median {
					below++
				}
			}
			if tc.d.Sigma > 0 {
				// Half the draws fall below the median (seeded: exact count).
				require.InDelta(t, 1000, below, 100)
			}
		})
	}
}

func TestText(t *testing.T) {
	for _, w := range words {
		require.Len(t, w, 3, "word %q", w)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 16, 1000} {
		s := Text(rng, n)
		require.Len(t, strings.Fields(s), n)
		require.Len(t, s, 4*n-1, "four characters per token, no leading space")
	}
}

func TestWorkloads(t *testing.T) {
	out := LogNormal{Median: 64, Sigma: 0.5, Min: 16, Max: 256}
	tests := []struct {
		name  string
		w     Workload
		check func(t *testing.T, reqs []Request)
	}{
		{
			name: "mixed",
			w:    Mixed{Model: "m", PromptTokens: LogNormal{Median: 600, Sigma: 1, Min: 100, Max: 4000}, OutputTokens: out},
			check: func(t *testing.T, reqs []Request) {
				seen := map[string]bool{}
				for _, r := range reqs {
					require.Equal(t, "m", r.Model)
					require.Len(t, r.Messages, 1)
					require.Equal(t, "user", r.Messages[0].Role)
					n := len(strings.Fields(r.Messages[0].Content))
					require.GreaterOrEqual(t, n, 100)
					require.LessOrEqual(t, n, 4000)
					require.GreaterOrEqual(t, r.MaxTokens, 16)
					require.LessOrEqual(t, r.MaxTokens, 256)
					// No two prompts share their first 64-character block.
					head := r.Messages[0].Content[:64]
					require.False(t, seen[head], "shared prompt head %q", head)
					seen[head] = true
				}
			},
		},
		{
			name: "shared prefix",
			w: SharedPrefix{Model: "m", Groups: 4, SystemTokens: 1500,
				QuestionTokens: LogNormal{Median: 40, Sigma: 0.3, Min: 10, Max: 100}, OutputTokens: out, Seed: 7},
			check: func(t *testing.T, reqs []Request) {
				systems := map[string]int{}
				for _, r := range reqs {
					require.Len(t, r.Messages, 2)
					require.Equal(t, "system", r.Messages[0].Role)
					require.Len(t, strings.Fields(r.Messages[0].Content), 1500)
					require.Equal(t, "user", r.Messages[1].Role)
					systems[r.Messages[0].Content]++
				}
				require.Len(t, systems, 4, "every group is used, and has one system prompt")
				w := SharedPrefix{SystemTokens: 1500, Seed: 7}
				for g := range 4 {
					require.Positive(t, systems[w.SystemPrompt(g)], "group %d", g)
				}
				require.NotEqual(t, w.SystemPrompt(0), SharedPrefix{SystemTokens: 1500, Seed: 8}.SystemPrompt(0))
			},
		},
		{
			name: "lora",
			w: LoRA{Adapters: []string{"a0", "a1", "a2", "a3"}, Skew: 1,
				PromptTokens: LogNormal{Median: 200}, OutputTokens: out},
			check: func(t *testing.T, reqs []Request) {
				counts := map[string]int{}
				for _, r := range reqs {
					counts[r.Model]++
				}
				require.Len(t, counts, 4)
				// Zipf(1) over 4: 48 %, 24 %, 16 %, 12 %.
				require.Greater(t, counts["a0"], counts["a1"])
				require.Greater(t, counts["a1"], counts["a3"])
				require.InDelta(t, 0.48*float64(len(reqs)), counts["a0"], 0.05*float64(len(reqs)))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := Plan(tc.w, 100, 10*time.Second, 42)
			reqs := make([]Request, len(plan))
			for i, a := range plan {
				reqs[i] = a.Request
			}
			require.Greater(t, len(reqs), 500)
			tc.check(t, reqs)
		})
	}
}

func TestLoRAPopularity(t *testing.T) {
	tests := []struct {
		skew float64
		want []float64
	}{
		{0, []float64{0.25, 0.25, 0.25, 0.25}},
		{1, []float64{12.0 / 25, 6.0 / 25, 4.0 / 25, 3.0 / 25}},
	}
	for _, tc := range tests {
		p := LoRA{Adapters: make([]string, 4), Skew: tc.skew}.Popularity()
		require.InDeltaSlice(t, tc.want, p, 1e-12, "skew %v", tc.skew)
	}
}

func TestTagged(t *testing.T) {
	w := Tagged{Workload: Mixed{Model: "m", PromptTokens: LogNormal{Median: 10}, OutputTokens: LogNormal{Median: 5}},
		Name: "x-gateway-inference-objective", Value: "interactive", Fraction: 0.25}
	plan := Plan(w, 1000, 4*time.Second, 1)
	tagged := 0
	for _, a := range plan {
		switch a.Request.Headers["x-gateway-inference-objective"] {
		case "interactive":
			tagged++
		case "":
			require.Nil(t, a.Request.Headers)
		}
	}
	require.InDelta(t, 0.25, float64(tagged)/float64(len(plan)), 0.03)
	require.Equal(t, plan, Plan(w, 1000, 4*time.Second, 1), "deterministic")
}
