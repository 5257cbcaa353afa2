package k8s

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/testenv"
)

// GAIE's full endpoint picker (v1.5.0) against envtest: it watches the pool's
// Pods, scrapes the simulators' vLLM metrics every 50 ms, and picks with its
// default scorers (queue, KV cache, prefix cache).
func TestEPP(t *testing.T) {
	env := testenv.StartEnv(t)
	opts := simOptions()
	// Real time, one running request at a time and one decode step a second:
	// requests held in a simulator stay queued, and its
	// vllm:num_requests_waiting stays up until the test lets them go.
	opts.TimeScale = 1
	opts.MaxNumSeqs = 1
	opts.InterTokenLatency = time.Second
	sims := modelServers(t, opts)
	createPool(t, env, 9022)
	picker := testenv.StartEPP(t, testenv.PickerOptions{
		Kubeconfig: env.Kubeconfig, PoolName: poolName,
		GRPCPort: 9022, HealthPort: 9023, MetricsPort: 9092,
	})
	conn := picker.Dial(t)

	// The picker knows a Pod once it scrapes it.
	for _, s := range sims {
		waitScrapes(t, s, 1)
	}

	t.Run("picks the less loaded Pod", func(t *testing.T) {
		const held, picks = 5, 8
		for _, busyIP := range podIPs {
			busy := sims[endpoint(busyIP)]
			var idle string
			for ep := range sims {
				if ep != busy.Addr {
					idle = ep
				}
			}
			release := hold(t, busy, held)
			// One request runs, the rest wait: queue 4 on the busy Pod, 0 on
			// the idle one. Below the saturation detector's queue threshold
			// (5), so the scorers decide.
			require.Eventually(t, func() bool {
				s := busy.Instance.Snapshot()
				return s.Running == 1 && s.Waiting == held-1
			}, 30*time.Second, 10*time.Millisecond, "the simulator never queued the held requests: %+v", busy.Instance.Snapshot())
			waitFreshScrape(t, busy)

			for i := range picks {
				// Distinct prompts, so the prefix-cache scorer has nothing to
				// match and the load decides.
				p := mustPick(t, conn, request{
					headers: chatHeaders(),
					body:    chatBody(t, model, fmt.Sprintf("%s busy, request %d: pick the idle Pod", busyIP, i)),
				})
				require.Equal(t, idle, p.metadataPick(), "pick %d of %d with %s busy", i+1, picks, busy.Addr)
				h, _ := p.setHeader(destinationKey)
				require.Equal(t, p.metadataPick(), h, "header and metadata must name the same endpoint")
			}

			release()
			require.Eventually(t, func() bool {
				s := busy.Instance.Snapshot()
				return s.Running == 0 && s.Waiting == 0
			}, 30*time.Second, 10*time.Millisecond, "the simulator kept the released requests: %+v", busy.Instance.Snapshot())
			waitFreshScrape(t, busy)
		}
	})

	t.Run("streamed body replacement", func(t *testing.T) {
		// About 150 kB: more than two 62 000-byte replacement chunks, sent in
		// three request_body messages.
		content := strings.Repeat("A long prompt that the picker has to hand back in pieces. ", 2600)
		body := chatBody(t, model, content)
		require.Greater(t, len(body), 2*maxStreamedBodyChunk)
		p := mustPick(t, conn, request{headers: chatHeaders(), body: body, chunks: 3})

		require.Contains(t, []string{endpoint(podIPs[0]), endpoint(podIPs[1])}, p.metadataPick())
		require.Zero(t, p.bodiesBeforeHeaders, "the EPP sends its headers response before any body")
		chunks := p.replacement()
		require.Len(t, chunks, len(p.bodies), "every body answer is a streamed replacement")
		require.GreaterOrEqual(t, len(chunks), 3)
		var replaced []byte
		for i, c := range chunks {
			require.LessOrEqual(t, len(c), maxStreamedBodyChunk, "chunk %d", i)
			eos := p.bodies[i].GetResponse().GetBodyMutation().GetStreamedResponse().GetEndOfStream()
			require.Equal(t, i == len(chunks)-1, eos, "end_of_stream on chunk %d of %d", i, len(chunks))
			replaced = append(replaced, c...)
		}
		// The EPP re-serialises the body (keys sorted); same JSON, same model.
		require.JSONEq(t, string(body), string(replaced))
		var parsed struct{ Model string }
		require.NoError(t, json.Unmarshal(replaced, &parsed))
		require.Equal(t, model, parsed.Model)
		cl, ok := p.setHeader("content-length")
		require.True(t, ok, "no Content-Length for the replaced body")
		require.Equal(t, strconv.Itoa(len(replaced)), cl)
	})
}

// waitScrapes waits until the picker has scraped s's /metrics n more times.
func waitScrapes(t *testing.T, s *testenv.Sim, n int64) {
	t.Helper()
	want := s.MetricsScrapes() + n
	require.Eventually(t, func() bool { return s.MetricsScrapes() >= want },
		30*time.Second, 10*time.Millisecond, "the picker stopped scraping %s", s.Addr)
}

// waitFreshScrape waits until the picker holds metrics of s that were
// scraped after this call. The EPP scrapes each Pod in a loop (scrape,
// store, wait): the scrape in progress may predate the call, the next one
// does not, and once a third one has been answered the second one is stored.
func waitFreshScrape(t *testing.T, s *testenv.Sim) {
	t.Helper()
	waitScrapes(t, s, 3)
}

// hold sends n long chat requests to s and keeps them in flight until the
// returned release is called (also at cleanup), which cancels them.
func hold(t *testing.T, s *testenv.Sim, n int) (release func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		body, err := json.Marshal(map[string]any{
			"model":      model,
			"messages":   []map[string]string{{"role": "user", "content": "held request " + strconv.Itoa(i)}},
			"max_tokens": 10000,
		})
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/v1/chat/completions", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		wg.Go(func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return // cancelled by release
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			assert.Fail(t, "a held request finished", "status %d", resp.StatusCode)
		})
	}
	var once sync.Once
	release = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(release)
	return release
}
