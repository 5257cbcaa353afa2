package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// errEngineStopped is returned to requests still in flight when the
// instance's context ends.
var errEngineStopped = errors.New("engine stopped")

type seqKind uint8

const (
	kindGenerate seqKind = iota
	kindEmbed
)

// seq is one request inside the engine.
type seq struct {
	// Set by the handler before submission; read-only afterwards.
	kind         seqKind
	prompt       int      // prompt tokens
	hashes       []uint64 // chained hashes of the full prompt blocks
	target       int      // completion tokens to generate (0 for embeddings)
	finishReason string   // "stop" or "length", reported with the last token
	lora         string   // adapter name, "" for the base model
	maxTokens    int      // the request's max_tokens, 0 when unset (metrics only)
	stream       bool     // wake the handler for every token, not only at the end
	arrived      time.Time

	// Written by the scheduler, read by the handler: stats is written before
	// the generated or finished store that publishes it.
	ev        chan struct{} // capacity 1: "look at generated and finished"
	generated atomic.Int32
	finished  atomic.Bool
	aborted   atomic.Bool
	stats     seqStats

	// Owned by the scheduler goroutine.
	arrivalV, admitV   time.Duration
	firstV, lastTokenV time.Duration
	admitted           bool
	computed           int // tokens whose KV is computed
	numGen             int // tokens generated
	blocks             []int32
	hashedBlocks       int // prompt blocks already registered in the prefix cache
	removed            bool
}

// seqStats is what the simulator reports about a request in x-sim-* headers.
// Durations are simulated time.
type seqStats struct {
	TTFT, Queue, E2E time.Duration
	CachedTokens     int
	LoRALoaded       bool
	Preemptions      int
}

func newSeq() *seq { return &seq{ev: make(chan struct{}, 1)} }

// remaining is how many tokens s must compute before it samples its next token.
func (s *seq) remaining() int { return s.prompt + s.numGen - s.computed }

func (s *seq) signal() {
	select {
	case s.ev <- struct{}{}:
	default:
	}
}

type scheduled struct {
	s *seq
	n int // tokens computed for s in this step
}

// Snapshot is an instance's engine state at one moment, for tests and
// debugging. The Prometheus gauges are set from the same values at the same
// moments.
type Snapshot struct {
	// Waiting and Running are the queue and batch sizes.
	Waiting, Running int
	// KVCacheUsage is the fraction of KV-cache blocks held by requests.
	KVCacheUsage float64
	// KVBlocksUsed and KVBlocksTotal are the block counts behind KVCacheUsage.
	KVBlocksUsed, KVBlocksTotal int
	// ResidentLoRAs are the loaded adapters, sorted by name.
	ResidentLoRAs []string
	// SimTime is the engine's simulated clock.
	SimTime time.Duration
	// Steps counts engine iterations.
	Steps uint64
}

// engine is one simulated vLLM engine: a single scheduler goroutine (run)
// owns the waiting queue, the running batch, the KV cache and the LoRA slots,
// and advances a simulated clock one engine step at a time, like vLLM v1's
// continuous batching:
//
//  1. running requests are scheduled first, one token each when decoding or a
//     chunk of their prompt when prefilling, within max-num-batched-tokens; a
//     request that needs a KV block when none is free preempts the newest
//     running request, which goes back to the front of the queue;
//  2. if nothing was preempted, waiting requests are admitted in order while
//     the batch has room (max-num-seqs), their blocks fit and their adapter
//     can be loaded; prefix-cache hits skip prefill of the matched blocks;
//  3. the step lasts decodeTime(decoding requests, their context) +
//     time-to-first-token + prefill-time-per-token × prefill tokens (if
//     any) + lora-load-time × loads;
//  4. at the end of the step every request whose tokens are all computed
//     samples a token; finished requests free their blocks.
//
// With time-scale > 0 the goroutine sleeps until the step's end in wall time
// (simulated time × scale) and accepts new requests meanwhile; with 0 it runs
// steps back to back. Requests are stamped with the simulated time of their
// arrival, so reported TTFTs do not depend on wall-clock jitter when the
// server is idle.
type engine struct {
	// Configuration, read-only.
	scale         float64
	t0            time.Time
	maxNumSeqs    int
	maxBatched    int
	blockSize     int
	ttft          time.Duration
	prefillPerTok time.Duration
	itl           time.Duration
	loadFactor    float64
	ctxPerTok     time.Duration
	loraLoad      time.Duration
	m             *simMetrics

	in      chan *seq
	abortc  chan struct{}
	aborts  atomic.Uint64
	stopped chan struct{}

	// Owned by the scheduler goroutine.
	now        time.Duration
	steps      uint64
	waiting    deque[*seq]
	running    []*seq
	batch      []scheduled
	kv         *blockPool
	lora       *loraSet
	seenAborts uint64
	loraNames  []string

	mu   sync.Mutex
	snap Snapshot
}

func newEngine(opts *Options, m *simMetrics) *engine {
	return &engine{
		scale:         opts.TimeScale,
		t0:            time.Now(),
		maxNumSeqs:    opts.MaxNumSeqs,
		maxBatched:    opts.MaxNumBatchedTokens,
		blockSize:     opts.BlockSize,
		ttft:          opts.TimeToFirstToken,
		prefillPerTok: opts.PrefillTimePerToken,
		itl:           opts.InterTokenLatency,
		loadFactor:    opts.TimeFactorUnderLoad,
		ctxPerTok:     opts.DecodeTimePerContextToken,
		loraLoad:      opts.LoRALoadTime,
		m:             m,
		in:            make(chan *seq, 1024),
		abortc:        make(chan struct{}, 1),
		stopped:       make(chan struct{}),
		kv:            newBlockPool(opts.KVCacheSize, opts.BlockSize),
		lora:          newLoRASet(opts.MaxLoRAs),
		snap:          Snapshot{KVBlocksTotal: opts.KVCacheSize},
	}
}

// submit hands s to the scheduler.
func (e *engine) submit(ctx context.Context, s *seq) error {
	s.arrived = time.Now()
	select {
	case e.in <- s:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("submit: %w", context.Cause(ctx))
	case <-e.stopped:
		return errEngineStopped
	}
}

// abort tells the scheduler that the client of s went away.
func (e *engine) abort(s *seq) {
	if s.aborted.CompareAndSwap(false, true) {
		e.aborts.Add(1)
		select {
		case e.abortc <- struct{}{}:
		default:
		}
	}
}

// snapshot returns the state published at the end of the last step.
func (e *engine) snapshot() Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.snap
	s.ResidentLoRAs = slices.Clone(s.ResidentLoRAs)
	return s
}

// virtual maps a wall-clock time to simulated time; only for scale > 0.
func (e *engine) virtual(t time.Time) time.Duration {
	return time.Duration(float64(t.Sub(e.t0)) / e.scale)
}

// wall maps simulated time to wall-clock time; only for scale > 0.
func (e *engine) wall(v time.Duration) time.Time {
	return e.t0.Add(time.Duration(float64(v) * e.scale))
}

// decodeTime is the decode cost of a step with b decoding sequences that
// attend to context tokens in all.
func (e *engine) decodeTime(b, context int) time.Duration {
	f := 1.0
	if e.maxNumSeqs > 1 {
		f += (e.loadFactor - 1) * float64(b-1) / float64(e.maxNumSeqs-1)
	}
	return time.Duration(float64(e.itl)*f) + time.Duration(context)*e.ctxPerTok
}

// run is the scheduler loop; it returns when ctx ends.
func (e *engine) run(ctx context.Context) {
	defer close(e.stopped)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		if e.waiting.len() == 0 && len(e.running) == 0 {
			e.publish()
			select {
			case <-ctx.Done():
				return
			case s := <-e.in:
				if e.scale > 0 {
					e.now = max(e.now, e.virtual(s.arrived))
				}
				e.enqueue(s, e.now, e.now)
			}
		}
		e.drain()
		e.reap()
		d, preempted := e.schedule()
		if len(e.batch) == 0 && !preempted {
			// Every request left was aborted; go back to waiting for work.
			continue
		}
		e.publish()
		end := e.now + d
		if !e.pace(ctx, timer, end) {
			return
		}
		e.now = end
		e.steps++
		e.apply()
	}
}

// pace waits until the wall-clock end of the step, accepting requests and
// aborts meanwhile. It returns false when ctx ends.
func (e *engine) pace(ctx context.Context, timer *time.Timer, end time.Duration) bool {
	if e.scale == 0 {
		select {
		case <-ctx.Done():
			return false
		default:
			return true
		}
	}
	deadline := e.wall(end)
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return true
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return false
		case s := <-e.in:
			timer.Stop()
			e.enqueue(s, e.now, end)
			e.publish()
		case <-e.abortc:
			timer.Stop()
			e.reap()
			e.publish()
		case <-timer.C:
		}
	}
}

// drain enqueues every request already submitted.
func (e *engine) drain() {
	for {
		select {
		case s := <-e.in:
			e.enqueue(s, e.now, e.now)
		default:
			return
		}
	}
}

// enqueue appends s to the waiting queue with an arrival time in [lo, hi].
func (e *engine) enqueue(s *seq, lo, hi time.Duration) {
	if s.aborted.Load() {
		e.m.success["abort"].Inc()
		return
	}
	s.arrivalV = lo
	if e.scale > 0 {
		s.arrivalV = min(max(e.virtual(s.arrived), lo), hi)
	}
	e.waiting.pushBack(s)
	e.lora.addWaiting(s.lora)
}

// reap removes the requests whose clients went away.
func (e *engine) reap() {
	n := e.aborts.Load()
	if n == e.seenAborts {
		return
	}
	e.seenAborts = n
	kept := e.running[:0]
	for _, s := range e.running {
		if !s.aborted.Load() {
			kept = append(kept, s)
			continue
		}
		e.kv.release(s)
		e.lora.release(s.lora, e.now)
		s.removed = true
		e.m.success["abort"].Inc()
	}
	clear(e.running[len(kept):])
	e.running = kept
	e.waiting.filter(func(s *seq) bool {
		if !s.aborted.Load() {
			return true
		}
		e.lora.removeWaiting(s.lora)
		s.removed = true
		e.m.success["abort"].Inc()
		return false
	})
}

// schedule builds the next step's batch in e.batch and returns the step's
// duration and whether it preempted a request.
func (e *engine) schedule() (d time.Duration, preempted bool) {
	e.batch = e.batch[:0]
	budget := e.maxBatched
	decodes, context, prefill, loads := 0, 0, 0, 0

	for i := 0; i < len(e.running) && budget > 0; i++ {
		s := e.running[i]
		n := min(s.remaining(), budget)
		scheduledOK := true
		for !e.kv.grow(s, s.computed+n) {
			// Out of blocks: preempt the newest running request (vLLM v1's
			// default policy); it recomputes from its prefix later.
			victim := e.running[len(e.running)-1]
			e.running = e.running[:len(e.running)-1]
			e.preempt(victim)
			preempted = true
			if victim == s {
				scheduledOK = false
				break
			}
		}
		if !scheduledOK {
			break
		}
		e.batch = append(e.batch, scheduled{s, n})
		budget -= n
		if s.numGen > 0 && s.remaining() == 1 {
			decodes++
			context += s.computed + 1
		} else {
			prefill += n
		}
	}

	for j := 0; !preempted && j < e.waiting.len() && budget > 0 && len(e.running) < e.maxNumSeqs; {
		s := e.waiting.at(j)
		if !e.lora.canActivate(s.lora) {
			j++ // its adapter cannot be loaded now; look further down the queue
			continue
		}
		total := s.prompt + s.numGen
		hits := 0
		if len(s.hashes) > 0 {
			hits = e.kv.match(s.hashes, (total-1)/e.blockSize)
		}
		start := hits * e.blockSize
		n := min(total-start, budget)
		if !e.kv.admit(s, hits, start+n) {
			break // first come, first served: no request overtakes one that does not fit
		}
		e.waiting.removeAt(j)
		e.lora.removeWaiting(s.lora)
		loaded := e.lora.activate(s.lora, e.now)
		if loaded {
			loads++
		}
		s.computed = start
		if !s.admitted {
			s.admitted = true
			s.admitV = e.now
			s.stats.CachedTokens = start
			s.stats.LoRALoaded = loaded
			if len(s.hashes) > 0 || s.kind == kindGenerate {
				e.m.prefixQueries.Add(float64(s.prompt))
				e.m.prefixHits.Add(float64(start))
			}
		}
		e.running = append(e.running, s)
		e.batch = append(e.batch, scheduled{s, n})
		budget -= n
		prefill += n
	}

	if decodes > 0 {
		d += e.decodeTime(decodes, context)
	}
	if prefill > 0 {
		d += e.ttft + time.Duration(prefill)*e.prefillPerTok
	}
	d += time.Duration(loads) * e.loraLoad
	return d, preempted
}

// preempt frees the blocks of a running request and puts it back at the
// front of the waiting queue.
func (e *engine) preempt(s *seq) {
	e.kv.release(s)
	s.computed = 0
	s.stats.Preemptions++
	e.lora.release(s.lora, e.now)
	e.waiting.pushFront(s)
	e.lora.addWaiting(s.lora)
	e.m.preemptions.Inc()
}

// apply ends the step at e.now: requests whose tokens are computed sample a
// token, finished ones leave the batch.
func (e *engine) apply() {
	tokens := 0
	for _, b := range e.batch {
		s := b.s
		if s.removed {
			continue // aborted during the step
		}
		tokens += b.n
		s.computed += b.n
		if s.computed < s.prompt+s.numGen {
			continue // chunked prefill goes on
		}
		if s.kind == kindEmbed {
			s.firstV = e.now
			e.m.promptTokens.Add(float64(s.prompt))
			e.finish(s, "stop")
			continue
		}
		s.numGen++
		e.m.generationTokens.Inc()
		if s.numGen == 1 {
			s.firstV = e.now
			s.stats.TTFT = e.now - s.arrivalV
			s.stats.Queue = s.admitV - s.arrivalV
			e.m.ttft.Observe(s.stats.TTFT.Seconds())
			e.m.promptTokens.Add(float64(s.prompt))
		} else {
			itl := (e.now - s.lastTokenV).Seconds()
			e.m.itl.Observe(itl)
			e.m.tpot.Observe(itl)
		}
		s.lastTokenV = e.now
		if s.numGen >= s.target {
			e.finish(s, s.finishReason)
			continue
		}
		if s.stream {
			s.generated.Store(int32(s.numGen))
			s.signal()
		}
	}
	e.m.iterationTokens.Observe(float64(tokens))
	kept := e.running[:0]
	for _, s := range e.running {
		if !s.removed {
			kept = append(kept, s)
		}
	}
	clear(e.running[len(kept):])
	e.running = kept
}

// finish completes s with the given finish reason.
func (e *engine) finish(s *seq, reason string) {
	e.kv.release(s)
	e.lora.release(s.lora, e.now)
	s.removed = true
	m := e.m
	m.success[reason].Inc()
	s.stats.E2E = e.now - s.arrivalV
	if s.kind == kindEmbed {
		s.stats.TTFT = s.stats.E2E
		s.stats.Queue = s.admitV - s.arrivalV
	}
	m.e2e.Observe(s.stats.E2E.Seconds())
	m.queue.Observe((s.admitV - s.arrivalV).Seconds())
	m.inference.Observe((e.now - s.admitV).Seconds())
	m.prefill.Observe((s.firstV - s.admitV).Seconds())
	m.decode.Observe((e.now - s.firstV).Seconds())
	m.requestPromptTokens.Observe(float64(s.prompt))
	m.requestGenTokens.Observe(float64(s.numGen))
	if s.maxTokens > 0 {
		m.requestMaxTokens.Observe(float64(s.maxTokens))
	}
	if s.numGen > 1 {
		m.requestTPOT.Observe((e.now - s.firstV).Seconds() / float64(s.numGen-1))
	}
	s.generated.Store(int32(s.numGen))
	s.finished.Store(true)
	s.signal()
}

// publish sets the gauges and the snapshot from the scheduler's state.
func (e *engine) publish() {
	waiting, running := e.waiting.len(), len(e.running)
	usage := e.kv.usage()
	e.m.waiting.Set(float64(waiting))
	e.m.running.Set(float64(running))
	e.m.kvUsage.Set(usage)
	e.m.gpuKVUsage.Set(usage)
	if e.m.loraInfo != nil {
		r, w := e.lora.labelValues()
		e.m.setLoRA(r, w, time.Now())
	}
	if e.lora.residentDirty {
		e.loraNames = e.lora.residentNames()
		e.lora.residentDirty = false
	}
	e.mu.Lock()
	e.snap = Snapshot{
		Waiting:       waiting,
		Running:       running,
		KVCacheUsage:  usage,
		KVBlocksUsed:  e.kv.used(),
		KVBlocksTotal: e.kv.numBlocks(),
		ResidentLoRAs: e.loraNames,
		SimTime:       e.now,
		Steps:         e.steps,
	}
	e.mu.Unlock()
}
