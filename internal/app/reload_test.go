package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/httpproxy"
	"github.com/aigw-dev/aigw/internal/standalone"
)

func TestSummarize(t *testing.T) {
	cfg := &config.Config{
		Gateways: []config.Gateway{{Name: "default/gw", Listeners: []config.Listener{{Name: "l"}}}},
		Routes: []config.Route{
			{Name: "default/a", Rules: []config.Rule{
				{Matches: []config.Match{{Headers: []config.HeaderMatch{
					{Type: config.HeaderMatchExact, Name: "x-ai-eg-model", Value: "m0"},
					{Type: config.HeaderMatchExact, Name: "x-tenant", Value: "not-a-model"},
				}}}},
				{Matches: []config.Match{{Headers: []config.HeaderMatch{{Type: config.HeaderMatchRegularExpression, Name: "x-ai-eg-model", Value: "llama-.*"}}}}},
			}},
			{Name: "default/b", Rules: []config.Rule{{Matches: []config.Match{{Headers: []config.HeaderMatch{{Type: config.HeaderMatchExact, Name: "x-ai-eg-model", Value: "m0"}}}}}}},
			{Name: "default/pass", PassThrough: true},
		},
		Backends: []config.Backend{
			{Name: "default/p1", Pool: &config.Pool{Name: "default/pool"}},
			{Name: "default/pool/infpool", Pool: &config.Pool{Name: "default/pool"}},
			{Name: "default/openai"},
		},
	}
	require.Equal(t, "listeners=1 routes=3 backends=3 pools=1 models=[m0 regex:llama-.*]", summarize(cfg).String())

	// The model list is bounded.
	var rules []config.Rule
	for i := range 25 {
		rules = append(rules, config.Rule{Matches: []config.Match{{Headers: []config.HeaderMatch{{Type: config.HeaderMatchExact, Name: "x-ai-eg-model", Value: fmt.Sprintf("m%d", i)}}}}})
	}
	s := summarize(&config.Config{Routes: []config.Route{{Name: "r", Rules: rules}}})
	require.Len(t, s.Models, 25)
	require.Equal(t, "listeners=0 routes=1 backends=0 pools=0 models=[m0 m1 m2 m3 m4 m5 m6 m7 m8 m9 +15 more]", s.String())
}

// TestReloadConfig feeds reloadConfig a sequence of configurations and
// checks what it logs for each.
func TestReloadConfig(t *testing.T) {
	port := freeLoopbackPort(t)
	env := envOf(map[string]string{"UPSTREAM_KEY": "sk-upstream"})
	load := func(yaml string) *config.Config {
		res, err := (&standalone.Loader{LookupEnv: env}).LoadBytes(t.Context(), "test.yaml", []byte(yaml))
		require.NoError(t, err)
		return res.Config
	}
	plain := load(fmt.Sprintf(plainConfig, port))
	withKey := load(fmt.Sprintf(plainConfig, port) + credentialsDocs)
	noRoutes := load(strings.Split(fmt.Sprintf(plainConfig, port), "---\napiVersion: aigateway.envoyproxy.io/v1beta1\nkind: AIGatewayRoute")[0])
	require.Empty(t, noRoutes.Routes)

	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	gw := httpproxy.New(httpproxy.Options{})
	defer gw.Close()
	require.NoError(t, gw.Apply(plain))
	var next *config.Config
	var nextErr error
	p := gatewayParams{
		initial: plain,
		logger:  logger,
		reload: func(context.Context) (*standalone.Result, error) {
			return &standalone.Result{Config: next}, nextErr
		},
	}
	listeners := &listenerSet{settings: listenSettings{host: "127.0.0.1", base: t.Context()}, handler: gw, logger: logger,
		serve: func(srv *http.Server, ln net.Listener) { go func() { _ = srv.Serve(ln) }() }, drain: time.Second}
	require.NoError(t, listeners.reconcile(plain))
	t.Cleanup(func() {
		for _, srv := range listeners.servers() {
			_ = srv.Close()
		}
	})
	reload := func(p gatewayParams, cfg *config.Config, err error) string {
		logs.Reset()
		next, nextErr = cfg, err
		reloadConfig(t.Context(), p, gw, listeners)
		return logs.String()
	}

	// Credentials appear on a gateway bound to every interface: warned once.
	out := reload(p, withKey, nil)
	require.Contains(t, out, `msg="configuration reloaded" listeners=1 routes=1 backends=1 pools=0 models=[gpt-4o-mini]`)
	require.Contains(t, out, securityWarning)
	require.Contains(t, out, fmt.Sprintf("listen=[*:%d] credentials=[default/upstream]", port))
	out = reload(p, withKey, nil)
	require.Contains(t, out, "configuration reloaded")
	require.NotContains(t, out, securityWarning, "the exposure did not start with this reload")

	// Bound to loopback: never.
	require.NoError(t, gw.Apply(plain))
	loopback := p
	loopback.listenHost = "127.0.0.1"
	out = reload(loopback, withKey, nil)
	require.Contains(t, out, "configuration reloaded")
	require.NotContains(t, out, securityWarning)

	// Every route removed: the warning names them.
	out = reload(p, noRoutes, nil)
	require.Contains(t, out, "routes=0")
	require.Contains(t, out, `level=WARN msg="the reloaded configuration has no routes: every request now gets 404" removed=[default/chat]`)
	out = reload(p, noRoutes, nil)
	require.NotContains(t, out, "no routes", "nothing vanished this time")
	require.Empty(t, gw.Config().Routes)

	// A rejected reload keeps the running configuration and logs no summary.
	out = reload(p, nil, fmt.Errorf("broken.yaml: document 1: bad"))
	require.Contains(t, out, "configuration rejected")
	require.NotContains(t, out, "configuration reloaded")
	require.Same(t, noRoutes, gw.Config())
}

// freeLoopbackPort returns a TCP port free on 127.0.0.1 a moment ago.
func freeLoopbackPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
