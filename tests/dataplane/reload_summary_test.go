package dataplane

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReloadSummaryAndVanishedRoutes checks what a running `aigw run` logs
// about its configuration: a summary at start and after each reload, and a
// warning naming the routes when a reload leaves none of them.
func TestReloadSummaryAndVanishedRoutes(t *testing.T) {
	sims := startSims(t, 2, model)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	port := freePort(t)
	writeConfig(t, cfg, port, model, sims[0], sims[1])
	g := startGateway(t, cfg, port)
	require.Contains(t, g.stderr.String(), `msg="configuration loaded" listeners=1 routes=1 backends=2 pools=0 models=[`+model+`]`)

	// The Gateway alone: every route is gone, the listener stays.
	tmp := cfg + ".tmp"
	require.NoError(t, os.WriteFile(tmp, fmt.Appendf(nil, gatewayDoc, port), 0o644))
	require.NoError(t, os.Rename(tmp, cfg))
	const vanished = `msg="the reloaded configuration has no routes: every request now gets 404" removed=[default/route]`
	require.Eventually(t, func() bool { return strings.Contains(g.stderr.String(), vanished) }, 10*time.Second, 20*time.Millisecond, g.stderr.String())
	require.Contains(t, g.stderr.String(), `msg="configuration reloaded" listeners=1 routes=0 backends=0 pools=0 models=[]`)
}
