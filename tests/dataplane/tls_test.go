package dataplane

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
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
)

// selfSigned returns a PEM certificate and key for 127.0.0.1.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "aigw-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func indent(b []byte, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n"+pad)
}

func TestHTTPSListener(t *testing.T) {
	sims := startSims(t, 1, model)
	certPEM, keyPEM := selfSigned(t)
	port := freePort(t)
	sh, sp, _ := net.SplitHostPort(sims[0])
	cfg := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: aigw
  listeners:
    - name: https
      protocol: HTTPS
      port: %d
      tls:
        mode: Terminate
        certificateRefs: [{kind: Secret, name: gw-cert}]
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
`, port, indent(certPEM, 4), indent(keyPEM, 4), model, sh, sp)
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
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
	require.NotContains(t, g.stderr.String(), "PRIVATE KEY")
}
