package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	roleChunk  = `{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`
	usageChunk = `{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":%d,"total_tokens":99}}`
)

func tokenChunk(s string) string {
	return `{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"` + s + `"},"finish_reason":null}]}`
}

// sseHandler answers with the given events, one write and flush each.
func sseHandler(t *testing.T, events ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Served-By", "server-1")
		rc := http.NewResponseController(w)
		for _, e := range events {
			_, err := fmt.Fprintf(w, "data: %s\n\n", e)
			require.NoError(t, err)
			require.NoError(t, rc.Flush())
		}
	}
}

func TestRunStreams(t *testing.T) {
	tests := []struct {
		name    string
		handler func(t *testing.T) http.HandlerFunc
		check   func(t *testing.T, r Result)
	}{
		{
			name: "chat stream with usage",
			handler: func(t *testing.T) http.HandlerFunc {
				return sseHandler(t, roleChunk, tokenChunk("a"), tokenChunk("b"), tokenChunk("c"), fmt.Sprintf(usageChunk, 3), "[DONE]")
			},
			check: func(t *testing.T, r Result) {
				require.NoError(t, r.Err)
				require.Equal(t, http.StatusOK, r.Status)
				require.Equal(t, 3, r.OutputTokens)
				require.Equal(t, 12, r.PromptTokens)
				require.Positive(t, r.TTFT)
				require.LessOrEqual(t, r.TTFT, r.E2E)
				require.GreaterOrEqual(t, r.TPOT, time.Duration(0))
				require.Equal(t, map[string]string{"X-Served-By": "server-1"}, r.Headers)
			},
		},
		{
			name: "tokens counted without usage",
			handler: func(t *testing.T) http.HandlerFunc {
				return sseHandler(t, roleChunk, tokenChunk("a"), tokenChunk("b"), tokenChunk("c"), tokenChunk("d"), "[DONE]")
			},
			check: func(t *testing.T, r Result) {
				require.NoError(t, r.Err)
				require.Equal(t, 4, r.OutputTokens)
				require.Zero(t, r.PromptTokens)
			},
		},
		{
			name: "usage wins over the chunk count",
			handler: func(t *testing.T) http.HandlerFunc {
				return sseHandler(t, tokenChunk("two tokens"), tokenChunk("three more tokens"), fmt.Sprintf(usageChunk, 5), "[DONE]")
			},
			check: func(t *testing.T, r Result) {
				require.NoError(t, r.Err)
				require.Equal(t, 5, r.OutputTokens)
			},
		},
		{
			name: "completions text chunks, no space after data:",
			handler: func(t *testing.T) http.HandlerFunc {
				return func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", "text/event-stream")
					_, _ = w.Write([]byte(": comment\n\ndata:{\"choices\":[{\"text\":\"x\"}]}\r\n\r\ndata:{\"choices\":[{\"text\":\"y\"}]}\n\ndata:[DONE]\n\n"))
				}
			},
			check: func(t *testing.T, r Result) {
				require.NoError(t, r.Err)
				require.Equal(t, 2, r.OutputTokens)
			},
		},
		{
			name: "stream cut before [DONE]",
			handler: func(t *testing.T) http.HandlerFunc {
				return sseHandler(t, roleChunk, tokenChunk("a"), tokenChunk("b"))
			},
			check: func(t *testing.T, r Result) {
				require.ErrorIs(t, r.Err, ErrIncompleteStream)
				require.Equal(t, 2, r.OutputTokens, "what arrived is still counted")
			},
		},
		{
			name: "error event",
			handler: func(t *testing.T) http.HandlerFunc {
				return sseHandler(t, tokenChunk("a"), `{"error":{"message":"upstream reset","type":"server_error"}}`, "[DONE]")
			},
			check: func(t *testing.T, r Result) {
				require.ErrorIs(t, r.Err, ErrStreamError)
				require.ErrorContains(t, r.Err, "upstream reset")
			},
		},
		{
			name: "no content token",
			handler: func(t *testing.T) http.HandlerFunc {
				return sseHandler(t, roleChunk, fmt.Sprintf(usageChunk, 0), "[DONE]")
			},
			check: func(t *testing.T, r Result) {
				require.ErrorIs(t, r.Err, ErrNoTokens)
			},
		},
		{
			name: "malformed chunk",
			handler: func(t *testing.T) http.HandlerFunc {
				return sseHandler(t, `{"choices":[`, "[DONE]")
			},
			check: func(t *testing.T, r Result) {
				require.ErrorContains(t, r.Err, "chunk")
			},
		},
		{
			name: "refused",
			handler: func(*testing.T) http.HandlerFunc {
				return func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusTooManyRequests)
					_, _ = w.Write([]byte(`{"error":{"message":"saturated","type":"rate_limit"}}`))
				}
			},
			check: func(t *testing.T, r Result) {
				var se *StatusError
				require.ErrorAs(t, r.Err, &se)
				require.Equal(t, http.StatusTooManyRequests, se.Code)
				require.Contains(t, se.Body, "saturated")
				require.Equal(t, http.StatusTooManyRequests, r.Status)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got chatBody
			h := tc.handler(t)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.Equal(t, "/v1/chat/completions", r.URL.Path)
				require.Equal(t, "application/json", r.Header.Get("Content-Type"))
				require.NoError(t, json.NewDecoder(r.Body).Decode(&got))
				h(w, r)
			}))
			defer srv.Close()
			req := Request{Model: "m1", Messages: []Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"}}, MaxTokens: 7}
			res := Run(context.Background(), Options{URL: srv.URL + "/", RecordHeaders: []string{"X-Served-By", "X-Absent"}},
				[]Arrival{{Request: req}})
			require.Len(t, res, 1)
			require.Equal(t, chatBody{Model: "m1", Messages: req.Messages, MaxTokens: 7, Stream: true, StreamOptions: streamOptions{IncludeUsage: true}}, got)
			require.Equal(t, "m1", res[0].Model)
			tc.check(t, res[0])
		})
	}
}

func TestRunDropsBeyondMaxInFlight(t *testing.T) {
	const maxInFlight, n = 2, 5
	arrived := make(chan struct{}, n)
	release := make(chan struct{})
	var served atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		served.Add(1)
		sseHandler(t, tokenChunk("a"), "[DONE]")(w, r)
	}))
	defer srv.Close()
	go func() {
		// Held until both allowed requests are at the server, so the other
		// three are due while two are in flight.
		for range maxInFlight {
			<-arrived
		}
		close(release)
	}()
	plan := make([]Arrival, n) // all due at once
	res := Run(context.Background(), Options{URL: srv.URL, MaxInFlight: maxInFlight}, plan)
	require.Equal(t, int32(maxInFlight), served.Load())
	for i, r := range res {
		if i < maxInFlight {
			require.NoError(t, r.Err, "request %d", i)
		} else {
			require.ErrorIs(t, r.Err, ErrDropped, "request %d", i)
		}
	}
	s := Summarize(res)
	require.Equal(t, Summary{Requests: n, Completed: maxInFlight, Failed: n - maxInFlight, Dropped: n - maxInFlight}, Summary{
		Requests: s.Requests, Completed: s.Completed, Failed: s.Failed, Dropped: s.Dropped,
	})
}

func TestRunCancelled(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Run(ctx, Options{URL: srv.URL}, []Arrival{{}, {At: time.Hour}})
	for _, r := range res {
		require.ErrorIs(t, r.Err, context.Canceled)
	}
	require.Zero(t, hits.Load())
}

func TestRunUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	res := Run(context.Background(), Options{URL: url}, []Arrival{{}})
	require.Error(t, res[0].Err)
	require.Zero(t, res[0].Status)
	require.False(t, strings.Contains(res[0].Err.Error(), "status"))
}

func TestTPOT(t *testing.T) {
	tests := []struct {
		first, last time.Duration
		tokens      int
		want        time.Duration
	}{
		{100 * time.Millisecond, 100 * time.Millisecond, 1, 0},
		{100 * time.Millisecond, 190 * time.Millisecond, 10, 10 * time.Millisecond},
		{0, 30 * time.Millisecond, 4, 10 * time.Millisecond},
		{0, 0, 0, 0},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tpot(tc.first, tc.last, tc.tokens), "%+v", tc)
	}
}

func TestRunSendsRequestHeaders(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("X-Gateway-Inference-Objective"))
		sseHandler(t, tokenChunk("a"), "[DONE]")(w, r)
	}))
	defer srv.Close()
	plan := []Arrival{{Request: Request{Model: "m", MaxTokens: 1, Headers: map[string]string{"x-gateway-inference-objective": "interactive"}}}}
	res := Run(context.Background(), Options{URL: srv.URL}, plan)
	require.NoError(t, res[0].Err)
	require.Equal(t, "interactive", got.Load())
}
