package httpproxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
)

func streamConfig(up *fakeOpenAI, costs []config.RequestCost) *config.Config {
	return &config.Config{Version: config.Version,
		Backends: []config.Backend{backendOf("default/a", up)},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ref("default/a", 0))}, RequestCosts: costs}},
	}
}

var tokenCosts = []config.RequestCost{
	{MetadataKey: "llm_input_token", Type: config.CostInputToken},
	{MetadataKey: "llm_output_token", Type: config.CostOutputToken},
	{MetadataKey: "weighted", Type: config.CostCEL, CEL: "backend == 'a.default' ? input_tokens + 4u * output_tokens : 0u"},
}

func TestStreamingPassThrough(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	tg := newTestGateway(t, streamConfig(up, nil))
	c := tg.client()
	s := c.Chat.Completions.NewStreaming(context.Background(), chatParams("m"))
	var text strings.Builder
	chunks := 0
	for s.Next() {
		chunks++
		for _, ch := range s.Current().Choices {
			text.WriteString(ch.Delta.Content)
		}
	}
	require.NoError(t, s.Err())
	require.Equal(t, "tok0 tok1 tok2 ", text.String())
	require.Equal(t, 5, chunks)
	// Without costs the gateway does not touch the body.
	require.NotContains(t, up.requests()[0].Body, "stream_options")
}

func TestStreamingForcedUsageIsHidden(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	tg := newTestGateway(t, streamConfig(up, tokenCosts))
	c := tg.client()
	s := c.Chat.Completions.NewStreaming(context.Background(), chatParams("m"))
	sawUsage := false
	for s.Next() {
		if s.Current().Usage.TotalTokens > 0 {
			sawUsage = true
		}
		require.NotEmpty(t, s.Current().Choices, "a client that did not ask for usage must not get the usage-only chunk")
	}
	require.NoError(t, s.Err())
	require.False(t, sawUsage)
	so, _ := up.requests()[0].Body["stream_options"].(map[string]any)
	require.Equal(t, true, so["include_usage"], "costs force include_usage upstream")
	// The gateway still accounted the tokens.
	require.Eventually(t, func() bool { return strings.Contains(tg.log.String(), `"llm_output_token":3,"weighted":17`) }, 2*time.Second, 10*time.Millisecond)
	require.Equal(t, 2, testutil.CollectAndCount(tg.reg, "gen_ai_client_token_usage"))
}

func TestStreamingClientAskedUsage(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	tg := newTestGateway(t, streamConfig(up, tokenCosts))
	c := tg.client()
	p := chatParams("m")
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	s := c.Chat.Completions.NewStreaming(context.Background(), p)
	var usage int64
	for s.Next() {
		if u := s.Current().Usage.TotalTokens; u > 0 {
			usage = u
		}
	}
	require.NoError(t, s.Err())
	require.EqualValues(t, 8, usage)
}

func TestStreamingMidStreamFailures(t *testing.T) {
	tests := []struct {
		name, fault string
		idle        time.Duration
		wantErr     string
	}{
		{name: "reset mid-stream", fault: "reset-mid-stream", wantErr: "upstream"},
		{name: "stalls past stream idle timeout", fault: "stall-mid-stream", idle: 100 * time.Millisecond, wantErr: "did not answer in time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newFakeOpenAI(t, "a")
			up.setFault(tc.fault)
			secondary := newFakeOpenAI(t, "b")
			cfg := streamConfig(up, nil)
			cfg.Backends = append(cfg.Backends, backendOf("default/b", secondary))
			cfg.Routes[0].Rules[0].BackendRefs = append(cfg.Routes[0].Rules[0].BackendRefs, ref("default/b", 1))
			cfg.Routes[0].Rules[0].Timeouts.StreamIdle = config.Duration(tc.idle)
			tg := newTestGateway(t, cfg)
			c := tg.client()
			s := c.Chat.Completions.NewStreaming(context.Background(), chatParams("m"))
			var text strings.Builder
			for s.Next() {
				for _, ch := range s.Current().Choices {
					text.WriteString(ch.Delta.Content)
				}
			}
			require.Error(t, s.Err())
			require.Contains(t, s.Err().Error(), tc.wantErr)
			require.Equal(t, "tok0 ", text.String(), "what was streamed before the failure reaches the client")
			require.Empty(t, secondary.requests(), "a started stream never fails over")
		})
	}
}

func TestClientCancelCancelsUpstream(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	up.setFault("stall-mid-stream")
	tg := newTestGateway(t, streamConfig(up, nil))
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tg.srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","stream":true,"messages":[]}`))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	buf := make([]byte, 512)
	_, err = resp.Body.Read(buf)
	require.NoError(t, err)
	cancel()
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	// The upstream handler returns only when its request context ends, which
	// happens when the gateway cancels the upstream request.
	require.Eventually(t, func() bool { return strings.Contains(tg.log.String(), `"status":499`) }, 5*time.Second, 10*time.Millisecond, tg.log.String())
}

func TestInvalidCELCostRejected(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	tg := newTestGateway(t, streamConfig(up, nil))
	bad := streamConfig(up, []config.RequestCost{{MetadataKey: "k", Type: config.CostCEL, CEL: "input_tokens * 0.5"}})
	require.ErrorContains(t, tg.Apply(bad), `route default/r: llmRequestCosts: cost "k": invalid CEL expression`)
}
