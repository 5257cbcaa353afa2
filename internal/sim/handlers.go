package sim

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// generation is one chat or completion request on its way through the engine.
type generation struct {
	p       *parsedRequest
	model   string // model name in responses
	id      string
	created int64 // unix seconds at arrival, as vLLM stamps it
	s       *seq
	answer  []string
	fault   *faultSpec
}

// serveGeneration serves /v1/chat/completions and /v1/completions.
func (in *Instance) serveGeneration(w http.ResponseWriter, r *http.Request, ep endpoint) {
	created := time.Now().Unix()
	rng := in.requestRNG()
	p, err := in.readRequest(w, r, ep)
	if err != nil {
		in.writeError(w, err)
		return
	}
	fault, err := in.pickFault(r, rng)
	if err != nil {
		in.writeError(w, err)
		return
	}
	if !in.applyFault(w, r, fault, p.model) {
		return
	}
	model, lora, err := in.resolveModel(p.model)
	if err != nil {
		in.writeError(w, err)
		return
	}

	prompt := newPromptTokens(in.opts.BlockSize, lora, p.cacheSalt)
	switch {
	case ep == epChat:
		prompt.addChat(p.messages, p.tools)
	case p.promptIDs != nil:
		for _, id := range p.promptIDs {
			prompt.add(uint32(id))
		}
	default:
		prompt.add(tokBeginOfText)
		prompt.addText(p.prompt)
	}
	// vLLM's checks, with its messages (OpenAIServing._validate_input).
	maxLen := in.opts.MaxModelLen
	if prompt.n >= maxLen {
		in.writeError(w, badRequest("input_tokens", "This model's maximum context length is %d tokens. "+
			"However, your request has %d input tokens. Please reduce the length of the input messages.", maxLen, prompt.n))
		return
	}
	if p.maxTokens > 0 && prompt.n+p.maxTokens > maxLen {
		in.writeError(w, badRequest("max_tokens", "'max_tokens' or 'max_completion_tokens' is too large: %d. "+
			"This model's maximum context length is %d tokens and your request has %d input tokens (%d > %d - %d).",
			p.maxTokens, maxLen, prompt.n, p.maxTokens, maxLen, prompt.n))
		return
	}

	g := &generation{p: p, model: model, created: created, fault: fault, s: newSeq()}
	finish := in.pickAnswer(g, rng, maxLen-prompt.n)
	prefix := "chatcmpl-"
	if ep == epCompletion {
		prefix = "cmpl-"
	}
	g.id = prefix + randomHex(rng)
	s := g.s
	s.kind, s.prompt, s.hashes = kindGenerate, prompt.n, prompt.hashes
	s.target, s.finishReason, s.lora = len(g.answer), finish, lora
	s.maxTokens, s.stream = p.maxTokens, p.stream

	ctx := r.Context()
	if err := in.eng.submit(ctx, s); err != nil {
		in.writeError(w, err)
		return
	}
	if p.stream {
		in.stream(ctx, w, g)
		return
	}
	if err := in.wait(ctx, s); err != nil {
		in.writeError(w, err)
		return
	}
	setStatsHeaders(w.Header(), s, lora != "", true)
	if fault != nil && fault.resetAfter >= 0 {
		resetConnection(w)
		return
	}
	usage := usageInfo{PromptTokens: s.prompt, CompletionTokens: s.target, TotalTokens: s.prompt + s.target}
	text := strings.Join(g.answer, "")
	if ep == epChat {
		in.writeJSON(w, chatCompletion{
			ID: g.id, Object: "chat.completion", Created: created, Model: model, Usage: usage,
			Choices: []chatChoice{{
				Message:      chatMessage{Role: "assistant", Content: text, ToolCalls: []struct{}{}},
				FinishReason: s.finishReason,
			}},
		})
		return
	}
	in.writeJSON(w, textCompletion{
		ID: g.id, Object: "text_completion", Created: created, Model: model, Usage: usage,
		Choices: []textChoice{{Text: text, FinishReason: s.finishReason}},
	})
}

// pickAnswer fills g.answer and returns its finish reason. limit is how many
// tokens fit in the context after the prompt (vLLM's default max_tokens).
//
// Echo mode answers with the last user message (or the prompt) cut at the
// token limit. Random mode generates exactly max_tokens tokens when the
// request sets it (or ignore_eos), as if the model never stopped early, so
// that benchmarks control the output length; otherwise 16-256 tokens.
func (in *Instance) pickAnswer(g *generation, rng *rand.Rand, limit int) (finishReason string) {
	p := g.p
	if p.maxTokens > 0 {
		limit = min(limit, p.maxTokens)
	}
	if in.opts.Mode == ModeEcho && p.promptIDs == nil {
		var cut bool
		g.answer, cut = echoAnswer(echoText(p), limit)
		if cut {
			return "length"
		}
		return "stop"
	}
	n := limit
	if p.maxTokens == 0 && !p.ignoreEOS {
		n = min(generationLength(rng), limit)
	}
	g.answer = randomAnswer(rng, n)
	if n == limit {
		return "length"
	}
	return "stop"
}

// echoText is the text echo mode repeats: the last user message of a chat,
// else its last message, or the completion prompt.
func echoText(p *parsedRequest) string {
	if p.endpoint != epChat {
		return p.prompt
	}
	for i := len(p.messages) - 1; i >= 0; i-- {
		if p.messages[i].role == "user" {
			return p.messages[i].content
		}
	}
	return p.messages[len(p.messages)-1].content
}

// wait blocks until s has finished.
func (in *Instance) wait(ctx context.Context, s *seq) error {
	for !s.finished.Load() {
		select {
		case <-s.ev:
		case <-ctx.Done():
			in.eng.abort(s)
			return fmt.Errorf("wait for the engine: %w", context.Cause(ctx))
		case <-in.eng.stopped:
			return errEngineStopped
		}
	}
	return nil
}

// errReset ends a stream that a fault reset.
var errReset = errors.New("connection reset by fault injection")

// sseWriter buffers server-sent events and applies stream faults.
type sseWriter struct {
	ctx    context.Context
	stop   <-chan struct{}
	w      http.ResponseWriter
	rc     *http.ResponseController
	buf    []byte
	events int
	fault  *faultSpec
}

// event appends one `data: ...` event.
func (sw *sseWriter) event(data []byte) error {
	if f := sw.fault; f != nil {
		if f.resetAfter >= 0 && sw.events == f.resetAfter {
			if err := sw.flush(); err != nil {
				return err
			}
			resetConnection(sw.w)
			return errReset
		}
		if f.slowStream > 0 {
			if err := sw.flush(); err != nil {
				return err
			}
			if !sleepCtx(sw.ctx, sw.stop, f.slowStream) {
				return context.Cause(sw.ctx)
			}
		}
	}
	sw.buf = append(sw.buf, "data: "...)
	sw.buf = append(sw.buf, data...)
	sw.buf = append(sw.buf, "\n\n"...)
	sw.events++
	return nil
}

// flush writes the buffered events to the client.
func (sw *sseWriter) flush() error {
	if len(sw.buf) == 0 {
		return nil
	}
	_, err := sw.w.Write(sw.buf)
	sw.buf = sw.buf[:0]
	if err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	if err := sw.rc.Flush(); err != nil {
		return fmt.Errorf("flush events: %w", err)
	}
	return nil
}

// stream writes g's tokens as server-sent events as the engine produces
// them. Headers go out with the first token, so they carry its TTFT.
func (in *Instance) stream(ctx context.Context, w http.ResponseWriter, g *generation) {
	s, p := g.s, g.p
	sw := &sseWriter{ctx: ctx, stop: in.eng.stopped, w: w, rc: http.NewResponseController(w), fault: g.fault}
	object := "chat.completion.chunk"
	if p.endpoint == epCompletion {
		object = "text_completion"
	}
	prefix := chunkPrefix(g.id, object, g.created, g.model)
	var chunk []byte
	sent, started := 0, false
	for {
		finished := s.finished.Load()
		n := int(s.generated.Load())
		if n > sent || finished {
			if !started {
				started = true
				h := w.Header()
				h.Set("Content-Type", "text/event-stream; charset=utf-8")
				h.Set("Cache-Control", "no-cache")
				setStatsHeaders(h, s, s.lora != "", finished)
				if p.endpoint == epChat {
					chunk = appendChatRoleChunk(chunk[:0], prefix)
					if err := sw.event(chunk); err != nil {
						in.eng.abort(s)
						return
					}
				}
			}
			for ; sent < n; sent++ {
				finish := ""
				if sent == s.target-1 {
					finish = s.finishReason
				}
				var usage *usageInfo
				if p.continuousUsage {
					usage = &usageInfo{PromptTokens: s.prompt, CompletionTokens: sent + 1, TotalTokens: s.prompt + sent + 1}
				}
				if p.endpoint == epChat {
					chunk = appendChatChunk(chunk[:0], prefix, g.answer[sent], finish, usage)
				} else {
					chunk = appendTextChunk(chunk[:0], prefix, g.answer[sent], finish, usage)
				}
				if err := sw.event(chunk); err != nil {
					in.eng.abort(s)
					return
				}
			}
			if finished {
				if p.includeUsage {
					u := usageInfo{PromptTokens: s.prompt, CompletionTokens: s.target, TotalTokens: s.prompt + s.target}
					chunk = appendUsageChunk(chunk[:0], prefix, &u)
					if sw.event(chunk) != nil {
						return
					}
				}
				if sw.event([]byte("[DONE]")) == nil {
					_ = sw.flush()
				}
				return
			}
			if sw.flush() != nil {
				in.eng.abort(s)
				return
			}
		}
		select {
		case <-s.ev:
		case <-ctx.Done():
			in.eng.abort(s)
			return
		case <-in.eng.stopped:
			return
		}
	}
}

// setStatsHeaders reports the simulated timings of s.
func setStatsHeaders(h http.Header, s *seq, lora, finished bool) {
	h.Set(HeaderTTFT, formatMillis(s.stats.TTFT))
	h.Set(HeaderQueue, formatMillis(s.stats.Queue))
	h.Set(HeaderCachedTokens, strconv.Itoa(s.stats.CachedTokens))
	if finished {
		h.Set(HeaderE2E, formatMillis(s.stats.E2E))
	}
	if lora {
		h.Set(HeaderLoRALoaded, strconv.FormatBool(s.stats.LoRALoaded))
	}
}

func formatMillis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
}

// randomHex returns 32 random hex digits, the length of vLLM's uuid4 hex ids.
func randomHex(rng *rand.Rand) string {
	var b [16]byte
	for i := range 2 {
		x := rng.Uint64()
		for j := range 8 {
			b[8*i+j] = byte(x >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:])
}

// serveEmbeddings serves /v1/embeddings. Each input is a prefill-only engine
// request, as in vLLM; the vectors are derived from the input text.
func (in *Instance) serveEmbeddings(w http.ResponseWriter, r *http.Request) {
	created := time.Now().Unix()
	rng := in.requestRNG()
	p, err := in.readRequest(w, r, epEmbedding)
	if err != nil {
		in.writeError(w, err)
		return
	}
	fault, err := in.pickFault(r, rng)
	if err != nil {
		in.writeError(w, err)
		return
	}
	if !in.applyFault(w, r, fault, p.model) {
		return
	}
	model, lora, err := in.resolveModel(p.model)
	if err != nil {
		in.writeError(w, err)
		return
	}
	type item struct {
		s    *seq
		seed uint64
	}
	items := make([]item, 0, len(p.inputs)+len(p.inputIDs))
	add := func(pt promptTokens) error {
		if pt.n > in.opts.MaxModelLen {
			return badRequest("input_tokens", "This model's maximum context length is %d tokens. However, you requested "+
				"%d tokens in the input for embedding generation. Please reduce the length of the input.",
				in.opts.MaxModelLen, pt.n)
		}
		s := newSeq()
		s.kind, s.prompt, s.lora = kindEmbed, pt.n, lora
		items = append(items, item{s: s, seed: mix64(pt.cur ^ pt.parent ^ uint64(pt.n))})
		return nil
	}
	for _, text := range p.inputs {
		pt := newPromptTokens(in.opts.BlockSize, lora, "")
		pt.add(tokBeginOfText)
		pt.addText(text)
		if err := add(pt); err != nil {
			in.writeError(w, err)
			return
		}
	}
	for _, ids := range p.inputIDs {
		pt := newPromptTokens(in.opts.BlockSize, lora, "")
		for _, id := range ids {
			pt.add(uint32(id))
		}
		if err := add(pt); err != nil {
			in.writeError(w, err)
			return
		}
	}

	ctx := r.Context()
	for i, it := range items {
		if err := in.eng.submit(ctx, it.s); err != nil {
			for _, prev := range items[:i] {
				in.eng.abort(prev.s)
			}
			in.writeError(w, err)
			return
		}
	}
	resp := embeddingList{ID: "embd-" + randomHex(rng), Object: "list", Created: created, Model: model}
	dim := in.opts.EmbeddingDim
	if p.dimensions > 0 {
		dim = p.dimensions
	}
	for i, it := range items {
		if err := in.wait(ctx, it.s); err != nil {
			for _, rest := range items[i+1:] {
				in.eng.abort(rest.s)
			}
			in.writeError(w, err)
			return
		}
		var vec any = embedding(it.seed, dim)
		if p.encodingFormat == "base64" {
			vec = embeddingBase64(vec.([]float32))
		}
		resp.Data = append(resp.Data, embeddingData{Index: i, Object: "embedding", Embedding: vec})
		resp.Usage.PromptTokens += it.s.prompt
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	setStatsHeaders(w.Header(), items[len(items)-1].s, lora != "", true)
	if fault != nil && fault.resetAfter >= 0 {
		resetConnection(w)
		return
	}
	in.writeJSON(w, resp)
}
