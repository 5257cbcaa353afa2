package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aigw-dev/aigw/internal/flowcontrol"
)

// Scheduler picks endpoints for requests from scraped metrics, its own
// in-flight counts and its prefix index. Create it with [New]; run the
// scraper with [Scheduler.Start].
type Scheduler struct {
	cfg    Config
	logger *slog.Logger
	client *http.Client

	weights    []float64
	picker     Picker
	wantPrefix bool
	prefix     *prefixIndex

	// adapters holds every LoRA adapter name a scrape has reported: a
	// request names an adapter only if its model is one of them (the base
	// model never appears in lora_requests_info).
	adapters sync.Map // string → struct{}

	mu      sync.Mutex // serialises SetEndpoints
	snap    atomic.Pointer[snapshot]
	changed chan struct{} // capacity 1: endpoints changed, the scraper reconciles
	started atomic.Bool
	bufs    sync.Pool // *pickBuf: per-pick scratch, reused to keep Pick off the GC

	flow *flowcontrol.Controller // nil without flow control
}

// pickBuf is one pick's scratch space. Plugins must not retain the slices
// they are given beyond their call.
type pickBuf struct {
	cands  []Candidate
	totals []float64
	pos    []int32
}

// endpointState is one endpoint's live state. It survives SetEndpoints calls
// that keep its address, so in-flight counts and metrics carry over.
type endpointState struct {
	addr     string
	host     string                   // addr without the port, for bare-IP subset hints
	ep       atomic.Pointer[Endpoint] // replaced when the Pod data changes
	metrics  atomic.Pointer[Metrics]
	inflight atomic.Int64
	picks    atomic.Int64 // primary picks, ever
	failing  atomic.Bool
	lastErr  atomic.Pointer[string]
}

// snapshot is an immutable endpoint set, swapped atomically.
type snapshot struct {
	list   []*endpointState
	byAddr map[string]int // address → index in list
}

// New returns a scheduler for cfg (see [DefaultConfig]); logger may be nil.
func New(cfg Config, logger *slog.Logger) (*Scheduler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{
		cfg:     cfg,
		logger:  logger,
		client:  cfg.HTTPClient,
		picker:  cfg.Profile.Picker,
		prefix:  newPrefixIndex(cfg.Prefix.IndexCapacity),
		changed: make(chan struct{}, 1),
	}
	if s.picker == nil {
		s.picker = &MaxScorePicker{}
	}
	if s.client == nil {
		s.client = newScrapeClient(cfg.ScrapeTimeout)
	}
	for _, ws := range cfg.Profile.Scorers {
		w := ws.Weight
		if w == 0 {
			w = 1
		}
		s.weights = append(s.weights, w)
		if pc, ok := ws.Scorer.(PrefixConsumer); ok && pc.UsesPrefixMatch() {
			s.wantPrefix = true
		}
	}
	for _, f := range cfg.Profile.Filters {
		if pc, ok := f.(PrefixConsumer); ok && pc.UsesPrefixMatch() {
			s.wantPrefix = true
		}
	}
	s.snap.Store(&snapshot{byAddr: map[string]int{}})
	if cfg.FlowControl != nil {
		fc, err := flowcontrol.New(*cfg.FlowControl, flowGate{s})
		if err != nil {
			return nil, fmt.Errorf("scheduler: %w", err)
		}
		s.flow = fc
	}
	return s, nil
}

// Admit returns when r may be picked for, with done to call after the
// pick. Without flow control it returns at once. With it, a request waits
// while every endpoint is saturated (the highest priority first, fair
// across flows within one), and fails with [ErrSaturated] (sheddable),
// [ErrQueueFull], [ErrQueueTimeout] or its context's error.
func (s *Scheduler) Admit(ctx context.Context, r *Request) (done func(), err error) {
	if s.flow == nil {
		return func() {}, nil
	}
	done, err = s.flow.Admit(ctx, flowcontrol.Request{Priority: r.Priority, FlowID: r.FairnessID, Bytes: r.Bytes})
	if errors.Is(err, flowcontrol.ErrSheddable) {
		return nil, fmt.Errorf("%w: %w", ErrSaturated, err)
	}
	return done, err
}

// Queued returns how many requests flow control holds, per priority; nil
// without flow control.
func (s *Scheduler) Queued() map[int]int {
	if s.flow == nil {
		return nil
	}
	return s.flow.Queued()
}

// flowGate is flow control's view of the pool: an endpoint has room
// unless its waiting queue reaches QueueThreshold or its KV cache
// KVCacheThreshold (the utilization-detector's thresholds). It holds
// requests only on evidence: an endpoint whose metrics are unknown has room
// (a broken metrics endpoint must not stall a pool), and so does an empty
// pool (Pick answers that).
type flowGate struct{ s *Scheduler }

// Saturated judges by the last scrapes alone, so that an unsaturated pool
// admits at any rate.
func (g flowGate) Saturated() bool { return g.s.poolSaturated(false) }

// Full also counts as queued the requests picked for each endpoint since
// its last scrape, so that a drained queue goes out at most
// QueueThreshold − waiting requests per endpoint per scrape interval.
func (g flowGate) Full() bool { return g.s.poolSaturated(true) }

func (s *Scheduler) poolSaturated(countPicks bool) bool {
	snap := s.snap.Load()
	now := time.Now()
	for _, st := range snap.list {
		c := s.candidate(st, now)
		m := c.Metrics
		if m == nil {
			return false
		}
		queue := int64(m.WaitingQueue)
		if countPicks {
			queue += c.PickedSinceScrape
		}
		if queue < int64(s.cfg.QueueThreshold) && m.KVCacheUsage < s.cfg.KVCacheThreshold {
			return false
		}
	}
	return len(snap.list) > 0
}

// SetEndpoints replaces the endpoint set. Endpoints whose address stays keep
// their metrics and in-flight counts; the prefix index forgets the others.
// Duplicate addresses are kept once.
func (s *Scheduler) SetEndpoints(eps []Endpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.snap.Load()
	next := &snapshot{list: make([]*endpointState, 0, len(eps)), byAddr: make(map[string]int, len(eps))}
	for _, ep := range eps {
		if _, dup := next.byAddr[ep.Address]; dup {
			continue
		}
		st := old.get(ep.Address)
		if st == nil {
			st = &endpointState{addr: ep.Address, host: ep.Address}
			if h, _, err := net.SplitHostPort(ep.Address); err == nil {
				st.host = h
			}
		}
		if cur := st.ep.Load(); cur == nil || cur.PodName != ep.PodName || !maps.Equal(cur.Labels, ep.Labels) {
			st.ep.Store(&Endpoint{Address: ep.Address, PodName: ep.PodName, Labels: maps.Clone(ep.Labels)})
		}
		next.byAddr[ep.Address] = len(next.list)
		next.list = append(next.list, st)
	}
	s.snap.Store(next)
	for addr := range old.byAddr {
		if next.get(addr) == nil {
			s.prefix.remove(addr)
		}
	}
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Started records that a request was sent to addr and returns the function
// to call once it finished (safe to call more than once). Unknown addresses
// are not counted.
func (s *Scheduler) Started(addr string) (done func()) {
	st := s.snap.Load().get(addr)
	if st == nil {
		return func() {}
	}
	st.inflight.Add(1)
	var finished atomic.Bool
	return func() {
		if finished.CompareAndSwap(false, true) {
			st.inflight.Add(-1)
		}
	}
}

// Endpoints returns the state of every endpoint, in SetEndpoints order.
func (s *Scheduler) Endpoints() []EndpointStatus {
	snap := s.snap.Load()
	out := make([]EndpointStatus, 0, len(snap.list))
	for _, st := range snap.list {
		es := EndpointStatus{Endpoint: *st.ep.Load(), Metrics: st.metrics.Load(), InFlight: st.inflight.Load(), Failing: st.failing.Load()}
		if e := st.lastErr.Load(); e != nil {
			es.LastError = *e
		}
		out = append(out, es)
	}
	return out
}

// Pick chooses the primary endpoint and fallbacks for r.
func (s *Scheduler) Pick(ctx context.Context, r *Request) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("scheduler: pick: %w", err)
	}
	if r == nil {
		r = &Request{}
	}
	if r.LoRA != "" {
		if _, known := s.adapters.Load(r.LoRA); !known {
			base := *r // the base model (or an adapter no server has loaded yet)
			base.LoRA = ""
			r = &base
		}
	}
	snap := s.snap.Load()
	if len(snap.list) == 0 {
		return Result{}, fmt.Errorf("%w: the pool has no endpoints", ErrNoEndpoints)
	}
	if r.Subset != nil && len(r.Subset) == 0 {
		return Result{}, fmt.Errorf("%w: empty subset hint", ErrNoEndpoints)
	}
	now := time.Now()
	buf, _ := s.bufs.Get().(*pickBuf)
	if buf == nil {
		buf = &pickBuf{}
	}
	defer func() {
		clear(buf.cands) // drop pointers to endpoints and metrics
		s.bufs.Put(buf)
	}()
	match := subsetMatcher(r.Subset)
	cands := slices.Grow(buf.cands[:0], len(snap.list))
	buf.cands = cands[:cap(cands)]
	var pos []int32 // list index → candidate index, −1 if not a candidate
	if s.wantPrefix {
		buf.pos = slices.Grow(buf.pos[:0], len(snap.list))[:len(snap.list)]
		pos = buf.pos
	}
	for li, st := range snap.list {
		if match != nil && !match(st) {
			if pos != nil {
				pos[li] = -1
			}
			continue
		}
		if pos != nil {
			pos[li] = int32(len(cands))
		}
		cands = append(cands, s.candidate(st, now))
	}
	if len(cands) == 0 {
		return Result{}, fmt.Errorf("%w: no endpoint in subset hint %v", ErrNoEndpoints, r.Subset)
	}
	if r.Priority < 0 && s.allSaturated(cands) {
		return Result{}, fmt.Errorf("%w: %d candidates", ErrSaturated, len(cands))
	}

	var hashes []uint64
	if s.wantPrefix {
		hashes = hashPrompt(nil, r.Model, r.CacheSalt, r.Prompt, s.cfg.Prefix.BlockSizeTokens*charsPerToken, s.cfg.Prefix.MaxBlocks)
		if len(hashes) > 0 {
			for i := range cands {
				cands[i].PrefixTotal = len(hashes)
			}
			for _, hit := range s.prefix.match(hashes) {
				if li, ok := snap.byAddr[hit.addr]; ok && pos[li] >= 0 {
					cands[pos[li]].PrefixMatched = hit.n
				}
			}
		}
	}

	for _, f := range s.cfg.Profile.Filters {
		cands = f.Filter(ctx, r, cands)
		if len(cands) == 0 {
			return Result{}, fmt.Errorf("%w: filter %T left no candidate", ErrNoEndpoints, f)
		}
	}

	buf.totals = slices.Grow(buf.totals[:0], 2*len(cands))[:2*len(cands)]
	totals, scores := buf.totals[:len(cands)], buf.totals[len(cands):]
	clear(totals)
	for j, ws := range s.cfg.Profile.Scorers {
		clear(scores)
		ws.Scorer.Score(ctx, r, cands, scores)
		w := s.weights[j]
		for i, v := range scores {
			totals[i] += w * clamp01(v)
		}
	}

	idx := s.picker.Pick(ctx, r, cands, totals, 1+s.cfg.Profile.Fallbacks)
	res := Result{Endpoints: make([]string, 0, len(idx)), Scores: make(map[string]float64, len(idx))}
	for _, i := range idx {
		if i < 0 || i >= len(cands) {
			return Result{}, fmt.Errorf("%w: picker %T returned index %d of %d", ErrNoEndpoints, s.picker, i, len(cands))
		}
		addr := cands[i].Endpoint.Address
		if _, dup := res.Scores[addr]; dup {
			continue
		}
		res.Endpoints = append(res.Endpoints, addr)
		res.Scores[addr] = totals[i]
	}
	if len(res.Endpoints) == 0 {
		return Result{}, fmt.Errorf("%w: picker %T chose nothing", ErrNoEndpoints, s.picker)
	}
	// PreRequest in GAIE terms: the primary will now cache these blocks,
	// and carries load its next scrape will show.
	s.prefix.add(res.Endpoints[0], hashes)
	if st := snap.get(res.Endpoints[0]); st != nil {
		st.picks.Add(1)
	}
	return res, nil
}

// get returns the state of addr, nil if absent.
func (sn *snapshot) get(addr string) *endpointState {
	if i, ok := sn.byAddr[addr]; ok {
		return sn.list[i]
	}
	return nil
}

// candidate builds st's view for plugins; metrics are dropped when stale or
// when the last scrape failed.
func (s *Scheduler) candidate(st *endpointState, now time.Time) Candidate {
	c := Candidate{Endpoint: st.ep.Load(), InFlight: st.inflight.Load(), Failing: st.failing.Load()}
	if m := st.metrics.Load(); m != nil && !c.Failing && now.Sub(m.UpdateTime) <= s.cfg.Staleness {
		c.Metrics = m
		// Picks since the scrape, of which only those still in flight are
		// load (a quick request may have come and gone between scrapes).
		c.PickedSinceScrape = min(st.picks.Load()-m.picksBefore, c.InFlight)
	}
	return c
}

// allSaturated reports whether every candidate is saturated: waiting queue
// ≥ QueueThreshold, KV cache ≥ KVCacheThreshold, or metrics unknown (the
// reference's utilization-detector counts stale metrics as 100 %). The
// reference compares the mean of max(q/Q, kv/KV) with 1 (§6.5); issue #5
// asks for "every endpoint saturated", which is stricter about shedding.
func (s *Scheduler) allSaturated(cands []Candidate) bool {
	for i := range cands {
		m := cands[i].Metrics
		if m != nil && m.WaitingQueue < s.cfg.QueueThreshold && m.KVCacheUsage < s.cfg.KVCacheThreshold {
			return false
		}
	}
	return true
}

// subsetMatcher returns a predicate for the subset hint, nil for no hint.
// Entries are "ip:port" (exact) or a bare IP (all its ports).
func subsetMatcher(subset []string) func(*endpointState) bool {
	if subset == nil {
		return nil
	}
	if len(subset) <= 8 {
		return func(st *endpointState) bool {
			return slices.Contains(subset, st.addr) || slices.Contains(subset, st.host)
		}
	}
	set := make(map[string]struct{}, len(subset))
	for _, e := range subset {
		set[e] = struct{}{}
	}
	return func(st *endpointState) bool {
		_, a := set[st.addr]
		_, h := set[st.host]
		return a || h
	}
}

func clamp01(v float64) float64 {
	switch {
	case v >= 0 && v <= 1:
		return v
	case v > 1:
		return 1
	default: // negative or NaN
		return 0
	}
}

// Saturation is GAIE's utilization-detector over the pool: the mean, over
// endpoints, of max(waiting queue / QueueThreshold, KV usage /
// KVCacheThreshold), an endpoint with unknown metrics counting as 1. At 1 or
// more the pool is saturated; 0 for an empty pool.
func (s *Scheduler) Saturation() float64 {
	snap := s.snap.Load()
	if len(snap.list) == 0 {
		return 0
	}
	now := time.Now()
	sum := 0.0
	for _, st := range snap.list {
		c := s.candidate(st, now)
		if c.Metrics == nil {
			sum++
			continue
		}
		sum += max(float64(c.Metrics.WaitingQueue)/float64(s.cfg.QueueThreshold), c.Metrics.KVCacheUsage/s.cfg.KVCacheThreshold)
	}
	return sum / float64(len(snap.list))
}

// Fresh reports whether st's metrics are usable now (scraped, not failing,
// not stale).
func (s *Scheduler) Fresh(st EndpointStatus) bool {
	return st.Metrics != nil && !st.Failing && time.Since(st.Metrics.UpdateTime) <= s.cfg.Staleness
}

// PromptLimit is how many bytes of [Request.Prompt] prefix hashing reads at
// most; callers may truncate longer prompts before copying them.
func (s *Scheduler) PromptLimit() int {
	return s.cfg.Prefix.BlockSizeTokens * charsPerToken * s.cfg.Prefix.MaxBlocks
}
