package dataplane

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/app"
	"github.com/aigw-dev/aigw/internal/sim"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSims starts n simulated model servers with fast simulated time.
func startSims(t *testing.T, n int, model string) []string {
	opts := sim.DefaultOptions()
	opts.Port = 0
	opts.Instances = n
	opts.Model = model
	opts.TimeScale = 0.05
	ctx, cancel := context.WithCancel(context.Background())
	c, err := sim.Start(ctx, opts, nil)
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); _ = c.Wait() })
	return c.Addrs()
}

// gateway is an `aigw run` started in-process.
type gateway struct {
	url, admin string
	stdout     *syncbuf.Buffer
	stderr     *syncbuf.Buffer
	cancel     context.CancelFunc
	done       chan error
}

// startGateway runs `aigw run` with flags on configPath, whose listener is
// port.
func startGateway(t *testing.T, configPath string, port int, flags ...string) *gateway {
	t.Helper()
	adminPort := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	g := &gateway{
		url: fmt.Sprintf("http://127.0.0.1:%d", port), admin: fmt.Sprintf("http://127.0.0.1:%d", adminPort),
		stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, cancel: cancel, done: make(chan error, 1),
	}
	go func() {
		args := append([]string{"run", "--listen-address=127.0.0.1", fmt.Sprintf("--admin-port=%d", adminPort), "--shutdown-timeout=10s", "--drain-delay=0"}, flags...)
		g.done <- app.Main(ctx, append(args, configPath), g.stdout, g.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-g.done
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(g.admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "gateway did not become ready:\n%s", g.stderr)
	return g
}

func (g *gateway) client() openai.Client {
	return openai.NewClient(option.WithBaseURL(g.url+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
}

// gatewayDoc is the Gateway document the configurations start with: one
// HTTP listener on the port given as the first formatting argument.
const gatewayDoc = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: aigw
  listeners: [{name: http, protocol: HTTP, port: %[1]d}]
---
`

const configTemplate = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw}]
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: %s}]}]
      backendRefs:
        - {name: primary, priority: 0, modelNameOverride: %q}
        - {name: fallback, priority: 1, modelNameOverride: %q}
  llmRequestCosts:
    - {metadataKey: llm_total_token, type: TotalToken}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: primary}
spec:
  schema: {name: OpenAI}
  backendRef: {name: primary, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: fallback}
spec:
  schema: {name: OpenAI}
  backendRef: {name: fallback, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: primary}
spec:
  endpoints: [{ip: {address: %s, port: %s}}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: fallback}
spec:
  endpoints: [{ip: {address: %s, port: %s}}]
`

// writeConfig writes a route for routeModel whose backends are the
// simulators, called with the simulators' model name.
func writeConfig(t *testing.T, path string, port int, routeModel, primary, fallback string) {
	ph, pp, _ := net.SplitHostPort(primary)
	fh, fp, _ := net.SplitHostPort(fallback)
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, fmt.Appendf(nil, configTemplate, port, routeModel, model, model, ph, pp, fh, fp), 0o644))
	require.NoError(t, os.Rename(tmp, path))
}

const model = "meta-llama/Llama-3.1-8B-Instruct"

func chat(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: model, MaxTokens: openai.Int(8), Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello there")}}
}

func TestRunAgainstSimulator(t *testing.T) {
	sims := startSims(t, 2, model)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	port := freePort(t)
	writeConfig(t, cfg, port, model, sims[0], sims[1])
	g := startGateway(t, cfg, port)
	c := g.client()
	ctx := context.Background()

	resp, err := c.Chat.Completions.New(ctx, chat(model))
	require.NoError(t, err)
	require.NotEmpty(t, resp.Choices[0].Message.Content)
	require.Positive(t, resp.Usage.CompletionTokens)

	s := c.Chat.Completions.NewStreaming(ctx, chat(model))
	var text strings.Builder
	for s.Next() {
		require.NotEmpty(t, s.Current().Choices, "the usage chunk forced by llmRequestCosts is not leaked")
		text.WriteString(s.Current().Choices[0].Delta.Content)
	}
	require.NoError(t, s.Err())
	require.NotEmpty(t, text.String())

	emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: model, Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}})
	require.NoError(t, err)
	require.NotEmpty(t, emb.Data[0].Embedding)

	comp, err := c.Completions.New(ctx, openai.CompletionNewParams{Model: openai.CompletionNewParamsModel(model), Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once")}, MaxTokens: openai.Int(4)})
	require.NoError(t, err)
	require.NotEmpty(t, comp.Choices)

	// Metrics on the admin port carry the GenAI names (recorded when each
	// request's handler returns, just after the client has its answer).
	names := []string{"gen_ai_client_token_usage_bucket", "gen_ai_server_request_duration_seconds_bucket", "gen_ai_server_time_to_first_token_seconds_bucket", "gen_ai_server_time_per_output_token_seconds_bucket"}
	var missing []string
	assert.Eventually(t, func() bool {
		mresp, err := http.Get(g.admin + "/metrics")
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(mresp.Body)
		mresp.Body.Close()
		missing = missing[:0]
		for _, name := range names {
			if !strings.Contains(string(body), name) {
				missing = append(missing, name)
			}
		}
		return len(missing) == 0
	}, 5*time.Second, 20*time.Millisecond)
	require.Empty(t, missing)
	require.Eventually(t, func() bool { return strings.Count(g.stdout.String(), `"msg":"request"`) == 4 }, 5*time.Second, 10*time.Millisecond, "one access-log line per request:\n%s", g.stdout)
	require.Contains(t, g.stdout.String(), `"llm_total_token":`)
}

func TestFallbackToSecondPriority(t *testing.T) {
	sims := startSims(t, 1, model)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	port := freePort(t)
	// The primary points at a port with nothing listening.
	writeConfig(t, cfg, port, model, fmt.Sprintf("127.0.0.1:%d", freePort(t)), sims[0])
	g := startGateway(t, cfg, port)
	c := g.client()
	var hdr http.Header
	_, err := c.Chat.Completions.New(context.Background(), chat(model), option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		resp, err := next(r)
		if resp != nil {
			hdr = resp.Header
		}
		return resp, err
	}))
	require.NoError(t, err)
	require.NotEmpty(t, hdr)
	require.Contains(t, g.stdout.String(), `"backend":"default/fallback"`)
	require.Contains(t, g.stdout.String(), `"attempts":2`)
}

func TestHotReload(t *testing.T) {
	sims := startSims(t, 2, model)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	port := freePort(t)
	writeConfig(t, cfg, port, model, sims[0], sims[1])
	g := startGateway(t, cfg, port)
	c := g.client()
	ctx := context.Background()
	_, err := c.Chat.Completions.New(ctx, chat(model))
	require.NoError(t, err)

	// A broken file is rejected and the running configuration stays.
	require.NoError(t, os.WriteFile(cfg, []byte("apiVersion: aigateway.envoyproxy.io/v1beta1\nkind: AIGatewayRoute\nmetadata: {name: route}\nspec: {rules: [{backendRefs: [{name: missing}]}]}\n"), 0o644))
	require.Eventually(t, func() bool { return strings.Contains(g.stderr.String(), "configuration rejected") }, 10*time.Second, 20*time.Millisecond, g.stderr.String())
	_, err = c.Chat.Completions.New(ctx, chat(model))
	require.NoError(t, err)

	// A valid new file takes effect without a restart.
	writeConfig(t, cfg, port, "renamed-model", sims[0], sims[1])
	var lastErr error
	ok := assert.Eventually(t, func() bool {
		_, lastErr = c.Chat.Completions.New(ctx, chat("renamed-model"))
		return lastErr == nil
	}, 10*time.Second, 20*time.Millisecond)
	require.True(t, ok, "last error: %v\n%s", lastErr, g.stderr)
	_, err = c.Chat.Completions.New(ctx, chat(model))
	require.Error(t, err, "the old model is gone")
}

func TestGracefulShutdownDrainsStreams(t *testing.T) {
	sims := startSims(t, 1, model)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	port := freePort(t)
	writeConfig(t, cfg, port, model, sims[0], sims[0])
	g := startGateway(t, cfg, port)
	c := g.client()
	p := chat(model)
	p.MaxTokens = openai.Int(60) // ~60 decode steps: the stream outlives the shutdown signal
	s := c.Chat.Completions.NewStreaming(context.Background(), p)
	require.True(t, s.Next())
	g.cancel() // SIGTERM
	chunks := 1
	for s.Next() {
		chunks++
	}
	require.NoError(t, s.Err(), "an in-flight stream completes during the drain")
	require.Greater(t, chunks, 2)
	require.NoError(t, <-g.done)
	g.done <- nil // for the cleanup
	_, err := http.Get(g.url + "/v1/models")
	require.Error(t, err, "the listener is closed after shutdown")
}
