package scheduler

import (
	"context"
	"slices"
)

// NeutralScore is what the load scorers give a candidate whose metrics are
// unknown (stale, failing or never scraped): neither preferred nor avoided.
const NeutralScore = 0.5

// Compile-time assertions.
var (
	_ Scorer         = QueueScorer{}
	_ Scorer         = KVCacheScorer{}
	_ Scorer         = LeastRequestScorer{}
	_ Scorer         = LoRAAffinityScorer{}
	_ Scorer         = PrefixScorer{}
	_ PrefixConsumer = PrefixScorer{}
)

// QueueScorer is GAIE's queue-scorer: (maxQ − q) / (maxQ − minQ) over the
// candidates with known metrics; 1 for all of them if their queues are
// equal; [NeutralScore] for unknown metrics. Here q is the scraped waiting
// queue plus the requests picked for the endpoint since that scrape (GAIE
// uses the scraped queue alone, so every request of a burst within one
// scrape interval scores the same endpoint best and lands on it).
type QueueScorer struct{}

// Score implements [Scorer.Score].
func (QueueScorer) Score(_ context.Context, _ *Request, cands []Candidate, scores []float64) {
	minMax(cands, scores, func(c *Candidate) (float64, bool) {
		if c.Metrics == nil {
			return 0, false
		}
		return float64(int64(c.Metrics.WaitingQueue) + c.PickedSinceScrape), true
	})
}

// KVCacheScorer is GAIE's kv-cache-utilization-scorer: 1 − KV-cache usage;
// [NeutralScore] for unknown metrics.
type KVCacheScorer struct{}

// Score implements [Scorer.Score].
func (KVCacheScorer) Score(_ context.Context, _ *Request, cands []Candidate, scores []float64) {
	for i := range cands {
		if m := cands[i].Metrics; m != nil {
			scores[i] = 1 - m.KVCacheUsage
		} else {
			scores[i] = NeutralScore
		}
	}
}

// LeastRequestScorer prefers fewer outstanding requests, counted by the
// scheduler itself (no scrape needed): (maxN − n) / (maxN − minN) over the
// candidates, 1 for all if equal.
type LeastRequestScorer struct{}

// Score implements [Scorer.Score].
func (LeastRequestScorer) Score(_ context.Context, _ *Request, cands []Candidate, scores []float64) {
	minMax(cands, scores, func(c *Candidate) (float64, bool) { return float64(c.InFlight), true })
}

// minMax writes (max − v) / (max − min) for the candidates whose value is
// known (1 if all known values are equal) and NeutralScore for the others.
func minMax(cands []Candidate, scores []float64, value func(*Candidate) (float64, bool)) {
	lo, hi, known := 0.0, 0.0, false
	for i := range cands {
		v, ok := value(&cands[i])
		if !ok {
			continue
		}
		if !known || v < lo {
			lo = v
		}
		if !known || v > hi {
			hi = v
		}
		known = true
	}
	for i := range cands {
		v, ok := value(&cands[i])
		switch {
		case !ok:
			scores[i] = NeutralScore
		case hi == lo:
			scores[i] = 1
		default:
			scores[i] = (hi - v) / (hi - lo)
		}
	}
}

// LoRAAffinityScorer is GAIE's lora-affinity-scorer for requests naming an
// adapter: 1.0 where the adapter is active, 0.8 where the server has room to
// load it (active + waiting < max), 0.6 where requests already wait for it,
// else 0; [NeutralScore] for unknown metrics. Base-model requests score 1
// everywhere (no preference).
type LoRAAffinityScorer struct{}

// LoRA affinity scores (GAIE v1.5.0, §6.3).
const (
	loraActive  = 1.0
	loraRoom    = 0.8
	loraWaiting = 0.6
)

// Score implements [Scorer.Score].
func (LoRAAffinityScorer) Score(_ context.Context, r *Request, cands []Candidate, scores []float64) {
	for i := range cands {
		m := cands[i].Metrics
		switch {
		case r.LoRA == "":
			scores[i] = 1
		case m == nil:
			scores[i] = NeutralScore
		case slices.Contains(m.ActiveAdapters, r.LoRA):
			scores[i] = loraActive
		case len(m.ActiveAdapters)+len(m.WaitingAdapters) < m.MaxLoRAs:
			scores[i] = loraRoom
		case slices.Contains(m.WaitingAdapters, r.LoRA):
			scores[i] = loraWaiting
		default:
			scores[i] = 0
		}
	}
}

// PrefixScorer is GAIE's prefix-cache-scorer: matched prefix blocks / total
// blocks of the request, from the scheduler's prefix index; 0 for prompts
// shorter than one block.
type PrefixScorer struct{}

// UsesPrefixMatch implements [PrefixConsumer.UsesPrefixMatch].
func (PrefixScorer) UsesPrefixMatch() bool { return true }

// Score implements [Scorer.Score].
func (PrefixScorer) Score(_ context.Context, _ *Request, cands []Candidate, scores []float64) {
	for i := range cands {
		if t := cands[i].PrefixTotal; t > 0 {
			scores[i] = float64(cands[i].PrefixMatched) / float64(t)
		}
	}
}

var _ Scorer = RunningRequestsScorer{}

// RunningRequestsScorer is GAIE's running-requests-size-scorer: fewer
// running requests (as the model server reports them) score higher,
// (maxR − r) / (maxR − minR); [NeutralScore] for unknown metrics.
type RunningRequestsScorer struct{}

// Score implements [Scorer.Score].
func (RunningRequestsScorer) Score(_ context.Context, _ *Request, cands []Candidate, scores []float64) {
	minMax(cands, scores, func(c *Candidate) (float64, bool) {
		if c.Metrics == nil {
			return 0, false
		}
		return float64(c.Metrics.Running), true
	})
}
