package llm_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/aigw-dev/aigw/"

// TestImportBoundaries checks that the packages which need only the
// pipeline's vocabulary get it from this package rather than from the
// pipeline or the translator, and that this package stays a leaf.
func TestImportBoundaries(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	// deps lists pkg and every package it imports, directly or not, as
	// format prints them (an empty line is dropped).
	deps := func(t *testing.T, pkg, format string) []string {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), goCmd, "list", "-deps", "-f", format, pkg).Output()
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			t.Fatalf("go list %s: %v\n%s", pkg, err, ee.Stderr)
		}
		require.NoError(t, err)
		return strings.Fields(string(out))
	}

	for _, pkg := range []string{"internal/backendauth", "internal/metrics", "internal/costs"} {
		t.Run(pkg, func(t *testing.T) {
			for _, dep := range deps(t, module+pkg, "{{.ImportPath}}") {
				for _, forbidden := range []string{"internal/processor", "internal/translator"} {
					require.NotEqual(t, module+forbidden, dep, "%s must not import %s", pkg, forbidden)
				}
			}
		})
	}
	t.Run("internal/pool", func(t *testing.T) {
		for _, dep := range deps(t, module+"internal/pool", "{{.ImportPath}}") {
			for _, forbidden := range []string{"internal/processor", "internal/httpproxy"} {
				require.NotEqual(t, module+forbidden, dep, "internal/pool must not import %s", forbidden)
			}
		}
	})
	t.Run("internal/scheduler", func(t *testing.T) {
		// Scheduling gives reasons; statuses are the pipeline's.
		for _, dep := range deps(t, module+"internal/scheduler", "{{.ImportPath}}") {
			require.NotEqual(t, module+"internal/apierror", dep, "internal/scheduler must not build client errors")
		}
	})
	t.Run("internal/processor", func(t *testing.T) {
		// The pipeline is transport-agnostic: it imports no server, no
		// protobuf or gRPC (the pool's picker client keeps those to
		// itself) and no control plane.
		out, err := exec.CommandContext(t.Context(), goCmd, "list", "-f", `{{join .Imports " "}}`, module+"internal/processor").Output()
		require.NoError(t, err)
		direct := strings.Fields(string(out))
		require.Contains(t, direct, module+"internal/router", "the listing is of the pipeline's imports")
		for _, imp := range direct {
			for _, forbidden := range []string{"net/http/httputil", "google.golang.org/", "github.com/envoyproxy/", "k8s.io/", "sigs.k8s.io/", module + "internal/httpproxy", module + "internal/standalone", module + "internal/app"} {
				require.False(t, strings.HasPrefix(imp, forbidden), "internal/processor must not import %s", imp)
			}
		}
	})
	t.Run("internal/llm", func(t *testing.T) {
		nonStandard := deps(t, module+"internal/llm", "{{if not .Standard}}{{.ImportPath}}{{end}}")
		require.Equal(t, []string{module + "internal/llm"}, nonStandard, "internal/llm must import only the standard library")
	})
}
