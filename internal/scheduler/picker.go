package scheduler

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
)

var _ Picker = (*MaxScorePicker)(nil)

// MaxScorePicker is GAIE's max-score-picker: the highest totals first. Equal
// totals are ordered by fewer in-flight requests (the gateway's
// least-request pick), then at random (the reference shuffles ties).
type MaxScorePicker struct {
	// Rand returns a uniformly random uint64 for tie-breaking; nil means
	// math/rand/v2.Uint64.
	Rand func() uint64
}

// Pick implements [Picker.Pick]. It selects the top n in O(len(cands) × n)
// rather than sorting, as n (primary plus fallbacks) is small.
func (p *MaxScorePicker) Pick(_ context.Context, _ *Request, cands []Candidate, totals []float64, n int) []int {
	n = min(n, len(cands))
	if n <= 0 {
		return nil
	}
	rnd := p.Rand
	if rnd == nil {
		rnd = rand.Uint64
	}
	type key struct {
		idx   int
		total float64
		load  int64
		tie   uint64
	}
	better := func(a, b *key) bool {
		if a.total != b.total {
			return a.total > b.total
		}
		if a.load != b.load {
			return a.load < b.load
		}
		return a.tie > b.tie
	}
	// top holds the best keys seen so far, best first (insertion sort).
	var buf [8]key
	top := buf[:0]
	for i := range cands {
		k := key{idx: i, total: totals[i], load: cands[i].InFlight, tie: rnd()}
		if len(top) == n && !better(&k, &top[n-1]) {
			continue
		}
		if len(top) < n {
			top = append(top, k)
		} else {
			top[n-1] = k
		}
		for j := len(top) - 1; j > 0 && better(&top[j], &top[j-1]); j-- {
			top[j], top[j-1] = top[j-1], top[j]
		}
	}
	out := make([]int, len(top))
	for i := range top {
		out[i] = top[i].idx
	}
	return out
}

var (
	_ Picker = (*RandomPicker)(nil)
	_ Picker = (*RoundRobinPicker)(nil)
)

// RandomPicker is GAIE's random-picker: candidates in a uniformly random
// order, scores ignored.
type RandomPicker struct {
	// Rand returns a uniformly random uint64; nil means math/rand/v2.Uint64.
	Rand func() uint64
}

// Pick implements [Picker.Pick] with a partial Fisher–Yates shuffle.
func (p *RandomPicker) Pick(_ context.Context, _ *Request, cands []Candidate, _ []float64, n int) []int {
	n = min(n, len(cands))
	if n <= 0 {
		return nil
	}
	rnd := p.Rand
	if rnd == nil {
		rnd = rand.Uint64
	}
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	for i := 0; i < n; i++ {
		j := i + int(rnd()%uint64(len(order)-i))
		order[i], order[j] = order[j], order[i]
	}
	return order[:n]
}

// RoundRobinPicker takes candidates in turn, scores ignored: the baseline a
// Kubernetes Service gives (kube-proxy in IPVS round-robin mode). The
// fallbacks are the candidates after the primary, wrapping around.
type RoundRobinPicker struct {
	next atomic.Uint64
}

// Pick implements [Picker.Pick].
func (p *RoundRobinPicker) Pick(_ context.Context, _ *Request, cands []Candidate, _ []float64, n int) []int {
	n = min(n, len(cands))
	if n <= 0 {
		return nil
	}
	start := int((p.next.Add(1) - 1) % uint64(len(cands)))
	out := make([]int, n)
	for i := range out {
		out[i] = (start + i) % len(cands)
	}
	return out
}
