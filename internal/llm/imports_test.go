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
	t.Run("internal/llm", func(t *testing.T) {
		nonStandard := deps(t, module+"internal/llm", "{{if not .Standard}}{{.ImportPath}}{{end}}")
		require.Equal(t, []string{module + "internal/llm"}, nonStandard, "internal/llm must import only the standard library")
	})
}
