package sim

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests drive the scheduler by hand, one step at a time, in simulated
// time: no goroutine, no wall clock, fully deterministic.

func newTestEngine(t *testing.T, mutate func(*Options)) *engine {
	t.Helper()
	o := testOptions()
	o.TimeToFirstToken = 10 * time.Millisecond
	o.PrefillTimePerToken = 100 * time.Microsecond
	o.InterTokenLatency = 5 * time.Millisecond
	o.DecodeTimePerContextToken = 0 // the hand-computed step times leave it out
	if mutate != nil {
		mutate(&o)
	}
	require.NoError(t, o.Validate())
	return newEngine(&o, newSimMetrics(&o, 0))
}

func genSeq(prompt, target int) *seq {
	s := newSeq()
	s.kind, s.prompt, s.target, s.finishReason = kindGenerate, prompt, target, "length"
	return s
}

// arrive enqueues seqs at the engine's current simulated time.
func arrive(e *engine, seqs ...*seq) {
	for _, s := range seqs {
		e.enqueue(s, e.now, e.now)
	}
}

// step runs one engine step as the run loop does, without pacing.
func step(e *engine) {
	e.reap()
	d, _ := e.schedule()
	e.publish()
	e.now += d
	e.steps++
	e.apply()
	e.publish()
}

// runIdle steps until no request is left, calling observe after every step.
func runIdle(t *testing.T, e *engine, observe func()) {
	t.Helper()
	for i := 0; e.waiting.len() > 0 || len(e.running) > 0; i++ {
		require.Less(t, i, 100000, "the engine does not make progress")
		step(e)
		if observe != nil {
			observe()
		}
	}
}

func TestEngineIdleLatencies(t *testing.T) {
	e := newTestEngine(t, nil)
	s := genSeq(1000, 11)
	arrive(e, s)
	runIdle(t, e, nil)
	require.True(t, s.finished.Load())
	assert.Equal(t, int32(11), s.generated.Load())
	// Idle TTFT = time-to-first-token + prefill-time-per-token × prompt tokens.
	assert.Equal(t, 10*time.Millisecond+1000*100*time.Microsecond, s.stats.TTFT)
	// Then one decode step of inter-token-latency per further token.
	assert.Equal(t, s.stats.TTFT+10*5*time.Millisecond, s.stats.E2E)
	assert.Zero(t, s.stats.Queue)
}

func TestEngineQueuesBeyondMaxNumSeqsAndTTFTGrows(t *testing.T) {
	e := newTestEngine(t, func(o *Options) { o.MaxNumSeqs = 4 })
	seqs := make([]*seq, 12)
	for i := range seqs {
		seqs[i] = genSeq(100, 20)
	}
	arrive(e, seqs...)
	step(e)
	snap := e.snapshot()
	assert.Equal(t, 4, snap.Running, "the batch is bounded by max-num-seqs")
	assert.Equal(t, 8, snap.Waiting)

	maxWaiting := 0
	runIdle(t, e, func() { maxWaiting = max(maxWaiting, e.snapshot().Waiting) })
	assert.Equal(t, 8, maxWaiting)
	for i, s := range seqs {
		require.True(t, s.finished.Load(), "seq %d", i)
	}
	// Requests admitted in later batches waited for earlier ones to finish.
	for i := 1; i < len(seqs); i++ {
		assert.GreaterOrEqual(t, seqs[i].stats.TTFT, seqs[i-1].stats.TTFT, "seq %d", i)
	}
	assert.Zero(t, seqs[0].stats.Queue)
	assert.Positive(t, seqs[4].stats.Queue)
	assert.Greater(t, seqs[4].stats.TTFT, 5*seqs[0].stats.TTFT, "the second batch waits for the first")
	assert.Greater(t, seqs[8].stats.TTFT, seqs[4].stats.TTFT+seqs[0].stats.E2E/2, "the third waits for two")
	assert.InDelta(t, 12, testutil.ToFloat64(e.m.success["length"]), 0)
}

func TestEngineInterTokenLatencyGrowsWithBatch(t *testing.T) {
	tpot := func(batch int) time.Duration {
		e := newTestEngine(t, func(o *Options) {
			o.MaxNumSeqs = 8
			o.TimeFactorUnderLoad = 3
		})
		seqs := make([]*seq, batch)
		for i := range seqs {
			seqs[i] = genSeq(16, 21)
		}
		arrive(e, seqs...)
		runIdle(t, e, nil)
		s := seqs[0]
		return (s.stats.E2E - s.stats.TTFT) / 20
	}
	alone, four, full := tpot(1), tpot(4), tpot(8)
	assert.Equal(t, 5*time.Millisecond, alone)
	assert.Greater(t, four, alone)
	assert.Greater(t, full, four)
	assert.Equal(t, 15*time.Millisecond, full, "a full batch runs at time-factor-under-load × inter-token-latency")
}

func TestEngineDecodeSlowsWithContext(t *testing.T) {
	// Each decode step adds decode-time-per-context-token for every token
	// its decoding sequences attend to: a sequence's prompt and the tokens
	// generated so far, the new one included.
	const perToken = 2 * time.Microsecond
	decode := func(prompts ...int) time.Duration {
		e := newTestEngine(t, func(o *Options) { o.DecodeTimePerContextToken = perToken })
		seqs := make([]*seq, len(prompts))
		for i, p := range prompts {
			seqs[i] = genSeq(p, 3)
		}
		arrive(e, seqs...)
		runIdle(t, e, nil)
		return seqs[0].stats.E2E - seqs[0].stats.TTFT
	}
	// Two decode steps after the first token, over 1001 then 1002 tokens.
	assert.Equal(t, 2*5*time.Millisecond+(1001+1002)*perToken, decode(1000))
	assert.Equal(t, 2*5*time.Millisecond+(17+18)*perToken, decode(16))
	// Beside a 3000-token neighbour (a batch of two) the short sequence's
	// steps also read the neighbour's context.
	batch := func(o *Options) float64 { return 1 + (o.TimeFactorUnderLoad-1)/float64(o.MaxNumSeqs-1) }
	o := testOptions()
	want := 2*time.Duration(float64(5*time.Millisecond)*batch(&o)) + (17+18+3001+3002)*perToken
	assert.Equal(t, want, decode(16, 3000))
}

func TestEngineKVCacheFillsAndPreempts(t *testing.T) {
	// 12 blocks of 4 tokens; four requests that each grow to 5 blocks.
	e := newTestEngine(t, func(o *Options) {
		o.BlockSize = 4
		o.KVCacheSize = 12
		o.MaxModelLen = 48
	})
	seqs := make([]*seq, 4)
	for i := range seqs {
		seqs[i] = genSeq(8, 12)
	}
	arrive(e, seqs...)
	step(e)
	first := e.snapshot()
	assert.Equal(t, 4, first.Running)
	assert.Equal(t, 8, first.KVBlocksUsed, "prefilled prompts hold two blocks each")

	maxUsage := 0.0
	runIdle(t, e, func() { maxUsage = max(maxUsage, e.snapshot().KVCacheUsage) })
	assert.InDelta(t, 1.0, maxUsage, 1e-9, "decoding fills the cache")
	assert.Positive(t, testutil.ToFloat64(e.m.preemptions), "a full cache preempts the newest request")
	preempted := 0
	for i, s := range seqs {
		require.True(t, s.finished.Load(), "seq %d", i)
		assert.Equal(t, int32(12), s.generated.Load(), "seq %d keeps its tokens across preemption", i)
		preempted += s.stats.Preemptions
	}
	assert.Positive(t, preempted)
	assert.Zero(t, e.kv.used(), "finished requests free their blocks")
}

func TestEngineChunkedPrefill(t *testing.T) {
	e := newTestEngine(t, func(o *Options) { o.MaxNumBatchedTokens = 32 })
	s := genSeq(100, 2)
	arrive(e, s)
	for range 3 {
		step(e)
		assert.Zero(t, s.generated.Load(), "the prompt is prefilled 32 tokens per step")
	}
	runIdle(t, e, nil)
	assert.Equal(t, 4*10*time.Millisecond+100*100*time.Microsecond, s.stats.TTFT,
		"four prefill steps, each with its fixed cost")
}

func TestEnginePrefixCacheSkipsPrefill(t *testing.T) {
	e := newTestEngine(t, func(o *Options) { o.BlockSize = 4 })
	prompt := func(suffix string) *seq {
		p := newPromptTokens(4, "", "")
		p.addText(longText(200, "w") + suffix)
		s := genSeq(p.n, 4)
		s.hashes = p.hashes
		return s
	}
	cold := prompt(" first question")
	arrive(e, cold)
	runIdle(t, e, nil)
	warm := prompt(" second question")
	arrive(e, warm)
	runIdle(t, e, nil)

	assert.Zero(t, cold.stats.CachedTokens)
	assert.Greater(t, warm.stats.CachedTokens, warm.prompt*3/4, "the shared prefix hits")
	assert.Less(t, warm.stats.TTFT, cold.stats.TTFT/2)
	assert.InDelta(t, float64(warm.stats.CachedTokens), testutil.ToFloat64(e.m.prefixHits), 0)
	assert.InDelta(t, float64(cold.prompt+warm.prompt), testutil.ToFloat64(e.m.prefixQueries), 0)
}

func TestEngineLoRASlots(t *testing.T) {
	e := newTestEngine(t, func(o *Options) {
		o.LoRAModules = []LoRAModule{{Name: "a"}, {Name: "b"}}
		o.MaxLoRAs = 1
		o.LoRALoadTime = 50 * time.Millisecond
	})
	a, b, base := genSeq(16, 10), genSeq(16, 2), genSeq(16, 2)
	a.lora, b.lora = "a", "b"
	arrive(e, a, b, base)
	step(e)
	snap := e.snapshot()
	assert.Equal(t, []string{"a"}, snap.ResidentLoRAs)
	assert.Equal(t, 2, snap.Running, "the base-model request overtakes the one waiting for an adapter slot")
	assert.Equal(t, 1, snap.Waiting)
	running, waiting := e.lora.labelValues()
	assert.Equal(t, "a", running)
	assert.Equal(t, "b", waiting)

	runIdle(t, e, nil)
	assert.True(t, a.stats.LoRALoaded)
	assert.True(t, b.stats.LoRALoaded, "b evicts a once a is idle")
	assert.False(t, base.stats.LoRALoaded)
	assert.Equal(t, []string{"b"}, e.snapshot().ResidentLoRAs)
	assert.Greater(t, b.stats.Queue, 9*5*time.Millisecond, "b waited for a to finish")
	assert.Equal(t, a.stats.TTFT, 10*time.Millisecond+32*100*time.Microsecond+50*time.Millisecond,
		"the admitting step pays the adapter load")
}

func TestEngineAbortFreesResources(t *testing.T) {
	e := newTestEngine(t, func(o *Options) { o.MaxNumSeqs = 1 })
	running, waiting := genSeq(64, 100), genSeq(64, 100)
	arrive(e, running, waiting)
	step(e)
	require.Equal(t, 1, e.snapshot().Running)
	require.Positive(t, e.kv.used())
	e.abort(running)
	e.abort(waiting)
	e.reap()
	e.publish()
	snap := e.snapshot()
	assert.Zero(t, snap.Running)
	assert.Zero(t, snap.Waiting)
	assert.Zero(t, snap.KVBlocksUsed)
	assert.InDelta(t, 2, testutil.ToFloat64(e.m.success["abort"]), 0)
}
