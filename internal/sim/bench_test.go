package sim

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The benchmarks measure requests per second through one instance at
// time-scale 0 (no simulated latency): the simulator's own cost per request.
//
//	go test -run '^$' -bench . -benchtime 3s ./internal/sim/

const benchChat = `{"model":"m","messages":[{"role":"system","content":"You are a helpful assistant."},` +
	`{"role":"user","content":"Write a short poem about gateways and GPUs, please."}],"max_tokens":16}`

const benchChatStream = `{"model":"m","messages":[{"role":"system","content":"You are a helpful assistant."},` +
	`{"role":"user","content":"Write a short poem about gateways and GPUs, please."}],"max_tokens":16,` +
	`"stream":true,"stream_options":{"include_usage":true}}`

func benchOptions() Options {
	o := DefaultOptions()
	o.Model = "m"
	o.TimeScale = 0
	o.Port = 0
	return o
}

// BenchmarkHTTP sends chat completions over loopback TCP from parallel clients
// to one instance, like a gateway would.
func BenchmarkHTTP(b *testing.B) {
	for _, bc := range []struct {
		name, body string
	}{
		{"chat", benchChat},
		{"chat-stream", benchChatStream},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c, err := Start(ctx, benchOptions(), nil)
			if err != nil {
				b.Fatal(err)
			}
			url := "http://" + c.Addrs()[0] + "/v1/chat/completions"
			tr := &http.Transport{MaxIdleConnsPerHost: 256}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			body := []byte(bc.body)
			b.SetParallelism(4)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Post(url, "application/json", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

// BenchmarkHandler calls the instance's handler in-process, without the
// network: the engine, parsing and encoding alone.
func BenchmarkHandler(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in, err := NewInstance(ctx, benchOptions(), "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(benchChat)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			in.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(body)))
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
