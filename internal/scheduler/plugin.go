package scheduler

import "context"

// Filter drops candidates. It returns the candidates it keeps and may reuse
// (reorder, overwrite) the input slice's backing array to do so.
type Filter interface {
	Filter(ctx context.Context, r *Request, cands []Candidate) []Candidate
}

// Scorer scores candidates: it writes scores[i] for cands[i], a value in
// [0,1] where higher is better (out-of-range values are clamped by the
// engine). scores has the same length as cands and is zeroed beforehand.
// Weights are applied by the engine, not by scorers.
type Scorer interface {
	Score(ctx context.Context, r *Request, cands []Candidate, scores []float64)
}

// Picker chooses up to n candidates from their weighted total scores
// (totals[i] belongs to cands[i]) and returns their indexes, best first: the
// primary, then the fallbacks in order.
type Picker interface {
	Pick(ctx context.Context, r *Request, cands []Candidate, totals []float64, n int) []int
}

// PrefixConsumer is an optional ability of a [Scorer] or [Filter]: when a
// profile contains one that returns true, the scheduler hashes the prompt
// and fills [Candidate.PrefixMatched] and [Candidate.PrefixTotal] from its
// prefix index before running the profile, and records the request's blocks
// for the primary endpoint afterwards.
type PrefixConsumer interface {
	UsesPrefixMatch() bool
}

// FilterFunc adapts a function to [Filter].
type FilterFunc func(ctx context.Context, r *Request, cands []Candidate) []Candidate

// Filter implements [Filter.Filter].
func (f FilterFunc) Filter(ctx context.Context, r *Request, cands []Candidate) []Candidate {
	return f(ctx, r, cands)
}

// ScorerFunc adapts a function to [Scorer].
type ScorerFunc func(ctx context.Context, r *Request, cands []Candidate, scores []float64)

// Score implements [Scorer.Score].
func (f ScorerFunc) Score(ctx context.Context, r *Request, cands []Candidate, scores []float64) {
	f(ctx, r, cands, scores)
}

// PickerFunc adapts a function to [Picker].
type PickerFunc func(ctx context.Context, r *Request, cands []Candidate, totals []float64, n int) []int

// Pick implements [Picker.Pick].
func (f PickerFunc) Pick(ctx context.Context, r *Request, cands []Candidate, totals []float64, n int) []int {
	return f(ctx, r, cands, totals, n)
}

var (
	_ Filter = FilterFunc(nil)
	_ Scorer = ScorerFunc(nil)
	_ Picker = PickerFunc(nil)
)

// WeightedScorer is a scorer with its weight in a [Profile].
type WeightedScorer struct {
	// Scorer is the plugin.
	Scorer Scorer
	// Weight multiplies the scorer's [0,1] score; 0 means 1, as in GAIE
	// (a scorer listed without a weight gets 1.0).
	Weight float64
}

// Profile is one scheduling profile: filters run in order, then every scorer,
// then the picker, which returns the primary plus up to Fallbacks more.
type Profile struct {
	// Filters run in order; one that leaves no candidate ends the pick with
	// [ErrNoEndpoints].
	Filters []Filter
	// Scorers are summed with their weights.
	Scorers []WeightedScorer
	// Picker chooses from the totals; nil means a [MaxScorePicker].
	Picker Picker
	// Fallbacks is how many endpoints to return after the primary.
	Fallbacks int
}

// DefaultProfile is the reference EPP's default profile (§6.2): queue-scorer
// weight 2, kv-cache-utilization-scorer weight 2, prefix-cache-scorer weight
// 3 and the max-score picker, here breaking ties by fewest in-flight
// requests (the gateway's least-request pick) before chance. It returns the
// primary plus two fallbacks.
func DefaultProfile() Profile {
	return Profile{
		Scorers: []WeightedScorer{
			{Scorer: QueueScorer{}, Weight: 2},
			{Scorer: KVCacheScorer{}, Weight: 2},
			{Scorer: PrefixScorer{}, Weight: 3},
		},
		Picker:    &MaxScorePicker{},
		Fallbacks: 2,
	}
}
