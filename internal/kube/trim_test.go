package kube

import (
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTrimSecret(t *testing.T) {
	managed := []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	for _, tc := range []struct {
		typ      corev1.SecretType
		keepData bool
	}{
		{corev1.SecretTypeOpaque, true},
		{corev1.SecretTypeTLS, true},
		{helmReleaseSecret, false},
	} {
		in := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", ManagedFields: managed}, Type: tc.typ,
			Data: map[string][]byte{"k": []byte("v")}}
		out, err := trimSecret(in)
		require.NoError(t, err)
		s := out.(*corev1.Secret)
		require.Nil(t, s.ManagedFields, tc.typ)
		require.Equal(t, "s", s.Name)
		if tc.keepData {
			require.Equal(t, []byte("v"), s.Data["k"], tc.typ)
		} else {
			require.Nil(t, s.Data, tc.typ)
		}
	}
	other, err := trimSecret("not a Secret")
	require.NoError(t, err)
	require.Equal(t, "not a Secret", other)
}

func TestTrimPod(t *testing.T) {
	in := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"app": "vllm"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "server", Image: "vllm", Env: []corev1.EnvVar{{Name: "TOKEN", Value: "x"}}, Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}}},
			{Name: "sidecar", Image: "proxy"},
		}},
		Status: corev1.PodStatus{PodIP: "10.0.0.1", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	out, err := trimPod(in)
	require.NoError(t, err)
	p := out.(*corev1.Pod)
	require.Nil(t, p.ManagedFields)
	require.Equal(t, in.Labels, p.Labels)
	require.Equal(t, "10.0.0.1", p.Status.PodIP)
	require.Equal(t, in.Status.Conditions, p.Status.Conditions)
	require.Equal(t, []corev1.Container{{Name: "server", Ports: in.Spec.Containers[0].Ports}}, p.Spec.Containers, "only the ports of the containers that have some")
}
