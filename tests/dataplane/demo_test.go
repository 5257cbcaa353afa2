package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/app"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

// TestDemo runs the README's quick-start command, `aigw demo`, and uses it
// as the README says.
func TestDemo(t *testing.T) {
	port, adminPort := freePort(t), freePort(t)
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Main(ctx, []string{"demo", fmt.Sprintf("--port=%d", port), fmt.Sprintf("--admin-port=%d", adminPort), "--time-scale=0.05"}, stdout, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "Press Ctrl-C to stop.") }, 20*time.Second, 20*time.Millisecond, "demo did not start")
	require.Contains(t, stderr.String(), fmt.Sprintf("curl -s http://127.0.0.1:%d/v1/chat/completions", port))

	c := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	models, err := c.Models.List(context.Background())
	require.NoError(t, err)
	require.Len(t, models.Data, 1)
	resp, err := c.Chat.Completions.New(context.Background(), chat(models.Data[0].ID))
	require.NoError(t, err)
	require.NotEmpty(t, resp.Choices[0].Message.Content)
	s := c.Chat.Completions.NewStreaming(context.Background(), chat(models.Data[0].ID))
	n := 0
	for s.Next() {
		n++
	}
	require.NoError(t, s.Err())
	require.Positive(t, n)

	m, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", adminPort))
	require.NoError(t, err)
	m.Body.Close()
	require.Equal(t, http.StatusOK, m.StatusCode)
}

// TestDemoTraceAndBudget runs `aigw demo --trace --token-budget`, as the
// README shows it: each request's spans reach stdout, and a user's requests
// are refused once their tokens are spent.
func TestDemoTraceAndBudget(t *testing.T) {
	port, adminPort := freePort(t), freePort(t)
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Main(ctx, []string{"demo", "--trace", "--token-budget=60", "--access-log=off", fmt.Sprintf("--port=%d", port), fmt.Sprintf("--admin-port=%d", adminPort), "--time-scale=0.05"}, stdout, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "Press Ctrl-C to stop.") }, 20*time.Second, 20*time.Millisecond, "demo did not start")
	c := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	models, err := c.Models.List(context.Background())
	require.NoError(t, err)
	demoModel := models.Data[0].ID
	_, err = c.Chat.Completions.New(context.Background(), chat(demoModel))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return strings.Contains(stdout.String(), `"Name":"chat `+demoModel+`"`) && strings.Contains(stdout.String(), `"Name":"pick default/`)
	}, 10*time.Second, 20*time.Millisecond, "stdout:\n%s", stdout)
	require.Contains(t, stdout.String(), `"gen_ai.usage.output_tokens"`)
	require.NotContains(t, stdout.String(), "Hello there", "no prompt content by default")

	for i := 0; ; i++ {
		_, err := c.Chat.Completions.New(context.Background(), chat(demoModel), option.WithHeader("x-user-id", "alice"))
		var apiErr *openai.Error
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests {
			break
		}
		require.NoError(t, err)
		require.Less(t, i, 60, "60 tokens an hour never ran out")
	}
	_, err = c.Chat.Completions.New(context.Background(), chat(demoModel), option.WithHeader("x-user-id", "bob"))
	require.NoError(t, err, "each user has a budget")
}

func TestDemoPrintConfig(t *testing.T) {
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	require.NoError(t, app.Main(context.Background(), []string{"demo", "--print-config", "--port=1975"}, stdout, stderr))
	require.Contains(t, stdout.String(), "kind: AIGatewayRoute")
	require.Contains(t, stdout.String(), "port: 1975")
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"run", "--log-format=xml", "x.yaml"}, {"run", "--no-such-flag"}} {
		err := app.Main(context.Background(), args, &syncbuf.Buffer{}, &syncbuf.Buffer{})
		require.ErrorIs(t, err, app.ErrUsage, "%v", args)
	}
}

func TestRunRejectsBrokenConfig(t *testing.T) {
	stderr := &syncbuf.Buffer{}
	err := app.Main(context.Background(), []string{"run", "testdata/broken.yaml"}, &syncbuf.Buffer{}, stderr)
	require.Error(t, err)
	require.Contains(t, err.Error(), "testdata/broken.yaml: document 1: AIGatewayRoute default/bad")
}
