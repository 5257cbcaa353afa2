package podsource

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aigw-dev/aigw/internal/scheduler"
)

// pod returns a Pod with the given IP and Ready condition; ready "" leaves
// the condition out.
func pod(name, ip string, ready corev1.ConditionStatus, labels map[string]string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	p.Status.PodIP = ip
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}}
	if ready != "" {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: ready})
	}
	return p
}

func TestEndpointsOf(t *testing.T) {
	vllm := map[string]string{"app": "vllm"}
	terminating := pod("terminating", "10.0.0.9", corev1.ConditionTrue, vllm)
	terminating.DeletionTimestamp = &metav1.Time{}
	failed := pod("failed", "10.0.0.5", corev1.ConditionTrue, vllm)
	failed.Status.Phase = corev1.PodFailed
	runningUnready := pod("running-unready", "10.0.0.6", corev1.ConditionFalse, vllm)
	runningUnready.Status.Phase = corev1.PodRunning
	running := pod("running", "10.0.0.7", corev1.ConditionTrue, vllm)
	running.Status.Phase = corev1.PodRunning

	tests := []struct {
		name  string
		pods  []corev1.Pod
		ports []int
		want  []scheduler.Endpoint
	}{
		{
			name:  "no pods",
			ports: []int{8000},
			want:  []scheduler.Endpoint{},
		},
		{
			name: "only ready pods with an IP, not terminating",
			pods: []corev1.Pod{
				pod("ready", "10.0.0.1", corev1.ConditionTrue, vllm),
				pod("unready", "10.0.0.2", corev1.ConditionFalse, vllm),
				pod("unknown", "10.0.0.3", corev1.ConditionUnknown, vllm),
				pod("no-condition", "10.0.0.4", "", vllm),
				pod("no-ip", "", corev1.ConditionTrue, vllm),
				terminating,
			},
			ports: []int{8000},
			want:  []scheduler.Endpoint{{Address: "10.0.0.1:8000", PodName: "ready", Labels: vllm}},
		},
		{
			name:  "the phase, when given, must be Running (the standalone loader's rule too)",
			pods:  []corev1.Pod{failed, runningUnready, running},
			ports: []int{8000},
			want:  []scheduler.Endpoint{{Address: "10.0.0.7:8000", PodName: "running", Labels: vllm}},
		},
		{
			name: "each port of each pod, sorted by address, IPv6 bracketed",
			pods: []corev1.Pod{
				pod("b", "10.0.0.2", corev1.ConditionTrue, nil),
				pod("v6", "fd00::1", corev1.ConditionTrue, vllm),
				pod("a", "10.0.0.1", corev1.ConditionTrue, vllm),
			},
			ports: []int{8001, 8000},
			want: []scheduler.Endpoint{
				{Address: "10.0.0.1:8000", PodName: "a", Labels: vllm},
				{Address: "10.0.0.1:8001", PodName: "a", Labels: vllm},
				{Address: "10.0.0.2:8000", PodName: "b"},
				{Address: "10.0.0.2:8001", PodName: "b"},
				{Address: "[fd00::1]:8000", PodName: "v6", Labels: vllm},
				{Address: "[fd00::1]:8001", PodName: "v6", Labels: vllm},
			},
		},
		{
			name: "an address shared by host-network pods is kept once, for the first name",
			pods: []corev1.Pod{
				pod("node-b", "192.168.1.1", corev1.ConditionTrue, nil),
				pod("node-a", "192.168.1.1", corev1.ConditionTrue, vllm),
			},
			ports: []int{8000},
			want:  []scheduler.Endpoint{{Address: "192.168.1.1:8000", PodName: "node-a", Labels: vllm}},
		},
		{
			name:  "no ports, no endpoints",
			pods:  []corev1.Pod{pod("a", "10.0.0.1", corev1.ConditionTrue, vllm)},
			ports: nil,
			want:  []scheduler.Endpoint{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := endpointsOf(tc.pods, tc.ports)
			require.Empty(t, cmp.Diff(tc.want, got), "(-want +got)")
		})
	}
}

func TestEndpointsOfCopiesLabels(t *testing.T) {
	pods := []corev1.Pod{pod("a", "10.0.0.1", corev1.ConditionTrue, map[string]string{"app": "vllm"})}
	eps := endpointsOf(pods, []int{8000, 8001})
	eps[0].Labels["app"] = "changed"
	require.Equal(t, "vllm", pods[0].Labels["app"], "the Pod's labels must not be shared")
	require.Equal(t, "vllm", eps[1].Labels["app"], "each endpoint has its own labels")
}

func TestEqualEndpoints(t *testing.T) {
	base := []scheduler.Endpoint{{Address: "10.0.0.1:8000", PodName: "a", Labels: map[string]string{"app": "vllm"}}}
	tests := []struct {
		name  string
		other []scheduler.Endpoint
		want  bool
	}{
		{"same", cloneEndpoints(base), true},
		{"other address", []scheduler.Endpoint{{Address: "10.0.0.1:8001", PodName: "a", Labels: map[string]string{"app": "vllm"}}}, false},
		{"other pod", []scheduler.Endpoint{{Address: "10.0.0.1:8000", PodName: "b", Labels: map[string]string{"app": "vllm"}}}, false},
		{"other labels", []scheduler.Endpoint{{Address: "10.0.0.1:8000", PodName: "a", Labels: map[string]string{"app": "vllm", "x": "y"}}}, false},
		{"fewer", []scheduler.Endpoint{}, false},
		{"none", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, equalEndpoints(base, tc.other))
		})
	}
	require.True(t, equalEndpoints(nil, []scheduler.Endpoint{}), "nil and empty are the same set")
}
