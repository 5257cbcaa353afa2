package standalone

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
)

// TestSetMatchesLoader: the compiler fed objects as a Kubernetes controller
// holds them (typed, without apiVersion and kind, added with Set.Add)
// compiles the same configuration as the file loader fed the same
// resources as YAML.
func TestSetMatchesLoader(t *testing.T) {
	for _, name := range []string{"routes_and_mutations", "pool_objectives_rewrites", "traffic_policies", "kinds_and_versions", "pool_data_parallel", "httproute_pools", "tls_and_listeners"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name+".in.yaml"))
			require.NoError(t, err)
			want, err := LoadBytes(t.Context(), name+".yaml", data)
			require.NoError(t, err)

			set := NewSet()
			for _, doc := range splitDocuments(data) {
				js, err := decodeYAML(doc)
				require.NoError(t, err)
				h, err := readHeader(js)
				require.NoError(t, err)
				set.Add(h.apiVersion, h.kind, informerObject(t, h, js))
			}
			got, warnings, err := set.Compile()
			require.NoError(t, err)
			require.Equal(t, want.Config, got)
			var gotMsgs, wantMsgs []string
			for _, w := range warnings {
				require.Empty(t, w.Source.File)
				gotMsgs = append(gotMsgs, w.Source.ref()+": "+w.Message)
			}
			for _, w := range want.Warnings {
				wantMsgs = append(wantMsgs, w.Source.ref()+": "+w.Message)
			}
			require.ElementsMatch(t, wantMsgs, gotMsgs, "the same warnings, without file positions")
		})
	}
}

// informerObject is the document as an informer holds it: a typed object
// for an AIGatewayRoute of v1beta1, a generic one otherwise, and without
// apiVersion and kind either way.
func informerObject(t *testing.T, h docHeader, js []byte) any {
	t.Helper()
	if h.apiVersion == "aigateway.envoyproxy.io/v1beta1" && h.kind == "AIGatewayRoute" {
		var route aigv1b1.AIGatewayRoute
		require.NoError(t, json.Unmarshal(js, &route))
		route.APIVersion, route.Kind = "", ""
		return &route
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal(js, &m))
	delete(m, "apiVersion")
	delete(m, "kind")
	return m
}

// TestSetErrorsNameTheResource: problems with objects that come from no
// file name the resource and the field.
func TestSetErrorsNameTheResource(t *testing.T) {
	set := NewSet()
	set.Add("aigateway.envoyproxy.io/v1beta1", "AIGatewayRoute", map[string]any{
		"metadata": map[string]any{"name": "chat", "namespace": "team-a"},
		"spec": map[string]any{"rules": []any{map[string]any{
			"backendRefs": []any{map[string]any{"name": "missing"}},
		}}},
	})
	set.Add("aigateway.envoyproxy.io/v1beta1", "AIServiceBackend", map[string]any{
		"metadata": map[string]any{"name": "b", "namespace": "team-a"},
		"spec":     map[string]any{"schema": map[string]any{"name": "OpenAI"}, "unknownField": 1},
	})
	set.Add("v1", "Secret", func() {}) // cannot be encoded
	cfg, _, err := set.Compile()
	require.Nil(t, cfg)
	require.Error(t, err)
	var msgs []string
	for _, e := range unjoin(err) {
		var se *Error
		require.True(t, errors.As(e, &se), "%v", e)
		msgs = append(msgs, se.Error())
	}
	require.Contains(t, msgs, `AIServiceBackend team-a/b: spec.unknownField: unknown field`)
	require.Contains(t, msgs, `Secret: encoding the object: json: unsupported type: func()`)
}

// TestSetCompileValid: a controller's compilation leaves out a broken
// resource and compiles the rest; a cluster set does not warn about the
// cluster's other Services and Pods.
func TestSetCompileValid(t *testing.T) {
	set := NewClusterSet()
	route := func(name, model, backend string) map[string]any {
		return map[string]any{"metadata": map[string]any{"name": name, "namespace": "default"}, "spec": map[string]any{"rules": []any{map[string]any{
			"matches":     []any{map[string]any{"headers": []any{map[string]any{"name": "x-ai-eg-model", "value": model}}}},
			"backendRefs": []any{map[string]any{"name": backend}},
		}}}}
	}
	set.Add("aigateway.envoyproxy.io/v1beta1", "AIGatewayRoute", route("good", "m", "openai"))
	set.Add("aigateway.envoyproxy.io/v1beta1", "AIGatewayRoute", route("broken", "other", "missing"))
	set.Add("aigateway.envoyproxy.io/v1beta1", "AIServiceBackend", map[string]any{"metadata": map[string]any{"name": "openai", "namespace": "default"},
		"spec": map[string]any{"schema": map[string]any{"name": "OpenAI"}, "backendRef": map[string]any{"name": "openai", "kind": "Backend", "group": "gateway.envoyproxy.io"}}})
	set.Add("gateway.envoyproxy.io/v1alpha1", "Backend", map[string]any{"metadata": map[string]any{"name": "openai", "namespace": "default"},
		"spec": map[string]any{"endpoints": []any{map[string]any{"fqdn": map[string]any{"hostname": "api.openai.com", "port": 443}}}}})
	set.Add("v1", "Service", map[string]any{"metadata": map[string]any{"name": "kubernetes", "namespace": "default"},
		"spec": map[string]any{"ports": []any{map[string]any{"port": 443}}}})
	cfg, warnings, skipped := set.CompileValid()
	require.NotNil(t, cfg)
	require.Len(t, skipped, 1)
	require.ErrorContains(t, skipped[0], "AIGatewayRoute default/broken: spec.rules[0].backendRefs[0].name: AIServiceBackend default/missing not found")
	var routes []string
	for _, r := range cfg.Routes {
		routes = append(routes, r.Name)
	}
	require.Contains(t, routes, "default/good")
	for _, w := range warnings {
		require.NotContains(t, w.String(), "Service default/kubernetes", "the cluster's own Services are not mistakes")
	}
}
