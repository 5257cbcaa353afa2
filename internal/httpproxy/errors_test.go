package httpproxy

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestErrorBodies checks status and body of every locally generated error
// against testdata/errors/<case>.golden.
func TestErrorBodies(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	cfg := &config.Config{Version: config.Version, Gateways: []config.Gateway{{Name: "default/gw", MaxRequestBodyBytes: 64}},
		Backends: []config.Backend{backendOf("default/a", up)},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ref("default/a", 0))}}},
	}
	tg := newTestGateway(t, cfg)
	tests := []struct {
		name, method, path, body string
	}{
		{name: "malformed_json", path: "/v1/chat/completions", body: `{"model":"m",`},
		{name: "not_an_object", path: "/v1/chat/completions", body: `[1,2]`},
		{name: "empty_body", path: "/v1/chat/completions", body: ``},
		{name: "missing_model", path: "/v1/chat/completions", body: `{"messages":[]}`},
		{name: "model_not_string", path: "/v1/chat/completions", body: `{"model":42}`},
		{name: "unknown_model_with_quotes", path: "/v1/chat/completions", body: `{"model":"a\"b\\c"}`},
		{name: "too_large", path: "/v1/chat/completions", body: `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("x", 100) + `"}]}`},
		{name: "unsupported_path", path: "/v1/unknown", body: `{}`},
		{name: "wrong_method", method: http.MethodGet, path: "/v1/chat/completions"},
		{name: "models_wrong_method", method: http.MethodPost, path: "/v1/models", body: `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, tg.srv.URL+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			got := fmt.Sprintf("%d\n%s", resp.StatusCode, body)
			golden := filepath.Join("testdata", "errors", tc.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Fatalf("error body mismatch (-want +got):\n%s", diff)
			}
			require.True(t, bytes.HasPrefix(body, []byte(`{"error":{`)))
		})
	}
	require.Empty(t, up.requests(), "no bad request reaches an upstream")
}
