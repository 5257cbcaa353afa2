package processor

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/config"
)

// gatewaysConfig has two Gateways: "public" (a client API key, a 1 KiB
// body limit) with one listener, and "internal" with two listeners of one
// port told apart by hostname. Route "public" is on public's listener,
// "a" on internal's listener a, "shared" on public and internal's svc.
func gatewaysConfig() *config.Config {
	route := func(name, model string, listeners ...string) config.Route {
		return config.Route{Name: "default/" + name, Listeners: listeners, Rules: []config.Rule{{Name: "r",
			Matches:     []config.Match{{Headers: []config.HeaderMatch{{Type: config.HeaderMatchExact, Name: "x-ai-eg-model", Value: model}}}},
			BackendRefs: []config.BackendRef{{Backend: "b", Weight: 1}}}}}
	}
	return &config.Config{
		Version: config.Version,
		Gateways: []config.Gateway{
			{Name: "default/public", Listeners: []config.Listener{{Name: "default/public/http", Port: 8080}}, MaxRequestBodyBytes: 1024,
				ClientAuth: &config.ClientAuth{Policy: "default/keys", APIKey: &config.APIKeyAuthentication{
					Clients: []config.APIKeyClient{{ID: "team-a", Key: "sk-a"}}, Headers: []string{"x-api-key"}}}},
			{Name: "default/internal", Listeners: []config.Listener{
				{Name: "default/internal/a", Port: 9090, Hostname: "a.internal"},
				{Name: "default/internal/svc", Port: 9090, Hostname: "*.svc.internal"},
			}},
		},
		Backends: []config.Backend{{Name: "b", Schema: config.Schema{Name: config.SchemaOpenAI}, Endpoints: []config.Endpoint{{Host: "127.0.0.1", Port: 9}}}},
		Routes: []config.Route{
			route("public", "m-public", "default/public/http"),
			route("a", "m-a", "default/internal/a"),
			route("shared", "m-shared", "default/public/http", "default/internal/svc"),
		},
	}
}

// TestListenerViews: a request sees the routes attached to its listener
// (picked among those of its address by host) and its Gateway's policies;
// a request whose listener the transport does not know, with several
// Gateways, sees no route.
func TestListenerViews(t *testing.T) {
	rt, err := New(Options{}).Compile(gatewaysConfig())
	require.NoError(t, err)
	internal := []string{"default/internal/a", "default/internal/svc"}
	public := []string{"default/public/http"}
	for _, tc := range []struct {
		name      string
		listeners []string
		host, key string
		model     string
		want      int // 0: routed
		maxBody   int64
	}{
		{"public, with its key", public, "gw.example.com", "sk-a", "m-public", 0, 1024},
		{"public, without its key", public, "gw.example.com", "", "m-public", http.StatusUnauthorized, 1024},
		{"public: not internal's route", public, "gw.example.com", "sk-a", "m-a", http.StatusNotFound, 1024},
		{"public: the shared route", public, "gw.example.com", "sk-a", "m-shared", 0, 1024},
		{"internal a by host", internal, "a.internal:9090", "", "m-a", 0, DefaultMaxRequestBodyBytes},
		{"internal a: not svc's route", internal, "a.internal", "", "m-shared", http.StatusNotFound, DefaultMaxRequestBodyBytes},
		{"internal svc by wildcard", internal, "x.svc.internal", "", "m-shared", 0, DefaultMaxRequestBodyBytes},
		{"internal svc: not a's route", internal, "x.svc.internal", "", "m-a", http.StatusNotFound, DefaultMaxRequestBodyBytes},
		{"a host no listener has", internal, "other.example.com", "", "m-a", http.StatusNotFound, DefaultMaxRequestBodyBytes},
		{"a listener this configuration lacks", []string{"default/gone/http"}, "a.internal", "", "m-a", http.StatusNotFound, DefaultMaxRequestBodyBytes},
		{"unknown listener, several Gateways", nil, "a.internal", "sk-a", "m-a", http.StatusNotFound, DefaultMaxRequestBodyBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.key != "" {
				h.Set("x-api-key", tc.key)
			}
			s := rt.Start(RequestInfo{Method: http.MethodPost, Path: "/v1/chat/completions", URI: "/v1/chat/completions", Host: tc.host,
				Header: h, Start: time.Now(), Listeners: tc.listeners})
			require.Equal(t, tc.maxBody, s.MaxRequestBodyBytes())
			_, err := s.RequestHeaders()
			if err == nil {
				err = s.RequestBody([]byte(`{"model":"` + tc.model + `","messages":[]}`))
			}
			if tc.want == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, tc.want, apierror.Classify(err).Status, "%v", err)
		})
	}
}

// TestOneGatewayUnknownListener: with one Gateway, a request whose
// listener the transport does not know (ext_proc) sees every route, with
// that Gateway's policies.
func TestOneGatewayUnknownListener(t *testing.T) {
	cfg := gatewaysConfig()
	cfg.Gateways = cfg.Gateways[:1]
	rt, err := New(Options{}).Compile(cfg)
	require.NoError(t, err)
	s := rt.Start(RequestInfo{Method: http.MethodPost, Path: "/v1/chat/completions", URI: "/v1/chat/completions", Header: http.Header{"X-Api-Key": {"sk-a"}}, Start: time.Now()})
	require.Equal(t, int64(1024), s.MaxRequestBodyBytes())
	_, err = s.RequestHeaders()
	require.NoError(t, err)
	require.NoError(t, s.RequestBody([]byte(`{"model":"m-a","messages":[]}`)), "every route, the other Gateway's listeners' too")
}
