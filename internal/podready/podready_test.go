package podready

import (
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestAddress(t *testing.T) {
	readyTrue := []corev1.PodCondition{
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue},
	}
	tests := []struct {
		name    string
		pod     corev1.Pod
		wantIP  string
		wantWhy string
	}{
		{
			name:   "no phase and Ready is used",
			pod:    corev1.Pod{Status: corev1.PodStatus{PodIP: "10.0.0.1", Conditions: readyTrue}},
			wantIP: "10.0.0.1",
		},
		{
			name:   "Running and Ready is used",
			pod:    corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", Conditions: readyTrue}},
			wantIP: "10.0.0.1",
		},
		{
			name:   "status.podIPs when status.podIP is empty",
			pod:    corev1.Pod{Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "fd00::1"}, {IP: "10.0.0.1"}}, Conditions: readyTrue}},
			wantIP: "fd00::1",
		},
		{
			name: "Running but not Ready is not",
			pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionFalse},
			}}},
			wantWhy: `it has no Ready condition with status "True"`,
		},
		{
			name:    "Running without a Ready condition is not",
			pod:     corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"}},
			wantWhy: `it has no Ready condition with status "True"`,
		},
		{
			name: "the first Ready condition decides, as in GAIE",
			pod: corev1.Pod{Status: corev1.PodStatus{PodIP: "10.0.0.1", Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionUnknown},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue},
			}}},
			wantWhy: `it has no Ready condition with status "True"`,
		},
		{
			name:    "Failed and Ready is not",
			pod:     corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, PodIP: "10.0.0.1", Conditions: readyTrue}},
			wantWhy: "its status.phase is Failed, not Running",
		},
		{
			name:    "Succeeded and Ready is not",
			pod:     corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodSucceeded, PodIP: "10.0.0.1", Conditions: readyTrue}},
			wantWhy: "its status.phase is Succeeded, not Running",
		},
		{
			name:    "Pending and Ready is not",
			pod:     corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, PodIP: "10.0.0.1", Conditions: readyTrue}},
			wantWhy: "its status.phase is Pending, not Running",
		},
		{
			name: "a deletionTimestamp excludes a Ready Pod",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{}},
				Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", Conditions: readyTrue},
			},
			wantWhy: "it is terminating (metadata.deletionTimestamp is set)",
		},
		{
			name:    "no podIP is not",
			pod:     corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: readyTrue}},
			wantWhy: "it has no status.podIP",
		},
		{
			name:    "an empty podIPs entry is no IP",
			pod:     corev1.Pod{Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{}}, Conditions: readyTrue}},
			wantWhy: "it has no status.podIP",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ip, why := Address(&tc.pod)
			require.Equal(t, tc.wantIP, ip)
			require.Equal(t, tc.wantWhy, why)
		})
	}
}
