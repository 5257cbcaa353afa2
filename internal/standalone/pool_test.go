package standalone

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/aigw-dev/aigw/internal/config"
)

func TestPoolBackendNames(t *testing.T) {
	v1 := poolKey{groupInference, nsName{"ns", "pool"}}
	alpha := poolKey{groupInferenceX, nsName{"ns", "pool"}}
	require.Equal(t, "ns/pool/infpool", v1.backendName())
	require.Equal(t, "ns/pool/xinfpool", alpha.backendName())
	require.Equal(t, "InferencePool ns/pool (inference.networking.x-k8s.io)", alpha.String())
	// AIServiceBackend names have exactly one slash; direct references more.
	require.Equal(t, 2, strings.Count(v1.backendName(), "/"))

	require.True(t, isPoolRef("inference.networking.k8s.io", "InferencePool"))
	require.True(t, isPoolRef("inference.networking.x-k8s.io", "InferencePool"))
	require.False(t, isPoolRef("", "InferencePool"))
	require.False(t, isPoolRef("inference.networking.k8s.io", "InferenceObjective"))
}

func TestSortPoolEndpoints(t *testing.T) {
	got := sortPoolEndpoints([]config.PoolEndpoint{
		{Pod: "ns/b", IP: "10.0.0.10", Port: 8001},
		{Pod: "ns/c", IP: "fd00::1", Port: 8000},
		{Pod: "ns/b", IP: "10.0.0.10", Port: 8000},
		{Pod: "ns/a", IP: "10.0.0.9", Port: 8000},
		{Pod: "ns/d", IP: "10.0.0.9", Port: 8000}, // same address as ns/a
	})
	require.Equal(t, []config.PoolEndpoint{
		{Pod: "ns/a", IP: "10.0.0.9", Port: 8000}, // numeric, not lexical, IP order
		{Pod: "ns/b", IP: "10.0.0.10", Port: 8000},
		{Pod: "ns/b", IP: "10.0.0.10", Port: 8001},
		{Pod: "ns/c", IP: "fd00::1", Port: 8000},
	}, got)
}

// TestPoolPodReadiness loads a pool with one Pod and checks that the Pod
// is an endpoint by GAIE's rule (Ready, not terminating, an IP; a phase,
// when given, must be Running), and the warning about a Pod that is not.
func TestPoolPodReadiness(t *testing.T) {
	const pool = `apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: {name: pool}
spec:
  selector: {matchLabels: {app: vllm}}
  targetPorts: [{number: 8000}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: r}
spec:
  rules: [{backendRefs: [{group: inference.networking.k8s.io, kind: InferencePool, name: pool}]}]
---
apiVersion: v1
kind: Pod
spec: {containers: [{name: vllm, image: vllm}]}
`
	const meta = "metadata: {name: vllm-0, labels: {app: vllm}}\n"
	const warnPrefix = "pods.yaml: document 1: InferencePool default/pool: spec.selector.matchLabels: Pod default/vllm-0, selected by the pool, is not an endpoint: "
	for _, tc := range []struct {
		name    string
		pod     string // metadata and status of the Pod
		want    []config.PoolEndpoint
		warning string // "" when the Pod is an endpoint
	}{
		{
			name: "Ready without a phase is used",
			pod:  meta + `status: {podIP: 10.0.0.1, conditions: [{type: Ready, status: "True"}]}`,
			want: []config.PoolEndpoint{{Pod: "default/vllm-0", IP: "10.0.0.1", Port: 8000}},
		},
		{
			name: "Running and Ready is used",
			pod:  meta + `status: {phase: Running, podIPs: [{ip: "fd00::1"}], conditions: [{type: Ready, status: "True"}]}`,
			want: []config.PoolEndpoint{{Pod: "default/vllm-0", IP: "fd00::1", Port: 8000}},
		},
		{
			name:    "Running but not Ready is not",
			pod:     meta + `status: {phase: Running, podIP: 10.0.0.1, conditions: [{type: Ready, status: "False"}]}`,
			warning: `it has no Ready condition with status "True"`,
		},
		{
			name:    "Failed and Ready is not",
			pod:     meta + `status: {phase: Failed, podIP: 10.0.0.1, conditions: [{type: Ready, status: "True"}]}`,
			warning: "its status.phase is Failed, not Running",
		},
		{
			name:    "Pending and Ready is not",
			pod:     meta + `status: {phase: Pending, podIP: 10.0.0.1, conditions: [{type: Ready, status: "True"}]}`,
			warning: "its status.phase is Pending, not Running",
		},
		{
			name: "a deletionTimestamp excludes a Ready Pod",
			pod: `metadata: {name: vllm-0, labels: {app: vllm}, deletionTimestamp: "2026-01-01T00:00:00Z"}
status: {phase: Running, podIP: 10.0.0.1, conditions: [{type: Ready, status: "True"}]}`,
			warning: "it is terminating (metadata.deletionTimestamp is set)",
		},
		{
			name:    "no podIP is not",
			pod:     meta + `status: {conditions: [{type: Ready, status: "True"}]}`,
			warning: "it has no status.podIP",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := testLoader().LoadBytes(context.Background(), "pods.yaml", []byte(pool+tc.pod+"\n"))
			require.NoError(t, err)
			var warnings []string
			for _, w := range res.Warnings {
				warnings = append(warnings, w.String())
			}
			require.Len(t, res.Config.Backends, 1)
			require.NotNil(t, res.Config.Backends[0].Pool)
			if tc.warning == "" {
				require.Empty(t, warnings)
				require.Equal(t, tc.want, res.Config.Backends[0].Pool.Endpoints)
				return
			}
			require.Equal(t, []string{
				warnPrefix + tc.warning,
				"pods.yaml: document 1: InferencePool default/pool: spec.selector.matchLabels: no selected Pod is an endpoint (Ready, not terminating, with a status.podIP): the pool has no endpoint",
			}, warnings)
			require.Empty(t, res.Config.Backends[0].Pool.Endpoints)
		})
	}
}

func TestTargetPort(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9090}}},
		{Ports: []corev1.ContainerPort{{Name: "grpc", ContainerPort: 9102, Protocol: corev1.ProtocolUDP}, {Name: "grpc", ContainerPort: 9002}}},
	}}}
	for _, tc := range []struct {
		target intstr.IntOrString
		want   int32
		ok     bool
	}{
		{intstr.IntOrString{}, 80, true},
		{intstr.FromInt32(8080), 8080, true},
		{intstr.FromString("grpc"), 9002, true}, // the TCP one
		{intstr.FromString("http"), 0, false},
	} {
		got, ok := targetPort(&corev1.ServicePort{Port: 80, TargetPort: tc.target}, pod)
		require.Equal(t, tc.ok, ok, tc.target.String())
		require.Equal(t, tc.want, got, tc.target.String())
	}
}

// TestUnresolvedPickerFailsClosed checks what InferencePoolInvalidEPPService
// needs: the load succeeds, the picker has no address, and FailOpen is not
// kept (a 5xx is required whatever the failure mode).
func TestUnresolvedPickerFailsClosed(t *testing.T) {
	res, err := testLoader().Load(context.Background(), "testdata/httproute_missing_refs.in.yaml")
	require.NoError(t, err)
	var pool *config.Pool
	for _, b := range res.Config.Backends {
		if b.Name == "default/epp-missing/infpool" {
			pool = b.Pool
		}
	}
	require.NotNil(t, pool)
	require.NotNil(t, pool.EndpointPicker)
	require.Empty(t, pool.EndpointPicker.Address)
	require.Equal(t, config.FailClose, pool.EndpointPicker.FailureMode)
	require.Empty(t, pool.EndpointPicker.HealthAddress)
	require.NotEmpty(t, pool.Endpoints)
}

// TestPoolErrorsAreNotNotSupported: a missing pool is a configuration
// error, an unsupported picker kind is ErrNotSupported.
func TestPoolErrorKinds(t *testing.T) {
	_, err := testLoader().Load(context.Background(), "testdata/errors/pool_missing_from_route.in.yaml")
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrNotSupported)

	const doc = `apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: {name: p}
spec:
  selector: {matchLabels: {app: m}}
  targetPorts: [{number: 8000}]
  endpointPickerRef: {group: example.com, kind: Picker, name: x}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: r}
spec:
  rules: [{backendRefs: [{name: p, group: inference.networking.k8s.io, kind: InferencePool}]}]
`
	_, err = testLoader().LoadBytes(context.Background(), "picker.yaml", []byte(doc))
	require.ErrorIs(t, err, ErrNotSupported)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "spec.endpointPickerRef", e.Field)
	require.Equal(t, "InferencePool", e.Source.Kind)
}

// TestGoldensAreDeterministic loads every golden input several times:
// selectors, annotations and pools live in maps, and the output must not
// depend on their order.
func TestGoldensAreDeterministic(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	require.NoError(t, err)
	for _, in := range ins {
		first, err := testLoader().Load(context.Background(), in)
		require.NoError(t, err)
		for range 3 {
			again, err := testLoader().Load(context.Background(), in)
			require.NoError(t, err)
			require.Equal(t, first, again, in)
		}
	}
}
