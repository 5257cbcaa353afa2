package dataplane

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// reloadLoopMax bounds the requests the client loop of
// TestEditorRewritesNeverDropRoutes sends; the test stops it long before.
const reloadLoopMax = 100000

// TestEditorRewritesNeverDropRoutes rewrites the watched file as editors do
// while a client sends requests: truncate, pause, write (the watcher may
// load the empty file in between), and write to a temporary file, then
// rename. The empty file must be rejected (the running configuration
// stays), so no request may fail with 404 or 5xx.
func TestEditorRewritesNeverDropRoutes(t *testing.T) {
	sims := startSims(t, 1, model)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	port := freePort(t)
	host, simPort, err := net.SplitHostPort(sims[0])
	require.NoError(t, err)
	content := fmt.Appendf(nil, configTemplate, port, model, model, model, host, simPort, host, simPort)
	require.NoError(t, os.WriteFile(cfg, content, 0o644))
	g := startGateway(t, cfg, port)

	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		failed   int
		failures []string // the first few
	)
	fail := func(msg string) {
		failed++
		if len(failures) < 5 {
			failures = append(failures, msg)
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := &http.Client{Timeout: 30 * time.Second}
		body := `{"model":"` + model + `","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`
		for range reloadLoopMax {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := client.Post(g.url+"/v1/chat/completions", "application/json", strings.NewReader(body))
			mu.Lock()
			if err != nil {
				fail(err.Error())
			} else {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				statuses[resp.StatusCode]++
				if resp.StatusCode == http.StatusNotFound || resp.StatusCode >= 500 {
					fail(fmt.Sprintf("%d: %s", resp.StatusCode, b))
				}
			}
			mu.Unlock()
		}
	}()
	sent := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range statuses {
			n += c
		}
		return n + failed
	}
	count := func(s string) int { return strings.Count(g.stderr.String(), s) }
	const rejectedEmpty = "no resources: the file is empty or holds only comments"
	// waitFor waits until the log holds more than n occurrences of s.
	waitFor := func(s string, n int) {
		t.Helper()
		require.Eventually(t, func() bool { return count(s) > n }, 20*time.Second, 5*time.Millisecond,
			"waiting for %q in the log:\n%s", s, g.stderr)
	}
	// Requests are flowing before the first rewrite.
	require.Eventually(t, func() bool { return sent() > 0 }, 20*time.Second, 5*time.Millisecond)

	for i := range 12 {
		reloaded, rejected := count("configuration reloaded"), count(rejectedEmpty)
		if i%3 == 2 {
			// Write to a temporary file, then rename it over the watched one.
			tmp := cfg + ".swp"
			require.NoError(t, os.WriteFile(tmp, content, 0o644))
			require.NoError(t, os.Rename(tmp, cfg))
			waitFor("configuration reloaded", reloaded)
			continue
		}
		f, err := os.OpenFile(cfg, os.O_WRONLY|os.O_TRUNC, 0o644)
		require.NoError(t, err)
		if i%3 == 0 {
			// A slow editor: the watcher loads the empty file before the
			// write lands (which must reject it: checked below, after the
			// requests).
			require.Eventually(t, func() bool { return count(rejectedEmpty) > rejected || count("configuration reloaded") > reloaded },
				20*time.Second, 5*time.Millisecond, "the watcher did not load the empty file:\n%s", g.stderr)
			reloaded = count("configuration reloaded")
		} else {
			time.Sleep(5 * time.Millisecond)
		}
		_, err = f.Write(content)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		waitFor("configuration reloaded", reloaded)
	}
	before := sent()
	// A few more requests on the final configuration.
	require.Eventually(t, func() bool { return sent() > before+5 }, 20*time.Second, 5*time.Millisecond)
	close(stop)
	<-done

	mu.Lock()
	defer mu.Unlock()
	require.Zero(t, failed, "statuses: %v; first failures: %v", statuses, failures)
	require.Positive(t, statuses[http.StatusOK])
	log := g.stderr.String()
	require.Contains(t, log, "configuration rejected: keeping the running configuration")
	require.Contains(t, log, cfg+": "+rejectedEmpty)
	require.NotContains(t, log, "has no routes")
}

// TestEmptiedFileInDirectoryKeepsItsRoutes: in a directory of files, a
// file that an editor has truncated (the others still hold resources)
// rejects the reload, so its routes keep serving until the write lands;
// deleting the file is how its resources are removed.
func TestEmptiedFileInDirectoryKeepsItsRoutes(t *testing.T) {
	sims := startSims(t, 1, model)
	dir := t.TempDir()
	port := freePort(t)
	host, simPort, err := net.SplitHostPort(sims[0])
	require.NoError(t, err)
	all := string(fmt.Appendf(nil, configTemplate, port, model, model, model, host, simPort, host, simPort))
	// The route in one file, everything else in another.
	docs := strings.Split(all, "\n---\n")
	var routeDoc string
	var rest []string
	for _, d := range docs {
		if strings.Contains(d, "kind: AIGatewayRoute") {
			routeDoc = d
		} else {
			rest = append(rest, d)
		}
	}
	require.NotEmpty(t, routeDoc)
	routes := filepath.Join(dir, "routes.yaml")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "backends.yaml"), []byte(strings.Join(rest, "\n---\n")), 0o644))
	require.NoError(t, os.WriteFile(routes, []byte(routeDoc), 0o644))
	g := startGateway(t, dir, port)
	c := g.client()
	_, err = c.Chat.Completions.New(t.Context(), chat(model))
	require.NoError(t, err)

	const rejected = "now empty, its resources would all be dropped"
	require.NoError(t, os.Truncate(routes, 0))
	require.Eventually(t, func() bool { return strings.Contains(g.stderr.String(), rejected) }, 20*time.Second, 5*time.Millisecond,
		"the reload of the emptied file was not rejected:\n%s", g.stderr)
	_, err = c.Chat.Completions.New(t.Context(), chat(model))
	require.NoError(t, err, "the emptied file's route still serves")

	// The write lands: reloaded.
	reloads := strings.Count(g.stderr.String(), "configuration reloaded")
	require.NoError(t, os.WriteFile(routes, []byte(routeDoc), 0o644))
	require.Eventually(t, func() bool { return strings.Count(g.stderr.String(), "configuration reloaded") > reloads }, 20*time.Second, 5*time.Millisecond)

	// Deleting the file removes its route on purpose.
	require.NoError(t, os.Remove(routes))
	require.Eventually(t, func() bool { return strings.Contains(g.stderr.String(), "has no routes") }, 20*time.Second, 5*time.Millisecond, "%s", g.stderr)
	_, err = c.Chat.Completions.New(t.Context(), chat(model))
	require.Error(t, err, "no route once the file is deleted")
}
