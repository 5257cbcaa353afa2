package standalone

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// testEnv is the fixed environment of the golden tests.
var testEnv = map[string]string{
	"OPENAI_API_KEY":        "sk-test-openai",
	"AZURE_OPENAI_API_KEY":  "test-azure-key",
	"ANTHROPIC_API_KEY":     "test-anthropic-key",
	"AWS_ACCESS_KEY_ID":     "AKIATEST",
	"AWS_SECRET_ACCESS_KEY": "test-aws-secret",
	"EMPTY":                 "",
	"UPSTREAM_HOST":         "llm.internal.example.com",
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func testLoader() *Loader {
	return &Loader{LookupEnv: lookupIn(testEnv), HomeDir: "testdata/home"}
}

// TestGolden loads testdata/<case>.in.yaml and compares the compiled
// Config, preceded by the warnings as comments, with <case>.out.yaml.
func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, ins)
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			res, err := testLoader().Load(context.Background(), in)
			require.NoError(t, err)
			compareGolden(t, strings.TrimSuffix(in, ".in.yaml")+".out.yaml", renderResult(t, res))
		})
	}
}

// TestGoldenErrors loads testdata/errors/<case>.in.yaml, which must fail,
// and compares every error and warning with <case>.err.txt.
func TestGoldenErrors(t *testing.T) {
	ins, err := filepath.Glob("testdata/errors/*.in.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, ins)
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			res, err := testLoader().Load(context.Background(), in)
			require.Error(t, err)
			require.Nil(t, res.Config)
			compareGolden(t, strings.TrimSuffix(in, ".in.yaml")+".err.txt", renderFailure(err, res.Warnings))
		})
	}
}

// renderResult is the golden form of a successful load.
func renderResult(t *testing.T, res *Result) []byte {
	t.Helper()
	out, err := yaml.Marshal(res.Config)
	require.NoError(t, err)
	var b strings.Builder
	for _, w := range res.Warnings {
		b.WriteString("# warning: " + w.String() + "\n")
	}
	b.Write(out)
	return []byte(b.String())
}

// renderFailure is the golden form of a failed load: one line per error,
// then one per warning.
func renderFailure(err error, warnings []Warning) []byte {
	var b strings.Builder
	for _, e := range unjoin(err) {
		b.WriteString("error: " + e.Error() + "\n")
	}
	for _, w := range warnings {
		b.WriteString("warning: " + w.String() + "\n")
	}
	return []byte(b.String())
}

// unjoin returns the errors joined in err.
func unjoin(err error) []error {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return j.Unwrap()
	}
	return []error{err}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o600))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test -update")
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}
