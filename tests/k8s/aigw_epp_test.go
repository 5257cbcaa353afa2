package k8s

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infv1a2 "github.com/aigw-dev/aigw/api/inferencev1alpha2"
	"github.com/aigw-dev/aigw/internal/app"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/promtest"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// TestAigwEPPInKubernetesMode runs `aigw epp --pool-name` against a real
// kube-apiserver: it finds the pool's Pods, scrapes the model servers,
// serves the gateway over TLS with its self-signed certificate, and follows
// a Pod that turns unready.
func TestAigwEPPInKubernetesMode(t *testing.T) {
	env := testenv.StartEnv(t)
	modelServers(t, simOptions())
	const grpcPort, healthPort, metricsPort = 9062, 9063, 9064
	createPool(t, env, grpcPort)

	startAigwEPP(t, "--kubeconfig", env.Kubeconfig, "--pool-name", poolName, "--pool-namespace", testenv.DefaultNamespace,
		fmt.Sprintf("--grpc-port=%d", grpcPort), fmt.Sprintf("--grpc-health-port=%d", healthPort), fmt.Sprintf("--metrics-port=%d", metricsPort))

	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	require.Eventually(t, func() bool {
		return promtest.Sum(t, metricsURL, "inference_pool_ready_pods") == 2 &&
			promtest.Sum(t, metricsURL, "aigw_epp_endpoint_metrics_fresh") == 2
	}, 20*time.Second, 20*time.Millisecond, "both model servers found and scraped")

	pool := &config.Pool{Name: "default/" + poolName, TargetPorts: []int32{serverPort},
		EndpointPicker: &config.EndpointPicker{Name: "default/" + pickerName, Address: fmt.Sprintf("127.0.0.1:%d", grpcPort),
			FailureMode: config.FailClose, TLS: &config.EndpointPickerTLS{}}}
	for _, ip := range podIPs {
		pool.Endpoints = append(pool.Endpoints, config.PoolEndpoint{IP: ip, Port: serverPort})
	}
	gw := poolGateway(t, []*config.Pool{pool}, []int32{1})
	send := func(n int) {
		for range n {
			resp, err := http.Post(gw.URL+"/v1/completions", "application/json", strings.NewReader(`{"model":"`+model+`","prompt":"hello","max_tokens":2}`))
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
		}
	}
	send(10)
	// A request is counted when its picker stream ends, which the gateway
	// closes after answering the client.
	require.Eventually(t, func() bool {
		return promtest.Sum(t, metricsURL, "aigw_epp_requests_total", "outcome", "picked") == 10
	}, 10*time.Second, 10*time.Millisecond, "10 requests counted picked")

	// vllm-1 turns unready: the picker drops it and every pick goes to vllm-0.
	var pod corev1.Pod
	require.NoError(t, env.Client.Get(t.Context(), types.NamespacedName{Namespace: testenv.DefaultNamespace, Name: "vllm-1"}, &pod))
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			pod.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	require.NoError(t, env.Client.Status().Update(t.Context(), &pod))
	require.Eventually(t, func() bool { return promtest.Sum(t, metricsURL, "inference_pool_ready_pods") == 1 }, 20*time.Second, 20*time.Millisecond)
	before := promtest.Sum(t, metricsURL, "aigw_epp_endpoint_picks_total", "endpoint", endpoint(podIPs[0]))
	send(10)
	require.Equal(t, before+10, promtest.Sum(t, metricsURL, "aigw_epp_endpoint_picks_total", "endpoint", endpoint(podIPs[0])),
		"every request after vllm-1 turned unready goes to vllm-0")
}

// startAigwEPP runs `aigw epp` in-process on 127.0.0.1 with args (which
// must include --grpc-health-port) until the test ends, and waits until it
// reports SERVING.
func startAigwEPP(t testing.TB, args ...string) {
	t.Helper()
	health := ""
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--grpc-health-port="); ok {
			health = v
		}
	}
	require.NotEmpty(t, health, "startAigwEPP needs --grpc-health-port=")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stderr := &lockedBuffer{}
	go func() {
		done <- app.Main(ctx, append([]string{"epp", "--listen-address=127.0.0.1", "--log-level=debug"}, args...), io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	conn, err := grpc.NewClient("127.0.0.1:"+health, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	require.Eventually(t, func() bool {
		r, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: "envoy.service.ext_proc.v3.ExternalProcessor"})
		return err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING
	}, 30*time.Second, 20*time.Millisecond, "aigw epp did not become ready:\n%s", stderr)
}

// lockedBuffer is an io.Writer safe for concurrent use, for logs.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAigwEPPFollowsModelRewrites runs `aigw epp --pool-name` in a cluster
// that has GAIE v1.5.0's InferenceObjective and InferenceModelRewrite CRDs:
// an alias no model server knows is refused by the server until an
// InferenceModelRewrite for the pool maps it, then served under the alias,
// and refused again once the rewrite is deleted.
func TestAigwEPPFollowsModelRewrites(t *testing.T) {
	env := testenv.StartEnv(t)
	c := installV1Alpha2CRDs(t, env)
	modelServers(t, simOptions())
	const grpcPort, healthPort, metricsPort = 9072, 9073, 9074
	createPool(t, env, grpcPort)
	startAigwEPP(t, "--kubeconfig", env.Kubeconfig, "--pool-name", poolName, "--pool-namespace", testenv.DefaultNamespace,
		"--secure-serving=false", fmt.Sprintf("--grpc-port=%d", grpcPort), fmt.Sprintf("--grpc-health-port=%d", healthPort), fmt.Sprintf("--metrics-port=%d", metricsPort))

	pool := &config.Pool{Name: "default/" + poolName, TargetPorts: []int32{serverPort},
		EndpointPicker: &config.EndpointPicker{Name: "default/" + pickerName, Address: fmt.Sprintf("127.0.0.1:%d", grpcPort), FailureMode: config.FailClose}}
	for _, ip := range podIPs {
		pool.Endpoints = append(pool.Endpoints, config.PoolEndpoint{IP: ip, Port: serverPort})
	}
	gw := poolGateway(t, []*config.Pool{pool}, []int32{1})
	ask := func() (int, string) {
		resp, err := http.Post(gw.URL+"/v1/completions", "application/json", strings.NewReader(`{"model":"food-review","prompt":"hello","max_tokens":2}`))
		require.NoError(t, err)
		defer resp.Body.Close()
		var body struct {
			Model string `json:"model"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Model
	}
	status, _ := ask()
	require.Equal(t, http.StatusNotFound, status, "no model server knows the alias yet")

	rewrite := &infv1a2.InferenceModelRewrite{
		ObjectMeta: metav1.ObjectMeta{Name: "food-review", Namespace: testenv.DefaultNamespace},
		Spec: infv1a2.InferenceModelRewriteSpec{
			PoolRef: &infv1a2.PoolObjectReference{Name: poolName},
			Rules: []infv1a2.InferenceModelRewriteRule{{
				Matches: []infv1a2.Match{{Model: &infv1a2.ModelMatch{Value: "food-review"}}},
				Targets: []infv1a2.TargetModel{{ModelRewrite: model}},
			}},
		},
	}
	require.NoError(t, c.Create(t.Context(), rewrite))
	require.Eventually(t, func() bool {
		status, got := ask()
		return status == http.StatusOK && got == "food-review"
	}, 20*time.Second, 50*time.Millisecond, "the rewrite applied and the client's name restored")
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	// The picker counts the request when its exchange ends, which may be
	// just after the client has its answer.
	require.Eventually(t, func() bool {
		return promtest.Sum(t, metricsURL, "aigw_epp_requests_total", "model", "food-review", "target_model", model) >= 1
	}, 5*time.Second, 20*time.Millisecond, "the picker counted the rewritten request")

	require.NoError(t, c.Delete(t.Context(), rewrite))
	require.Eventually(t, func() bool {
		status, _ := ask()
		return status == http.StatusNotFound
	}, 20*time.Second, 50*time.Millisecond, "the deleted rewrite no longer applies")
}

// installV1Alpha2CRDs installs GAIE v1.5.0's InferenceObjective and
// InferenceModelRewrite CRDs and returns a client that knows their types.
func installV1Alpha2CRDs(t *testing.T, env *testenv.Env) client.Client {
	t.Helper()
	env.InstallV1Alpha2CRDs(t)
	require.NoError(t, infv1a2.AddToScheme(env.Scheme))
	c, err := client.New(env.Config, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	return c
}
