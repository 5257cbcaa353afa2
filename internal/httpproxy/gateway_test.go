package httpproxy

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/metrics"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

// testGateway is a Gateway served by httptest with a Prometheus registry.
type testGateway struct {
	*Gateway
	srv *httptest.Server
	reg *prometheus.Registry
	log *syncbuf.Buffer
}

func newTestGateway(t *testing.T, cfg *config.Config) *testGateway {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.NewPrometheus(reg, metrics.Options{})
	require.NoError(t, err)
	logBuf := &syncbuf.Buffer{}
	g := New(Options{Metrics: m, AccessLog: slog.New(slog.NewJSONHandler(logBuf, nil))})
	require.NoError(t, g.Apply(cfg))
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	t.Cleanup(g.Close)
	return &testGateway{Gateway: g, srv: srv, reg: reg, log: logBuf}
}

func (tg *testGateway) client(opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(tg.srv.URL + "/v1"), option.WithAPIKey("client-key"), option.WithMaxRetries(0),
	}, opts...)...)
}

// backendOf returns a config.Backend for a fake upstream.
func backendOf(name string, f *fakeOpenAI) config.Backend {
	host, port := f.hostPort()
	return config.Backend{Name: name, Schema: config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"}, Endpoints: []config.Endpoint{{Host: host, Port: port}}}
}

func modelRule(model string, refs ...config.BackendRef) config.Rule {
	return config.Rule{
		Name:          "rule-" + model,
		Matches:       []config.Match{{Headers: []config.HeaderMatch{{Type: config.HeaderMatchExact, Name: "x-ai-eg-model", Value: model}}}},
		BackendRefs:   refs,
		Timeouts:      config.Timeouts{Request: config.Duration(30 * time.Second)},
		Retry:         defaultRetry(),
		ModelsOwnedBy: "Envoy AI Gateway",
	}
}

func defaultRetry() config.RetryPolicy {
	return config.RetryPolicy{NumRetries: 2, NumAttemptsPerPriority: 1, On: []config.RetryOn{config.RetryOnConnectFailure, config.RetryOnReset, config.RetryOn5xx, config.RetryOnRetriableStatus}, StatusCodes: []int32{429}}
}

func ref(name string, priority uint32) config.BackendRef {
	return config.BackendRef{Backend: name, Weight: 1, Priority: priority}
}

func TestChatCompletionNonStreaming(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{backendOf("default/a", up)},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("gpt-test", ref("default/a", 0))}}},
	}
	tg := newTestGateway(t, cfg)
	c := tg.client()
	resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-test",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	require.NoError(t, err)
	require.Equal(t, "hello from a", resp.Choices[0].Message.Content)
	require.EqualValues(t, 8, resp.Usage.TotalTokens)
	seen := up.requests()
	require.Len(t, seen, 1)
	require.Equal(t, "/v1/chat/completions", seen[0].Path)
	require.Equal(t, "gpt-test", seen[0].Header.Get("X-Ai-Eg-Model"))
	require.Equal(t, "Bearer client-key", seen[0].Header.Get("Authorization"), "without a policy the client's credentials pass through")
}

func TestUnknownModel404(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{backendOf("default/a", up)},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("gpt-test", ref("default/a", 0))}}},
	}
	tg := newTestGateway(t, cfg)
	c := tg.client()
	_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "nope", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	var apiErr *openai.Error
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, http.StatusNotFound, apiErr.StatusCode)
	require.Equal(t, "model_not_found", apiErr.Code)
	require.Empty(t, up.requests())
}
