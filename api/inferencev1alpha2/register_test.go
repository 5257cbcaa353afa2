package inferencev1alpha2

import (
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func TestAddToScheme(t *testing.T) {
	s := runtime.NewScheme()
	require.NoError(t, AddToScheme(s))
	require.True(t, s.Recognizes(GroupVersion.WithKind("InferencePool")))
	require.True(t, s.Recognizes(GroupVersion.WithKind("InferencePoolList")))
	for _, k := range []string{"InferenceObjective", "InferenceObjectiveList", "InferenceModelRewrite", "InferenceModelRewriteList"} {
		require.True(t, s.Recognizes(GroupVersion.WithKind(k)), k)
	}
	require.Equal(t, "inference.networking.x-k8s.io/v1alpha2", GroupVersion.String())
}

// TestDecodeGAIEYAML decodes a pool as GAIE v0.5.1–v1.4 documents it,
// status included (JSON key "parent"), strictly, and deep-copies it.
func TestDecodeGAIEYAML(t *testing.T) {
	const doc = `apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferencePool
metadata: {name: vllm, namespace: default}
spec:
  selector: {app: vllm, example.com/tier: gpu}
  targetPortNumber: 8000
  extensionRef:
    group: ""
    kind: Service
    name: vllm-epp
    portNumber: 9002
    failureMode: FailOpen
status:
  parent:
    - parentRef: {group: gateway.networking.k8s.io, kind: Gateway, name: gw, namespace: default}
      conditions:
        - {type: Accepted, status: "True", reason: Accepted, message: "", lastTransitionTime: "2025-01-01T00:00:00Z"}
`
	var p InferencePool
	require.NoError(t, yaml.UnmarshalStrict([]byte(doc), &p))
	require.Equal(t, LabelValue("gpu"), p.Spec.Selector["example.com/tier"])
	require.Equal(t, int32(8000), p.Spec.TargetPortNumber)
	ref := p.Spec.ExtensionRef
	require.NotNil(t, ref)
	require.Equal(t, ObjectName("vllm-epp"), ref.Name)
	require.Equal(t, PortNumber(9002), *ref.PortNumber)
	require.Equal(t, FailOpen, *ref.FailureMode)
	require.Equal(t, ObjectName("gw"), p.Status.Parents[0].GatewayRef.Name)
	require.Equal(t, ReasonAccepted, p.Status.Parents[0].Conditions[0].Reason)

	cp := p.DeepCopy()
	require.Equal(t, &p, cp)
	*cp.Spec.ExtensionRef.PortNumber = 1
	cp.Spec.Selector["app"] = "other"
	require.Equal(t, PortNumber(9002), *p.Spec.ExtensionRef.PortNumber, "DeepCopy must not share pointers")
	require.Equal(t, LabelValue("vllm"), p.Spec.Selector["app"], "DeepCopy must not share maps")

	// v1 field names are not part of this version.
	err := yaml.UnmarshalStrict([]byte("spec: {targetPorts: [{number: 8000}]}"), &InferencePool{})
	require.ErrorContains(t, err, "targetPorts")
}

// TestDecodeObjectiveAndRewrite decodes GAIE v1.5.0's documented examples
// of InferenceObjective and InferenceModelRewrite, strictly.
func TestDecodeObjectiveAndRewrite(t *testing.T) {
	const objective = `apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceObjective
metadata: {name: food-review, namespace: default}
spec:
  priority: -1
  poolRef: {group: inference.networking.k8s.io, name: vllm-llama3-8b-instruct}
`
	var o InferenceObjective
	require.NoError(t, yaml.UnmarshalStrict([]byte(objective), &o))
	require.NotNil(t, o.Spec.Priority)
	require.Equal(t, -1, *o.Spec.Priority)
	require.Equal(t, ObjectName("vllm-llama3-8b-instruct"), o.Spec.PoolRef.Name)
	require.Equal(t, o, *o.DeepCopy())

	const rewrite = `apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModelRewrite
metadata: {name: food-review-canary, namespace: default}
spec:
  poolRef: {name: vllm-llama3-8b-instruct}
  rules:
    - matches:
        - model: {type: Exact, value: food-review}
      targets:
        - {modelRewrite: food-review-v1, weight: 90}
        - {modelRewrite: food-review-v2, weight: 10}
    - targets:
        - {modelRewrite: meta-llama/Llama-3.1-8B-Instruct}
`
	var r InferenceModelRewrite
	require.NoError(t, yaml.UnmarshalStrict([]byte(rewrite), &r))
	require.Len(t, r.Spec.Rules, 2)
	require.Equal(t, MatchExact, *r.Spec.Rules[0].Matches[0].Model.Type)
	require.Equal(t, "food-review", r.Spec.Rules[0].Matches[0].Model.Value)
	require.Equal(t, int32(10), r.Spec.Rules[0].Targets[1].Weight)
	require.Empty(t, r.Spec.Rules[1].Matches)
	require.Equal(t, r, *r.DeepCopy())

	require.Error(t, yaml.UnmarshalStrict([]byte(rewrite+"  rule: []\n"), &r), "a misspelled field is an error")
}
