package httpproxy

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
)

func TestUpstreamTLSVerifiesByDefault(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(benchAnswer)
	}))
	t.Cleanup(up.Close)
	hostPort := strings.TrimPrefix(up.URL, "https://")
	host, port, _ := strings.Cut(hostPort, ":")
	p, _ := strconv.Atoi(port)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}))

	tests := []struct {
		name       string
		tls        *config.UpstreamTLS
		wantStatus int
	}{
		{name: "system roots reject a self-signed upstream", tls: &config.UpstreamTLS{}, wantStatus: http.StatusBadGateway},
		{name: "configured CA", tls: &config.UpstreamTLS{CACertPEM: caPEM, ServerName: "example.com"}, wantStatus: http.StatusOK},
		{name: "wrong server name", tls: &config.UpstreamTLS{CACertPEM: caPEM, ServerName: "other.test"}, wantStatus: http.StatusBadGateway},
		{name: "insecureSkipVerify", tls: &config.UpstreamTLS{InsecureSkipVerify: true}, wantStatus: http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rule := modelRule("m", ref("default/a", 0))
			rule.Retry.NumRetries = 0
			cfg := &config.Config{Version: config.Version,
				Backends: []config.Backend{{Name: "default/a", Schema: config.Schema{Name: config.SchemaOpenAI}, TLS: tc.tls, Endpoints: []config.Endpoint{{Host: host, Port: int32(p)}}}},
				Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{rule}}},
			}
			tg := newTestGateway(t, cfg)
			c := tg.client()
			_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
			if tc.wantStatus == http.StatusOK {
				require.NoError(t, err)
				return
			}
			var apiErr *openai.Error
			require.True(t, errors.As(err, &apiErr), "%v", err)
			require.Equal(t, tc.wantStatus, apiErr.StatusCode)
			require.Equal(t, "upstream_error", apiErr.Code)
		})
	}
}
