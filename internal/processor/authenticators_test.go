package processor

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
)

// TestAuthenticatorsShared: backends of one credential share its
// authenticator (one token cache); a reload that keeps the credential
// keeps it; a rotated secret is another credential; a credential no
// configuration uses is forgotten.
func TestAuthenticatorsShared(t *testing.T) {
	key := func(k string) *config.Auth {
		return &config.Auth{Policy: "default/p", Type: config.AuthAPIKey, APIKey: &config.APIKeyAuth{Key: config.Secret(k)}}
	}
	cfg := func(k string) *config.Config {
		c := &config.Config{Version: config.Version}
		for _, name := range []string{"default/a", "default/b"} {
			c.Backends = append(c.Backends, config.Backend{Name: name, Schema: config.Schema{Name: config.SchemaOpenAI},
				Endpoints: []config.Endpoint{{Host: "127.0.0.1", Port: 80}}, Auth: key(k)})
		}
		return c
	}
	p := New(Options{})
	first, err := p.Compile(cfg("sk-1"))
	require.NoError(t, err)
	a, b := first.Backends()[0].Auth, first.Backends()[1].Auth
	require.Same(t, a, b, "one authenticator per credential")

	again, err := p.Compile(cfg("sk-1"))
	require.NoError(t, err)
	require.Same(t, a, again.Backends()[0].Auth, "a reload keeps the credential's authenticator")

	rotated, err := p.Compile(cfg("sk-2"))
	require.NoError(t, err)
	require.NotSame(t, a, rotated.Backends()[0].Auth, "a rotated key is another credential")
	require.Len(t, p.auth.byKey, 1, "the old credential is forgotten")
}
