package sim

import (
	"flag"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// update rewrites the golden files under testdata instead of comparing.
var update = flag.Bool("update", false, "rewrite golden files")

// testOptions are small, fast settings: a model called "m", no wall-clock
// latency, a KV cache sized for short prompts.
func testOptions() Options {
	o := DefaultOptions()
	o.Model = "m"
	o.Port = 0
	o.TimeScale = 0
	o.MaxModelLen = 4096
	o.KVCacheSize = 1024
	return o
}

// newTestInstance starts an in-process instance that stops with the test.
func newTestInstance(t testing.TB, mutate func(*Options)) *Instance {
	t.Helper()
	o := testOptions()
	if mutate != nil {
		mutate(&o)
	}
	in, err := NewInstance(t.Context(), o, "test-instance", nil)
	require.NoError(t, err)
	return in
}

// startCluster starts real servers on loopback ports that stop with the test.
func startCluster(t testing.TB, mutate func(*Options)) *Cluster {
	t.Helper()
	o := testOptions()
	if mutate != nil {
		mutate(&o)
	}
	c, err := Start(t.Context(), o, nil)
	require.NoError(t, err)
	return c
}

// call sends one request to h in-process and returns the recorded response.
func call(t testing.TB, h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// headerMillis parses a simulated-duration header.
func headerMillis(t testing.TB, h http.Header, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(h.Get(name), 64)
	require.NoError(t, err, "header %s=%q", name, h.Get(name))
	return v
}

// waitFor polls cond until it holds or the test's deadline nears. It asserts
// nothing about time: a condition that never holds fails the test.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline, ok := t.(interface{ Deadline() (time.Time, bool) })
	var end time.Time
	if ok {
		end, ok = deadline.Deadline()
	}
	if !ok {
		end = time.Now().Add(time.Minute)
	} else {
		end = end.Add(-5 * time.Second)
	}
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("gave up waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(200 * time.Microsecond)
	}
}

// chatBody builds a chat request body.
func chatBody(model, content string, maxTokens int, extra string) string {
	b := `{"model":"` + model + `","messages":[{"role":"user","content":"` + content + `"}]`
	if maxTokens > 0 {
		b += `,"max_tokens":` + strconv.Itoa(maxTokens)
	}
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

// longText returns n distinct words.
func longText(n int, seed string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(seed)
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
}
