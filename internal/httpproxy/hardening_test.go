package httpproxy

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/labels"
	"github.com/aigw-dev/aigw/internal/metrics"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

// newBoundedGateway is newTestGateway with a model-label bound of
// maxModelLabels.
func newBoundedGateway(t *testing.T, cfg *config.Config, maxModelLabels int) *testGateway {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.NewPrometheus(reg, metrics.Options{MaxModelLabels: maxModelLabels})
	require.NoError(t, err)
	logBuf := &syncbuf.Buffer{}
	g := New(Options{Metrics: m, AccessLog: slog.New(slog.NewJSONHandler(logBuf, nil))})
	require.NoError(t, g.Apply(cfg))
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	t.Cleanup(g.Close)
	return &testGateway{Gateway: g, srv: srv, reg: reg, log: logBuf}
}

// catchAllConfig routes "gpt-test" and every model matching the regular
// expression "weird-.*" to up, which echoes the model as the response's.
func catchAllConfig(up *fakeOpenAI) *config.Config {
	weird := modelRule("weird", ref("default/a", 0))
	weird.Matches[0].Headers[0] = config.HeaderMatch{Type: config.HeaderMatchRegularExpression, Name: "x-ai-eg-model", Value: "weird-.*"}
	return &config.Config{Version: config.Version,
		Backends: []config.Backend{backendOf("default/a", up)},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("gpt-test", ref("default/a", 0)), weird}}},
	}
}

// genAISeries returns the label sets of every gen_ai_* series in reg.
func genAISeries(t *testing.T, reg *prometheus.Registry) map[string][]map[string]string {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string][]map[string]string{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "gen_ai_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			out[mf.GetName()] = append(out[mf.GetName()], l)
		}
	}
	return out
}

// postChat serves a chat request for model on tg's handler directly, so
// that the request's metrics and access-log line are recorded when it
// returns, and returns the status.
func postChat(t *testing.T, tg *testGateway, model string, header http.Header) int {
	t.Helper()
	body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi"}]}`, model)
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	tg.ServeHTTP(w, req)
	return w.Code
}

func TestUnmatchedModelRecordsNoSeries(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	tg := newBoundedGateway(t, catchAllConfig(up), 0)
	for i := range 50 {
		require.Equal(t, http.StatusNotFound, postChat(t, tg, fmt.Sprintf("nomatch-%d", i), nil))
	}
	require.Empty(t, genAISeries(t, tg.reg), "a request that matched no route records no series")
	require.Equal(t, 50, strings.Count(tg.log.String(), `"status":404`), "it is still in the access log")

	// A matched request is recorded.
	require.Equal(t, http.StatusOK, postChat(t, tg, "gpt-test", nil))
	series := genAISeries(t, tg.reg)
	require.Len(t, series["gen_ai_server_request_duration_seconds"], 1)
	require.Equal(t, "gpt-test", series["gen_ai_server_request_duration_seconds"][0]["gen_ai_original_model"])
}

func TestDistinctModelsBoundSeries(t *testing.T) {
	const maxLabels, distinct = 5, 40
	up := newFakeOpenAI(t, "a")
	tg := newBoundedGateway(t, catchAllConfig(up), maxLabels)
	for i := range distinct {
		require.Equal(t, http.StatusOK, postChat(t, tg, fmt.Sprintf("weird-%d", i), nil))
		require.Equal(t, http.StatusNotFound, postChat(t, tg, fmt.Sprintf("nomatch-%d", i), nil))
	}
	series := genAISeries(t, tg.reg)
	require.Len(t, series["gen_ai_server_request_duration_seconds"], maxLabels+1)
	require.Len(t, series["gen_ai_client_token_usage"], 3*(maxLabels+1), "input, output, cached_input")
	var others int
	for _, l := range series["gen_ai_server_request_duration_seconds"] {
		require.True(t, l["gen_ai_original_model"] == labels.Other || strings.HasPrefix(l["gen_ai_original_model"], "weird-"), "%v", l)
		if l["gen_ai_original_model"] == labels.Other {
			others++
			require.Equal(t, labels.Other, l["gen_ai_response_model"], "the echoed response model is bounded too")
		}
	}
	require.Equal(t, 1, others)
}

func TestHugeClientValuesAreCut(t *testing.T) {
	tests := []struct {
		name   string
		model  string
		status int
	}{
		// The upstream echoes the model as the response's.
		{name: "300 KB matched model", model: "weird-" + strings.Repeat("x", 300<<10), status: http.StatusOK},
		// The x-ai-eg-model header sent upstream exceeds the upstream's
		// header limit: the attempt fails, and is still recorded.
		{name: "1 MB matched model", model: "weird-" + strings.Repeat("é", 1<<19), status: http.StatusBadGateway},
		{name: "1 MB unmatched model", model: strings.Repeat("n", 1<<20), status: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newFakeOpenAI(t, "a")
			tg := newBoundedGateway(t, catchAllConfig(up), 0)
			hdr := http.Header{"X-Request-Id": {strings.Repeat("r", 8<<10)}}
			status := postChat(t, tg, tc.model, hdr)
			if tc.status == http.StatusBadGateway {
				require.GreaterOrEqual(t, status, 400)
			} else {
				require.Equal(t, tc.status, status)
			}
			for name, ss := range genAISeries(t, tg.reg) {
				for _, l := range ss {
					for k, v := range l {
						require.LessOrEqual(t, len(v), labels.MaxValueBytes, "%s{%s}", name, k)
					}
				}
			}
			line := tg.log.String()
			require.Equal(t, 1, strings.Count(line, `"msg":"request"`))
			require.Less(t, len(line), 4<<10, "one access-log line stays small:\n%.300s", line)
			require.Contains(t, line, `"model":"`+labels.Truncate(tc.model, labels.MaxLogValueBytes)+`"`)
			require.Contains(t, line, `"request_id":"`+strings.Repeat("r", labels.MaxLogValueBytes)+`"`)
		})
	}
}
