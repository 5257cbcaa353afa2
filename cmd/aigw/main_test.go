package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/app"
)

func TestExitCode(t *testing.T) {
	require.Equal(t, 0, exitCode(nil))
	require.Equal(t, 2, exitCode(fmt.Errorf("%w: flag provided but not defined: -x", app.ErrUsage)))
	require.Equal(t, 2, exitCode(fmt.Errorf("sim: %w", fmt.Errorf("%w: bad", app.ErrUsage))))
	require.Equal(t, 1, exitCode(errors.New("invalid configuration")))
}

// TestBinary builds bin/aigw as `make build` does, into a temporary
// directory, and checks what the README and scripts rely on: the stamped
// version, -h on stdout with status 0, status 2 for bad command lines and
// 1 for failures.
func TestBinary(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "aigw")
	out, err := exec.Command("make", "-s", "-C", root, "build", "BIN="+bin).CombinedOutput()
	require.NoError(t, err, "make build:\n%s", out)

	run := func(args ...string) (stdout, stderr string, code int) {
		var o, e bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return o.String(), e.String(), exit.ExitCode()
		}
		require.NoError(t, err)
		return o.String(), e.String(), 0
	}

	t.Run("version", func(t *testing.T) {
		// What the Makefile stamps; nothing when the tree is not a git
		// checkout.
		git := func(args ...string) string {
			out, err := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
			if err != nil {
				return ""
			}
			return strings.TrimSpace(string(out))
		}
		wantVersion, wantCommit := git("describe", "--tags", "--always", "--dirty"), git("rev-parse", "HEAD")
		if wantVersion == "" {
			wantVersion = "(devel)"
		}
		if wantCommit == "" {
			wantCommit = "unknown"
		}
		stdout, _, code := run("version")
		require.Equal(t, 0, code)
		// The tree may change between the build and git describe (--dirty).
		require.Regexp(t, `^aigw `+regexp.QuoteMeta(strings.TrimSuffix(wantVersion, "-dirty"))+`(-dirty)? \(commit `+regexp.QuoteMeta(wantCommit)+`, go\S+ \S+/\S+\)\n$`, stdout)
	})
	t.Run("help on stdout", func(t *testing.T) {
		for _, cmd := range []string{"run", "epp", "sim", "demo", "validate"} {
			stdout, stderr, code := run(cmd, "-h")
			require.Equal(t, 0, code, cmd)
			require.Contains(t, stdout, "Usage: aigw "+cmd, cmd)
			require.Empty(t, stderr, cmd)
		}
	})
	t.Run("usage errors exit 2", func(t *testing.T) {
		for _, args := range [][]string{{}, {"nope"}, {"run", "x.yaml", "--nope"}, {"demo", "--instances=1"}, {"validate"}} {
			_, stderr, code := run(args...)
			require.Equal(t, 2, code, "%v", args)
			require.NotEmpty(t, stderr, "%v", args)
		}
	})
	t.Run("failures exit 1", func(t *testing.T) {
		_, stderr, code := run("validate", filepath.Join(t.TempDir(), "missing.yaml"))
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "aigw: invalid configuration")
	})
}
