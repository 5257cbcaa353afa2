package dataplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/testcert"
)

func indent(b []byte, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n"+pad)
}

// tlsConfig is TestHTTPSListener's configuration: a Gateway with an HTTPS
// listener on port (when https) with the certificate, and a plain one on
// plainPort (when plain), and a route to the simulator at sim.
func tlsConfig(certPEM, keyPEM []byte, port, plainPort int, https, plain bool, sim string) string {
	listeners := ""
	if https {
		listeners += fmt.Sprintf(`
    - name: https
      protocol: HTTPS
      port: %d
      tls:
        mode: Terminate
        certificateRefs: [{kind: Secret, name: gw-cert}]`, port)
	}
	if plain {
		listeners += fmt.Sprintf(`
    - name: http
      protocol: HTTP
      port: %d`, plainPort)
	}
	sh, sp, _ := net.SplitHostPort(sim)
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: aigw
  listeners:%s
---
apiVersion: v1
kind: Secret
metadata: {name: gw-cert}
type: kubernetes.io/tls
stringData:
  tls.crt: |
%s
  tls.key: |
%s
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: %s}]}]
      backendRefs: [{name: sim}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: sim}
spec:
  schema: {name: OpenAI}
  backendRef: {name: sim, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: sim}
spec:
  endpoints: [{ip: {address: %s, port: %s}}]
`, listeners, indent(certPEM, 4), indent(keyPEM, 4), model, sh, sp)
}

// TestHTTPSListener serves an HTTPS listener, then follows edits of the
// file without a restart: a rotated certificate is served to new
// connections, a listener added starts, a listener removed stops.
func TestHTTPSListener(t *testing.T) {
	sims := startSims(t, 1, model)
	certPEM, keyPEM := testcert.SelfSigned(t, "aigw-test")
	port, plainPort := freePort(t), freePort(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(tlsConfig(certPEM, keyPEM, port, plainPort, true, false, sims[0])), 0o600))
	g := startGateway(t, path, port)

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(certPEM))
	httpc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	c := openai.NewClient(option.WithBaseURL(strings.Replace(g.url, "http://", "https://", 1)+"/v1"), option.WithAPIKey("unused"), option.WithHTTPClient(httpc), option.WithMaxRetries(0))
	resp, err := c.Chat.Completions.New(context.Background(), chat(model))
	require.NoError(t, err)
	require.NotEmpty(t, resp.Choices)

	// Plain HTTP on the HTTPS port is refused.
	plain, err := http.Post(g.url+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
	if err == nil {
		defer plain.Body.Close()
		require.Equal(t, http.StatusBadRequest, plain.StatusCode)
	}

	// The certificate rotated and a plain listener added, in the file.
	served := func() string {
		conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test reads the certificate served
		if err != nil {
			return err.Error()
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	newCert, newKey := testcert.SelfSigned(t, "aigw-test-rotated")
	require.NoError(t, os.WriteFile(path, []byte(tlsConfig(newCert, newKey, port, plainPort, true, true, sims[0])), 0o600))
	require.Eventually(t, func() bool { return served() == "aigw-test-rotated" }, 10*time.Second, 20*time.Millisecond,
		"the rotated certificate is not served:\n%s", g.stderr)
	pc := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", plainPort)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	_, err = pc.Chat.Completions.New(context.Background(), chat(model))
	require.NoError(t, err, "the listener added is not served:\n%s", g.stderr)

	// The HTTPS listener removed: its port closes, the other serves on.
	require.NoError(t, os.WriteFile(path, []byte(tlsConfig(newCert, newKey, port, plainPort, false, true, sims[0])), 0o600))
	require.Eventually(t, func() bool {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			conn.Close()
		}
		return err != nil
	}, 10*time.Second, 20*time.Millisecond, "the removed listener still accepts:\n%s", g.stderr)
	_, err = pc.Chat.Completions.New(context.Background(), chat(model))
	require.NoError(t, err)
	require.NotContains(t, g.stderr.String(), "PRIVATE KEY")
}
