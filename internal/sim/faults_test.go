package sim

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFaultSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want faultSpec
		err  string
	}{
		{in: "status=503", want: faultSpec{status: 503, resetAfter: -1, rate: 100}},
		{in: "type=rate_limit; rate=12.5", want: faultSpec{failure: FailureRateLimit, resetAfter: -1, rate: 12.5}},
		{in: "hang", want: faultSpec{hang: true, resetAfter: -1, rate: 100}},
		{in: "reset", want: faultSpec{resetAfter: 0, rate: 100}},
		{in: " reset-after=3 , slow-stream=20ms", want: faultSpec{resetAfter: 3, slowStream: 20 * time.Millisecond, rate: 100}},
		{in: "slow-first-byte=500", want: faultSpec{slowFirstByte: 500 * time.Millisecond, resetAfter: -1, rate: 100}},
		{in: "", err: "empty"},
		{in: "status=42", err: "not an HTTP status"},
		{in: "status", err: "needs a value"},
		{in: "hang=1", err: "takes no value"},
		{in: "type=boom", err: "unknown failure type"},
		{in: "rate=101", err: "not within 0-100"},
		{in: "explode", err: "needs a value"},
		{in: "explode=1", err: "unknown directive"},
		{in: "slow-stream=-1s", err: "negative"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseFaultSpec(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, *got)
		})
	}
}

func TestFaultHeaderStatus(t *testing.T) {
	in := newTestInstance(t, nil)
	for _, tc := range []struct {
		fault, path string
		status      int
		typ         string
	}{
		{"status=500", "/v1/chat/completions", 500, "InternalServerError"},
		{"status=429", "/v1/completions", 429, "Too Many Requests"},
		{"type=invalid_api_key", "/v1/chat/completions", 401, "AuthenticationError"},
		{"type=model_not_found,status=410", "/v1/embeddings", 410, "NotFoundError"},
		{"type=context_length", "/v1/completions", 400, "BadRequestError"},
		{"bogus", "/v1/chat/completions", 400, "BadRequestError"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			body := map[string]string{
				"/v1/chat/completions": chatBody("m", "hi", 1, ""),
				"/v1/completions":      `{"model":"m","prompt":"hi","max_tokens":1}`,
				"/v1/embeddings":       `{"model":"m","input":"hi"}`,
			}[tc.path]
			w := call(t, in, http.MethodPost, tc.path, body, faultHeader, tc.fault)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			assert.Contains(t, w.Body.String(), `"type":"`+tc.typ+`"`)
		})
	}
	assert.Zero(t, in.Snapshot().Steps, "failed requests never reach the engine")
}

func TestFailureInjectionRate(t *testing.T) {
	all := newTestInstance(t, func(o *Options) {
		o.FailureInjectionRate = 100
		o.FailureTypes = []FailureType{FailureServerError, FailureRateLimit}
	})
	seen := map[int]int{}
	for range 40 {
		w := call(t, all, http.MethodPost, "/v1/chat/completions", chatBody("m", "hi", 1, ""))
		seen[w.Code]++
	}
	assert.Equal(t, 40, seen[500]+seen[429])
	assert.Positive(t, seen[500])
	assert.Positive(t, seen[429])

	half := newTestInstance(t, func(o *Options) { o.Fault = "status=503,rate=50" })
	failed := 0
	for range 40 {
		if w := call(t, half, http.MethodPost, "/v1/chat/completions", chatBody("m", "hi", 1, "")); w.Code == 503 {
			failed++
		}
	}
	assert.Positive(t, failed)
	assert.Less(t, failed, 40)
	w := call(t, half, http.MethodPost, "/v1/chat/completions", chatBody("m", "hi", 1, ""), faultHeader, "status=418")
	assert.Equal(t, http.StatusTeapot, w.Code, "the header replaces --fault")
}

func TestFaultHang(t *testing.T) {
	c := startCluster(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.Addrs()[0]+"/v1/chat/completions",
		strings.NewReader(chatBody("m", "hi", 1, "")))
	require.NoError(t, err)
	req.Header.Set(faultHeader, "hang")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	require.ErrorIs(t, err, context.DeadlineExceeded, "a hung request gets no response at all")
	assert.Zero(t, c.Instance(0).Snapshot().Steps)
}

// readEvents reads SSE events until the stream ends and returns them with
// the error that ended the stream (nil for a clean end).
func readEvents(body io.Reader) ([]string, error) {
	var events []string
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "data: ") {
			events = append(events, strings.TrimPrefix(line, "data: "))
		}
	}
	return events, sc.Err()
}

func TestFaultResetMidStream(t *testing.T) {
	c := startCluster(t, nil)
	url := "http://" + c.Addrs()[0] + "/v1/chat/completions"
	post := func(body, fault string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set(faultHeader, fault)
		return http.DefaultClient.Do(req) //nolint:bodyclose // closed by the callers
	}

	resp, err := post(chatBody("m", "hi", 10, `"stream":true`), "reset-after=3")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	events, err := readEvents(resp.Body)
	require.Error(t, err, "the stream must end abruptly, not cleanly")
	assert.Len(t, events, 3, "the role chunk and two tokens, then the reset")
	assert.NotContains(t, events, "[DONE]")

	resp, err = post(chatBody("m", "hi", 3, ""), "reset")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
	}
	require.Error(t, err, "a non-streaming request is reset instead of answered")
	assert.False(t, errors.Is(err, context.DeadlineExceeded))

	// The instance keeps serving after resets.
	resp, err = post(chatBody("m", "hi", 3, `"stream":true`), "rate=0,reset")
	require.NoError(t, err)
	defer resp.Body.Close()
	events, err = readEvents(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "[DONE]", events[len(events)-1])
}

func TestFaultSlowFirstByteAndStream(t *testing.T) {
	in := newTestInstance(t, nil)
	start := time.Now()
	w := call(t, in, http.MethodPost, "/v1/chat/completions", chatBody("m", "hi", 1, ""), faultHeader, "slow-first-byte=30ms")
	require.Equal(t, http.StatusOK, w.Code)
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond, "the delay is a lower bound")

	start = time.Now()
	w = call(t, in, http.MethodPost, "/v1/chat/completions", chatBody("m", "hi", 4, `"stream":true`), faultHeader, "slow-stream=10ms")
	require.Equal(t, http.StatusOK, w.Code)
	assert.GreaterOrEqual(t, time.Since(start), 6*10*time.Millisecond, "role, 4 tokens and [DONE], each delayed")
	events, err := readEvents(w.Body)
	require.NoError(t, err)
	assert.Len(t, events, 6)
}
