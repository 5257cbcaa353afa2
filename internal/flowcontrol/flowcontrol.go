// Package flowcontrol holds the requests for a saturated inference pool
// until it can take them, as GAIE's flow-control layer does (its
// `featureGates: [flowControl]`): the highest priority first, then across
// the flows (fairness ids) of one priority either oldest request first
// (global-strict) or flow by flow (round-robin), first come first served
// within a flow. Queued requests are bounded in number and bytes, overall
// and per priority, and wait at most a TTL; when the overall bound is
// reached, a request displaces the newest requests of lower priorities.
//
// A [Controller] knows nothing of endpoints: it asks a [Gate] whether the
// pool can take one more request. While nothing waits, a request goes
// through unless the pool is saturated by its last scrapes; once requests
// wait, they leave one at a time, each after the previous one's pick is
// done and counted, so that the queue is paced into the pool rather than
// released into whichever server looked free at its last scrape.
package flowcontrol

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by [Controller.Admit]; callers map them to HTTP statuses
// as GAIE does: 429 for the first two, 503 for a TTL.
var (
	// ErrQueueFull: the request would exceed a request or byte limit.
	ErrQueueFull = errors.New("flowcontrol: queue capacity exceeded")
	// ErrSheddable: a sheddable request (priority < 0) while saturated is
	// dropped rather than queued.
	ErrSheddable = errors.New("flowcontrol: pool saturated, sheddable request dropped")
	// ErrTTLExpired: the request waited its whole TTL.
	ErrTTLExpired = errors.New("flowcontrol: request timed out in queue")
)

// Fairness policies between the flows of one priority (GAIE plugin types).
const (
	GlobalStrict = "global-strict-fairness-policy"
	RoundRobin   = "round-robin-fairness-policy"
)

// Limits bound what one priority, or all of them, may hold queued; zero
// means no bound.
type Limits struct {
	MaxRequests int
	MaxBytes    int64
}

// BandConfig configures one priority.
type BandConfig struct {
	Limits
	// Fairness is GlobalStrict (the default) or RoundRobin.
	Fairness string
}

// Config configures a [Controller].
type Config struct {
	// Limits bound all priorities together.
	Limits
	// DefaultTTL is how long a request may wait; 0 means until its
	// context ends.
	DefaultTTL time.Duration
	// Bands configures priorities by value; others get DefaultBand.
	Bands map[int]BandConfig
	// DefaultBand configures every priority not in Bands.
	DefaultBand BandConfig
	// PollInterval is how often the saturation is checked while requests
	// wait (besides after every dispatch); 0 means 5 ms.
	PollInterval time.Duration
}

// DefaultBandMaxBytes is GAIE's default byte limit of a priority band (1 GB).
const DefaultBandMaxBytes = 1_000_000_000

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	check := func(field string, l Limits) error {
		if l.MaxRequests < 0 || l.MaxBytes < 0 {
			return fmt.Errorf("flowcontrol: %s: limits must not be negative", field)
		}
		return nil
	}
	if err := check("global", c.Limits); err != nil {
		return err
	}
	if c.DefaultTTL < 0 {
		return fmt.Errorf("flowcontrol: defaultRequestTTL %v must not be negative", c.DefaultTTL)
	}
	checkBand := func(field string, b BandConfig) error {
		if err := check(field, b.Limits); err != nil {
			return err
		}
		if b.Fairness != "" && b.Fairness != GlobalStrict && b.Fairness != RoundRobin {
			return fmt.Errorf("flowcontrol: %s: fairness policy %q is not %s or %s", field, b.Fairness, GlobalStrict, RoundRobin)
		}
		return nil
	}
	if err := checkBand("default band", c.DefaultBand); err != nil {
		return err
	}
	for _, p := range slices.Sorted(maps.Keys(c.Bands)) {
		if err := checkBand(fmt.Sprintf("priority %d", p), c.Bands[p]); err != nil {
			return err
		}
	}
	return nil
}

// Request is what the controller knows of a request.
type Request struct {
	// Priority is the request's objective priority; higher goes first,
	// negative is sheddable.
	Priority int
	// FlowID is the fairness id (x-gateway-inference-fairness-id); "" is a
	// flow of its own.
	FlowID string
	// Bytes is the request's size, counted against byte limits.
	Bytes int64
}

// item is one waiting request.
type item struct {
	r        Request
	enqueued time.Time
	ready    chan struct{} // closed when dispatched or displaced
	err      error         // set before ready closes when displaced
	gone     bool          // left the queue (dispatched, displaced, expired or cancelled)
}

type flow struct {
	id    string
	items []*item
}

type band struct {
	priority int
	cfg      BandConfig
	flows    []*flow          // flows with waiting items, in arrival order of the flow
	byID     map[string]*flow // the same flows by id
	next     int              // round-robin cursor into flows
	queued   int
	bytes    int64
}

// Gate tells a [Controller] whether the pool is saturated.
type Gate interface {
	// Saturated reports whether the endpoints' last scraped state leaves
	// no room: no request should go straight through.
	Saturated() bool
	// Full reports whether there is no room once the requests already sent
	// since those scrapes are counted: no queued request should leave.
	Full() bool
}

// Controller queues requests while the pool is saturated. It is safe for
// concurrent use; [Controller.Run] must run for queued requests to leave.
type Controller struct {
	cfg  Config
	gate Gate

	// busy counts the queued requests plus a dispatched one still picking:
	// while it is 0 an unsaturated pool admits without taking mu.
	busy atomic.Int64

	mu      sync.Mutex
	bands   []*band // by priority, highest first
	queued  int
	bytes   int64
	handoff bool // a dispatched request has not finished its pick yet
	wake    chan struct{}
}

// New returns a controller that asks gate whether the pool can take more
// requests.
func New(cfg Config, gate Gate) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 5 * time.Millisecond
	}
	return &Controller{cfg: cfg, gate: gate, wake: make(chan struct{}, 1)}, nil
}

// Admit returns when r may be scheduled, with done to call once its pick is
// made (or abandoned). A request goes straight through while nothing waits
// and the pool is not saturated; otherwise it waits its turn, or fails
// with [ErrSheddable], [ErrQueueFull], [ErrTTLExpired] or its context's
// error.
func (c *Controller) Admit(ctx context.Context, r Request) (done func(), err error) {
	// Fast path: nothing waits and the pool has room. (A request enqueued
	// concurrently may be overtaken, as without flow control.)
	if c.busy.Load() == 0 && !c.gate.Saturated() {
		return func() {}, nil
	}
	c.mu.Lock()
	saturated := c.gate.Saturated()
	if c.queued == 0 && !c.handoff && !saturated {
		c.mu.Unlock()
		return func() {}, nil
	}
	if r.Priority < 0 && saturated {
		c.mu.Unlock()
		return nil, ErrSheddable
	}
	b := c.band(r.Priority)
	if err := c.fits(b, r); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	c.displaceFor(r)
	it := &item{r: r, enqueued: time.Now(), ready: make(chan struct{})}
	c.push(b, it)
	c.mu.Unlock()
	c.signal()

	var expired <-chan time.Time
	if c.cfg.DefaultTTL > 0 {
		t := time.NewTimer(c.cfg.DefaultTTL)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-it.ready:
		if it.err != nil {
			return nil, it.err
		}
		return sync.OnceFunc(c.finishHandoff), nil
	case <-ctx.Done():
		err = fmt.Errorf("flowcontrol: waiting in queue: %w", context.Cause(ctx))
	case <-expired:
		err = fmt.Errorf("%w after %v", ErrTTLExpired, c.cfg.DefaultTTL)
	}
	c.mu.Lock()
	left := it.gone
	if !left {
		c.remove(b, it)
	}
	c.mu.Unlock()
	if left && it.err == nil { // dispatched as it gave up: let the next one through
		c.finishHandoff()
	}
	return nil, err
}

// Queued returns how many requests wait, per priority.
func (c *Controller) Queued() map[int]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[int]int, len(c.bands))
	for _, b := range c.bands {
		out[b.priority] = b.queued
	}
	return out
}

// Run dispatches queued requests until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-t.C:
			if c.busy.Load() == 0 {
				continue // nothing waits
			}
		}
		c.dispatch()
	}
}

// dispatch lets the next request through if the pool can take it and no
// earlier one is still picking.
func (c *Controller) dispatch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.queued == 0 || c.handoff || c.gate.Full() {
		return
	}
	for _, b := range c.bands {
		if b.queued == 0 {
			continue
		}
		it := c.pop(b)
		c.handoff = true
		c.busy.Add(1)
		close(it.ready)
		return
	}
}

func (c *Controller) finishHandoff() {
	c.mu.Lock()
	c.handoff = false
	c.busy.Add(-1)
	c.mu.Unlock()
	c.signal()
}

func (c *Controller) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// band returns the band of priority p, creating it.
func (c *Controller) band(p int) *band {
	i, found := slices.BinarySearchFunc(c.bands, p, func(b *band, p int) int { return p - b.priority })
	if found {
		return c.bands[i]
	}
	cfg, ok := c.cfg.Bands[p]
	if !ok {
		cfg = c.cfg.DefaultBand
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultBandMaxBytes
	}
	b := &band{priority: p, cfg: cfg, byID: map[string]*flow{}}
	c.bands = slices.Insert(c.bands, i, b)
	return b
}

// over reports whether one more request of size bytes exceeds l, n and
// held being what is queued.
func over(l Limits, n int, held, bytes int64) bool {
	return (l.MaxRequests > 0 && n+1 > l.MaxRequests) || (l.MaxBytes > 0 && held+bytes > l.MaxBytes)
}

// fits checks r against its band's limits (a band never displaces its own
// requests) and against the global limits, counting as room what lower
// priorities hold (displaceFor frees it).
func (c *Controller) fits(b *band, r Request) error {
	if over(b.cfg.Limits, b.queued, b.bytes, r.Bytes) {
		return fmt.Errorf("%w: %d requests, %d bytes queued at priority %d", ErrQueueFull, b.queued, b.bytes, b.priority)
	}
	n, held := c.queued, c.bytes
	for _, lb := range c.bands {
		if lb.priority < r.Priority {
			n -= lb.queued
			held -= lb.bytes
		}
	}
	if over(c.cfg.Limits, n, held, r.Bytes) {
		return fmt.Errorf("%w: %d requests, %d bytes queued in all", ErrQueueFull, c.queued, c.bytes)
	}
	return nil
}

// displaceFor makes room for r under the global limits by turning away
// the newest requests of the lowest priorities below r's, as GAIE's flow
// control displaces: a full queue of batch traffic does not keep out an
// interactive request.
func (c *Controller) displaceFor(r Request) {
	for i := len(c.bands) - 1; i >= 0 && over(c.cfg.Limits, c.queued, c.bytes, r.Bytes); i-- {
		b := c.bands[i]
		for b.priority < r.Priority && b.queued > 0 && over(c.cfg.Limits, c.queued, c.bytes, r.Bytes) {
			newest := b.flows[0]
			for _, f := range b.flows[1:] {
				if f.items[len(f.items)-1].enqueued.After(newest.items[len(newest.items)-1].enqueued) {
					newest = f
				}
			}
			it := newest.items[len(newest.items)-1]
			c.remove(b, it)
			it.err = fmt.Errorf("%w: displaced by a priority-%d request", ErrQueueFull, r.Priority)
			close(it.ready)
		}
	}
}

func (c *Controller) push(b *band, it *item) {
	f := b.byID[it.r.FlowID]
	if f == nil {
		f = &flow{id: it.r.FlowID}
		b.flows = append(b.flows, f)
		b.byID[f.id] = f
	}
	f.items = append(f.items, it)
	b.queued++
	b.bytes += it.r.Bytes
	c.queued++
	c.bytes += it.r.Bytes
	c.busy.Add(1)
}

// pop removes and returns b's next request under its fairness policy.
func (c *Controller) pop(b *band) *item {
	fi := 0
	if b.cfg.Fairness == RoundRobin {
		fi = b.next % len(b.flows)
	} else { // global-strict: the oldest head
		for i, f := range b.flows {
			if f.items[0].enqueued.Before(b.flows[fi].items[0].enqueued) {
				fi = i
			}
		}
	}
	f := b.flows[fi]
	it := f.items[0]
	f.items[0] = nil
	f.items = f.items[1:]
	if len(f.items) == 0 {
		b.flows = slices.Delete(b.flows, fi, fi+1)
		delete(b.byID, f.id)
	} else {
		fi++ // round-robin: the next flow's turn
	}
	if len(b.flows) > 0 {
		b.next = fi % len(b.flows)
	}
	c.account(b, it)
	return it
}

// remove takes a request that gave up out of the queue.
func (c *Controller) remove(b *band, it *item) {
	f := b.byID[it.r.FlowID]
	if f == nil {
		return
	}
	i := slices.Index(f.items, it)
	if i < 0 {
		return
	}
	f.items = slices.Delete(f.items, i, i+1)
	if len(f.items) == 0 {
		fi := slices.Index(b.flows, f)
		b.flows = slices.Delete(b.flows, fi, fi+1)
		delete(b.byID, f.id)
		if b.next > fi {
			b.next--
		}
	}
	c.account(b, it)
}

func (c *Controller) account(b *band, it *item) {
	it.gone = true
	b.queued--
	b.bytes -= it.r.Bytes
	c.queued--
	c.bytes -= it.r.Bytes
	c.busy.Add(-1)
}
