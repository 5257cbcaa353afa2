package k8s

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/types"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"

	"github.com/aigw-dev/aigw/internal/testenv"
)

// The control plane comes up with GAIE's CRDs, InferencePool v1 is served,
// and a pool survives a round trip through the API server unchanged.
func TestEnvtestServesInferencePool(t *testing.T) {
	env := testenv.StartEnv(t)
	ctx := t.Context()

	crd := &apiextensionsv1.CustomResourceDefinition{}
	require.NoError(t, env.Client.Get(ctx, types.NamespacedName{Name: "inferencepools.inference.networking.k8s.io"}, crd))
	established := false
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			established = c.Status == apiextensionsv1.ConditionTrue
		}
	}
	require.True(t, established, "InferencePool CRD not established: %+v", crd.Status.Conditions)
	require.Contains(t, crd.Status.StoredVersions, "v1")

	created := env.CreatePool(t, testenv.Pool{
		Name:               poolName,
		Selector:           poolLabels,
		TargetPorts:        []int32{8000, 8001},
		EndpointPicker:     pickerName,
		EndpointPickerPort: 9002,
		FailureMode:        gaiev1.EndpointPickerFailOpen,
	})

	got := &gaiev1.InferencePool{}
	require.NoError(t, env.Client.Get(ctx, types.NamespacedName{Namespace: testenv.DefaultNamespace, Name: poolName}, got))
	coreGroup := gaiev1.Group("")
	want := gaiev1.InferencePoolSpec{
		Selector:    gaiev1.LabelSelector{MatchLabels: map[gaiev1.LabelKey]gaiev1.LabelValue{"app": "vllm"}},
		TargetPorts: []gaiev1.Port{{Number: 8000}, {Number: 8001}},
		AppProtocol: gaiev1.AppProtocolHTTP, // defaulted by the CRD schema
		EndpointPickerRef: &gaiev1.EndpointPickerRef{
			Group:       &coreGroup, // defaulted: "" is the core API group
			Kind:        "Service",
			Name:        pickerName,
			Port:        &gaiev1.Port{Number: 9002},
			FailureMode: gaiev1.EndpointPickerFailOpen,
		},
	}
	require.Empty(t, cmp.Diff(want, got.Spec), "spec after the round trip (-want +got)")
	require.Equal(t, created.UID, got.UID)

	// The schema is enforced, so the CRD really is GAIE's: a pool without a
	// selector is refused.
	bad := &gaiev1.InferencePool{}
	bad.Name, bad.Namespace = "no-selector", testenv.DefaultNamespace
	bad.Spec.TargetPorts = []gaiev1.Port{{Number: 8000}}
	require.Error(t, env.Client.Create(ctx, bad), "an InferencePool without selector must be refused")
}
