package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrefixCacheHitIsFasterThanColdInstance(t *testing.T) {
	fast := func(o *Options) {
		o.TimeToFirstToken = 10 * time.Millisecond
		o.PrefillTimePerToken = 100 * time.Microsecond
	}
	warm, cold := newTestInstance(t, fast), newTestInstance(t, fast)
	system := longText(400, "ctx")
	body := func(question string) string {
		return `{"model":"m","max_tokens":2,"messages":[{"role":"system","content":"` + system +
			`"},{"role":"user","content":"` + question + `"}]}`
	}

	first := call(t, warm, http.MethodPost, "/v1/chat/completions", body("first question"))
	require.Equal(t, http.StatusOK, first.Code, first.Body.String())
	again := call(t, warm, http.MethodPost, "/v1/chat/completions", body("second question"))
	require.Equal(t, http.StatusOK, again.Code, again.Body.String())
	other := call(t, cold, http.MethodPost, "/v1/chat/completions", body("second question"))
	require.Equal(t, http.StatusOK, other.Code, other.Body.String())

	ttftFirst := headerMillis(t, first.Header(), HeaderTTFT)
	ttftAgain := headerMillis(t, again.Header(), HeaderTTFT)
	ttftOther := headerMillis(t, other.Header(), HeaderTTFT)
	assert.Less(t, ttftAgain, ttftOther, "the repeated prefix is faster on the instance that cached it")
	assert.Less(t, ttftAgain, ttftFirst/2)
	assert.InDelta(t, ttftFirst, ttftOther, 1, "both cold prefills cost about the same")
	assert.Equal(t, "0", first.Header().Get(HeaderCachedTokens))
	assert.Equal(t, "0", other.Header().Get(HeaderCachedTokens))
	assert.NotEqual(t, "0", again.Header().Get(HeaderCachedTokens))
}

func TestConcurrentLoadQueuesFillsKVAndSlowsTTFT(t *testing.T) {
	in := newTestInstance(t, func(o *Options) {
		o.MaxNumSeqs = 2
		o.TimeScale = 0.1
		o.TimeToFirstToken = 10 * time.Millisecond
		o.PrefillTimePerToken = 50 * time.Microsecond
		o.InterTokenLatency = 10 * time.Millisecond
	})
	// Distinct prompts, so that no request reuses another's cached prefix.
	var sent atomic.Int64
	body := func() string { return chatBody("m", longText(100, fmt.Sprintf("r%d-", sent.Add(1))), 100, "") }

	// watch records the largest queue, batch and KV usage until stop closes.
	type peak struct {
		waiting, running int
		kv               float64
	}
	watch := func(stop <-chan struct{}) <-chan peak {
		out := make(chan peak, 1)
		go func() {
			var p peak
			for {
				s := in.Snapshot()
				p.waiting, p.running, p.kv = max(p.waiting, s.Waiting), max(p.running, s.Running), max(p.kv, s.KVCacheUsage)
				select {
				case <-stop:
					out <- p
					return
				case <-time.After(100 * time.Microsecond):
				}
			}
		}()
		return out
	}
	run := func(n int) (ttfts []float64, p peak) {
		stop := make(chan struct{})
		peaks := watch(stop)
		start := make(chan struct{})
		ttfts = make([]float64, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				w := call(t, in, http.MethodPost, "/v1/chat/completions", body())
				if assert.Equal(t, http.StatusOK, w.Code, w.Body.String()) {
					ttfts[i] = headerMillis(t, w.Header(), HeaderTTFT)
				}
			})
		}
		close(start)
		if n > 2 {
			waitFor(t, "requests to queue", func() bool { return in.Snapshot().Waiting > 0 })
		}
		wg.Wait()
		close(stop)
		return ttfts, <-peaks
	}

	alone, light := run(1)
	loaded, heavy := run(8)
	assert.Zero(t, light.waiting)
	assert.Positive(t, heavy.waiting, "requests beyond max-num-seqs wait")
	assert.Equal(t, 2, heavy.running, "the batch is bounded by max-num-seqs")
	assert.Greater(t, heavy.kv, light.kv, "a full batch holds more KV blocks")
	slowest := 0.0
	for _, v := range loaded {
		slowest = max(slowest, v)
	}
	assert.Greater(t, slowest, 3*alone[0], "queued requests wait for whole requests to finish")
}

func TestErrorsMatchVLLM(t *testing.T) {
	in := newTestInstance(t, func(o *Options) { o.MaxModelLen = 64 })
	for _, tc := range []struct {
		name, path, body string
		status           int
		typ, param, msg  string
	}{
		{"unknown model", "/v1/chat/completions", chatBody("nope", "hi", 1, ""),
			404, "NotFoundError", "model", "The model `nope` does not exist."},
		{"missing messages", "/v1/chat/completions", `{"model":"m"}`,
			400, "Bad Request", "", "'loc': ('body', 'messages'), 'msg': 'Field required'"},
		{"invalid json", "/v1/chat/completions", `{"model":`,
			400, "Bad Request", "", "JSON decode error"},
		{"wrong type", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}`,
			400, "Bad Request", "", "stream"},
		{"prompt too long", "/v1/completions", `{"model":"m","prompt":"` + longText(80, "w") + `"}`,
			400, "BadRequestError", "input_tokens", "This model's maximum context length is 64 tokens. However, your request has"},
		{"max tokens too large", "/v1/completions", `{"model":"m","prompt":"hi","max_tokens":64}`,
			400, "BadRequestError", "max_tokens", "'max_tokens' or 'max_completion_tokens' is too large: 64."},
		{"max tokens zero", "/v1/chat/completions", chatBody("m", "hi", 0, `"max_tokens":0`),
			400, "BadRequestError", "max_tokens", "max_tokens must be at least 1, got 0."},
		{"stream options without stream", "/v1/chat/completions", chatBody("m", "hi", 1, `"stream_options":{"include_usage":true}`),
			400, "BadRequestError", "stream_options", "Stream options can only be defined when `stream=True`."},
		{"missing prompt", "/v1/completions", `{"model":"m"}`,
			400, "BadRequestError", "prompt", "Either prompt or prompt_embeds must be provided"},
		{"embedding too long", "/v1/embeddings", `{"model":"m","input":"` + longText(80, "w") + `"}`,
			400, "BadRequestError", "input_tokens", "in the input for embedding generation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := call(t, in, http.MethodPost, tc.path, tc.body)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
			var got struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    int     `json:"code"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got), w.Body.String())
			assert.Equal(t, tc.typ, got.Error.Type)
			assert.Equal(t, tc.status, got.Error.Code)
			assert.Contains(t, got.Error.Message, tc.msg)
			if tc.param == "" {
				assert.Nil(t, got.Error.Param)
			} else if assert.NotNil(t, got.Error.Param) {
				assert.Equal(t, tc.param, *got.Error.Param)
			}
		})
	}
}

func TestLegacyErrorFormat(t *testing.T) {
	in := newTestInstance(t, func(o *Options) { o.LegacyErrorFormat = true })
	w := call(t, in, http.MethodPost, "/v1/chat/completions", chatBody("nope", "hi", 1, ""))
	require.Equal(t, http.StatusNotFound, w.Code)
	assert.JSONEq(t, `{"object":"error","message":"The model `+"`nope`"+` does not exist.","type":"NotFoundError","param":"model","code":404}`,
		w.Body.String())
}

func TestEchoMode(t *testing.T) {
	in := newTestInstance(t, func(o *Options) { o.Mode = ModeEcho })
	var resp chatCompletion
	w := call(t, in, http.MethodPost, "/v1/chat/completions",
		`{"model":"m","messages":[{"role":"system","content":"ignored"},{"role":"user","content":"Say this back"}]}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &resp))
	assert.Equal(t, "Say this back", resp.Choices[0].Message.Content)
	assert.Equal(t, "stop", resp.Choices[0].FinishReason)
	assert.Equal(t, countTokens("Say this back"), resp.Usage.CompletionTokens)

	w = call(t, in, http.MethodPost, "/v1/completions", `{"model":"m","prompt":"one two six ten","max_tokens":2}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var text textCompletion
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &text))
	assert.Equal(t, "one two", text.Choices[0].Text)
	assert.Equal(t, "length", text.Choices[0].FinishReason)
}

func TestRandomModeHonoursMaxTokens(t *testing.T) {
	in := newTestInstance(t, nil)
	for _, maxTokens := range []int{1, 7, 300} {
		var resp chatCompletion
		w := call(t, in, http.MethodPost, "/v1/chat/completions", chatBody("m", "hi", maxTokens, ""))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &resp))
		assert.Equal(t, maxTokens, resp.Usage.CompletionTokens)
		assert.Equal(t, maxTokens, countTokens(resp.Choices[0].Message.Content))
		assert.Equal(t, "length", resp.Choices[0].FinishReason)
	}
	var resp chatCompletion
	w := call(t, in, http.MethodPost, "/v1/chat/completions", chatBody("m", "hi", 0, ""))
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &resp))
	assert.GreaterOrEqual(t, resp.Usage.CompletionTokens, 16)
	assert.LessOrEqual(t, resp.Usage.CompletionTokens, 256)
	assert.Equal(t, "stop", resp.Choices[0].FinishReason)
}

func TestHealthAndUnknownRoute(t *testing.T) {
	in := newTestInstance(t, nil)
	w := call(t, in, http.MethodGet, "/health", "")
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Empty(t, w.Body.String())
	assert.Equal(t, "test-instance", w.Header().Get(HeaderInstance))
	w = call(t, in, http.MethodGet, "/v1/nope", "")
	assert.Equal(t, http.StatusNotFound, w.Code)
	assert.JSONEq(t, `{"detail":"Not Found"}`, w.Body.String())
}

func TestStreamDeliversEveryToken(t *testing.T) {
	in := newTestInstance(t, nil)
	w := call(t, in, http.MethodPost, "/v1/completions",
		`{"model":"m","prompt":"hi","max_tokens":50,"stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true}}`)
	require.Equal(t, http.StatusOK, w.Code)
	events := strings.Split(strings.TrimSuffix(w.Body.String(), "\n\n"), "\n\n")
	require.Len(t, events, 50+2, "one event per token, the usage event, [DONE]")
	assert.Equal(t, "data: [DONE]", events[len(events)-1])
	for i, ev := range events[:50] {
		var c struct {
			Choices []struct {
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage usageInfo `json:"usage"`
		}
		require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(ev, "data: ")), &c), ev)
		assert.Equal(t, i+1, c.Usage.CompletionTokens, "continuous usage counts tokens so far")
		assert.Equal(t, i == 49, c.Choices[0].FinishReason != nil)
	}
}
