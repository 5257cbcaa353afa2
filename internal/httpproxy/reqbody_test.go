package httpproxy

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

// newLimitedGateway serves cfg with limits, over a real HTTP/1 server.
func newLimitedGateway(t *testing.T, cfg *config.Config, limits Limits) (*Gateway, *syncbuf.Buffer, string) {
	t.Helper()
	log := &syncbuf.Buffer{}
	g := New(Options{Limits: limits, AccessLog: newJSONLogger(log)})
	require.NoError(t, g.Apply(cfg))
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	t.Cleanup(g.Close)
	return g, log, strings.TrimPrefix(srv.URL, "http://")
}

func chatConfig(up *fakeOpenAI) *config.Config {
	return &config.Config{
		Version:  config.Version,
		Routes:   []config.Route{{Name: "r", Rules: []config.Rule{modelRule("m", ref("a", 0))}}},
		Backends: []config.Backend{backendOf("a", up)},
	}
}

// rawRequest writes head (and body) on a new connection and returns the
// response read from it and the connection.
func rawRequest(t *testing.T, addr, request string) (*http.Response, *bufio.Reader, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = io.WriteString(c, request)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	return resp, br, c
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return string(b)
}

// TestDeclaredLengthReservesNothing: a client that declares 50 MiB and
// sends one byte holds one small buffer, gets 408 once its body stops
// making progress, and the connection closes.
func TestDeclaredLengthReservesNothing(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	g, log, addr := newLimitedGateway(t, chatConfig(up), Limits{BodyReadTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 52428800\r\n\r\n{")
	require.Eventually(t, func() bool { return g.budget.Used() > 0 }, 5*time.Second, time.Millisecond)
	require.LessOrEqual(t, g.budget.Used(), int64(initialBodyBuffer), "memory follows the bytes that arrived, not the declared length")

	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	require.Contains(t, readAll(t, resp), `"code":"request_timeout"`)
	require.True(t, resp.Close, "the connection closes after a body that timed out")
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF)
	require.Eventually(t, func() bool { return g.budget.Used() == 0 }, 5*time.Second, time.Millisecond, "the charge is returned")
	require.Contains(t, log.String(), `"status":408`)
}

// TestRequestReceivedTimeout: a body that trickles in, making progress,
// is still cut by the ClientTrafficPolicy's requestReceivedTimeout.
func TestRequestReceivedTimeout(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	cfg := chatConfig(up)
	cfg.Gateways = []config.Gateway{{Name: "default/gw", Client: config.ClientSettings{RequestReceivedTimeout: config.Duration(400 * time.Millisecond)}}}
	_, _, addr := newLimitedGateway(t, cfg, Limits{BodyReadTimeout: time.Minute})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000\r\n\r\n")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	c.Close()
	<-done
}

// TestBodyBudget: while the budget is spent, a request with a body gets
// 503 overloaded without its body being read, and its connection closes;
// once the holder ends, requests go through again and nothing stays
// charged.
func TestBodyBudget(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	g, _, addr := newLimitedGateway(t, chatConfig(up), Limits{BodyBudget: 64 << 10, BodyReadTimeout: time.Minute})
	holder, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	// 40 KiB arrived: its buffer has grown to 64 KiB, the whole budget.
	fmt.Fprintf(holder, "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000000\r\n\r\n%s", strings.Repeat(" ", 40<<10))
	require.Eventually(t, func() bool { return g.budget.Exhausted() }, 10*time.Second, time.Millisecond)

	resp, _, _ := rawRequest(t, addr, "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 20\r\n\r\n{\"model\":\"m\"}      ")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, readAll(t, resp), `"code":"overloaded"`)
	require.True(t, resp.Close)

	holder.Close()
	require.Eventually(t, func() bool { return g.budget.Used() == 0 }, 10*time.Second, time.Millisecond, "the holder's charge is returned")
	resp, _, _ = rawRequest(t, addr, "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 13\r\n\r\n{\"model\":\"m\"}")
	require.Equal(t, http.StatusOK, resp.StatusCode, readAll(t, resp))
	require.Zero(t, g.budget.Used())
}

// TestBodyOverLimitWhileArriving: a chunked body (no declared length)
// that grows past the limit gets 413 and the connection closes.
func TestBodyOverLimitWhileArriving(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	cfg := chatConfig(up)
	cfg.Gateways = []config.Gateway{{Name: "default/gw", MaxRequestBodyBytes: 1000}}
	g, _, addr := newLimitedGateway(t, cfg, Limits{})
	chunk := strings.Repeat("x", 600)
	resp, _, _ := rawRequest(t, addr, fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", len(chunk), chunk, len(chunk), chunk))
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.True(t, resp.Close)
	require.Eventually(t, func() bool { return g.budget.Used() == 0 }, 5*time.Second, time.Millisecond)
}

// TestContentLengthWithTransferEncodingCloses: RFC 9112 §6.1 — the
// request is answered and the connection closed, so a request smuggled
// after it is never served.
func TestContentLengthWithTransferEncodingCloses(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	_, log, addr := newLimitedGateway(t, chatConfig(up), Limits{})
	body := `{"model":"m"}`
	resp, br, _ := rawRequest(t, addr, fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: gw\r\n\r\n", len(body), body))
	readAll(t, resp)
	require.True(t, resp.Close, "Connection: close")
	_, err := http.ReadResponse(br, nil)
	require.Error(t, err, "the smuggled request got no answer")
	require.Equal(t, 1, strings.Count(log.String(), `"path":`), "one request logged")
}

// TestHeaderLimits: Envoy's limits, 100 fields and 60 KiB, answered 431.
func TestHeaderLimits(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	_, _, addr := newLimitedGateway(t, chatConfig(up), Limits{})
	many := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "X-H%d: v\r\n", i)
		}
		return b.String()
	}
	body := `{"model":"m"}`
	tests := []struct {
		name    string
		headers string
		want    int
	}{
		{"within", many(90), http.StatusOK},
		{"too many fields", many(100), http.StatusRequestHeaderFieldsTooLarge},
		{"too large", "X-Big: " + strings.Repeat("a", 61<<10) + "\r\n", http.StatusRequestHeaderFieldsTooLarge},
		{"large within", "X-Big: " + strings.Repeat("a", 50<<10) + "\r\n", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, _, _ := rawRequest(t, addr, fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n%sContent-Length: %d\r\n\r\n%s", tc.headers, len(body), body))
			got := readAll(t, resp)
			require.Equal(t, tc.want, resp.StatusCode, got)
			if tc.want != http.StatusOK {
				require.Contains(t, got, `"code":"request_header_fields_too_large"`)
			}
		})
	}
}

func newJSONLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }
