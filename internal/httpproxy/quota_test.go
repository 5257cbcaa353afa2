package httpproxy

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/tracing"
)

// TestBackendQuotaFallsBack: a backend whose quota for the model is spent
// is skipped for the next backend of the route, at once (no back-off),
// and is charged only for what it served; with no other backend the
// client gets 429 quota_exceeded. The skipped backend shows in the trace as
// a failed attempt.
func TestBackendQuotaFallsBack(t *testing.T) {
	primary, secondary := newFakeOpenAI(t, "primary"), newFakeOpenAI(t, "secondary")
	pb := backendOf("default/primary", primary)
	pb.Quota = &config.BackendQuota{Policy: "default/q", Models: []config.ModelQuota{{
		Model: "m", Default: &config.QuotaBucket{Limit: 20, Window: config.Duration(time.Hour)}, // 8 tokens a request
		Rules: []config.QuotaBucket{{Limit: 1, Window: config.Duration(time.Hour), Shadow: true,
			Selectors: []config.RateLimitSelector{{Headers: []config.RateLimitHeaderMatch{{Name: "x-tenant", Type: config.RateLimitDistinct}}}}}},
	}}}
	rule := modelRule("m", ref("default/primary", 0), ref("default/secondary", 1))
	rule.Retry.NumAttemptsPerPriority = rule.Retry.NumRetries + 1 // Envoy Gateway's default: every attempt on the first tier
	rule.Retry.BackOffBase = config.Duration(2 * time.Second)
	cfg := &config.Config{Version: config.Version, Backends: []config.Backend{pb, backendOf("default/secondary", secondary)},
		Routes: []config.Route{{Name: "default/r", Rules: []config.Rule{rule}}}}
	tg, rec := tracedGateway(t, cfg, tracing.Content{}, sdktrace.AlwaysSample())
	c := tg.client(option.WithHeader("x-tenant", "a"))

	servedBy := func() string {
		var hdr http.Header
		_, err := c.Chat.Completions.New(context.Background(), chatParams("m"), captureHeaders(&hdr))
		require.NoError(t, err)
		return hdr.Get("X-Served-By")
	}
	for range 3 { // 0, 8, 16 tokens spent when checked: all under 20
		require.Equal(t, "primary", servedBy())
	}
	began := time.Now()
	require.Equal(t, "secondary", servedBy(), "the spent backend is skipped")
	require.Less(t, time.Since(began), time.Second, "no back-off for a skipped backend")
	require.Len(t, primary.requests(), 3)
	tree := ended(t, rec, 4*2+1) // a request and an attempt span each, and the skipped attempt
	var last sdktrace.ReadOnlySpan
	for _, sp := range tree.all {
		if sp.SpanKind() == trace.SpanKindServer {
			last = sp // the recorder keeps the order spans ended in
		}
	}
	attempts := tree.childrenOf(last)
	require.Len(t, attempts, 2)
	skipped, served := attrsOf(attempts[0]), attrsOf(attempts[1])
	require.Equal(t, "default/primary", skipped[tracing.Backend].AsString())
	require.Equal(t, "rate_limit_error", skipped[tracing.ErrorType].AsString())
	require.Equal(t, "default/secondary", served[tracing.Backend].AsString())
	require.NotContains(t, served, tracing.ErrorType)

	// Without another backend: 429 quota_exceeded.
	only := modelRule("m", ref("default/primary", 0))
	cfg.Routes[0].Rules = []config.Rule{only}
	require.NoError(t, tg.Apply(cfg))
	_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
	var apiErr *openai.Error
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)
	require.Equal(t, "quota_exceeded", apiErr.Code)
	require.Len(t, primary.requests(), 3)
}
