package standalone

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadBytes checks that no input makes the loader panic. Seeds are the
// golden inputs.
func FuzzLoadBytes(f *testing.F) {
	for _, pattern := range []string{"testdata/*.in.yaml", "testdata/errors/*.in.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			// Small seeds keep minimization (which re-runs the target for
			// every byte removed) short: whole files only when small, and
			// each document on its own.
			if len(b) < 2048 {
				f.Add(b)
			}
			for _, d := range splitDocuments(b) {
				f.Add(d.data)
			}
		}
	}
	f.Add([]byte("${"))
	f.Add([]byte("---\n- a\n---\n{}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: x}\n"))
	f.Add([]byte("apiVersion: aigateway.envoyproxy.io/v1alpha1\nkind: AIServiceBackend\nmetadata: {name: a}\nspec: {timeouts: 1}\n"))
	l := &Loader{
		LookupEnv: lookupIn(testEnv),
		// Substitution annotations must not read the machine's files.
		ReadFile: func(string) ([]byte, error) { return nil, errors.New("no files while fuzzing") },
		HomeDir:  "/nonexistent",
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := l.LoadBytes(context.Background(), "fuzz.yaml", data)
		if res == nil {
			t.Fatal("nil Result")
		}
		if err == nil && res.Config == nil {
			t.Fatal("no error and no Config")
		}
		if err != nil {
			_ = err.Error()
		}
	})
}
