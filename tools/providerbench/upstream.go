package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aigw-dev/aigw/internal/providertest"
)

// serveUpstream is the child process of the fake providers: every schema's
// stream by its path, and a Google token endpoint, until standard input
// closes. Each event is written and flushed on its own, gap apart (or the
// whole stream at once with burst), as a model server streams tokens.
func serveUpstream(port string, gap time.Duration, burst bool) error {
	s, err := providertest.NewChatStreams()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return err
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // its end stops the child
		_ = ln.Close()
	}()
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var events [][]byte
		contentType := "text/event-stream"
		switch p := r.URL.Path; {
		case p == "/token":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "ya29.bench", "expires_in": 3600, "token_type": "Bearer"})
			return
		case strings.HasSuffix(p, "/chat/completions"):
			events = s.OpenAI
			if bytes.Contains(body, []byte(`"include_usage":true`)) {
				events = s.OpenAIUsage
			}
		case strings.HasSuffix(p, "/messages"):
			events = s.Anthropic
		case strings.HasSuffix(p, "/converse-stream"), strings.HasSuffix(p, "/invoke-with-response-stream"):
			events, contentType = s.Converse, "application/vnd.amazon.eventstream"
			if strings.HasSuffix(p, "/invoke-with-response-stream") {
				events = s.AnthropicOnBedrock
			}
			if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
				http.Error(w, "unsigned", http.StatusForbidden)
				return
			}
		case strings.HasSuffix(p, ":streamGenerateContent"):
			events = s.Gemini
			if r.Header.Get("Authorization") != "Bearer ya29.bench" {
				http.Error(w, "no token", http.StatusUnauthorized)
				return
			}
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentType)
		rc := http.NewResponseController(w)
		if burst {
			_, _ = w.Write(bytes.Join(events, nil))
			return
		}
		for i, ev := range events {
			if i > 0 && gap > 0 {
				time.Sleep(gap)
			}
			_, _ = w.Write(ev)
			_ = rc.Flush()
		}
	})}
	err = srv.Serve(ln)
	if err != nil && !strings.Contains(err.Error(), "use of closed") {
		return err
	}
	return nil
}
