package router

import "math/rand/v2"

// Plan walks a rule's backends across attempts: attempt i goes to priority
// tier i/NumAttemptsPerPriority (the last tier once they run out), to a
// backend of that tier picked by weight among those this plan has not tried
// yet in the tier. A Plan belongs to one request and is not safe for
// concurrent use.
type Plan[B any] struct {
	rule     *Rule[B]
	rng      *rand.Rand
	attempts int
	max      int
	tried    map[*Ref[B]]bool
	// excluded refs cannot serve this request (a backend's exhausted
	// quota): never handed out again.
	excluded map[*Ref[B]]bool
	// skipped counts the tiers passed over because every backend of them
	// was excluded.
	skipped int
}

// Plan starts a plan for one request. rng may be nil to use the global
// source.
func (r *Rule[B]) Plan(rng *rand.Rand) *Plan[B] {
	maxAttempts := int(r.Retry.NumRetries) + 1
	if maxAttempts < 1 {
		maxAttempts = 1
	}
	return &Plan[B]{rule: r, rng: rng, max: maxAttempts}
}

// Attempts is the number of attempts handed out so far.
func (p *Plan[B]) Attempts() int { return p.attempts }

// HasNext reports whether Next would hand out another attempt.
func (p *Plan[B]) HasNext() bool { return len(p.rule.tiers) > 0 && p.attempts < p.max }

// Next returns the backend for the next attempt, or false when the rule has
// no enabled backend or the retry budget is spent.
func (p *Plan[B]) Next() (*Ref[B], bool) {
	tiers := p.rule.tiers
	if len(tiers) == 0 || p.attempts >= p.max {
		return nil, false
	}
	per := int(p.rule.Retry.NumAttemptsPerPriority)
	if per < 1 {
		per = 1
	}
	ti := min(p.attempts/per+p.skipped, len(tiers)-1)
	tier := p.usable(tiers[ti])
	for len(tier) == 0 {
		// Every backend of the tier is excluded: on to the next tier,
		// within the same attempt budget.
		if ti++; ti >= len(tiers) {
			return nil, false
		}
		p.skipped++
		tier = p.usable(tiers[ti])
	}
	ref := p.pick(tier)
	p.attempts++
	if p.tried == nil {
		p.tried = make(map[*Ref[B]]bool, 2)
	}
	p.tried[ref] = true
	return ref, true
}

// Exclude keeps ref out of the rest of the plan.
func (p *Plan[B]) Exclude(ref *Ref[B]) {
	if p.excluded == nil {
		p.excluded = make(map[*Ref[B]]bool, 1)
	}
	p.excluded[ref] = true
}

// usable is tier without its excluded refs.
func (p *Plan[B]) usable(tier []*Ref[B]) []*Ref[B] {
	if len(p.excluded) == 0 {
		return tier
	}
	out := make([]*Ref[B], 0, len(tier))
	for _, r := range tier {
		if !p.excluded[r] {
			out = append(out, r)
		}
	}
	return out
}

// pick chooses by weight among the tier's refs not tried yet, or among all
// when every one was tried.
func (p *Plan[B]) pick(tier []*Ref[B]) *Ref[B] {
	if len(tier) == 1 {
		return tier[0]
	}
	total := 0
	for _, r := range tier {
		if !p.tried[r] {
			total += int(r.Config.Weight)
		}
	}
	fresh := total > 0
	if !fresh {
		for _, r := range tier {
			total += int(r.Config.Weight)
		}
	}
	var n int
	if p.rng != nil {
		n = p.rng.IntN(total)
	} else {
		n = rand.IntN(total)
	}
	for _, r := range tier {
		if fresh && p.tried[r] {
			continue
		}
		n -= int(r.Config.Weight)
		if n < 0 {
			return r
		}
	}
	return tier[len(tier)-1]
}
