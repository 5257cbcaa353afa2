package sim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/cli"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

func TestParseFlags(t *testing.T) {
	o, _, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, DefaultOptions(), o)

	o, level, err := parseFlags([]string{
		"--port", "9000", "--model", "org/model", "--served-model-name", "a", "b",
		"--lora-modules", "l1=/p", "l2", `{"name":"l3","path":"/q","base_model_name":"a"}`,
		"--max-loras", "2", "--failure-types", "rate_limit,server_error", "--time-to-first-token", "20",
		"--inter-token-latency", "5ms", "--mode", "echo", "--time-scale=0", "--instances=3",
		"--data-parallel-size", "2", "--kv-cache-size", "100", "--max-model-len", "1600", "--seed", "7",
		"--fault", "status=503,rate=1", "--log-level", "debug", "--legacy-error-format",
		"--decode-time-per-context-token", "650ns",
	}, io.Discard)
	require.NoError(t, err)
	want := DefaultOptions()
	want.Port, want.Model, want.ServedModelNames = 9000, "org/model", []string{"a", "b"}
	want.LoRAModules = []LoRAModule{{Name: "l1", Path: "/p"}, {Name: "l2", Path: "l2"}, {Name: "l3", Path: "/q", BaseModelName: "a"}}
	want.MaxLoRAs = 2
	want.FailureTypes = []FailureType{FailureRateLimit, FailureServerError}
	want.TimeToFirstToken, want.InterTokenLatency = 20*time.Millisecond, 5*time.Millisecond
	want.Mode, want.TimeScale, want.Instances, want.DataParallelSize = ModeEcho, 0, 3, 2
	want.KVCacheSize, want.MaxModelLen, want.Seed = 100, 1600, 7
	want.Fault, want.LegacyErrorFormat = "status=503,rate=1", true
	want.DecodeTimePerContextToken = 650 * time.Nanosecond
	assert.Equal(t, want, o)
	assert.Equal(t, "DEBUG", level.String())

	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--nope"}, "flag provided but not defined"},
		{[]string{"--mode", "magic"}, "--mode must be echo or random"},
		{[]string{"--max-model-len", "100000", "--kv-cache-size", "10"}, "larger than the KV cache holds"},
		{[]string{"--failure-types", "meteor"}, `unknown type "meteor"`},
		{[]string{"--fault", "status=9999"}, "not an HTTP status"},
		{[]string{"--lora-modules", "=/p"}, "has no name"},
		{[]string{"--served-model-name", "x", "--lora-modules", "x"}, `"x" is served twice`},
		{[]string{"--inter-token-latency", "fast"}, "invalid value"},
		{[]string{"--decode-time-per-context-token", "-1ns"}, "negative duration"},
		{[]string{"stray"}, "unexpected argument"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, _, err := parseFlags(tc.args, io.Discard)
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestMainServesInstancesAndRanksUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, []string{"--port", "0", "--instances", "2", "--data-parallel-size", "2",
			"--model", "m", "--time-scale", "0"}, &stdout, &stderr)
	}()
	waitFor(t, "four addresses on stdout", func() bool { return strings.Count(stdout.String(), "\n") == 4 })

	seen := map[string]bool{}
	for i, line := range strings.Fields(stdout.String()) {
		require.True(t, strings.HasPrefix(line, "http://127.0.0.1:"), line)
		resp, err := http.Post(line+"/v1/chat/completions", "application/json", strings.NewReader(chatBody("m", "hi", 2, "")))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		addr := strings.TrimPrefix(line, "http://")
		assert.Equal(t, addr, resp.Header.Get(HeaderInstance), "every port is its own instance")
		seen[addr] = true

		// Ranks of one instance are labelled engine 0 and 1, like vLLM's DP engines.
		expected := fmt.Sprintf("# HELP vllm:num_requests_running Number of requests in model execution batches.\n"+
			"# TYPE vllm:num_requests_running gauge\n"+
			"vllm:num_requests_running{engine=\"%d\",model_name=\"m\"} 0\n", i%2)
		// The engine publishes its state at the end of a step, which may
		// follow the response's last byte.
		assert.Eventually(t, func() bool {
			return testutil.ScrapeAndCompare(line+"/metrics", strings.NewReader(expected), "vllm:num_requests_running") == nil
		}, 5*time.Second, 5*time.Millisecond, "rank %d reports its request finished", i%2)
	}
	assert.Len(t, seen, 4)
	assert.Contains(t, stderr.String(), "model server simulator listening")

	cancel()
	require.NoError(t, <-done)
}

// TestMainHelp checks that -h prints the usage on stdout (so that `aigw
// sim -h | less` shows it) and succeeds.
func TestMainHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.NoError(t, Main(t.Context(), []string{"--help"}, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "Usage: aigw sim [flags]")
	assert.Contains(t, stdout.String(), "-max-num-seqs int")
	assert.Contains(t, stdout.String(), "-time-scale float")
	assert.Empty(t, stderr.String())
}

// TestMainRejectsBadFlags checks that bad flags and values are usage errors
// (exit status 2).
func TestMainRejectsBadFlags(t *testing.T) {
	err := Main(t.Context(), []string{"--instances", "0"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "--instances must be at least 1")
	require.ErrorIs(t, err, cli.ErrUsage)
	for _, args := range [][]string{{"--nope"}, {"stray"}, {"--lora-modules", "=/p"}, {"--time-scale", "fast"}} {
		require.ErrorIs(t, Main(t.Context(), args, io.Discard, io.Discard), cli.ErrUsage, "%v", args)
	}
}

func TestStartOnConsecutivePorts(t *testing.T) {
	// Find a free base port; another process may take the next one between
	// the probe and Start, so retry a few times.
	var c *Cluster
	var base int
	for range 10 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		base = ln.Addr().(*net.TCPAddr).Port
		require.NoError(t, ln.Close())
		if base+2 > 65535 {
			continue
		}
		c, err = Start(t.Context(), func() Options {
			o := testOptions()
			o.Port, o.Instances = base, 3
			return o
		}(), nil)
		if err == nil {
			break
		}
	}
	require.NotNil(t, c, "no three consecutive free ports")
	assert.Equal(t, []string{
		fmt.Sprintf("127.0.0.1:%d", base), fmt.Sprintf("127.0.0.1:%d", base+1), fmt.Sprintf("127.0.0.1:%d", base+2),
	}, c.Addrs())

	_, err := Start(t.Context(), func() Options {
		o := testOptions()
		o.Port = base
		return o
	}(), nil)
	require.ErrorContains(t, err, "address already in use")
}

func TestClusterWaitReturnsAfterShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	c, err := Start(ctx, testOptions(), nil)
	require.NoError(t, err)
	cancel()
	require.NoError(t, c.Wait())
	for i := range c.Addrs() {
		select {
		case <-c.Instance(i).Done():
		default:
			t.Fatal("Wait returned before the engines stopped")
		}
	}
}
