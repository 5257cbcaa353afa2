package httpproxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/epp/epptest"
	"github.com/aigw-dev/aigw/internal/llm"
)

// signingAuth signs the final request as a signing scheme (AWS SigV4)
// does: a hash of the body it is given, and a credential header.
type signingAuth struct{}

var _ llm.Authenticator = signingAuth{}

func (signingAuth) Authenticate(_ context.Context, req *llm.UpstreamRequest) error {
	sum := sha256.Sum256(req.Body)
	req.Header.Set("X-Body-Sha256", hex.EncodeToString(sum[:]))
	req.Header.Set("Authorization", "Bearer backend-secret")
	return nil
}

// withAuth replaces the authenticator of the named backend in force.
func withAuth(t *testing.T, g *Gateway, name string, a llm.Authenticator) {
	t.Helper()
	for _, b := range g.current.Load().Backends() {
		if b.Name == name {
			b.Auth = a
			return
		}
	}
	t.Fatalf("no backend %s", name)
}

// TestAuthLastOnPools: credentials are applied after every edit of the
// request, a pool's model rewrite (own pick or picker) included, so a
// signature covers the bytes the endpoint receives; the picker never sees
// the backend's credentials.
func TestAuthLastOnPools(t *testing.T) {
	t.Run("own pick with a rewrite rule", func(t *testing.T) {
		a := newFakeOpenAI(t, "a")
		backend := poolOf("default/pool", nil, a)
		backend.Pool.ModelRewrites = []config.ModelRewrite{{Models: []string{"m"}, Targets: []config.ModelRewriteTarget{{Model: "m-v2"}}}}
		tg := newTestGateway(t, poolConfig(backend))
		withAuth(t, tg.Gateway, backend.Name, signingAuth{})
		resp, err := http.Post(tg.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[]}`))
		require.NoError(t, err)
		readAll(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		seen := a.requests()[0]
		require.Equal(t, "m-v2", seen.Body["model"])
		sum := sha256.Sum256(seen.Raw)
		require.Equal(t, hex.EncodeToString(sum[:]), seen.Header.Get("X-Body-Sha256"), "the signature covers the rewritten body")
	})
	t.Run("picker rewrites the model", func(t *testing.T) {
		a := newFakeOpenAI(t, "a")
		var mu sync.Mutex
		var pickerSaw []map[string]string
		picker := epptest.Start(t, epptest.Replace, func(h map[string]string, _ []byte) epptest.Decision {
			mu.Lock()
			pickerSaw = append(pickerSaw, h)
			mu.Unlock()
			return epptest.Decision{Pick: addrOf(a), RewriteModel: "m-v3"}
		})
		backend := poolOf("default/pool", pickerAt(picker, config.FailClose), a)
		tg := newTestGateway(t, poolConfig(backend))
		withAuth(t, tg.Gateway, backend.Name, signingAuth{})
		req, err := http.NewRequest(http.MethodPost, tg.srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[]}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer client-key")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		readAll(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		seen := a.requests()[0]
		require.Equal(t, "m-v3", seen.Body["model"])
		sum := sha256.Sum256(seen.Raw)
		require.Equal(t, hex.EncodeToString(sum[:]), seen.Header.Get("X-Body-Sha256"), "the signature covers the picker's body")
		require.Equal(t, "Bearer backend-secret", seen.Header.Get("Authorization"))
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, pickerSaw, 1)
		for name, v := range pickerSaw[0] {
			require.NotContains(t, v, "backend-secret", "the picker saw the backend's credential in %s", name)
			require.NotContains(t, v, "client-key", "the picker saw the client's credential in %s", name)
		}
	})
}
