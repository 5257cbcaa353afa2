package httpproxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeOpenAI is a local OpenAI-compatible upstream whose behaviour a test
// sets per request through the "x-test-fault" header or globally.
type fakeOpenAI struct {
	t      *testing.T
	srv    *httptest.Server
	name   string
	mu     sync.Mutex
	seen   []seenRequest
	fault  string // applied to every request when set
	chunks int    // stream content chunks
	// waiting is the queue length /metrics reports (vLLM names).
	waiting int
	// scrapes counts the /metrics requests served.
	scrapes atomic.Int64
}

// awaitScrapes waits until every fake has served n more /metrics requests
// (the gateway's scheduler then knows them all, as when it has run a
// while).
func awaitScrapes(t *testing.T, n int64, fakes ...*fakeOpenAI) {
	t.Helper()
	want := make([]int64, len(fakes))
	for i, f := range fakes {
		want[i] = f.scrapes.Load() + n
	}
	require.Eventually(t, func() bool {
		for i, f := range fakes {
			if f.scrapes.Load() < want[i] {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond, "the scheduler did not scrape every endpoint")
}

type seenRequest struct {
	Path   string
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

func newFakeOpenAI(t *testing.T, name string) *fakeOpenAI {
	f := &fakeOpenAI{t: t, name: name, chunks: 3}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenAI) hostPort() (string, int32) { return hostPortOf(f.srv.URL) }

// hostPortOf splits an http://host:port URL.
func hostPortOf(u string) (string, int32) {
	host, port, _ := strings.Cut(strings.TrimPrefix(u, "http://"), ":")
	p, _ := strconv.Atoi(port)
	return host, int32(p)
}

func (f *fakeOpenAI) setFault(s string) {
	f.mu.Lock()
	f.fault = s
	f.mu.Unlock()
}

func (f *fakeOpenAI) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.seen...)
}

func (f *fakeOpenAI) setWaiting(n int) {
	f.mu.Lock()
	f.waiting = n
	f.mu.Unlock()
}

func (f *fakeOpenAI) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/metrics" {
		// Scraped by the gateway's scheduler; not recorded as a request.
		defer f.scrapes.Add(1)
		f.mu.Lock()
		n := f.waiting
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name=\"m\"} %d\n# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name=\"m\"} 0\n# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{model_name=\"m\"} 0.1\n", n)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	f.mu.Lock()
	f.seen = append(f.seen, seenRequest{Path: r.URL.Path, Header: r.Header.Clone(), Body: body, Raw: raw})
	fault := f.fault
	f.mu.Unlock()
	if h := r.Header.Get("X-Test-Fault"); h != "" {
		fault = h
	}
	w.Header().Set("X-Served-By", f.name)
	switch {
	case strings.HasPrefix(fault, "status="):
		code, _ := strconv.Atoi(strings.TrimPrefix(fault, "status="))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"message":"injected %d by %s","type":"server_error","param":null,"code":null}}`, code, f.name)
		return
	case fault == "hang":
		<-r.Context().Done()
		return
	case fault == "reset":
		panic(http.ErrAbortHandler)
	case strings.HasPrefix(fault, "short-body="):
		// Declares more than it sends, then closes.
		n, _ := strconv.Atoi(strings.TrimPrefix(fault, "short-body="))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(n+1000))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(strings.Repeat(" ", n)))
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	case fault == "html-503":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>")
		return
	case strings.HasPrefix(fault, "big-event="):
		n, _ := strconv.Atoi(strings.TrimPrefix(fault, "big-event="))
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"first\"},\"finish_reason\":null}]}\n\n")
		_, _ = w.Write([]byte("data: " + strings.Repeat("x", n) + "\n\n"))
		fmt.Fprint(w, "data: [DONE]\n\n")
		return
	case strings.HasPrefix(fault, "slow-first-byte="):
		d, _ := time.ParseDuration(strings.TrimPrefix(fault, "slow-first-byte="))
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	model, _ := body["model"].(string)
	if stream, _ := body["stream"].(bool); stream {
		f.stream(w, r, model, body, fault)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/v1/embeddings":
		fmt.Fprintf(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":%q,"usage":{"prompt_tokens":4,"total_tokens":4}}`, model)
	case "/v1/completions":
		fmt.Fprintf(w, `{"id":"cmpl-1","object":"text_completion","created":1,"model":%q,"choices":[{"index":0,"text":"hi","finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`, model)
	default:
		fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":"hello from %s"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,"prompt_tokens_details":{"cached_tokens":2}}}`, model, f.name)
	}
}

func (f *fakeOpenAI) stream(w http.ResponseWriter, r *http.Request, model string, body map[string]any, fault string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	chunk := func(s string) {
		fmt.Fprintf(w, "data: %s\n\n", s)
		_ = rc.Flush()
	}
	chunk(fmt.Sprintf(`{"id":"c1","object":"chat.completion.chunk","created":1,"model":%q,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`, model))
	for i := range f.chunks {
		if fault == "reset-mid-stream" && i == 1 {
			panic(http.ErrAbortHandler)
		}
		if fault == "stall-mid-stream" && i == 1 {
			<-r.Context().Done()
			return
		}
		chunk(fmt.Sprintf(`{"id":"c1","object":"chat.completion.chunk","created":1,"model":%q,"choices":[{"index":0,"delta":{"content":"tok%d "},"finish_reason":null}]}`, model, i))
	}
	chunk(fmt.Sprintf(`{"id":"c1","object":"chat.completion.chunk","created":1,"model":%q,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`, model))
	if so, ok := body["stream_options"].(map[string]any); ok && so["include_usage"] == true {
		chunk(fmt.Sprintf(`{"id":"c1","object":"chat.completion.chunk","created":1,"model":%q,"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":%d,"total_tokens":%d}}`, model, f.chunks, 5+f.chunks))
	}
	chunk("[DONE]")
}

func TestFakeOpenAIServes(t *testing.T) {
	f := newFakeOpenAI(t, "a")
	resp, err := http.Post(f.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
