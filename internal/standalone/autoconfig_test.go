package standalone

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
)

// readEnvFile reads KEY=VALUE lines.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	require.NoError(t, sc.Err())
	return env
}

// TestAutoconfigGolden generates the configuration of each
// testdata/autoconfig/<case>.env, compares it with <case>.gen.yaml, loads it
// through LoadBytes with the same environment and compares the Config with
// <case>.out.yaml.
func TestAutoconfigGolden(t *testing.T) {
	envs, err := filepath.Glob("testdata/autoconfig/*.env")
	require.NoError(t, err)
	require.NotEmpty(t, envs)
	for _, envFile := range envs {
		base := strings.TrimSuffix(envFile, ".env")
		t.Run(filepath.Base(base), func(t *testing.T) {
			env := readEnvFile(t, envFile)
			gen, err := Autoconfig(func(k string) string { return env[k] }, 0)
			require.NoError(t, err)
			compareGolden(t, base+".gen.yaml", gen)

			// The generated YAML never holds the keys.
			for _, k := range []string{"OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "ANTHROPIC_API_KEY"} {
				if v := env[k]; v != "" {
					require.NotContains(t, string(gen), v)
				}
			}

			l := &Loader{LookupEnv: lookupIn(env)}
			res, err := l.LoadBytes(context.Background(), "autoconfig", gen)
			require.NoError(t, err)
			require.Empty(t, res.Warnings, "generated configuration must load without warnings")
			compareGolden(t, base+".out.yaml", renderResult(t, res))
		})
	}
}

func TestAutoconfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{
			name:    "nothing set",
			env:     map[string]string{"OPENAI_BASE_URL": "https://api.openai.com/v1"},
			wantErr: "set OPENAI_API_KEY, AZURE_OPENAI_API_KEY (with AZURE_OPENAI_ENDPOINT and OPENAI_API_VERSION), ANTHROPIC_API_KEY, AWS credentials with AWS_REGION, or GOOGLE_CLOUD_PROJECT with GOOGLE_CLOUD_LOCATION, or give a configuration file",
		},
		{
			name:    "aws without region",
			env:     map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"},
			wantErr: "AWS credentials need AWS_REGION (or AWS_DEFAULT_REGION) to reach Bedrock",
		},
		{
			name:    "aws with a bad region",
			env:     map[string]string{"AWS_PROFILE": "p", "AWS_REGION": "us east"},
			wantErr: "AWS_REGION is not a valid region name",
		},
		{
			name:    "azure without endpoint",
			env:     map[string]string{"AZURE_OPENAI_API_KEY": "k", "OPENAI_API_VERSION": "2025-01-01"},
			wantErr: "AZURE_OPENAI_API_KEY needs AZURE_OPENAI_ENDPOINT and OPENAI_API_VERSION",
		},
		{
			name:    "azure without version",
			env:     map[string]string{"AZURE_OPENAI_API_KEY": "k", "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com"},
			wantErr: "AZURE_OPENAI_API_KEY needs AZURE_OPENAI_ENDPOINT and OPENAI_API_VERSION",
		},
		{
			name:    "unsupported scheme",
			env:     map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "ftp://example.com/v1"},
			wantErr: "OPENAI_BASE_URL must be an http or https URL",
		},
		{
			name:    "credentials in the URL are refused and not echoed",
			env:     map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "https://user:SECRET-PASSWORD@example.com/v1"},
			wantErr: "OPENAI_BASE_URL must not hold a user name or password; the key comes from the API key variable",
		},
		{
			name:    "unparsable URL is not echoed",
			env:     map[string]string{"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "https://SECRET-PASSWORD@exa mple.com:x"},
			wantErr: "ANTHROPIC_BASE_URL is not a valid URL: ",
		},
		{
			name:    "no host",
			env:     map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "https:///v1"},
			wantErr: "OPENAI_BASE_URL has no host",
		},
		{
			name:    "bad port",
			env:     map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://example.com:0/v1"},
			wantErr: "OPENAI_BASE_URL has an invalid port",
		},
		{
			name:    "bad host",
			env:     map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://exa_mple.com/v1"},
			wantErr: "OPENAI_BASE_URL has an invalid host name",
		},
		{
			name:    "query",
			env:     map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://example.com/v1?key=SECRET-PASSWORD"},
			wantErr: "OPENAI_BASE_URL must not have a query or fragment",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Autoconfig(func(k string) string { return tc.env[k] }, 0)
			require.Error(t, err)
			require.Nil(t, out)
			require.Contains(t, err.Error(), tc.wantErr)
			require.NotContains(t, err.Error(), "SECRET-PASSWORD")
		})
	}
}

// TestAutoconfigPrefix checks the base URL path to schema prefix mapping,
// which fixes Envoy AI Gateway's loss of "/api" for OpenRouter.
func TestAutoconfigPrefix(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"OPENAI_API_KEY": "k"}, "v1"},
		{map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "https://openrouter.ai/api/v1"}, "api/v1"},
		{map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "https://generativelanguage.googleapis.com/v1beta/openai/"}, "v1beta/openai"},
		{map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://localhost:8000"}, ""},
		{map[string]string{"ANTHROPIC_API_KEY": "k"}, "v1"},
		{map[string]string{"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "https://api.anthropic.com"}, "v1"},
		{map[string]string{"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "https://openrouter.ai/api"}, "api/v1"},
		{map[string]string{"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "https://proxy.example.com/x/v1"}, "x/v1"},
	} {
		gen, err := Autoconfig(func(k string) string { return tc.env[k] }, 0)
		require.NoError(t, err)
		res, err := (&Loader{LookupEnv: lookupIn(tc.env)}).LoadBytes(context.Background(), "autoconfig", gen)
		require.NoError(t, err)
		require.Len(t, res.Config.Backends, 1)
		require.Equal(t, tc.want, res.Config.Backends[0].Schema.Prefix, "%v", tc.env)
		require.Equal(t, config.Duration(120e9), res.Config.Routes[0].Rules[0].Timeouts.Request)
	}
}

// TestAutoconfigListensOnLoopback checks that the generated gateway, which
// forwards with the operator's key and asks clients for none, binds
// 127.0.0.1, on the port asked for (1975 by default).
func TestAutoconfigListensOnLoopback(t *testing.T) {
	env := map[string]string{"OPENAI_API_KEY": "sk-test"}
	for _, tc := range []struct {
		port, want int
	}{{0, 1975}, {18080, 18080}} {
		gen, err := Autoconfig(func(k string) string { return env[k] }, tc.port)
		require.NoError(t, err)
		res, err := (&Loader{LookupEnv: lookupIn(env)}).LoadBytes(context.Background(), "autoconfig", gen)
		require.NoError(t, err)
		require.Empty(t, res.Warnings)
		require.Equal(t, []config.Listener{{Name: "default/aigw-run/http", Address: "127.0.0.1", Port: int32(tc.want)}}, res.Config.Listeners())
	}
	for _, port := range []int{-1, 65536} {
		_, err := Autoconfig(func(k string) string { return env[k] }, port)
		require.ErrorContains(t, err, "invalid listener port")
	}
}
