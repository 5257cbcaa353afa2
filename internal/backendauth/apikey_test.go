package backendauth

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/processor"
)

func TestAPIKeys(t *testing.T) {
	tests := []struct {
		typ        config.AuthType
		header     string
		wantValue  string
		wantNoAuth bool
	}{
		{typ: config.AuthAPIKey, header: "Authorization", wantValue: "Bearer sk-1"},
		{typ: config.AuthAzureAPIKey, header: "Api-Key", wantValue: "sk-1", wantNoAuth: true},
		{typ: config.AuthAnthropicAPIKey, header: "X-Api-Key", wantValue: "sk-1", wantNoAuth: true},
	}
	for _, tc := range tests {
		t.Run(string(tc.typ), func(t *testing.T) {
			a := &config.Auth{Policy: "default/p", Type: tc.typ, APIKey: &config.APIKeyAuth{Key: "sk-1"}}
			h, err := New(a)
			require.NoError(t, err)
			req := &processor.UpstreamRequest{Header: http.Header{"Authorization": {"Bearer client"}}}
			require.NoError(t, h.Authenticate(context.Background(), req))
			require.Equal(t, tc.wantValue, req.Header.Get(tc.header))
			if tc.wantNoAuth {
				require.Empty(t, req.Header.Get("Authorization"), "the client's own credential is not forwarded")
			}
			require.NotContains(t, fmt.Sprintf("%v %+v %#v", *a.APIKey, *a.APIKey, *a.APIKey), "sk-1", "a printed key is redacted")
		})
	}
}

func TestNewErrors(t *testing.T) {
	h, err := New(nil)
	require.NoError(t, err)
	require.Nil(t, h)
	_, err = New(&config.Auth{Policy: "default/p", Type: config.AuthAPIKey})
	require.ErrorContains(t, err, "policy default/p: APIKey has no key")
	_, err = New(&config.Auth{Policy: "default/p", Type: config.AuthAWSCredentials})
	require.ErrorIs(t, err, ErrUnsupported)
}
