package dataplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/promtest"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// budgetTemplate routes the model to a backend that refuses connections
// (priority 0) and falls back to the simulators (priority 1), with a
// per-user token budget on the route as Envoy AI Gateway documents it: a
// BackendTrafficPolicy on the route's HTTPRoute name whose global rule
// keys on x-user-id, checks with a request cost of 0 and charges
// llm_total_token after the response. Arguments: port, model, budget,
// dead port, simulator host, simulator port.
const budgetTemplate = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw}]
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: %[2]s}]}]
      backendRefs:
        - {name: dead, priority: 0}
        - {name: sims, priority: 1}
  llmRequestCosts:
    - {metadataKey: llm_total_token, type: TotalToken}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: budgets}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: route}]
  retry:
    numRetries: 1
    numAttemptsPerPriority: 1
    retryOn: {triggers: [connect-failure, reset, 5xx]}
  rateLimit:
    type: Global
    global:
      rules:
        - clientSelectors:
            - headers:
                - {name: x-user-id, type: Distinct}
          limit: {requests: %[3]d, unit: Hour}
          cost:
            request: {from: Number, number: 0}
            response: {from: Metadata, metadata: {namespace: io.envoy.ai_gateway, key: llm_total_token}}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: dead}
spec:
  schema: {name: OpenAI}
  backendRef: {name: dead, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: sims}
spec:
  schema: {name: OpenAI}
  backendRef: {name: sims, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: dead}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: %[4]d}}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: sims}
spec:
  endpoints: [{ip: {address: %[5]s, port: %[6]s}}]
`

// budgetGateway starts `aigw run` with a per-user budget of limit tokens
// and flags.
func budgetGateway(t *testing.T, sim string, limit int, flags ...string) *gateway {
	t.Helper()
	host, simPort, _ := net.SplitHostPort(sim)
	port := freePort(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, budgetTemplate, port, model, limit, freePort(t), host, simPort), 0o600))
	return startGateway(t, cfg, port, flags...)
}

// streamAs streams a chat as user and returns its total tokens, or the
// API error.
func streamAs(ctx context.Context, c openai.Client, user string) (int64, error) {
	params := chat(model)
	params.StreamOptions.IncludeUsage = openai.Bool(true)
	s := c.Chat.Completions.NewStreaming(ctx, params, option.WithHeader("x-user-id", user))
	var total int64
	for s.Next() {
		if u := s.Current().Usage; u.TotalTokens > 0 {
			total = u.TotalTokens
		}
	}
	return total, s.Err()
}

func isRateLimited(err error) bool {
	var apiErr *openai.Error
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests
}

// TestTokenBudget runs `aigw run` with the in-memory store: a user's
// requests pass until their tokens reach the budget, then get an
// OpenAI-shaped 429 with Envoy's x-ratelimit-* headers and retry-after,
// without any upstream tried; another user keeps their own budget.
func TestTokenBudget(t *testing.T) {
	sims := startSims(t, 1, model)
	g := budgetGateway(t, sims[0], 100)
	c := g.client()
	ctx := context.Background()

	spent, passed := int64(0), 0
	for spent < 100 {
		n, err := streamAs(ctx, c, "alice")
		require.NoError(t, err, "alice has %d of 100 tokens spent", spent)
		require.Positive(t, n)
		spent += n
		passed++
		require.Less(t, passed, 100, "the budget never ran out")
	}
	// Spent: refused before any upstream, with the limit's headers.
	req, _ := http.NewRequest(http.MethodPost, g.url+"/v1/chat/completions", strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("x-user-id", "alice")
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	var body struct {
		Error struct{ Type, Code, Message string } `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "rate_limit_exceeded", body.Error.Code)
	require.Equal(t, "rate_limit_error", body.Error.Type)
	require.Equal(t, "0", resp.Header.Get("X-Ratelimit-Remaining"))
	require.Equal(t, "100, 100;w=3600", resp.Header.Get("X-Ratelimit-Limit"))
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.InDelta(t, 1800, retry, 1800)
	_, err = streamAs(ctx, c, "alice")
	require.True(t, isRateLimited(err), "the SDK sees a 429: %v", err)

	// Bob has his budget; his responses carry what is left of it.
	var hdr http.Header
	_, err = c.Chat.Completions.New(ctx, chat(model), option.WithHeader("x-user-id", "bob"),
		option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			resp, err := next(r)
			if resp != nil {
				hdr = resp.Header
			}
			return resp, err
		}))
	require.NoError(t, err)
	require.Equal(t, "100", hdr.Get("X-Ratelimit-Remaining"))

	require.Equal(t, float64(1+passed), promtest.Sum(t, g.admin+"/metrics", "aigw_ratelimit_decisions_total", "outcome", "ok"))
	require.Equal(t, float64(2), promtest.Sum(t, g.admin+"/metrics", "aigw_ratelimit_decisions_total", "outcome", "over_limit"))
	// The refused requests reached no upstream: the access log has
	// exactly one backend attempt per request that passed.
	require.Equal(t, passed+1, strings.Count(g.stdout.String(), `"backend":"default/sims"`), "access log:\n%s", g.stdout)
}

// redisSpent sums the gateway's buckets in Redis.
func redisSpent(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	keys, err := rdb.Keys(context.Background(), "aigw:rl:*").Result()
	require.NoError(t, err)
	var sum int64
	for _, k := range keys {
		v, err := rdb.Get(context.Background(), k).Int64()
		require.NoError(t, err)
		sum += v
	}
	return sum
}

// TestTokenBudgetSharedAcrossReplicas runs three `aigw run` replicas on one
// Redis and 30 concurrent streaming clients of one user against one
// budget (one replica told of Redis by Envoy Gateway's configuration file),
// every request falling back from a dead backend to a live one:
// the tokens of the requests that passed exceed the budget by at most what
// was in flight when it ran out, and Redis holds exactly their sum
// (nothing charged twice for the fallback). Then Redis is killed: with the
// default fail-open, requests pass and the store errors are counted; once
// it is back, enforcement resumes.
func TestTokenBudgetSharedAcrossReplicas(t *testing.T) {
	srv := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	sims := startSims(t, 2, model)
	const budget = 800
	var replicas []*gateway
	// The third replica finds Redis where Envoy Gateway users configure
	// it: the rateLimit of Envoy Gateway's own configuration.
	egConfig := filepath.Join(t.TempDir(), "envoy-gateway.yaml")
	require.NoError(t, os.WriteFile(egConfig, []byte("apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: EnvoyGateway\n"+
		"rateLimit:\n  timeout: 1s\n  backend:\n    type: Redis\n    redis: {url: '"+srv.Addr()+"'}\n"), 0o600))
	for i, store := range []string{"--redis-url=" + srv.URL(), "--redis-url=" + srv.URL(), "--envoy-gateway-config=" + egConfig} {
		replicas = append(replicas, budgetGateway(t, sims[i%2], budget, store, "--ratelimit-timeout=1s", "--access-log=off"))
	}

	const clients = 30
	var passed, refused atomic.Int64
	var mu sync.Mutex
	var spent, largest int64
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func(c openai.Client) {
			defer wg.Done()
			for {
				n, err := streamAs(context.Background(), c, "shared-user")
				if isRateLimited(err) {
					refused.Add(1)
					return
				}
				if err != nil {
					t.Errorf("client: %v", err)
					return
				}
				passed.Add(1)
				mu.Lock()
				spent += n
				largest = max(largest, n)
				mu.Unlock()
			}
		}(replicas[i%3].client())
	}
	wg.Wait()
	require.Equal(t, int64(clients), refused.Load(), "every client ends refused")
	t.Logf("%d requests passed, %d tokens spent against a budget of %d (largest request %d tokens)", passed.Load(), spent, budget, largest)
	require.GreaterOrEqual(t, spent, int64(budget), "the budget was used up")
	require.LessOrEqual(t, spent, int64(budget)+clients*largest, "over the budget by more than the requests in flight")
	require.Eventually(t, func() bool { return redisSpent(t, rdb) == spent }, 5*time.Second, 20*time.Millisecond,
		"Redis holds %d, the clients spent %d: each request is charged once, fallback or not", redisSpent(t, rdb), spent)

	// Redis down: fail open.
	srv.Kill()
	for i, g := range replicas {
		_, err := streamAs(context.Background(), g.client(), "shared-user")
		require.NoError(t, err, "replica %d: Redis down, the request passes (fail open)", i)
		require.Positive(t, promtest.Sum(t, g.admin+"/metrics", "aigw_ratelimit_store_errors_total"))
		require.Contains(t, g.stderr.String(), "the store fails")
	}
	// Back (empty): enforcement resumes, with a new budget.
	srv.Start()
	c := replicas[0].client()
	spent = 0
	for {
		n, err := streamAs(context.Background(), c, "shared-user")
		if isRateLimited(err) {
			break
		}
		require.NoError(t, err)
		spent += n
		require.Less(t, spent, int64(2*budget), "enforcement did not resume")
	}
	require.GreaterOrEqual(t, spent, int64(budget))
	require.Contains(t, replicas[0].stderr.String(), "answers again")
}

// budgetTransportConfig is a 12-token budget per user on a route to one
// backend (arguments: port).
const budgetTransportConfig = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: chat}
spec:
  parentRefs: [{name: gw}]
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: m}]}]
      backendRefs: [{name: openai}]
  llmRequestCosts:
    - {metadataKey: llm_total_token, type: TotalToken}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: budget}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: chat}]
  rateLimit:
    global:
      rules:
        - clientSelectors: [{headers: [{name: x-user-id, type: Distinct}]}]
          limit: {requests: 12, unit: Hour} # windows are aligned on the clock: a minute's could end mid-test
          cost:
            request: {from: Number, number: 0}
            response: {from: Metadata, metadata: {namespace: io.envoy.ai_gateway, key: llm_total_token}}
---
`

// TestTokenBudgetBothTransports: through `aigw run` and `aigw extproc`
// behind Envoy, a user's requests of 5 tokens each pass while the budget
// of 12 has some left (three), then get the 429 with its headers; the
// upstream sees only the requests that passed.
func TestTokenBudgetBothTransports(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			var served atomic.Int64
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served.Add(1)
				(&recordingUpstream{}).ServeHTTP(w, r)
			}))
			t.Cleanup(up.Close)
			port := freePort(t)
			path := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(budgetTransportConfig, port)+backendDocs("openai", strings.TrimPrefix(up.URL, "http://"))), 0o600))
			url, _ := tr.start(t, path, port)
			c := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithMaxRetries(0), option.WithAPIKey("unused"), option.WithHeader("x-user-id", "alice"))
			var hdr http.Header
			capture := option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
				resp, err := next(r)
				if resp != nil {
					hdr = resp.Header
				}
				return resp, err
			})
			for i, left := range []string{"12", "7", "2"} {
				_, err := c.Chat.Completions.New(t.Context(), chat("m"), capture)
				require.NoError(t, err, "request %d", i)
				require.Equal(t, left, hdr.Get("X-Ratelimit-Remaining"), "request %d", i)
			}
			_, err := c.Chat.Completions.New(t.Context(), chat("m"), capture)
			require.True(t, isRateLimited(err), "%v", err)
			require.Equal(t, "0", hdr.Get("X-Ratelimit-Remaining"))
			require.NotEmpty(t, hdr.Get("Retry-After"))
			require.Equal(t, "12, 12;w=3600", hdr.Get("X-Ratelimit-Limit"))
			require.Equal(t, int64(3), served.Load(), "the refused request reached no upstream")
		})
	}
}

// quotaTemplate routes the model to two simulator backends by priority;
// a QuotaPolicy gives the first a token quota for the model (arguments:
// port, model, quota, first simulator host and port, second's).
const quotaTemplate = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw}]
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: %[2]s}]}]
      backendRefs:
        - {name: metered, priority: 0}
        - {name: spare, priority: 1}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: QuotaPolicy
metadata: {name: metered}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: metered}]
  perModelQuotas:
    - modelName: %[2]s
      quota:
        costExpression: output_tokens
        defaultBucket: {limit: %[3]d, duration: 1h}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: metered}
spec:
  schema: {name: OpenAI}
  backendRef: {name: metered, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: spare}
spec:
  schema: {name: OpenAI}
  backendRef: {name: spare, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: metered}
spec:
  endpoints: [{ip: {address: %[4]s, port: %[5]s}}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: spare}
spec:
  endpoints: [{ip: {address: %[6]s, port: %[7]s}}]
`

// TestBackendQuota runs `aigw run` with a QuotaPolicy on the first
// backend: it serves until its output tokens reach the quota, then the
// route's next backend does (a backend's quota, unlike a client's budget,
// falls back), each request charged to the backend that served it.
func TestBackendQuota(t *testing.T) {
	sims := startSims(t, 2, model)
	h0, p0, _ := net.SplitHostPort(sims[0])
	h1, p1, _ := net.SplitHostPort(sims[1])
	port := freePort(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, quotaTemplate, port, model, 20, h0, p0, h1, p1), 0o600))
	g := startGateway(t, cfg, port)
	c := g.client()
	var spent int64
	for spent < 20 {
		resp, err := c.Chat.Completions.New(context.Background(), chat(model))
		require.NoError(t, err)
		spent += resp.Usage.CompletionTokens
	}
	for range 3 {
		_, err := c.Chat.Completions.New(context.Background(), chat(model))
		require.NoError(t, err, "the next backend serves once the first one's quota is spent")
	}
	logs := g.stdout.String()
	require.Equal(t, 3, strings.Count(logs, `"backend":"default/spare"`), "access log:\n%s", logs)
	require.Equal(t, float64(3), promtest.Sum(t, g.admin+"/metrics", "aigw_ratelimit_decisions_total", "outcome", "over_limit"))
}
