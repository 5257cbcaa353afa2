package httpproxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
)

func chatParams(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
}

// closedPort returns a loopback port with nothing listening.
func closedPort(t *testing.T) int32 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return int32(port)
}

func TestFallbackToNextPriority(t *testing.T) {
	tests := []struct {
		name      string
		fault     string
		primary   func(t *testing.T, f *fakeOpenAI) config.Backend
		timeouts  config.Timeouts
		wantTries int
	}{
		{name: "5xx", fault: "status=503", wantTries: 1},
		{name: "429", fault: "status=429", wantTries: 1},
		{name: "500", fault: "status=500", wantTries: 1},
		{name: "reset before response", fault: "reset", wantTries: 1},
		{name: "hang past per-try timeout", fault: "hang", timeouts: config.Timeouts{BackendRequest: config.Duration(100 * time.Millisecond)}, wantTries: 1},
		{name: "slow first byte past stream idle timeout", fault: "slow-first-byte=2s", timeouts: config.Timeouts{StreamIdle: config.Duration(100 * time.Millisecond)}, wantTries: 1},
		{name: "connect refused", primary: func(t *testing.T, _ *fakeOpenAI) config.Backend {
			return config.Backend{Name: "default/primary", Schema: config.Schema{Name: config.SchemaOpenAI}, Endpoints: []config.Endpoint{{Host: "127.0.0.1", Port: closedPort(t)}}}
		}, wantTries: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			primary := newFakeOpenAI(t, "primary")
			primary.setFault(tc.fault)
			secondary := newFakeOpenAI(t, "secondary")
			pb := backendOf("default/primary", primary)
			if tc.primary != nil {
				pb = tc.primary(t, primary)
			}
			rule := modelRule("m", ref("default/primary", 0), ref("default/secondary", 1))
			rule.Timeouts.BackendRequest = tc.timeouts.BackendRequest
			rule.Timeouts.StreamIdle = tc.timeouts.StreamIdle
			cfg := &config.Config{Version: config.Version,
				Backends: []config.Backend{pb, backendOf("default/secondary", secondary)},
				Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{rule}}},
			}
			tg := newTestGateway(t, cfg)
			c := tg.client()
			var hdr http.Header
			resp, err := c.Chat.Completions.New(context.Background(), chatParams("m"), captureHeaders(&hdr))
			require.NoError(t, err)
			require.Equal(t, "hello from secondary", resp.Choices[0].Message.Content)
			require.Equal(t, "secondary", hdr.Get("X-Served-By"))
			require.Len(t, primary.requests(), tc.wantTries)
			require.Len(t, secondary.requests(), 1)
		})
	}
}

// captureHeaders stores the response headers of the call.
func captureHeaders(dst *http.Header) option.RequestOption {
	return option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		resp, err := next(r)
		if resp != nil {
			*dst = resp.Header
		}
		return resp, err
	})
}

func TestNoFallbackOnClientError(t *testing.T) {
	primary := newFakeOpenAI(t, "primary")
	primary.setFault("status=400")
	secondary := newFakeOpenAI(t, "secondary")
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{backendOf("default/primary", primary), backendOf("default/secondary", secondary)},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ref("default/primary", 0), ref("default/secondary", 1))}}},
	}
	tg := newTestGateway(t, cfg)
	c := tg.client()
	_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
	var apiErr *openai.Error
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, 400, apiErr.StatusCode)
	require.Contains(t, apiErr.Message, "injected 400 by primary", "the upstream's error reaches the client")
	require.Empty(t, secondary.requests())
}

func TestAllBackendsFail(t *testing.T) {
	tests := []struct {
		name       string
		fault      string
		timeouts   config.Timeouts
		wantStatus int
	}{
		{name: "last 503 is relayed", fault: "status=503", wantStatus: 503},
		{name: "resets give 502", fault: "reset", wantStatus: 502},
		{name: "per-try timeouts give 504", fault: "hang", timeouts: config.Timeouts{BackendRequest: config.Duration(50 * time.Millisecond)}, wantStatus: 504},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newFakeOpenAI(t, "a")
			a.setFault(tc.fault)
			b := newFakeOpenAI(t, "b")
			b.setFault(tc.fault)
			rule := modelRule("m", ref("default/a", 0), ref("default/b", 1))
			rule.Timeouts.BackendRequest = tc.timeouts.BackendRequest
			cfg := &config.Config{Version: config.Version,
				Backends: []config.Backend{backendOf("default/a", a), backendOf("default/b", b)},
				Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{rule}}},
			}
			tg := newTestGateway(t, cfg)
			c := tg.client()
			_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
			var apiErr *openai.Error
			require.True(t, errors.As(err, &apiErr), "%v", err)
			require.Equal(t, tc.wantStatus, apiErr.StatusCode)
			// NumRetries 2 gives three attempts over two tiers: a, b, b.
			require.Len(t, a.requests(), 1)
			require.Len(t, b.requests(), 2)
		})
	}
}

func TestRequestTimeout504(t *testing.T) {
	a := newFakeOpenAI(t, "a")
	a.setFault("hang")
	rule := modelRule("m", ref("default/a", 0))
	rule.Timeouts.Request = config.Duration(100 * time.Millisecond)
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{backendOf("default/a", a)},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{rule}}},
	}
	tg := newTestGateway(t, cfg)
	c := tg.client()
	_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
	var apiErr *openai.Error
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, http.StatusGatewayTimeout, apiErr.StatusCode)
	require.Equal(t, "request_timeout", apiErr.Code)
}

func TestWeightedSplit(t *testing.T) {
	a := newFakeOpenAI(t, "a")
	b := newFakeOpenAI(t, "b")
	ra, rb := ref("default/a", 0), ref("default/b", 0)
	ra.Weight, rb.Weight = 3, 1
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{backendOf("default/a", a), backendOf("default/b", b)},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ra, rb)}}},
	}
	tg := newTestGateway(t, cfg)
	c := tg.client()
	const n = 400
	for range n {
		_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
		require.NoError(t, err)
	}
	na, nb := len(a.requests()), len(b.requests())
	require.Equal(t, n, na+nb)
	// 3:1 split: expect ~300/100; allow a wide margin (p < 1e-6 to fail by chance).
	require.InDelta(t, 300, na, 60, "a got %d, b got %d", na, nb)
}
