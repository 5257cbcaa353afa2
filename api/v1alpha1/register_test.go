package v1alpha1

import (
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func TestAddToScheme(t *testing.T) {
	s := runtime.NewScheme()
	require.NoError(t, AddToScheme(s))
	for _, kind := range []string{"AIGatewayRoute", "AIServiceBackend", "BackendSecurityPolicy", "GatewayConfig", "QuotaPolicy"} {
		require.True(t, s.Recognizes(GroupVersion.WithKind(kind)), kind)
		require.True(t, s.Recognizes(GroupVersion.WithKind(kind+"List")), kind)
	}
}

// TestDecodeReferenceYAML decodes the shape of Envoy AI Gateway's example
// (API reference §22.1) strictly into the types and deep-copies it.
func TestDecodeReferenceYAML(t *testing.T) {
	const doc = `apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: {name: openai-route, namespace: default}
spec:
  parentRefs: [{name: ai-gateway, kind: Gateway, group: gateway.networking.k8s.io}]
  hostnames: [api.example.com]
  rules:
    - name: chat
      matches:
        - headers: [{type: Exact, name: x-ai-eg-model, value: gpt-4o-mini}]
      backendRefs:
        - name: openai
          weight: 2
          priority: 1
          modelNameOverride: gpt-4o-mini-2024-07-18
          headerMutation: {set: [{name: x-a, value: b}], remove: [x-c]}
          bodyMutation: {set: [{path: service_tier, value: '"flex"'}], remove: [store]}
      timeouts: {request: 120s, backendRequest: 30s}
      streamIdleTimeout: 10s
      modelsOwnedBy: me
      modelsCreatedAt: "2024-05-21T10:00:00Z"
  llmRequestCosts:
    - {metadataKey: llm_input_token, type: InputToken}
    - {metadataKey: c, type: CEL, cel: "input_tokens + 1u"}
`
	var r AIGatewayRoute
	require.NoError(t, yaml.UnmarshalStrict([]byte(doc), &r))
	ref := r.Spec.Rules[0].BackendRefs[0]
	require.Equal(t, to[int32](2), ref.Weight)
	require.Equal(t, to[uint32](1), ref.Priority)
	require.Equal(t, "x-a", string(ref.HeaderMutation.Set[0].Name))
	require.Equal(t, `"flex"`, ref.BodyMutation.Set[0].Value)
	require.Equal(t, LLMRequestCostTypeCEL, r.Spec.LLMRequestCosts[1].Type)

	cp := r.DeepCopy()
	require.Equal(t, &r, cp)
	*cp.Spec.Rules[0].BackendRefs[0].Weight = 5
	require.Equal(t, int32(2), *r.Spec.Rules[0].BackendRefs[0].Weight, "DeepCopy must not share pointers")
}

func to[T any](v T) *T { return &v }
