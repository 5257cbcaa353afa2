package tracing

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestSetup(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		exporter string
		err      string
	}{
		{name: "nothing set records nothing", env: nil},
		{name: "an endpoint turns on otlp over grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}, exporter: "otlp (grpc)"},
		{name: "traces endpoint and http", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, exporter: "otlp (http/protobuf)"},
		{name: "console", env: map[string]string{"OTEL_TRACES_EXPORTER": "console"}, exporter: "console"},
		{name: "none wins over an endpoint", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}},
		{name: "sdk disabled", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}},
		{name: "unknown exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: "OTEL_TRACES_EXPORTER=zipkin"},
		{name: "unknown protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, err: "OTEL_EXPORTER_OTLP_PROTOCOL=http/json"},
		{name: "bad switch", env: map[string]string{"OTEL_TRACES_EXPORTER": "console", "OPENINFERENCE_HIDE_INPUTS": "maybe"}, err: "OPENINFERENCE_HIDE_INPUTS=maybe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Setup(context.Background(), Env{Getenv: envOf(tc.env)}, "svc")
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			defer p.Shutdown(context.Background())
			require.Equal(t, tc.exporter != "", p.Enabled)
			require.Equal(t, tc.exporter, p.Exporter)
		})
	}
}

func TestConsoleExporterWritesSpans(t *testing.T) {
	var out bytes.Buffer
	p, err := Setup(context.Background(), Env{Getenv: envOf(map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "gw"}), Stdout: &out}, "svc")
	require.NoError(t, err)
	_, span := p.Tracer(InstrumentationName).Start(context.Background(), "chat m")
	span.SetAttributes(OperationName.String("chat"))
	span.End()
	require.NoError(t, p.Shutdown(context.Background()))
	require.Contains(t, out.String(), `"Name":"chat m"`)
	require.Contains(t, out.String(), `"gen_ai.operation.name"`)
	require.Contains(t, out.String(), `"gw"`, "OTEL_SERVICE_NAME names the service")
}

func TestContentFromEnv(t *testing.T) {
	c, err := ContentFromEnv(envOf(nil))
	require.NoError(t, err)
	require.Equal(t, Content{}, c, "no content by default")
	c, err = ContentFromEnv(envOf(map[string]string{"OPENINFERENCE_HIDE_INPUTS": "false", "OPENINFERENCE_HIDE_OUTPUTS": "0", "OPENINFERENCE_HIDE_INPUT_MESSAGES": "true"}))
	require.NoError(t, err)
	require.Equal(t, Content{Inputs: true, Outputs: true, HideInputMessages: true}, c)
	c, err = ContentFromEnv(envOf(map[string]string{"OPENINFERENCE_HIDE_OUTPUTS": "false", "OPENINFERENCE_HIDE_OUTPUT_MESSAGES": "true"}))
	require.NoError(t, err)
	require.Equal(t, Content{Outputs: true, HideOutputMessages: true}, c)
	_, err = ContentFromEnv(envOf(map[string]string{"OPENINFERENCE_HIDE_OUTPUT_MESSAGES": "sometimes"}))
	require.ErrorContains(t, err, "OPENINFERENCE_HIDE_OUTPUT_MESSAGES=sometimes")
}

func TestClip(t *testing.T) {
	require.Equal(t, "abc", Clip("abc", 5))
	require.Equal(t, "ab", Clip("abc", 2))
	require.Equal(t, "é", Clip("éé", 3), "cut on a rune boundary")
	require.Len(t, Clip(strings.Repeat("x", 1000), MaxName), MaxName)
}
