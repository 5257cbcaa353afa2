package standalone

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const minimalRoute = `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: chat}
spec:
  rules:
    - backendRefs: [{name: local}]
`

const minimalBackend = `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: local}
spec:
  schema: {name: OpenAI}
  backendRef: {name: local, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: local}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: 8000}}]
`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o600))
	}
	return dir
}

func TestLoadDirectory(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"b-backend.yml":     minimalBackend,
		"a-route.yaml":      minimalRoute,
		"notes.txt":         "not: [yaml",
		"nested/more.yaml":  "not: [yaml",
		"c-extra.YAML":      "# only a comment\n",
		"d-unused.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unused}\n",
		"e-nothing.yaml":    "",
		"f-separators.yaml": "---\n---\n",
	})
	res, err := testLoader().Load(context.Background(), dir)
	require.NoError(t, err)
	require.Equal(t, []string{
		filepath.Join(dir, "a-route.yaml"), filepath.Join(dir, "b-backend.yml"), filepath.Join(dir, "c-extra.YAML"),
		filepath.Join(dir, "d-unused.yaml"), filepath.Join(dir, "e-nothing.yaml"), filepath.Join(dir, "f-separators.yaml"),
	}, res.Files)
	require.Equal(t, []string{
		filepath.Join(dir, "c-extra.YAML"), filepath.Join(dir, "e-nothing.yaml"), filepath.Join(dir, "f-separators.yaml"),
	}, res.EmptyFiles, "files without a document, as a watcher sees a truncated one")
	require.Len(t, res.Config.Routes, 1)
	require.Len(t, res.Config.Backends, 1)
	require.Empty(t, res.Warnings)
}

func TestLoadFilesAndDirectoriesTogether(t *testing.T) {
	dir := writeFiles(t, map[string]string{"conf/route.yaml": minimalRoute, "backend.yaml": minimalBackend})
	res, err := testLoader().Load(context.Background(), filepath.Join(dir, "conf"), filepath.Join(dir, "backend.yaml"),
		filepath.Join(dir, "conf", "route.yaml")) // given twice: read once
	require.NoError(t, err)
	require.Len(t, res.Files, 2)
	require.Equal(t, "default/local", res.Config.Routes[0].Rules[0].BackendRefs[0].Backend)
}

func TestLoadArgumentErrors(t *testing.T) {
	ctx := context.Background()
	_, err := testLoader().Load(ctx)
	require.EqualError(t, err, "no configuration file given")

	empty := t.TempDir()
	_, err = testLoader().Load(ctx, empty)
	require.ErrorContains(t, err, "holds no *.yaml or *.yml file")

	missing := filepath.Join(empty, "missing.yaml")
	res, err := testLoader().Load(ctx, missing)
	require.ErrorIs(t, err, os.ErrNotExist)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, missing, e.Source.File)
	require.Nil(t, res.Config)
}

func TestDuplicateAcrossFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.yaml": minimalRoute + "---\n" + minimalBackend, "b.yaml": "# first line\n" + minimalRoute})
	_, err := testLoader().Load(context.Background(), dir)
	require.EqualError(t, err, filepath.Join(dir, "b.yaml")+": document 1: AIGatewayRoute default/chat: duplicate resource: AIGatewayRoute default/chat is already defined at "+
		filepath.Join(dir, "a.yaml")+": document 1")
}

func TestErrorsAreInspectable(t *testing.T) {
	res, err := testLoader().Load(context.Background(), "testdata/errors/not_supported.in.yaml")
	require.ErrorIs(t, err, ErrNotSupported)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, Source{
		File: "testdata/errors/not_supported.in.yaml", Doc: 1,
		APIVersion: "gateway.networking.k8s.io/v1", Kind: "Gateway", Namespace: "default", Name: "gw",
	}, e.Source)
	require.Equal(t, "spec.listeners[1].protocol", e.Field)
	require.NotNil(t, res)
	require.Nil(t, res.Config)

	// Validation errors are not ErrNotSupported.
	_, err = testLoader().Load(context.Background(), "testdata/errors/bad_enum.in.yaml")
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrNotSupported)
	require.Len(t, unjoin(err), 8)
}

func TestWarningsSurviveFailure(t *testing.T) {
	res, err := testLoader().Load(context.Background(), "testdata/errors/env_missing.in.yaml")
	require.Error(t, err)
	require.Len(t, res.Warnings, 2)
	require.Equal(t, 35, res.Warnings[0].Source.Line)
}

func TestLoadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := testLoader().Load(ctx, "testdata/example_22_1_openai.in.yaml")
	require.ErrorIs(t, err, context.Canceled)
	_, err = testLoader().LoadBytes(ctx, "x.yaml", []byte(minimalRoute))
	require.ErrorIs(t, err, context.Canceled)
}

func TestLoadUsesProcessEnvironment(t *testing.T) {
	t.Setenv("AIGW_TEST_BACKEND_PORT", "9123")
	data := strings.ReplaceAll(minimalRoute+"---\n"+minimalBackend, "port: 8000", "port: ${AIGW_TEST_BACKEND_PORT}")
	res, err := LoadBytes(context.Background(), "inline.yaml", []byte(data))
	require.NoError(t, err)
	require.Equal(t, int32(9123), res.Config.Backends[0].Endpoints[0].Port)

	dir := writeFiles(t, map[string]string{"c.yaml": data})
	res, err = Load(context.Background(), dir)
	require.NoError(t, err)
	require.Equal(t, int32(9123), res.Config.Backends[0].Endpoints[0].Port)
}

func TestLoadIsDeterministic(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	require.NoError(t, err)
	first, err := testLoader().Load(context.Background(), ins[0])
	require.NoError(t, err)
	for range 5 {
		again, err := testLoader().Load(context.Background(), ins[0])
		require.NoError(t, err)
		require.Equal(t, first, again)
	}
}

// TestNoCredentialInMessages loads broken configurations whose credentials
// and header values hold a sentinel and checks that no error or warning
// repeats it.
func TestNoCredentialInMessages(t *testing.T) {
	const sentinel = "SENTINEL-CREDENTIAL"
	env := map[string]string{"KEY": sentinel, "KEY_WITH_NEWLINE": sentinel + "\nx"}
	docs := []string{
		// A key with a line break cannot be sent.
		`apiVersion: v1
kind: Secret
metadata: {name: s1}
stringData: {apiKey: "` + sentinel + `\nsecond line"}`,
		// Key under the wrong data key.
		`apiVersion: v1
kind: Secret
metadata: {name: s2}
stringData: {api_key: ` + sentinel + `}`,
		// Bad base64 holding the sentinel.
		`apiVersion: v1
kind: Secret
metadata: {name: s3}
data: {apiKey: "` + sentinel + `!!"}`,
		// A number where a string goes.
		`apiVersion: v1
kind: Secret
metadata: {name: s4, annotations: {substitution.aigw.run/env/apiKey: KEY}}
stringData: {apiKey: {nested: ` + sentinel + `}}`,
		// Header values in mutations, too long and duplicated.
		`apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: b}
spec:
  schema: {name: OpenAI}
  backendRef: {name: b, kind: Backend, group: gateway.envoyproxy.io}
  headerMutation:
    set:
      - {name: authorization, value: "Bearer ` + sentinel + `"}
      - {name: Authorization, value: "Bearer ` + sentinel + strings.Repeat("x", 5000) + `"}
  bodyMutation:
    set: [{path: api_key, value: "` + sentinel + `"}, {path: api_key, value: "` + sentinel + `"}]`,
		`apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: p}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: b}]
  type: APIKey
  apiKey: {secretRef: {name: s1}}`,
		`apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: p2}
spec:
  type: APIKey
  apiKey: {secretRef: {name: s2}}`,
		// Certificates whose key is the sentinel.
		`apiVersion: v1
kind: Secret
metadata: {name: cert}
stringData: {tls.crt: "` + sentinel + `", tls.key: "` + sentinel + `"}`,
		`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: x
  listeners: [{name: https, protocol: HTTPS, port: 443, tls: {certificateRefs: [{name: cert}]}}]`,
		"apiVersion: v1\nkind: Secret\nmetadata: {name: s5}\nstringData: {apiKey: ${KEY_WITH_NEWLINE}}",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: s6}\nstringData: {apiKey: ${KEY:+oops}}",
	}
	for i, doc := range docs {
		res, err := (&Loader{LookupEnv: lookupIn(env)}).LoadBytes(context.Background(), "leak.yaml", []byte(doc))
		if err != nil {
			require.NotContains(t, err.Error(), "SENTINEL", "document %d", i)
		}
		for _, w := range res.Warnings {
			require.NotContains(t, w.String(), "SENTINEL", "document %d", i)
		}
	}
	res, err := (&Loader{LookupEnv: lookupIn(env)}).LoadBytes(context.Background(), "leak.yaml", []byte(strings.Join(docs[:9], "\n---\n")))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "SENTINEL")
	require.GreaterOrEqual(t, len(unjoin(err)), 8)
	for _, w := range res.Warnings {
		require.NotContains(t, w.String(), "SENTINEL")
	}
}

func TestErrorFormatting(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Source: Source{File: "f.yaml"}, Err: errors.New("boom")}, "f.yaml: boom"},
		{&Error{Source: Source{File: "f.yaml", Line: 3}, Err: errors.New("boom")}, "f.yaml:3: boom"},
		{&Error{Source: Source{File: "f.yaml", Doc: 2, Kind: "Secret"}, Err: errors.New("boom")}, "f.yaml: document 2: Secret: boom"},
		{
			&Error{Source: Source{File: "config.yaml", Doc: 3, Kind: "AIGatewayRoute", Namespace: "default", Name: "chat"}, Field: "spec.rules[0].backendRefs[1].weight", Err: errors.New("must be >= 0")},
			"config.yaml: document 3: AIGatewayRoute default/chat: spec.rules[0].backendRefs[1].weight: must be >= 0",
		},
	} {
		require.Equal(t, tc.want, tc.err.Error())
	}
	w := Warning{Source: Source{File: "f.yaml", Doc: 1, Kind: "X", Namespace: "n", Name: "m"}, Field: "spec.a", Message: "ignored"}
	require.Equal(t, "f.yaml: document 1: X n/m: spec.a: ignored", w.String())
}

func TestSplitDocuments(t *testing.T) {
	in := "\xef\xbb\xbf# c\n---\na: 1\n--- # sep\n\n# only comment\n---\nb: 2\r\n...\n--- {c: 3}\n---\n"
	docs := splitDocuments([]byte(in))
	require.Len(t, docs, 3)
	require.Equal(t, rawDoc{index: 1, line: 2, data: []byte("\na: 1\n")}, docs[0])
	require.Equal(t, 2, docs[1].index)
	require.Equal(t, 7, docs[1].line)
	require.Equal(t, "\nb: 2\r\n", string(docs[1].data))
	require.Equal(t, rawDoc{index: 3, line: 10, data: []byte("{c: 3}\n")}, docs[2])
}

// TestEmptyConfigurationIsAnError checks that a file set defining no
// resource is rejected, naming the files: an editor's truncate before its
// write must not reload into a configuration without routes.
func TestEmptyConfigurationIsAnError(t *testing.T) {
	const empty = "no resources: the file is empty or holds only comments (is it being written?); a configuration needs at least one resource"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // with "DIR/" for the directory
	}{
		{"empty file", map[string]string{"a.yaml": ""}, "DIR/a.yaml: " + empty},
		{"comments and separators", map[string]string{"a.yaml": "# nothing yet\n---\n---\n"}, "DIR/a.yaml: " + empty},
		{
			"every file of a directory empty", map[string]string{"a.yaml": "", "b.yml": "# later\n"},
			"DIR/a.yaml, DIR/b.yml: no resources: the files are empty or hold only comments (is it being written?); a configuration needs at least one resource",
		},
		{
			"only ignored documents", map[string]string{"a.yaml": "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: g}\n"},
			"DIR/a.yaml: no resources: every document is ignored (see the warnings); a configuration needs at least one resource",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			res, err := testLoader().Load(context.Background(), dir)
			require.EqualError(t, err, strings.ReplaceAll(tc.want, "DIR/", dir+string(filepath.Separator)))
			require.Nil(t, res.Config)
		})
	}

	// One resource is enough, even when it is not a route.
	res, err := testLoader().LoadBytes(context.Background(), "cm.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"))
	require.NoError(t, err)
	require.NotNil(t, res.Config)
	// An invalid resource counts as one: its own error is the only one.
	_, err = testLoader().LoadBytes(context.Background(), "bad.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad}\n"))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "no resources")
}

// TestParentRefToUndefinedGateway checks the warning for a route attached
// to a Gateway that no file defines: it is served on the default listener.
func TestParentRefToUndefinedGateway(t *testing.T) {
	route := strings.Replace(minimalRoute, "spec:\n", "spec:\n  parentRefs: [{name: gw}, {name: edge, namespace: infra}, {name: other, group: example.com, kind: Gateway}]\n", 1)
	res, err := testLoader().LoadBytes(context.Background(), "r.yaml", []byte(route+"---\n"+minimalBackend))
	require.NoError(t, err)
	require.Len(t, res.Config.Routes, 1)
	require.Equal(t, int32(1975), res.Config.Listeners()[0].Port)
	var got []string
	for _, w := range res.Warnings {
		got = append(got, w.String())
	}
	require.Equal(t, []string{
		"r.yaml: document 1: AIGatewayRoute default/chat: spec.parentRefs[0]: no file defines Gateway default/gw: the route is served on the default listener (port 1975)",
		"r.yaml: document 1: AIGatewayRoute default/chat: spec.parentRefs[1]: no file defines Gateway infra/edge: the route is served on the default listener (port 1975)",
	}, got)

	// Without parentRefs, the default listener is what the route asks for.
	res, err = testLoader().LoadBytes(context.Background(), "r.yaml", []byte(minimalRoute+"---\n"+minimalBackend))
	require.NoError(t, err)
	require.Empty(t, res.Warnings)
}
