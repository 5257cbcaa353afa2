package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/syncbuf"
)

// envOf is a lookupEnv over vars, and nothing of the process environment.
func envOf(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeConfig writes a configuration file into a fresh directory.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(p, []byte(yaml), 0o600))
	return p
}

// serveOnce runs `aigw run` (args after "run", which must set
// --admin-port=adminPort) with env until its admin port is ready, stops it
// (without a drain delay) and returns what it logged.
func serveOnce(t *testing.T, env map[string]string, adminPort int, args ...string) string {
	t.Helper()
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- mainEnv(ctx, append([]string{"run", "--drain-delay=0"}, args...), envOf(env), stdout, stderr)
	}()
	ready := func() bool {
		select {
		case err := <-done:
			done <- err
			return true
		default:
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", adminPort))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	require.Eventually(t, ready, 20*time.Second, 20*time.Millisecond, "gateway did not become ready:\n%s", stderr)
	cancel()
	require.NoError(t, <-done, "stderr:\n%s", stderr)
	return stderr.String()
}
