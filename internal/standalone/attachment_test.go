package standalone

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRouteAttachment: in a cluster, a route is served on the listeners
// its parentRefs select; one whose parentRefs select no listener is served
// nowhere (not on every listener), and each such parentRef is reported
// NoMatchingParent.
func TestRouteAttachment(t *testing.T) {
	const docs = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: aigw
  listeners: [{name: a, protocol: HTTP, port: 80, hostname: a.example.com}, {name: b, protocol: HTTP, port: 80, hostname: b.example.com}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: up, namespace: default}
spec:
  schema: {name: OpenAI}
  backendRef: {name: up, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: up, namespace: default}
spec:
  endpoints: [{ip: {address: 10.0.0.1, port: 8000}}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: on-b, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: b}]
  rules: [{backendRefs: [{name: up}]}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: on-b-and-nowhere, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: nope}, {name: gw, port: 80, sectionName: b}]
  rules: [{backendRefs: [{name: up}]}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: nowhere, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: nope}, {name: gw, port: 81}]
  rules: [{backendRefs: [{name: up}]}]`
	cfg, _, skipped := clusterSet(t, docs).CompileValid()
	require.NotNil(t, cfg)
	listeners := map[string][]string{}
	for _, r := range cfg.Routes {
		listeners[r.Name] = r.Listeners
	}
	require.Equal(t, map[string][]string{
		"default/on-b":             {"default/gw/b"},
		"default/on-b-and-nowhere": {"default/gw/b"},
	}, listeners, "a route with no listener is left out")
	noParent := map[string][]string{}
	for _, err := range skipped {
		var e *Error
		if errors.As(err, &e) && e.Reason == ReasonNoMatchingParent {
			noParent[e.Source.Name] = append(noParent[e.Source.Name], e.Field)
		}
	}
	require.Equal(t, map[string][]string{
		"on-b-and-nowhere": {"spec.parentRefs[0]"},
		"nowhere":          {"spec.parentRefs[0]", "spec.parentRefs[1]"},
	}, noParent)
}
