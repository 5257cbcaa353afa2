package processor

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
)

// scanConfig routes m-plain to a backend that needs no edit of the body,
// and m-edit to three tiers of backends that each override the model and
// mutate the body, with costs (a stream is then asked for usage).
func scanConfig() *config.Config {
	backend := func(name string) config.Backend {
		return config.Backend{Name: name, Schema: config.Schema{Name: config.SchemaOpenAI}, Endpoints: []config.Endpoint{{Host: "127.0.0.1", Port: 9}}}
	}
	edit := func(name string, priority uint32) config.BackendRef {
		return config.BackendRef{Backend: name, Weight: 1, Priority: priority, ModelNameOverride: "m-" + name,
			BodyMutation: &config.BodyMutation{Set: []config.BodyValue{{Path: "temperature", Value: json.RawMessage(`0.5`)}}, Remove: []string{"user"}}}
	}
	retry := config.RetryPolicy{NumRetries: 2, NumAttemptsPerPriority: 1, On: []config.RetryOn{config.RetryOn5xx}}
	model := func(m string) []config.Match {
		return []config.Match{{Headers: []config.HeaderMatch{{Type: config.HeaderMatchExact, Name: "x-ai-eg-model", Value: m}}}}
	}
	return &config.Config{
		Version:  config.Version,
		Backends: []config.Backend{backend("plain"), backend("a"), backend("b"), backend("c")},
		Routes: []config.Route{{
			Name:         "default/r",
			RequestCosts: []config.RequestCost{{MetadataKey: "t", Type: config.CostTotalToken}},
			Rules: []config.Rule{
				{Name: "plain", Matches: model("m-plain"), BackendRefs: []config.BackendRef{{Backend: "plain", Weight: 1}}, Retry: retry},
				{Name: "edit", Matches: model("m-edit"), BackendRefs: []config.BackendRef{edit("a", 0), edit("b", 1), edit("c", 2)}, Retry: retry},
			},
		}},
	}
}

// TestBodyScannedOnce: the request body is read once, by the scan that
// routes it. To prove that no later step reads it again, the session's
// copy of the body is replaced with bytes that are not JSON right after
// that scan: a step that parsed the body again would fail. On the plain
// path the body goes upstream as it came, unread; on a path that edits it
// (model override, forced usage, body mutation), on every attempt, the
// edits start from the members the scan recorded.
func TestBodyScannedOnce(t *testing.T) {
	rt, err := New(Options{}).Compile(scanConfig())
	require.NoError(t, err)
	poison := []byte(`{"this is not": JSON`)
	start := func(t *testing.T, body string) *Session {
		t.Helper()
		s := rt.Start(RequestInfo{Method: http.MethodPost, Path: "/v1/chat/completions", URI: "/v1/chat/completions", Header: http.Header{}, Start: time.Now()})
		_, err := s.RequestHeaders()
		require.NoError(t, err)
		require.NoError(t, s.RequestBody([]byte(body)))
		require.Equal(t, 1, s.scans)
		s.req.Body = poison
		return s
	}

	t.Run("plain", func(t *testing.T) {
		s := start(t, `{"model":"m-plain","messages":[{"role":"user","content":"hi"}]}`)
		a, err := s.NextAttempt(t.Context())
		require.NoError(t, err)
		require.Equal(t, poison, a.Upstream.Body, "the body goes on unread")
		require.Equal(t, 1, s.scans)
	})

	t.Run("edited on every attempt", func(t *testing.T) {
		s := start(t, `{"model":"m-edit","stream":true,"user":"u1","messages":[{"role":"user","content":"hi"}]}`)
		for _, backend := range []string{"a", "b", "c"} {
			a, err := s.NextAttempt(t.Context())
			require.NoError(t, err, backend)
			var got map[string]any
			require.NoError(t, json.Unmarshal(a.Upstream.Body, &got), "%s", a.Upstream.Body)
			require.Equal(t, map[string]any{
				"model": "m-" + backend, "stream": true, "temperature": 0.5,
				"messages":       []any{map[string]any{"role": "user", "content": "hi"}},
				"stream_options": map[string]any{"include_usage": true},
			}, got)
			require.True(t, s.Failed(t.Context(), errors.New("connection reset by peer")) || backend == "c")
		}
		require.Equal(t, 1, s.scans)
	})
}

// FuzzEditedBody: whatever body a client sends, if it routes, every edit
// the pipeline makes of it from the one scan (model override, forced
// usage, body mutation) yields valid JSON naming the override, with the
// client's other members kept.
func FuzzEditedBody(f *testing.F) {
	for _, s := range []string{
		`{"model":"m-edit","stream":true,"user":"u1","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m-edit","model":"m-edit","temperature":1,"stream_options":{"x":1}}`,
		`{"stream":true,"model":"m-edit","stream_options":null}`,
	} {
		f.Add([]byte(s))
	}
	rt, err := New(Options{}).Compile(scanConfig())
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		s := rt.Start(RequestInfo{Method: http.MethodPost, Path: "/v1/chat/completions", URI: "/v1/chat/completions", Header: http.Header{}, Start: time.Now()})
		if _, err := s.RequestHeaders(); err != nil {
			t.Fatal(err)
		}
		if err := s.RequestBody(body); err != nil || s.req.Model != "m-edit" {
			return // not JSON, or routed elsewhere
		}
		a, err := s.NextAttempt(t.Context())
		require.NoError(t, err)
		var got map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(a.Upstream.Body, &got), "%s", a.Upstream.Body)
		require.JSONEq(t, `"m-a"`, string(got["model"]))
		require.JSONEq(t, `0.5`, string(got["temperature"]))
		require.NotContains(t, got, "user")
		var client map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(body, &client))
		for k, v := range client {
			switch k {
			case "model", "temperature", "user", "stream_options":
			default:
				require.JSONEq(t, string(v), string(got[k]), "member %q is kept", k)
			}
		}
	})
}
