package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors a [Result] may carry (wrapped); a server's refusal is a
// [*StatusError].
var (
	// ErrDropped: the request was not sent because MaxInFlight requests
	// were in flight at its time.
	ErrDropped = errors.New("loadgen: dropped: too many requests in flight")
	// ErrIncompleteStream: the stream ended without `data: [DONE]`.
	ErrIncompleteStream = errors.New("loadgen: stream ended before [DONE]")
	// ErrNoTokens: the stream finished without any content token.
	ErrNoTokens = errors.New("loadgen: stream had no content token")
	// ErrStreamError: the stream carried an error event.
	ErrStreamError = errors.New("loadgen: error event in stream")
)

// StatusError is a response with a status other than 200.
type StatusError struct {
	Code int
	// Body is the start of the response body.
	Body string
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("loadgen: status %d: %s", e.Code, e.Body)
}

// Defaults of [Options].
const (
	DefaultMaxInFlight = 2048
	DefaultTimeout     = 2 * time.Minute
	// maxErrorBody is how much of a refused response's body is kept.
	maxErrorBody = 512
	// maxEventLine bounds one SSE line.
	maxEventLine = 1 << 20
)

// Options configure [Run].
type Options struct {
	// URL is the server's base URL; requests are POSTed to
	// URL + "/v1/chat/completions".
	URL string
	// Client sends the requests; nil means [NewClient].
	Client *http.Client
	// MaxInFlight bounds the requests in flight; a request due while that
	// many are in flight is dropped (ErrDropped). 0 means DefaultMaxInFlight.
	MaxInFlight int
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout time.Duration
	// RecordHeaders are response headers to copy into [Result.Headers]
	// (e.g. which server answered).
	RecordHeaders []string
}

// NewClient returns a client for many concurrent streams to one server: no
// proxy from the environment, no compression, idle connections kept.
func NewClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        DefaultMaxInFlight,
		MaxIdleConnsPerHost: DefaultMaxInFlight,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

// Result is the measurement of one planned request. Durations are from the
// planned send time, so a late send counts against the server, as it would
// for a real client.
type Result struct {
	// At is the planned send time, from the start of the run.
	At time.Duration
	// Model is the requested model.
	Model string
	// Status is the HTTP status (0 if there was no response).
	Status int
	// Err is nil for a complete stream with at least one token.
	Err error
	// TTFT is the time to the first content token; E2E the time to the last
	// event.
	TTFT, E2E time.Duration
	// TPOT is the time per output token after the first:
	// (last token − first token) / (OutputTokens − 1); 0 with one token.
	TPOT time.Duration
	// PromptTokens and OutputTokens are from the usage chunk; OutputTokens
	// counts content chunks when there is none.
	PromptTokens, OutputTokens int
	// Headers are the recorded response headers.
	Headers map[string]string
}

// OK reports whether the request completed.
func (r *Result) OK() bool { return r.Err == nil }

// Done is when the request ended, from the start of the run.
func (r *Result) Done() time.Duration { return r.At + r.E2E }

// Run sends the plan, each request at its time (open loop), and returns one
// result per arrival, in plan order, once every request has ended. When ctx
// ends, requests in flight are cancelled and the rest are not sent (their
// error is the context's).
func Run(ctx context.Context, o Options, plan []Arrival) []Result {
	if o.Client == nil {
		o.Client = NewClient()
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	url := strings.TrimSuffix(o.URL, "/") + "/v1/chat/completions"
	results := make([]Result, len(plan))
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := range plan {
		a, r := &plan[i], &results[i]
		r.At, r.Model = a.At, a.Request.Model
		if wait := time.Until(start.Add(a.At)); wait > 0 && ctx.Err() == nil {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		}
		if err := ctx.Err(); err != nil {
			r.Err = fmt.Errorf("loadgen: not sent: %w", err)
			continue
		}
		if inFlight.Load() >= int64(o.MaxInFlight) {
			r.Err = ErrDropped
			continue
		}
		inFlight.Add(1)
		wg.Go(func() {
			defer inFlight.Add(-1)
			send(ctx, &o, url, start, a, r)
		})
	}
	wg.Wait()
	return results
}

// chatBody is the request body.
type chatBody struct {
	Model         string        `json:"model"`
	Messages      []Message     `json:"messages"`
	MaxTokens     int           `json:"max_tokens,omitempty"`
	Stream        bool          `json:"stream"`
	StreamOptions streamOptions `json:"stream_options"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// send does one request and fills r.
func send(ctx context.Context, o *Options, url string, start time.Time, a *Arrival, r *Result) {
	since := func() time.Duration { return time.Since(start) - a.At }
	defer func() {
		if r.E2E == 0 {
			r.E2E = since()
		}
	}()
	body, err := json.Marshal(chatBody{
		Model: a.Request.Model, Messages: a.Request.Messages, MaxTokens: a.Request.MaxTokens,
		Stream: true, StreamOptions: streamOptions{IncludeUsage: true},
	})
	if err != nil {
		r.Err = fmt.Errorf("loadgen: request body: %w", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		r.Err = fmt.Errorf("loadgen: %w", err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range a.Request.Headers {
		req.Header.Set(k, v)
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		r.Err = fmt.Errorf("loadgen: %w", err)
		return
	}
	defer resp.Body.Close()
	r.Status = resp.StatusCode
	for _, h := range o.RecordHeaders {
		if v := resp.Header.Get(h); v != "" {
			if r.Headers == nil {
				r.Headers = map[string]string{}
			}
			r.Headers[h] = v
		}
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		r.Err = &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(b))}
		return
	}
	readStream(resp.Body, since, r)
}

// chunk is what the load generator reads of a streamed chunk.
type chunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		Text string `json:"text"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// readStream reads server-sent events until [DONE] and fills r's timings
// and token counts; since returns the time from the planned send.
func readStream(body io.Reader, since func() time.Duration, r *Result) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	var first, last time.Duration
	tokens, usage := 0, -1
	done := false
	for sc.Scan() {
		data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data:"))
		if !ok {
			continue // blank line, comment, other field
		}
		data = bytes.TrimPrefix(data, []byte(" "))
		if string(data) == "[DONE]" {
			done = true
			break
		}
		var c chunk
		if err := json.Unmarshal(data, &c); err != nil {
			r.Err = fmt.Errorf("loadgen: chunk %q: %w", data, err)
			return
		}
		if len(c.Error) > 0 && string(c.Error) != "null" {
			r.Err = fmt.Errorf("%w: %s", ErrStreamError, c.Error)
			return
		}
		if c.Usage != nil {
			r.PromptTokens, usage = c.Usage.PromptTokens, c.Usage.CompletionTokens
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content == "" && ch.Text == "" {
				continue
			}
			now := since()
			if tokens == 0 {
				first = now
			}
			last = now
			tokens++
		}
	}
	r.E2E = since()
	switch {
	case sc.Err() != nil:
		r.Err = fmt.Errorf("loadgen: read stream: %w", sc.Err())
	case !done:
		r.Err = ErrIncompleteStream
	case tokens == 0:
		r.Err = ErrNoTokens
	}
	if tokens == 0 {
		return
	}
	r.OutputTokens = tokens
	if usage >= 0 {
		r.OutputTokens = usage
	}
	r.TTFT = first
	r.TPOT = tpot(first, last, r.OutputTokens)
}

// tpot is the time per output token after the first.
func tpot(first, last time.Duration, tokens int) time.Duration {
	if tokens < 2 {
		return 0
	}
	return (last - first) / time.Duration(tokens-1)
}
