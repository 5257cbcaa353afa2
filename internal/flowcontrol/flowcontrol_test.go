package flowcontrol

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pool is a saturation switch, the same for both questions of a Gate.
type pool struct{ full atomic.Bool }

func (p *pool) Saturated() bool { return p.full.Load() }
func (p *pool) Full() bool      { return p.full.Load() }

func newController(t *testing.T, cfg Config) (*Controller, *pool) {
	t.Helper()
	p := &pool{}
	c, err := New(cfg, p)
	require.NoError(t, err)
	return c, p
}

// waiter is a request admitted in the background.
type waiter struct {
	name string
	res  chan result
}

type result struct {
	done func()
	err  error
}

// enqueue starts Admit for r and waits until it is queued.
func enqueue(t *testing.T, c *Controller, name string, r Request) *waiter {
	t.Helper()
	return enqueueCtx(t, t.Context(), c, name, r)
}

func enqueueCtx(t *testing.T, ctx context.Context, c *Controller, name string, r Request) *waiter {
	t.Helper()
	before := total(c)
	w := &waiter{name: name, res: make(chan result, 1)}
	go func() {
		done, err := c.Admit(ctx, r)
		w.res <- result{done, err}
	}()
	require.Eventually(t, func() bool { return total(c) == before+1 }, 5*time.Second, time.Millisecond, "%s was not queued", name)
	return w
}

func total(c *Controller) int {
	n := 0
	for _, q := range c.Queued() {
		n += q
	}
	return n
}

// next dispatches once and returns the waiter let through, finishing its
// pick.
func next(t *testing.T, c *Controller, ws ...*waiter) string {
	t.Helper()
	c.dispatch()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, w := range ws {
			select {
			case r := <-w.res:
				require.NoError(t, r.err, w.name)
				r.done()
				return w.name
			default:
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("nothing was dispatched")
	return ""
}

func TestAdmitPassesWhileNotSaturated(t *testing.T) {
	c, _ := newController(t, Config{})
	done, err := c.Admit(t.Context(), Request{Priority: -1})
	require.NoError(t, err, "even a sheddable request passes an unsaturated pool")
	done()
	assert.Empty(t, c.Queued())
}

func TestSheddableIsDroppedWhileSaturated(t *testing.T) {
	c, p := newController(t, Config{})
	p.full.Store(true)
	_, err := c.Admit(t.Context(), Request{Priority: -1})
	require.ErrorIs(t, err, ErrSheddable)
}

func TestPriorityFirstThenArrival(t *testing.T) {
	c, p := newController(t, Config{})
	p.full.Store(true)
	low1 := enqueue(t, c, "low1", Request{Priority: 0})
	high := enqueue(t, c, "high", Request{Priority: 10})
	low2 := enqueue(t, c, "low2", Request{Priority: 0})
	mid := enqueue(t, c, "mid", Request{Priority: 5})
	assert.Equal(t, map[int]int{10: 1, 5: 1, 0: 2}, c.Queued())

	c.dispatch()
	select {
	case <-high.res:
		t.Fatal("dispatched while saturated")
	case <-time.After(20 * time.Millisecond):
	}
	p.full.Store(false)
	all := []*waiter{low1, high, low2, mid}
	got := []string{next(t, c, all...), next(t, c, all...), next(t, c, all...), next(t, c, all...)}
	assert.Equal(t, []string{"high", "mid", "low1", "low2"}, got)
	assert.Equal(t, 0, total(c))
}

func TestOneHandoffAtATime(t *testing.T) {
	c, p := newController(t, Config{})
	p.full.Store(true)
	a := enqueue(t, c, "a", Request{})
	b := enqueue(t, c, "b", Request{})
	p.full.Store(false)
	c.dispatch()
	ra := <-a.res
	require.NoError(t, ra.err)
	c.dispatch()
	select {
	case <-b.res:
		t.Fatal("b went through before a's pick was done")
	case <-time.After(20 * time.Millisecond):
	}
	// A fresh request does not overtake b either.
	fresh := enqueue(t, c, "fresh", Request{})
	ra.done() // a's pick counted: b's turn
	assert.Equal(t, "b", next(t, c, b, fresh))
	assert.Equal(t, "fresh", next(t, c, b, fresh))
}

func TestFairnessPolicies(t *testing.T) {
	for _, tc := range []struct {
		fairness string
		want     []string
	}{
		{"", []string{"a1", "a2", "a3", "b1", "c1"}}, // global-strict: oldest first
		{GlobalStrict, []string{"a1", "a2", "a3", "b1", "c1"}},
		{RoundRobin, []string{"a1", "b1", "c1", "a2", "a3"}},
	} {
		t.Run(tc.fairness, func(t *testing.T) {
			c, p := newController(t, Config{DefaultBand: BandConfig{Fairness: tc.fairness}})
			p.full.Store(true)
			var ws []*waiter
			for _, n := range []string{"a1", "a2", "a3", "b1", "c1"} {
				ws = append(ws, enqueue(t, c, n, Request{FlowID: n[:1]}))
			}
			p.full.Store(false)
			var got []string
			for range ws {
				got = append(got, next(t, c, ws...))
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestRoundRobinSurvivesAFlowLeaving(t *testing.T) {
	c, p := newController(t, Config{DefaultBand: BandConfig{Fairness: RoundRobin}})
	p.full.Store(true)
	ctx, cancel := context.WithCancel(t.Context())
	a1 := enqueue(t, c, "a1", Request{FlowID: "a"})
	b1 := enqueueCtx(t, ctx, c, "b1", Request{FlowID: "b"})
	c1 := enqueue(t, c, "c1", Request{FlowID: "c"})
	a2 := enqueue(t, c, "a2", Request{FlowID: "a"})
	p.full.Store(false)
	assert.Equal(t, "a1", next(t, c, a1, c1, a2))
	cancel() // b's only request leaves: c is next
	require.ErrorIs(t, (<-b1.res).err, context.Canceled)
	assert.Equal(t, "c1", next(t, c, a1, c1, a2))
	assert.Equal(t, "a2", next(t, c, a1, c1, a2))
}

func TestLimits(t *testing.T) {
	c, p := newController(t, Config{
		Limits: Limits{MaxRequests: 3},
		Bands:  map[int]BandConfig{5: {Limits: Limits{MaxBytes: 100}}},
	})
	p.full.Store(true)
	enqueue(t, c, "a", Request{Priority: 5, Bytes: 60})
	_, err := c.Admit(t.Context(), Request{Priority: 5, Bytes: 50})
	require.ErrorIs(t, err, ErrQueueFull, "priority 5 holds 100 bytes")
	require.ErrorContains(t, err, "at priority 5")
	enqueue(t, c, "b", Request{Priority: 5, Bytes: 40})
	enqueue(t, c, "c", Request{Priority: 0, Bytes: 1 << 20})
	_, err = c.Admit(t.Context(), Request{Priority: 0})
	require.ErrorIs(t, err, ErrQueueFull, "3 requests in all")
	require.ErrorContains(t, err, "in all")
}

func TestHigherPriorityDisplacesLower(t *testing.T) {
	c, p := newController(t, Config{Limits: Limits{MaxRequests: 2}})
	p.full.Store(true)
	low1 := enqueue(t, c, "low1", Request{Priority: 0})
	low2 := enqueue(t, c, "low2", Request{Priority: 0})
	_, err := c.Admit(t.Context(), Request{Priority: 0})
	require.ErrorIs(t, err, ErrQueueFull, "an equal priority displaces nothing")

	high1 := enqueueDisplacing(t, c, "high1", Request{Priority: 10}, low2)
	high2 := enqueueDisplacing(t, c, "high2", Request{Priority: 10}, low1)
	assert.Equal(t, map[int]int{10: 2, 0: 0}, c.Queued())
	_, err = c.Admit(t.Context(), Request{Priority: 5})
	require.ErrorIs(t, err, ErrQueueFull, "nothing lower is left to displace")
	p.full.Store(false)
	assert.Equal(t, "high1", next(t, c, high1, high2))
	assert.Equal(t, "high2", next(t, c, high1, high2))
}

// enqueueDisplacing enqueues r, which displaces victim (newest first).
func enqueueDisplacing(t *testing.T, c *Controller, name string, r Request, victim *waiter) *waiter {
	t.Helper()
	w := &waiter{name: name, res: make(chan result, 1)}
	go func() {
		done, err := c.Admit(t.Context(), r)
		w.res <- result{done, err}
	}()
	select {
	case res := <-victim.res:
		require.ErrorIs(t, res.err, ErrQueueFull, victim.name)
		require.ErrorContains(t, res.err, "displaced by a priority-10 request")
	case <-time.After(5 * time.Second):
		t.Fatalf("%s was not displaced by %s", victim.name, name)
	}
	require.Eventually(t, func() bool { return c.Queued()[r.Priority] > 0 }, 5*time.Second, time.Millisecond)
	return w
}

func TestTTLAndCancellation(t *testing.T) {
	c, p := newController(t, Config{DefaultTTL: 30 * time.Millisecond})
	p.full.Store(true)
	start := time.Now()
	_, err := c.Admit(t.Context(), Request{Bytes: 10})
	require.ErrorIs(t, err, ErrTTLExpired)
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
	assert.Equal(t, 0, total(c), "an expired request leaves the queue")
	c.mu.Lock()
	assert.Zero(t, c.bytes)
	c.mu.Unlock()

	ctx, cancel := context.WithCancel(t.Context())
	w := enqueueCtx(t, ctx, c, "w", Request{})
	cancel()
	r := <-w.res
	require.True(t, errors.Is(r.err, context.Canceled), r.err)
	assert.Equal(t, 0, total(c))
}

func TestRunDispatchesWhenCapacityFrees(t *testing.T) {
	c, p := newController(t, Config{PollInterval: time.Millisecond})
	go c.Run(t.Context())
	p.full.Store(true)
	ws := []*waiter{enqueue(t, c, "a", Request{}), enqueue(t, c, "b", Request{Priority: 1})}
	p.full.Store(false)
	for _, want := range []string{"b", "a"} {
		select {
		case r := <-ws[map[string]int{"a": 0, "b": 1}[want]].res:
			require.NoError(t, r.err)
			r.done()
		case <-time.After(5 * time.Second):
			t.Fatalf("%s was never dispatched", want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Limits: Limits{MaxRequests: -1}}, "global: limits must not be negative"},
		{Config{DefaultTTL: -time.Second}, "defaultRequestTTL"},
		{Config{Bands: map[int]BandConfig{3: {Fairness: "lottery"}}}, `priority 3: fairness policy "lottery"`},
		{Config{DefaultBand: BandConfig{Limits: Limits{MaxBytes: -1}}}, "default band"},
	} {
		_, err := New(tc.cfg, &pool{})
		require.ErrorContains(t, err, tc.want)
	}
}
