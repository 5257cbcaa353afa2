package standalone

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/aigw-dev/aigw/internal/config"
)

const crossNamespace = `
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: r, namespace: apps}
spec:
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m}]}]
      backendRefs: [{name: b}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: b, namespace: apps}
spec:
  schema: {name: OpenAI}
  backendRef: {name: upstream, namespace: shared, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: upstream, namespace: shared}
spec:
  endpoints: [{ip: {address: 10.0.0.1, port: 8000}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: h, namespace: apps}
spec:
  rules:
    - backendRefs: [{name: svc, namespace: shared, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: shared}
spec:
  clusterIP: 10.96.0.10
  ports: [{port: 80}]
`

const grants = `
---
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: backends, namespace: shared}
spec:
  from: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, namespace: apps}]
  to: [{group: gateway.envoyproxy.io, kind: Backend, name: upstream}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: services, namespace: shared}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: apps}]
  to: [{group: "", kind: Service}]
`

func clusterSet(t *testing.T, docs string) *Set {
	t.Helper()
	set := NewClusterSet()
	for _, doc := range strings.Split(docs, "\n---\n") {
		var obj map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(doc), &obj))
		set.Add(obj["apiVersion"].(string), obj["kind"].(string), obj)
	}
	return set
}

// TestReferenceGrants: in a cluster, references across namespaces need a
// ReferenceGrant in the target's namespace (an AIServiceBackend's is an
// error that leaves it out; an HTTPRoute's keeps the route with a backend
// whose requests fail); with the grants both resolve.
func TestReferenceGrants(t *testing.T) {
	backendOf := func(cfg *config.Config, name string) *config.Backend {
		for i := range cfg.Backends {
			if cfg.Backends[i].Name == name {
				return &cfg.Backends[i]
			}
		}
		return nil
	}
	routeBackend := func(cfg *config.Config, route string) string {
		for _, r := range cfg.Routes {
			if r.Name == route {
				return r.Rules[0].BackendRefs[0].Backend
			}
		}
		return ""
	}

	cfg, warnings, skipped := clusterSet(t, crossNamespace).CompileValid()
	require.NotNil(t, cfg)
	require.NotEmpty(t, skipped)
	require.ErrorContains(t, skipped[0], "AIServiceBackend apps/b: spec.backendRef: reference to Backend shared/upstream not permitted (RefNotPermitted): no ReferenceGrant in namespace shared lets AIServiceBackend of namespace apps refer to it")
	require.Nil(t, backendOf(cfg, "apps/b"))
	refused := routeBackend(cfg, "apps/h")
	require.Equal(t, "refused/Service/shared/svc", refused)
	require.Empty(t, backendOf(cfg, refused).Endpoints, "its requests fail")
	require.Empty(t, backendOf(cfg, refused).Pool.Endpoints)
	require.True(t, strings.Contains(warningText(warnings), "reference to Service shared/svc not permitted (RefNotPermitted)"))

	cfg, _, skipped = clusterSet(t, crossNamespace+grants).CompileValid()
	require.Empty(t, skipped)
	require.Equal(t, []config.Endpoint{{Host: "10.0.0.1", Port: 8000}}, backendOf(cfg, "apps/b").Endpoints)
	require.Equal(t, []config.Endpoint{{Host: "10.96.0.10", Port: 80}}, backendOf(cfg, routeBackend(cfg, "apps/h")).Endpoints)

	// A grant naming another target, or another source namespace, does not do.
	other := strings.ReplaceAll(strings.ReplaceAll(grants, "name: upstream", "name: elsewhere"), "namespace: apps}]\n  to: [{group: \"\"", "namespace: other}]\n  to: [{group: \"\"")
	cfg, _, skipped = clusterSet(t, crossNamespace+other).CompileValid()
	require.Len(t, skipped, 1)
	require.ErrorContains(t, skipped[0], "RefNotPermitted")
	require.Equal(t, "refused/Service/shared/svc", routeBackend(cfg, "apps/h"))

	// Files (one author) may reference any namespace.
	set := NewSet()
	for _, doc := range strings.Split(crossNamespace, "\n---\n") {
		var obj map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(doc), &obj))
		set.Add(obj["apiVersion"].(string), obj["kind"].(string), obj)
	}
	_, _, err := set.Compile()
	require.NoError(t, err)
}

func warningText(ws []Warning) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString(w.Message + "\n")
	}
	return b.String()
}
