package backendauth_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/backendauth"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/processor"
)

// clientCredentials are credential headers a client may send the gateway.
var clientCredentials = http.Header{
	"Authorization":       {"Bearer client"},
	"Proxy-Authorization": {"Basic Y2xpZW50OnB3"},
	"X-Api-Key":           {"client-x-api-key"},
	"Api-Key":             {"client-api-key"},
	"Cookie":              {"session=client"},
}

// attempt builds the attempt of a chat request with clientCredentials (and
// one ordinary header) on an OpenAI backend with auth a (nil for none).
// The auth types do not depend on the schema.
func attempt(t *testing.T, a *config.Auth, ref *config.BackendRef) *processor.Attempt {
	t.Helper()
	h, err := backendauth.New(a, backendauth.Options{})
	require.NoError(t, err)
	b := &processor.Backend{Name: "default/b", Schema: config.Schema{Name: config.SchemaOpenAI}, Auth: h}
	clientHeader := clientCredentials.Clone()
	clientHeader.Set("X-Trace", "t1")
	req := &llm.Request{Operation: llm.OperationChat, Model: "m",
		Body: []byte(`{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`)}
	if ref == nil {
		ref = &config.BackendRef{Backend: "default/b"}
	}
	at, err := processor.NewAttempt(req, clientHeader, b, ref, processor.AttemptOptions{})
	require.NoError(t, err)
	require.NoError(t, at.Authenticate(context.Background()))
	return at
}

func TestAPIKeys(t *testing.T) {
	tests := []struct {
		typ       config.AuthType
		header    string
		wantValue string
	}{
		{typ: config.AuthAPIKey, header: "Authorization", wantValue: "Bearer sk-1"},
		{typ: config.AuthAzureAPIKey, header: "Api-Key", wantValue: "sk-1"},
		{typ: config.AuthAnthropicAPIKey, header: "X-Api-Key", wantValue: "sk-1"},
	}
	for _, tc := range tests {
		t.Run(string(tc.typ), func(t *testing.T) {
			a := &config.Auth{Policy: "default/p", Type: tc.typ, APIKey: &config.APIKeyAuth{Key: "sk-1"}}
			got := attempt(t, a, nil).Upstream.Header
			for name := range clientCredentials {
				if name == tc.header {
					require.Equal(t, []string{tc.wantValue}, got.Values(name), "only the injected credential")
				} else {
					require.Empty(t, got.Values(name), "the client's %s is not forwarded", name)
				}
			}
			require.Equal(t, "t1", got.Get("X-Trace"), "other client headers pass")
			require.NotContains(t, fmt.Sprintf("%v %+v %#v", *a.APIKey, *a.APIKey, *a.APIKey), "sk-1", "a printed key is redacted")
		})
	}
}

func TestNoAuthForwardsClientCredentials(t *testing.T) {
	got := attempt(t, nil, nil).Upstream.Header
	for name, v := range clientCredentials {
		require.Equal(t, v, got.Values(name), "without a BackendSecurityPolicy the client's %s passes through", name)
	}
}

// TestRouteHeaderMutationKeepsItsCredential: only the client's headers are
// removed; a header the route's headerMutation sets is the operator's.
func TestRouteHeaderMutationKeepsItsCredential(t *testing.T) {
	a := &config.Auth{Policy: "default/p", Type: config.AuthAzureAPIKey, APIKey: &config.APIKeyAuth{Key: "sk-1"}}
	ref := &config.BackendRef{Backend: "default/b", HeaderMutation: &config.HeaderMutation{Set: []config.HeaderValue{{Name: "Cookie", Value: "route=1"}}}}
	got := attempt(t, a, ref).Upstream.Header
	require.Equal(t, []string{"route=1"}, got.Values("Cookie"))
	require.Equal(t, "sk-1", got.Get("Api-Key"))
	require.Empty(t, got.Values("Authorization"))
}

func TestNewErrors(t *testing.T) {
	h, err := backendauth.New(nil, backendauth.Options{})
	require.NoError(t, err)
	require.Nil(t, h)
	_, err = backendauth.New(&config.Auth{Policy: "default/p", Type: config.AuthAPIKey}, backendauth.Options{})
	require.ErrorContains(t, err, "policy default/p: APIKey has no key")
	_, err = backendauth.New(&config.Auth{Policy: "default/p", Type: "Bogus"}, backendauth.Options{})
	require.ErrorIs(t, err, backendauth.ErrUnsupported)
}
