package app

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEnvoyGatewayRateLimit(t *testing.T) {
	const head = "apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: EnvoyGateway\nprovider: {type: Kubernetes}\ngateway: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}\n"
	for _, tc := range []struct {
		name, doc string
		want      envoyGatewayRateLimit
		err       string
	}{
		{name: "none", doc: head},
		{name: "host and port, as Envoy Gateway's docs write it",
			doc:  head + "rateLimit:\n  backend:\n    type: Redis\n    redis: {url: redis.redis-system.svc.cluster.local:6379}\n",
			want: envoyGatewayRateLimit{RedisURL: "redis://redis.redis-system.svc.cluster.local:6379"}},
		{name: "tls, timeout and failClosed",
			doc:  head + "rateLimit:\n  timeout: 50ms\n  failClosed: true\n  backend:\n    type: Redis\n    redis: {url: 'redis:6380', tls: {}}\n",
			want: envoyGatewayRateLimit{RedisURL: "rediss://redis:6380", Timeout: 50 * time.Millisecond, FailClosed: true}},
		{name: "a URL kept as written", doc: head + "rateLimit: {backend: {type: Redis, redis: {url: 'redis://u:p@r:1/2'}}}\n",
			want: envoyGatewayRateLimit{RedisURL: "redis://u:p@r:1/2"}},
		{name: "sentinel list", doc: head + "rateLimit: {backend: {type: Redis, redis: {url: 'a:1,b:2'}}}\n",
			err: "Sentinel and Cluster address lists are not supported"},
		{name: "client certificate", doc: head + "rateLimit: {backend: {type: Redis, redis: {url: 'r:1', tls: {certificateRef: {name: c}}}}}\n",
			err: "backend.redis.tls.certificateRef"},
		{name: "no url", doc: head + "rateLimit: {backend: {type: Redis}}\n", err: "backend.redis.url: required"},
		{name: "bad timeout", doc: head + "rateLimit: {timeout: soon, backend: {type: Redis, redis: {url: 'r:1'}}}\n", err: `timeout "soon"`},
		{name: "another kind", doc: "kind: ConfigMap\n", err: "kind ConfigMap: want EnvoyGateway"},
		{name: "not YAML", doc: "rateLimit: [", err: "config.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tc.doc), 0o600))
			got, err := readEnvoyGatewayRateLimit(path)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.ErrorContains(t, err, path, "the file is named")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestEnvoyGatewayConfigAndFlags: the flags given win over Envoy Gateway's
// configuration; two Redis sources are refused.
func TestEnvoyGatewayConfigAndFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "envoy-gateway.yaml")
	require.NoError(t, os.WriteFile(path, []byte("rateLimit: {timeout: 50ms, failClosed: true, backend: {type: Redis, redis: {url: 'r:1'}}}\n"), 0o600))
	parse := func(args ...string) (*rateLimitFlags, error) {
		t.Setenv("AIGW_REDIS_URL", "")
		t.Setenv("AIGW_ENVOY_GATEWAY_CONFIG", "")
		var f rateLimitFlags
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		f.register(fs)
		require.NoError(t, fs.Parse(args))
		return &f, f.applyEnvoyGateway()
	}
	f, err := parse("--envoy-gateway-config=" + path)
	require.NoError(t, err)
	require.Equal(t, "redis://r:1", f.redisURL)
	require.Equal(t, 50*time.Millisecond, f.timeout)
	require.True(t, f.failClosed)

	f, err = parse("--envoy-gateway-config="+path, "--ratelimit-timeout=1s", "--ratelimit-fail-closed=false")
	require.NoError(t, err)
	require.Equal(t, time.Second, f.timeout)
	require.False(t, f.failClosed)

	_, err = parse("--envoy-gateway-config="+path, "--redis-url=redis://other:2")
	require.ErrorContains(t, err, "keep one")
}
