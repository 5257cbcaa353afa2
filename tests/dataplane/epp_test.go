package dataplane

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/aigw-dev/aigw/internal/app"
	"github.com/aigw-dev/aigw/internal/promtest"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

// eppPoolTemplate routes two models to a pool of two simulator ranks whose
// endpoint picker is `aigw epp`, reached over TLS (the default) or not.
const eppPoolTemplate = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: %[2]s}]}]
      backendRefs: [{group: inference.networking.k8s.io, kind: InferencePool, name: vllm}]
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: alias}]}]
      backendRefs: [{group: inference.networking.k8s.io, kind: InferencePool, name: vllm}]
---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata:
  name: vllm
  annotations: {aigw.dev/endpoint-picker-tls: "%[6]s"}
spec:
  selector: {matchLabels: {app: vllm}}
  targetPorts: [{number: %[3]s}, {number: %[4]s}]
  endpointPickerRef: {name: vllm-epp, port: {number: %[5]d}, failureMode: FailClose}
---
apiVersion: v1
kind: Pod
metadata: {name: vllm-0, labels: {app: vllm}}
spec: {containers: [{name: vllm, image: sim}]}
status: {phase: Running, podIP: 127.0.0.1, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Service
metadata: {name: vllm-epp}
spec:
  clusterIP: 127.0.0.1
  ports: [{name: grpc, port: %[5]d, targetPort: %[5]d}]
`

// eppProcess is an `aigw epp` started in-process.
type eppProcess struct {
	grpcPort, healthPort int
	metricsURL           string
	stderr               *syncbuf.Buffer
}

func startEPP(t *testing.T, args ...string) *eppProcess {
	t.Helper()
	e := &eppProcess{grpcPort: freePort(t), healthPort: freePort(t), stderr: &syncbuf.Buffer{}}
	metricsPort := freePort(t)
	e.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	all := append([]string{"epp", "--listen-address=127.0.0.1",
		"--grpc-port=" + strconv.Itoa(e.grpcPort), "--grpc-health-port=" + strconv.Itoa(e.healthPort), "--metrics-port=" + strconv.Itoa(metricsPort),
		"--refresh-metrics-interval=20ms"}, args...)
	go func() { done <- app.Main(ctx, all, &syncbuf.Buffer{}, e.stderr) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", e.healthPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	require.Eventually(t, func() bool {
		for _, svc := range []string{"envoy.service.ext_proc.v3.ExternalProcessor", "readiness", "liveness", "inference-extension", ""} {
			r, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				return false
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond, "aigw epp did not become ready:\n%s", e.stderr)
	return e
}

// TestGatewayWithAigwEPP puts `aigw epp` behind the gateway as the pool's
// endpoint picker, over TLS with its self-signed certificate (the default)
// and over plaintext with acknowledged bodies, and checks the picks serve,
// the picker's model rewrite is invisible to the client, and its metrics
// count what happened.
func TestGatewayWithAigwEPP(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
		args []string
	}{
		{name: "tls", tls: true},
		{name: "plaintext-ack", args: []string{"--secure-serving=false", "--ack-request-body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sims := startSims(t, 2, model)
			_, rank0, _ := net.SplitHostPort(sims[0])
			_, rank1, _ := net.SplitHostPort(sims[1])
			e := startEPP(t, append([]string{"--endpoints=" + strings.Join(sims, ","), "--model-rewrite=alias=" + model}, tc.args...)...)

			port := freePort(t)
			cfg := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, eppPoolTemplate, port, model, rank0, rank1, e.grpcPort, strconv.FormatBool(tc.tls)), 0o600))
			g := startGateway(t, cfg, port)
			c := g.client()

			const n = 12
			for range n {
				resp, err := c.Chat.Completions.New(context.Background(), chat(model))
				require.NoError(t, err, "gateway:\n%s\n%s\nepp:\n%s", g.stdout, g.stderr, e.stderr)
				require.Equal(t, model, resp.Model)
			}
			// The alias is rewritten by the picker for the model server and
			// restored for the client, streamed and not.
			resp, err := c.Chat.Completions.New(context.Background(), chat("alias"))
			require.NoError(t, err)
			require.Equal(t, "alias", resp.Model)
			stream := c.Chat.Completions.NewStreaming(context.Background(), chat("alias"))
			chunks := 0
			for stream.Next() {
				require.Equal(t, "alias", stream.Current().Model)
				chunks++
			}
			require.NoError(t, stream.Err())
			require.Positive(t, chunks)

			require.Eventually(t, func() bool {
				return promtest.Sum(t, e.metricsURL, "aigw_epp_requests_total", "outcome", "picked") == n+2
			}, 5*time.Second, 20*time.Millisecond)
			require.Equal(t, float64(2), promtest.Sum(t, e.metricsURL, "aigw_epp_requests_total", "outcome", "picked", "model", "alias", "target_model", model))
			require.Equal(t, float64(n+2), promtest.Sum(t, e.metricsURL, "aigw_epp_endpoint_picks_total"))
			require.Equal(t, float64(2), promtest.Sum(t, e.metricsURL, "inference_pool_ready_pods"))
			require.Positive(t, promtest.Sum(t, e.metricsURL, "aigw_epp_usage_tokens_total", "type", "completion"))
			require.Zero(t, promtest.Sum(t, e.metricsURL, "aigw_epp_endpoint_in_flight"))
			// The access log names the endpoint the picker chose.
			require.Regexp(t, `"endpoint":"127\.0\.0\.1:(`+rank0+`|`+rank1+`)"`, g.stdout.String())
		})
	}
}

// TestEPPRejectsBadFlags checks the command line's errors name the flag.
func TestEPPRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"epp"}, "no endpoints"},
		{[]string{"epp", "--endpoints=localhost:8000"}, "host must be an IP address"},
		{[]string{"epp", "--endpoints=10.0.0.1:8000", "--pool-name=p"}, "exclusive"},
		{[]string{"epp", "--endpoints=10.0.0.1:8000", "--objective=batch"}, "--objective"},
		{[]string{"epp", "--endpoints=10.0.0.1:8000", "--model-rewrite=a=b:0"}, "positive integer"},
		{[]string{"epp", "--endpoints=10.0.0.1:8000", "--config-text=plugins: [{type: magic}]"}, `plugins[0].type: unknown plugin type "magic"`},
	} {
		err := app.Main(context.Background(), tc.args, &syncbuf.Buffer{}, &syncbuf.Buffer{})
		require.Error(t, err, "%v", tc.args)
		require.Contains(t, err.Error(), tc.want, "%v", tc.args)
	}
}
