package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	chatBody   = `{"model":"bench-model","messages":[{"role":"user","content":"Say hello."}],"max_tokens":8}`
	streamBody = `{"model":"bench-model","stream":true,"messages":[{"role":"user","content":"Say hello."}],"max_tokens":8}`
	holdBody   = `{"model":"bench-model","stream":true,"messages":[{"role":"user","content":"hold"}]}`
)

var chatResponse = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, friend!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}`)

// upstream is a fast local OpenAI-compatible server: a fixed chat answer, a
// short SSE stream, or a stream held open until released.
type upstream struct {
	srv  *http.Server
	url  string
	port int
	hold chan struct{}
	mu   sync.Mutex
}

func startUpstream() (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{port: ln.Addr().(*net.TCPAddr).Port, hold: make(chan struct{})}
	u.url = "http://127.0.0.1:" + strconv.Itoa(u.port)
	u.srv = &http.Server{Handler: http.HandlerFunc(u.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = u.srv.Serve(ln) }()
	return u, nil
}

func (u *upstream) close() { _ = u.srv.Close() }

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s := string(body)
	if !strings.Contains(s, `"stream":true`) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(chatResponse)))
		_, _ = w.Write(chatResponse)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	fmt.Fprint(w, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`+"\n\n")
	_ = rc.Flush()
	if strings.Contains(s, `"hold"`) {
		u.mu.Lock()
		hold := u.hold
		u.mu.Unlock()
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	for _, tok := range []string{"Hello", " there", "!"} {
		fmt.Fprintf(w, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[{"index":0,"delta":{"content":%q},"finish_reason":null}]}`+"\n\n", tok)
	}
	fmt.Fprint(w, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	_ = rc.Flush()
}

func (u *upstream) release() {
	u.mu.Lock()
	close(u.hold)
	u.hold = make(chan struct{})
	u.mu.Unlock()
}
