package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/labels"
	"github.com/aigw-dev/aigw/internal/promtest"
)

// weirdModelsConfig routes the simulator's model and every model matching
// "weird-.*" (sent upstream as the simulator's model) to one simulator.
const weirdModelsConfig = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw}]
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: %[2]s}]}]
      backendRefs: [{name: sim}]
    - matches: [{headers: [{type: RegularExpression, name: x-ai-eg-model, value: "weird-.*"}]}]
      backendRefs: [{name: sim, modelNameOverride: %[2]q}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: sim}
spec:
  schema: {name: OpenAI}
  backendRef: {name: sim, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: sim}
spec:
  endpoints: [{ip: {address: %[3]s, port: %[4]s}}]
`

var genAIFamilies = []string{
	"gen_ai_client_token_usage",
	"gen_ai_server_request_duration_seconds",
	"gen_ai_server_time_to_first_token_seconds",
	"gen_ai_server_time_per_output_token_seconds",
}

// TestClientModelNamesKeepMetricsBounded sends 300 requests with distinct
// model names, unmatched and matched, some of 200 KB, and checks that the
// /metrics scrape and the access log stay small: unmatched requests record
// no series, matched ones at most --metrics-max-model-labels model label
// values plus __other__, each cut to 128 bytes.
func TestClientModelNamesKeepMetricsBounded(t *testing.T) {
	const maxLabels = 40
	sims := startSims(t, 1, model)
	host, simPort, _ := net.SplitHostPort(sims[0])
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	port := freePort(t)
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, weirdModelsConfig, port, model, host, simPort), 0o644))
	g := startGateway(t, cfg, port, fmt.Sprintf("--metrics-max-model-labels=%d", maxLabels))

	type request struct {
		model   string
		stream  bool
		matched bool
	}
	var reqs []request
	huge := strings.Repeat("x", 200<<10)
	for i := range 140 {
		reqs = append(reqs, request{model: fmt.Sprintf("weird-%d", i), stream: i%2 == 0, matched: true})
	}
	for i := range 10 {
		reqs = append(reqs, request{model: fmt.Sprintf("weird-%d-%s", i, huge), matched: true})
	}
	for i := range 145 {
		reqs = append(reqs, request{model: fmt.Sprintf("nomatch-%08x-%d", i*2654435761, i)})
	}
	for i := range 5 {
		reqs = append(reqs, request{model: fmt.Sprintf("nomatch-%d-%s", i, huge)})
	}
	require.Len(t, reqs, 300)

	c := g.client()
	ctx := context.Background()
	work := make(chan request)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for range 8 {
		wg.Go(func() {
			for r := range work {
				var err error
				if r.stream {
					p := chat(r.model)
					p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
					s := c.Chat.Completions.NewStreaming(ctx, p)
					for s.Next() {
					}
					err = s.Err()
				} else {
					_, err = c.Chat.Completions.New(ctx, chat(r.model))
				}
				var apiErr *openai.Error
				ok := (r.matched && err == nil) || (!r.matched && errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound)
				if !ok {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%.40s: %v", r.model, err))
					mu.Unlock()
				}
			}
		})
	}
	for _, r := range reqs {
		work <- r
	}
	close(work)
	wg.Wait()
	require.Empty(t, failures)

	// Each request's metrics and access-log line are recorded when its
	// handler returns, just after the client has its answer: wait for all.
	require.Eventually(t, func() bool { return strings.Count(g.stdout.String(), `"msg":"request"`) == len(reqs) }, 10*time.Second, 10*time.Millisecond)
	var e promtest.Exposition
	require.Eventually(t, func() bool {
		e = promtest.Scrape(t, g.admin+"/metrics")
		n := uint64(0)
		for _, m := range e.Families["gen_ai_server_request_duration_seconds"].GetMetric() {
			n += m.GetHistogram().GetSampleCount()
		}
		return n == 150
	}, 10*time.Second, 10*time.Millisecond, "every matched request, and only those, is recorded")

	// About 700 KB for 41 model label values with the runtime collectors;
	// one 200 KB model name as a label would take ~14 MB (70 lines).
	require.Less(t, e.Bytes, 2<<20, "the whole scrape stays small")
	require.Equal(t, maxLabels+1, e.Series("gen_ai_server_request_duration_seconds"), "the first model names, then __other__")
	for _, name := range genAIFamilies {
		require.Positive(t, e.Series(name), name)
		originals := map[string]bool{}
		for _, v := range e.LabelValues(name, "gen_ai_original_model") {
			require.True(t, v == labels.Other || strings.HasPrefix(v, "weird-"), "%s: unmatched model %.40q recorded", name, v)
			originals[v] = true
		}
		require.LessOrEqual(t, len(originals), maxLabels+1, name)
		for _, label := range []string{"gen_ai_original_model", "gen_ai_request_model", "gen_ai_response_model"} {
			for _, v := range e.LabelValues(name, label) {
				require.LessOrEqual(t, len(v), labels.MaxValueBytes, "%s{%s}", name, label)
			}
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(g.stdout.String()), "\n") {
		require.Less(t, len(line), 4<<10, "an access-log line stays small: %.200s", line)
	}
}
