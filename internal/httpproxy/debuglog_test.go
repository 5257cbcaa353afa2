package httpproxy

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

// TestDebugLogTellsEachStep: at debug level every attempt, its failure and
// what follows, and each pool pick with who made it, are logged; at info
// level none of it is.
func TestDebugLogTellsEachStep(t *testing.T) {
	bad, good, podA := newFakeOpenAI(t, "bad"), newFakeOpenAI(t, "good"), newFakeOpenAI(t, "pod-a")
	bad.setFault("status=503")
	cfg := &config.Config{
		Version: config.Version,
		Routes: []config.Route{{Name: "r", Rules: []config.Rule{
			modelRule("m", ref("bad", 0), ref("good", 1)),
			modelRule("pooled", ref("pool", 0)),
		}}},
		Backends: []config.Backend{backendOf("bad", bad), backendOf("good", good), poolOf("pool", nil, podA)},
	}
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		t.Run(level.String(), func(t *testing.T) {
			logs := &syncbuf.Buffer{}
			g := New(Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))})
			require.NoError(t, g.Apply(cfg))
			t.Cleanup(g.Close)
			srv := httptest.NewServer(g)
			t.Cleanup(srv.Close)
			for _, model := range []string{"m", "pooled"} {
				resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"`+model+`"}`))
				require.NoError(t, err)
				readAll(t, resp)
				require.Equal(t, http.StatusOK, resp.StatusCode)
			}
			out := logs.String()
			if level == slog.LevelInfo {
				require.NotContains(t, out, "attempt")
				return
			}
			for _, want := range []string{
				"msg=attempt request_id=", "attempt=1 backend=bad priority=0",
				`msg="attempt failed"`, "status=503", `next="retry`,
				"attempt=2 backend=good priority=1", `msg="attempt answered"`,
				`msg="pool: pick"`, `by="gateway's own pick`, "endpoints=[" + addrOf(podA) + "]",
			} {
				require.Contains(t, out, want)
			}
		})
	}
}
