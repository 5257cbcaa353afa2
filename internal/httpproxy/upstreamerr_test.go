package httpproxy

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
)

type errorEnvelope struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    string `json:"code"`
	} `json:"error"`
}

// TestNonJSONUpstreamErrorIsWrapped: an HTML 503 page reaches the client
// as an OpenAI-shaped error with the status kept; a JSON error body of an
// OpenAI-compatible upstream passes as it is.
func TestNonJSONUpstreamErrorIsWrapped(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	_, _, addr := newLimitedGateway(t, chatConfig(up), Limits{})
	post := func(fault string) (*http.Response, string) {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[]}`))
		require.NoError(t, err)
		req.Header.Set("X-Test-Fault", fault)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		return resp, readAll(t, resp)
	}

	resp, body := post("html-503")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var env errorEnvelope
	require.NoError(t, json.Unmarshal([]byte(body), &env), body)
	require.Equal(t, "the upstream answered 503: 503 Service Temporarily Unavailable", env.Error.Message)
	require.Equal(t, "service_unavailable", env.Error.Type)
	require.Equal(t, "upstream_503", env.Error.Code)

	resp, body = post("status=429")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Contains(t, body, `"message":"injected 429 by a"`, "a JSON error body passes unchanged")
}

// TestTruncatedBodyIsAFailedAttempt: a 200 whose body breaks off before
// its Content-Length is a failed attempt while nothing reached the client:
// the next tier serves; without one, 502 OpenAI-shaped — never an empty
// reply logged 200.
func TestTruncatedBodyIsAFailedAttempt(t *testing.T) {
	bad, good := newFakeOpenAI(t, "bad"), newFakeOpenAI(t, "good")
	bad.setFault("short-body=9")
	cfg := &config.Config{
		Version:  config.Version,
		Routes:   []config.Route{{Name: "r", Rules: []config.Rule{modelRule("m", ref("bad", 0), ref("good", 1)), modelRule("only-bad", ref("bad", 0))}}},
		Backends: []config.Backend{backendOf("bad", bad), backendOf("good", good)},
	}
	_, log, addr := newLimitedGateway(t, cfg, Limits{})

	resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "hello from good")

	resp, err = http.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"only-bad"}`))
	require.NoError(t, err)
	body = readAll(t, resp)
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.Contains(t, body, `"code":"upstream_error"`)
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	require.Contains(t, lines[len(lines)-1], `"status":502`)
	require.Contains(t, lines[len(lines)-1], "broke off after 9 bytes")
}

// TestLargeBodyBrokenAfterHeaders: a body too large to hold before
// answering streams; when it breaks off, the client's response is aborted
// and the log says 502.
func TestLargeBodyBrokenAfterHeaders(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	up.setFault("short-body=2000000")
	_, log, addr := newLimitedGateway(t, chatConfig(up), Limits{})
	resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the headers went out with the first megabyte")
	_, err = io.ReadAll(resp.Body)
	require.Error(t, err, "the client sees the body cut")
	_ = resp.Body.Close()
	require.Eventually(t, func() bool { return strings.Contains(log.String(), `"status":502`) }, 5*time.Second, time.Millisecond, log.String())
}

// TestOversizedEventEndsStream: one event over the limit ends the stream
// with an OpenAI-shaped error event after the events before it.
func TestOversizedEventEndsStream(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	up.setFault("big-event=200000")
	_, log, addr := newLimitedGateway(t, chatConfig(up), Limits{MaxEventBytes: 100_000})
	resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","stream":true}`))
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `"content":"first"`)
	require.Contains(t, body, `"code":"upstream_event_too_large"`)
	require.NotContains(t, body, "xxxx")
	require.NotContains(t, body, "[DONE]")
	require.Eventually(t, func() bool { return strings.Contains(log.String(), `"status":502`) }, 5*time.Second, time.Millisecond)
}

// TestTimeoutMidStreamIsLabelledTimeout: the route's request timeout
// firing in mid-stream is logged 504 request timeout, and the client's
// error event says so — not an upstream error.
func TestTimeoutMidStreamIsLabelledTimeout(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	up.setFault("stall-mid-stream")
	cfg := chatConfig(up)
	cfg.Routes[0].Rules[0].Timeouts.Request = config.Duration(300 * time.Millisecond)
	_, log, addr := newLimitedGateway(t, cfg, Limits{})
	resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","stream":true}`))
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Contains(t, body, `"code":"request_timeout"`)
	require.Eventually(t, func() bool { return strings.Contains(log.String(), `"status":504`) }, 5*time.Second, time.Millisecond, log.String())
	require.Contains(t, log.String(), "request timeout")
}
