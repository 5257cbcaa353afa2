package processor

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// seenAuth records the headers it is given and sets one credential.
type seenAuth struct{ seen http.Header }

var _ llm.Authenticator = (*seenAuth)(nil)

func (a *seenAuth) Authenticate(_ context.Context, req *llm.UpstreamRequest) error {
	a.seen = req.Header.Clone()
	req.Header.Set("X-Api-Key", "gateway-key")
	return nil
}

func TestClientCredentialHeaders(t *testing.T) {
	client := http.Header{
		"Authorization":       {"Bearer client"},
		"Proxy-Authorization": {"Basic abc"},
		"X-Api-Key":           {"client-x"},
		"Api-Key":             {"client-api"},
		"Cookie":              {"session=1"},
		"X-Trace":             {"t1"},
	}
	tests := []struct {
		name string
		op   llm.Operation
		auth bool
		// want are the credential headers upstream; nil means none.
		want http.Header
	}{
		{name: "chat without auth passes them", op: llm.OperationChat, want: http.Header{
			"Authorization": {"Bearer client"}, "Proxy-Authorization": {"Basic abc"}, "X-Api-Key": {"client-x"}, "Api-Key": {"client-api"}, "Cookie": {"session=1"},
		}},
		{name: "chat with auth drops them", op: llm.OperationChat, auth: true, want: http.Header{"X-Api-Key": {"gateway-key"}}},
		{name: "pass-through with auth drops them", op: llm.OperationPassThrough, auth: true, want: http.Header{"X-Api-Key": {"gateway-key"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &Backend{Name: "default/b", Schema: config.Schema{Name: config.SchemaOpenAI}}
			auth := &seenAuth{}
			if tc.auth {
				b.Auth = auth
			}
			req := &llm.Request{Operation: tc.op, Method: http.MethodPost, Path: "/v1/chat/completions", Model: "m", Body: []byte(`{"model":"m","messages":[]}`)}
			at, err := NewAttempt(req, client.Clone(), b, &config.BackendRef{Backend: "default/b"}, AttemptOptions{})
			require.NoError(t, err)
			require.NoError(t, at.Authenticate(context.Background()))
			got := http.Header{}
			for _, name := range clientCredentialHeaders {
				if v := at.Upstream.Header.Values(name); len(v) > 0 {
					got[name] = v
				}
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, "t1", at.Upstream.Header.Get("X-Trace"))
			if tc.auth {
				for _, name := range clientCredentialHeaders {
					require.Empty(t, auth.seen.Values(name), "%s is removed before the Authenticator runs", name)
				}
			}
		})
	}
}
