package standalone

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	sigsjson "sigs.k8s.io/json"
)

// TestTypeErrors loads documents with a value of the wrong type and checks
// the exact message: the field with its indices and keys, the type in the
// schema's words, never a Go type or struct name.
func TestTypeErrors(t *testing.T) {
	const route = "apiVersion: aigateway.envoyproxy.io/v1beta1\nkind: AIGatewayRoute\nmetadata: {name: r}\n"
	const prefix = "types.yaml: document 1: AIGatewayRoute default/r: "
	for _, tc := range []struct {
		name, doc, want string
	}{
		{
			name: "negative unsigned integer",
			doc:  route + "spec: {rules: [{backendRefs: [{name: a}, {name: b, priority: -1}]}]}",
			want: prefix + "spec.rules[0].backendRefs[1].priority: must be a non-negative integer (uint32), got -1",
		},
		{
			name: "string for an integer",
			doc:  route + "spec: {rules: [{backendRefs: [{name: a}]}, {backendRefs: [{name: a, weight: heavy}]}]}",
			want: prefix + "spec.rules[1].backendRefs[0].weight: must be an integer (int32), got a string",
		},
		{
			name: "fraction for an integer",
			doc:  route + "spec: {rules: [{backendRefs: [{name: a, weight: 1.5}]}]}",
			want: prefix + "spec.rules[0].backendRefs[0].weight: must be an integer (int32), got 1.5",
		},
		{
			name: "the first of two wrong values",
			doc:  route + "spec: {rules: [{backendRefs: [{name: a, weight: 1}, {name: b, weight: 99999999999}, {name: c, weight: 99999999999}]}]}",
			want: prefix + "spec.rules[0].backendRefs[1].weight: must be an integer (int32), got 99999999999",
		},
		{
			name: "object for a list",
			doc:  route + "spec: {rules: [{backendRefs: {name: a}}]}",
			want: prefix + "spec.rules[0].backendRefs: must be a list, got an object",
		},
		{
			name: "list for an object",
			doc:  route + "spec: [rules]",
			want: prefix + "spec: must be an object, got a list",
		},
		{
			name: "number for a duration",
			doc:  route + "spec: {rules: [{backendRefs: [{name: a}], timeouts: {request: 30}}]}",
			want: prefix + "spec.rules[0].timeouts.request: must be a duration such as \"30s\", got a number",
		},
		{
			name: "YAML's yes for a string",
			doc:  route + "spec: {rules: [{name: yes, backendRefs: [{name: a}]}]}",
			want: prefix + "spec.rules[0].name: must be a string, got a boolean (YAML reads an unquoted yes, no, on, off, true or false as a boolean: quote it)",
		},
		{
			name: "number for a CEL expression",
			doc:  route + "spec: {rules: [{backendRefs: [{name: a}]}], llmRequestCosts: [{metadataKey: in, type: InputToken}, {metadataKey: k, type: CEL, cel: 5}]}",
			want: prefix + "spec.llmRequestCosts[1].cel: must be a string, got a number",
		},
		{
			name: "number in a list of strings",
			doc:  route + "spec: {hostnames: [a.example.com, 5], rules: [{backendRefs: [{name: a}]}]}",
			want: prefix + "spec.hostnames[1]: must be a string, got a number",
		},
		{
			name: "number in a map of strings",
			doc:  "apiVersion: aigateway.envoyproxy.io/v1beta1\nkind: AIGatewayRoute\nmetadata: {name: r, labels: {app: chat, tier: 1}}\nspec: {rules: [{backendRefs: [{name: a}]}]}",
			want: prefix + "metadata.labels[tier]: must be a string, got a number",
		},
		{
			name: "string for a boolean, through an embedded struct",
			doc: "apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: BackendTrafficPolicy\nmetadata: {name: r}\n" +
				"spec: {targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}], retry: {numRetries: three}}",
			want: "types.yaml: document 1: BackendTrafficPolicy default/r: spec.retry.numRetries: must be an integer (int32), got a string",
		},
		{
			name: "number for base64 data",
			doc:  "apiVersion: v1\nkind: Secret\nmetadata: {name: r}\ndata: {apiKey: 5}",
			want: "types.yaml: document 1: Secret default/r: data[apiKey]: must be a base64-encoded string, got a number",
		},
		{
			name: "object for a string never repeats the value",
			doc:  "apiVersion: v1\nkind: Secret\nmetadata: {name: r}\nstringData: {apiKey: {nested: sk-secret}}",
			want: "types.yaml: document 1: Secret default/r: stringData[apiKey]: must be a string, got an object",
		},
		{
			name: "v1alpha1 documents too",
			doc:  "apiVersion: aigateway.envoyproxy.io/v1alpha1\nkind: AIServiceBackend\nmetadata: {name: r}\nspec: {schema: {name: OpenAI}, backendRef: {name: b, kind: Backend, group: gateway.envoyproxy.io, port: \"80\"}}",
			want: "types.yaml: document 1: AIServiceBackend default/r: spec.backendRef.port: must be an integer (int32), got a string",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testLoader().LoadBytes(context.Background(), "types.yaml", []byte(tc.doc+"\n"))
			require.Error(t, err)
			errs := unjoin(err)
			require.Equal(t, tc.want, errs[0].Error(), "all errors: %v", err)
			require.NotContains(t, err.Error(), "Go struct")
			require.NotContains(t, err.Error(), "sk-secret")
		})
	}
}

// TestTypeErrorMapOfObjects covers a map of objects, whose keys the
// decoder's field path leaves out.
func TestTypeErrorMapOfObjects(t *testing.T) {
	type item struct {
		N int32 `json:"n"`
	}
	var v struct {
		M map[string]item `json:"m"`
	}
	js := []byte(`{"m":{"a":{"n":1},"b":{"n":"x"}}}`)
	_, err := sigsjson.UnmarshalStrict(js, &v)
	require.Error(t, err)
	path, msg, ok := typeError(js, err)
	require.True(t, ok)
	require.Equal(t, "m[b].n", path)
	require.EqualError(t, msg, "must be an integer (int32), got a string")

	_, _, ok = typeError(js, errors.New("some other error"))
	require.False(t, ok)
}
