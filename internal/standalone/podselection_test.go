package standalone

import (
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aigw-dev/aigw/internal/config"
)

func pod(ns, name, ip string, ready bool, labels map[string]string) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Status: corev1.PodStatus{PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}}}
}

// TestPodSelection: what a compilation records of the Pods it read, and
// how a Pod's change is classified against it.
func TestPodSelection(t *testing.T) {
	set := clusterSet(t, `
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: {name: pool, namespace: ns}
spec:
  selector: {matchLabels: {app: vllm}}
  targetPorts: [{number: 8000}, {number: 8001}]
  endpointPickerRef: {name: epp, port: {number: 9002}}
---
apiVersion: v1
kind: Service
metadata: {name: epp, namespace: ns}
spec:
  clusterIP: None
  selector: {app: epp}
  ports: [{name: grpc, port: 9002}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: r, namespace: ns}
spec:
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m}]}]
      backendRefs: [{name: pool, group: inference.networking.k8s.io, kind: InferencePool}]
`)
	_, _, skipped := set.CompileValid()
	require.Empty(t, skipped)
	sel := set.PodSelection()
	require.Len(t, sel.Pools, 1)
	require.Equal(t, "ns/pool", sel.Pools[0].Pool)
	require.Equal(t, []PodSelector{{Namespace: "ns", Selector: map[string]string{"app": "epp"}}}, sel.Services, "the headless picker Service")

	vllm := map[string]string{"app": "vllm"}
	for _, tc := range []struct {
		name     string
		old, new *corev1.Pod
		compile  bool
		pools    int
	}{
		{"a pool's Pod turns unready", pod("ns", "a", "10.0.0.1", true, vllm), pod("ns", "a", "10.0.0.1", false, vllm), false, 1},
		{"a new Pod of the pool", nil, pod("ns", "b", "10.0.0.2", true, vllm), false, 1},
		{"a Pod leaves the pool by its labels", pod("ns", "a", "10.0.0.1", true, vllm), pod("ns", "a", "10.0.0.1", true, nil), false, 1},
		{"the picker's Pod (headless Service)", nil, pod("ns", "e", "10.0.0.9", true, map[string]string{"app": "epp"}), true, 0},
		{"same labels in another namespace", nil, pod("other", "a", "10.0.0.1", true, vllm), false, 0},
		{"an unrelated Pod", pod("ns", "x", "10.0.0.5", true, map[string]string{"app": "web"}), nil, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			compile, pools := sel.Affects(tc.old, tc.new)
			require.Equal(t, tc.compile, compile)
			require.Len(t, pools, tc.pools)
		})
	}

	eps := sel.Pools[0].Endpoints([]*corev1.Pod{
		pod("ns", "b", "10.0.0.2", true, vllm), pod("ns", "a", "10.0.0.1", true, vllm),
		pod("ns", "c", "10.0.0.3", false, vllm), pod("other", "d", "10.0.0.4", true, vllm),
	})
	require.Equal(t, []config.PoolEndpoint{{Pod: "ns/a", IP: "10.0.0.1", Port: 8000}, {Pod: "ns/a", IP: "10.0.0.1", Port: 8001},
		{Pod: "ns/b", IP: "10.0.0.2", Port: 8000}, {Pod: "ns/b", IP: "10.0.0.2", Port: 8001}}, eps, "ready Pods × target ports, as a compilation makes them")
}

// TestKnownGroupsAndKindsAreValid: the values that skip the patterns
// match them.
func TestKnownGroupsAndKindsAreValid(t *testing.T) {
	for g := range knownGroups {
		require.True(t, groupRe.MatchString(g), g)
	}
	for k := range knownKinds {
		require.True(t, kindRe.MatchString(k), k)
	}
}
