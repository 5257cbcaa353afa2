package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/processor"
	"github.com/aigw-dev/aigw/internal/standalone"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

// TestExtProcCommand runs `aigw extproc` on a Unix socket, as Envoy AI
// Gateway's sidecar: it serves the gRPC health and ext_proc services,
// reloads its files, and stops when its context ends.
func TestExtProcCommand(t *testing.T) {
	src, err := os.ReadFile("../extproc/testdata/config.yaml")
	require.NoError(t, err)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, src, 0o600))
	sock := filepath.Join(dir, "run.sock")

	loader := &standalone.Loader{LookupEnv: func(string) (string, bool) { return "", false }}
	load := func(ctx context.Context) (*standalone.Result, error) { return loader.Load(ctx, cfgPath) }
	res, err := load(t.Context())
	require.NoError(t, err)
	var logs syncbuf.Buffer
	ready := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	o := extprocOptions{listen: "unix://" + sock, adminAddr: "127.0.0.1", adminPort: 0, watch: true, shutdownTimeout: 5 * time.Second, maxSessions: 10, maxModelLabels: 10, maxEventBytes: 1 << 20}
	go func() {
		done <- serveExtProc(ctx, o, extprocParams{initial: res, load: load, logger: slog.New(slog.NewTextHandler(&logs, nil)),
			ready: func(_, admin net.Addr) { ready <- admin }})
	}()
	var admin net.Addr
	select {
	case admin = <-ready:
	case err := <-done:
		t.Fatalf("extproc exited: %v\n%s", err, logs.String())
	}
	resp, err := http.Get("http://" + admin.String() + "/readyz")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	hc, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, hc.GetStatus())

	models := func() []string {
		st, err := extprocv3.NewExternalProcessorClient(conn).Process(t.Context())
		require.NoError(t, err)
		require.NoError(t, st.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{
			EndOfStream: true,
			Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
				{Key: ":method", RawValue: []byte("GET")}, {Key: ":path", RawValue: []byte("/v1/models")},
			}},
		}}}))
		r, err := st.Recv()
		require.NoError(t, err)
		var list struct {
			Data []struct{ ID string } `json:"data"`
		}
		require.NoError(t, json.Unmarshal(r.GetImmediateResponse().GetBody(), &list))
		var ids []string
		for _, m := range list.Data {
			ids = append(ids, m.ID)
		}
		return ids
	}
	require.Equal(t, []string{"m"}, models())

	// A broken edit is rejected and the running configuration stays; a
	// good one is served.
	require.NoError(t, os.WriteFile(cfgPath, []byte(strings.Replace(string(src), "kind: AIGatewayRoute", "kind: AIGatewayRoute\nspec: [broken", 1)), 0o600))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "configuration rejected") }, 10*time.Second, 10*time.Millisecond, logs.String())
	require.Equal(t, []string{"m"}, models())
	require.NoError(t, os.WriteFile(cfgPath, []byte(strings.ReplaceAll(string(src), "value: m}", "value: m2}")), 0o600))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "configuration reloaded") }, 10*time.Second, 10*time.Millisecond, logs.String())
	require.Equal(t, []string{"m2"}, models())

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("extproc did not stop")
	}
}

// TestExtprocServesOneGateway: a configuration of several Gateways is
// refused (Envoy does not tell the processor which listener a request
// came to), and the one in force stays.
func TestExtprocServesOneGateway(t *testing.T) {
	pipeline := processor.New(processor.Options{})
	defer pipeline.Close()
	rts := &runtimes{pipeline: pipeline}
	one := &config.Config{Version: config.Version, Gateways: []config.Gateway{{Name: "default/a"}}}
	require.NoError(t, rts.Apply(one))
	two := &config.Config{Version: config.Version, Gateways: []config.Gateway{{Name: "default/a"}, {Name: "default/b"}}}
	require.ErrorContains(t, rts.Apply(two), "serves one Gateway")
	require.Same(t, one, rts.Config())
}
