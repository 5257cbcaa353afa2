package dataplane

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// startFakeUpstream serves OpenAI chat completions; a request whose model
// is "hang" streams one event, signals hung and then waits for the client
// to go.
func startFakeUpstream(t *testing.T) (host, port string, hung <-chan struct{}) {
	t.Helper()
	hangs := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"hang"`) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"id\":\"1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"hang\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n")
			_ = http.NewResponseController(w).Flush()
			hangs <- struct{}{}
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	t.Cleanup(srv.Close)
	h, p, err := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	return h, p, hangs
}

const catchAllTemplate = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw}]
  rules:
    - backendRefs: [{name: up}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: up}
spec:
  schema: {name: OpenAI}
  backendRef: {name: up, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: up}
spec:
  endpoints: [{ip: {address: %[2]s, port: %[3]s}}]
`

// startWireGateway runs `aigw run` with one catch-all route to a fake
// upstream; hung signals each hanging stream the upstream holds.
func startWireGateway(t *testing.T, flags ...string) (g *gateway, hung <-chan struct{}) {
	t.Helper()
	host, port, hung := startFakeUpstream(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	gwPort := freePort(t)
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, catchAllTemplate, gwPort, host, port), 0o644))
	return startGateway(t, cfg, gwPort, flags...), hung
}

func rssBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestDeclaredBodiesHoldNoMemory is issue 11's probe: 200 connections
// declare 50 MiB bodies and send "{"; the process's memory stays near
// idle, a normal request is still answered, and each of them gets 408
// once its body stops making progress.
func TestDeclaredBodiesHoldNoMemory(t *testing.T) {
	g, _ := startWireGateway(t, "--request-body-timeout=3s")
	addr := strings.TrimPrefix(g.url, "http://")
	runtime.GC()
	idle := rssBytes(t)

	conns := make([]net.Conn, 0, 200)
	for range 200 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		_, err = fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 52428800\r\n\r\n{")
		require.NoError(t, err)
		conns = append(conns, c)
	}
	// A normal request is served while they hang.
	resp, err := http.Post(g.url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[]}`))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))

	runtime.GC()
	grown := rssBytes(t) - idle
	t.Logf("RSS idle %d MiB, with 200 hanging 50 MiB requests +%.1f MiB", idle>>20, float64(grown)/(1<<20))
	require.Less(t, grown, int64(48<<20), "200 declared 50 MiB bodies must not reserve memory (before the fix: ~10 GiB)")

	for _, c := range conns {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
		resp.Body.Close()
	}
}

// TestH2CPriorKnowledge: plain listeners serve HTTP/2 cleartext with prior
// knowledge, as Envoy does (curl --http2-prior-knowledge), with the same
// body bounds as HTTP/1.
func TestH2CPriorKnowledge(t *testing.T) {
	g, _ := startWireGateway(t, "--request-body-timeout=1s")
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	resp, err := c.Post(g.url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[]}`))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, 2, resp.ProtoMajor)
	require.Contains(t, string(body), `"content":"ok"`)

	// A stream that declares a large body and stalls gets 408.
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequest(http.MethodPost, g.url+"/v1/chat/completions", pr)
	require.NoError(t, err)
	req.ContentLength = 50 << 20
	go func() { _, _ = pw.Write([]byte("{")) }()
	resp, err = c.Do(req)
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, string(body))
}

// TestWireHygiene: Envoy's header limits answer 431, and a request with
// both Content-Length and Transfer-Encoding closes its connection so the
// request smuggled behind it is never served.
func TestWireHygiene(t *testing.T) {
	g, _ := startWireGateway(t)
	addr := strings.TrimPrefix(g.url, "http://")
	send := func(t *testing.T, raw string) (*http.Response, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		_, err = io.WriteString(c, raw)
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, br
	}
	body := `{"model":"m","messages":[]}`
	t.Run("101 headers", func(t *testing.T) {
		var h strings.Builder
		for i := range 101 {
			fmt.Fprintf(&h, "X-H%d: v\r\n", i)
		}
		resp, _ := send(t, fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n%sContent-Length: %d\r\n\r\n%s", h.String(), len(body), body))
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	})
	t.Run("1 MB of headers", func(t *testing.T) {
		resp, _ := send(t, fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nX-Big: %s\r\nContent-Length: %d\r\n\r\n%s", strings.Repeat("a", 1<<20), len(body), body))
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	})
	t.Run("smuggling", func(t *testing.T) {
		resp, br := send(t, fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: gw\r\n\r\n", len(body), body))
		require.True(t, resp.Close)
		_, err := http.ReadResponse(br, nil)
		require.Error(t, err, "the smuggled request must not be served")
	})
}

// TestDrainThenShutdown: on SIGTERM /readyz turns 503 while the listener
// still serves for the drain delay; a stream still running when the
// shutdown timeout ends is logged as cut by the shutdown, not as a
// client's 499.
func TestDrainThenShutdown(t *testing.T) {
	g, hung := startWireGateway(t, "--drain-delay=2s", "--shutdown-timeout=500ms")
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		resp, err := http.Post(g.url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"hang","stream":true,"messages":[]}`))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	select {
	case <-hung:
	case <-time.After(30 * time.Second):
		t.Fatal("the stream did not reach the upstream")
	}
	g.cancel()
	require.Eventually(t, func() bool {
		resp, err := http.Get(g.admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 5*time.Second, 10*time.Millisecond, "readyz turns 503 first")
	resp, err := http.Post(g.url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[]}`))
	require.NoError(t, err, "the listener still accepts during the drain delay")
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, resp.Close, "clients are asked to reconnect elsewhere (Connection: close)")

	select {
	case <-g.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway did not stop")
	}
	g.done <- nil // for the cleanup
	<-streamDone
	require.Contains(t, g.stdout.String(), `"status":503`)
	require.Contains(t, g.stdout.String(), "shutting down")
	require.NotContains(t, g.stdout.String(), `"status":499`)
}
