package app

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

// plainConfig is one route to one upstream without credentials, served on
// the port given as the formatting argument.
const plainConfig = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: aigw
  listeners: [{name: http, protocol: HTTP, port: %d}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: chat}
spec:
  parentRefs: [{name: gw}]
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: gpt-4o-mini}]}]
      backendRefs: [{name: upstream}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: upstream}
spec:
  schema: {name: OpenAI}
  backendRef: {name: upstream, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: upstream}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: 9}}]
`

// credentialsDocs give plainConfig's upstream an API key, from
// $UPSTREAM_KEY.
const credentialsDocs = `---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: upstream-key}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: upstream}]
  type: APIKey
  apiKey: {secretRef: {name: upstream-key}}
---
apiVersion: v1
kind: Secret
metadata: {name: upstream-key}
stringData: {apiKey: "${UPSTREAM_KEY}"}
`

const securityWarning = "SECURITY: the gateway listens beyond this host"

func TestCredentialExposure(t *testing.T) {
	withKey := &config.Config{Backends: []config.Backend{
		{Name: "default/plain"},
		{Name: "default/openai", Auth: &config.Auth{Type: config.AuthAPIKey}},
	}}
	withoutKey := &config.Config{Backends: []config.Backend{{Name: "default/plain"}}}
	on := func(addrs ...string) []config.Listener {
		var ls []config.Listener
		for i, a := range addrs {
			ls = append(ls, config.Listener{Name: fmt.Sprint(i), Address: a, Port: 1975})
		}
		return ls
	}
	for _, tc := range []struct {
		name       string
		listeners  []config.Listener
		listenHost string
		cfg        *config.Config
		want       []string // exposed addresses; nil: not exposed
	}{
		{name: "all interfaces with credentials", listeners: on(""), cfg: withKey, want: []string{"*:1975"}},
		{name: "0.0.0.0 with credentials", listeners: on("0.0.0.0"), cfg: withKey, want: []string{"0.0.0.0:1975"}},
		{name: "IPv6 any with credentials", listeners: on("::"), cfg: withKey, want: []string{"[::]:1975"}},
		{name: "LAN address with credentials", listeners: on("192.168.1.5"), cfg: withKey, want: []string{"192.168.1.5:1975"}},
		{name: "flag overrides loopback listener", listeners: on("127.0.0.1"), listenHost: "0.0.0.0", cfg: withKey, want: []string{"0.0.0.0:1975"}},
		{name: "loopback", listeners: on("127.0.0.1"), cfg: withKey},
		{name: "IPv6 loopback", listeners: on("::1"), cfg: withKey},
		{name: "flag binds loopback", listeners: on(""), listenHost: "127.0.0.1", cfg: withKey},
		{name: "flag binds localhost", listeners: on(""), listenHost: "localhost", cfg: withKey},
		{name: "no credentials", listeners: on("0.0.0.0", ""), cfg: withoutKey},
		{name: "one listener exposed of two", listeners: on("127.0.0.1", "10.0.0.1"), cfg: withKey, want: []string{"10.0.0.1:1975"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, exposed := credentialExposure(tc.listeners, tc.listenHost, tc.cfg)
			require.Equal(t, tc.want != nil, exposed)
			if exposed {
				require.Equal(t, tc.want, e.Addresses)
				require.Equal(t, []string{"default/openai"}, e.Credentials)
			}
		})
	}
}

// TestRunAutoconfigSafeDefaults runs `aigw run` configured from
// OPENAI_API_KEY: it binds 127.0.0.1 and does not warn; told to bind every
// interface it warns that the key is exposed.
func TestRunAutoconfigSafeDefaults(t *testing.T) {
	env := map[string]string{"OPENAI_API_KEY": "sk-test-not-a-key", "AIGW_CONFIG_HOME": t.TempDir()}

	port, admin := freePort(t), freePort(t)
	logs := serveOnce(t, env, admin, fmt.Sprintf("--port=%d", port), fmt.Sprintf("--admin-port=%d", admin))
	require.Contains(t, logs, "configured from the environment")
	require.Contains(t, logs, fmt.Sprintf("address=127.0.0.1:%d", port))
	require.Contains(t, logs, `msg="configuration loaded" listeners=1 routes=1 backends=1 pools=0 models=[regex:.*]`)
	require.NotContains(t, logs, securityWarning)
	require.NotContains(t, logs, "sk-test-not-a-key")

	port, admin = freePort(t), freePort(t)
	logs = serveOnce(t, env, admin, "--listen-address=0.0.0.0", fmt.Sprintf("--port=%d", port), fmt.Sprintf("--admin-port=%d", admin))
	require.Regexp(t, fmt.Sprintf(`address=(0\.0\.0\.0|\[::\]):%d`, port), logs)
	require.Contains(t, logs, securityWarning)
	require.Contains(t, logs, fmt.Sprintf("listen=[0.0.0.0:%d] credentials=[default/openai]", port))
	require.NotContains(t, logs, "sk-test-not-a-key")
}

// TestRunFileExposureWarning runs `aigw run FILE` bound to every interface,
// with flags after the file: the warning needs credentials.
func TestRunFileExposureWarning(t *testing.T) {
	env := map[string]string{"UPSTREAM_KEY": "sk-upstream"}
	for _, tc := range []struct {
		name string
		docs string
		warn bool
	}{
		{name: "credentials", docs: credentialsDocs, warn: true},
		{name: "no credentials", docs: "", warn: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port, admin := freePort(t), freePort(t)
			file := writeConfig(t, fmt.Sprintf(plainConfig, port)+tc.docs)
			logs := serveOnce(t, env, admin, file, "--listen-address", "0.0.0.0", fmt.Sprintf("--admin-port=%d", admin), "--watch=false")
			require.Regexp(t, fmt.Sprintf(`address=(0\.0\.0\.0|\[::\]):%d`, port), logs)
			require.Contains(t, logs, "models=[gpt-4o-mini]")
			require.Equal(t, tc.warn, strings.Contains(logs, securityWarning), logs)
		})
	}
}

// TestRunPortOnlyForAutoconfig checks --port is refused with a file, whose
// Gateway has its own listeners.
func TestRunPortOnlyForAutoconfig(t *testing.T) {
	file := writeConfig(t, fmt.Sprintf(plainConfig, 1975))
	err := mainEnv(t.Context(), []string{"run", file, "--port=2000"}, envOf(nil), &syncbuf.Buffer{}, &syncbuf.Buffer{})
	require.ErrorIs(t, err, ErrUsage)
	require.ErrorContains(t, err, "--port applies only")
}
