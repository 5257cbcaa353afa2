package sim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// goldenCase is a testdata/golden/<case>.in.json file: one request.
type goldenCase struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// createdField matches the only field that depends on the wall clock.
var createdField = regexp.MustCompile(`"created":\d+`)

// TestGoldenResponses checks response shapes against
// testdata/golden/<case>.out.json (status and body) or <case>.out.sse (the
// raw stream). Run with -update to rewrite them.
func TestGoldenResponses(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "golden", "*.in.json"))
	require.NoError(t, err)
	require.NotEmpty(t, inputs)
	for _, input := range inputs {
		name := strings.TrimSuffix(filepath.Base(input), ".in.json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(input)
			require.NoError(t, err)
			var gc goldenCase
			require.NoError(t, json.Unmarshal(raw, &gc))
			if gc.Method == "" {
				gc.Method = http.MethodPost
			}
			// A fresh instance per case keeps the seeded ids independent of order.
			in := newTestInstance(t, nil)
			var headers []string
			for k, v := range gc.Headers {
				headers = append(headers, k, v)
			}
			w := call(t, in, gc.Method, gc.Path, string(gc.Body), headers...)
			body := createdField.ReplaceAllString(w.Body.String(), `"created":0`)

			var got, file string
			if strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream") {
				require.Equal(t, http.StatusOK, w.Code)
				got, file = body, strings.TrimSuffix(input, ".in.json")+".out.sse"
			} else {
				var pretty bytes.Buffer
				require.NoError(t, json.Indent(&pretty, []byte(body), "", "  "), body)
				envelope := struct {
					Status int             `json:"status"`
					Body   json.RawMessage `json:"body"`
				}{w.Code, pretty.Bytes()}
				var out bytes.Buffer
				enc := json.NewEncoder(&out)
				enc.SetEscapeHTML(false) // keep the body as the server wrote it
				enc.SetIndent("", "  ")
				require.NoError(t, enc.Encode(envelope))
				got, file = out.String(), strings.TrimSuffix(input, ".in.json")+".out.json"
			}
			if *update {
				require.NoError(t, os.WriteFile(file, []byte(got), 0o644))
				return
			}
			want, err := os.ReadFile(file)
			require.NoError(t, err, "run go test -update to create it")
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s differs (-want +got):\n%s", file, diff)
			}
		})
	}
}
