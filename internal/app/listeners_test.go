package app

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/testcert"
)

// certificate returns a self-signed PEM pair named cn for 127.0.0.1.
func certificate(t *testing.T, cn string) config.CertificatePair {
	certPEM, keyPEM := testcert.SelfSigned(t, cn)
	return config.CertificatePair{Name: "default/" + cn, CertPEM: string(certPEM), KeyPEM: config.Secret(keyPEM)}
}

// TestListenerSetReconcile: reloads start new listeners, stop removed
// ones, rotate certificates for the next handshakes, and refuse a port
// shared by HTTP and HTTPS while the others serve.
func TestListenerSetReconcile(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	set := &listenerSet{settings: listenSettings{host: "127.0.0.1", base: t.Context()}, handler: handler,
		logger: slog.New(slog.DiscardHandler), serve: func(srv *http.Server, ln net.Listener) {
			useTLS := srv.TLSConfig != nil
			go func() {
				if useTLS {
					_ = srv.ServeTLS(ln, "", "")
				} else {
					_ = srv.Serve(ln)
				}
			}()
		}, drain: time.Second}
	t.Cleanup(func() {
		for _, srv := range set.servers() {
			_ = srv.Close()
		}
	})
	pa, pb, pc := freeLoopbackPort(t), freeLoopbackPort(t), freeLoopbackPort(t)
	plainOK := func(port int) error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	peer := func(port int) (string, string) {
		conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}}) //nolint:gosec // the test reads the certificate served
		require.NoError(t, err)
		defer conn.Close()
		st := conn.ConnectionState()
		return st.PeerCertificates[0].Subject.CommonName, st.NegotiatedProtocol
	}
	a := config.Listener{Name: "default/gw/a", Port: int32(pa)}
	b := config.Listener{Name: "default/gw/b", Port: int32(pb)}
	bOther := config.Listener{Name: "default/gw/b-other", Port: int32(pb), Hostname: "other.example.com"}
	c := func(cn string) config.Listener {
		return config.Listener{Name: "default/gw/c", Port: int32(pc), TLS: &config.ListenerTLS{Certificates: []config.CertificatePair{certificate(t, cn)}}}
	}

	require.NoError(t, set.reconcile(configOf([]config.Listener{a})))
	require.NoError(t, plainOK(pa))

	// Listeners added: a port's listeners share its server; HTTPS speaks h2.
	require.NoError(t, set.reconcile(configOf([]config.Listener{a, b, bOther, c("one")})))
	require.NoError(t, plainOK(pa))
	require.NoError(t, plainOK(pb))
	require.Len(t, set.servers(), 3)
	cn, proto := peer(pc)
	require.Equal(t, "one", cn)
	require.Equal(t, "h2", proto)

	// a removed, c's certificate rotated: new handshakes get the new one.
	require.NoError(t, set.reconcile(configOf([]config.Listener{b, c("two")})))
	require.Eventually(t, func() bool { return plainOK(pa) != nil }, 5*time.Second, 10*time.Millisecond, "the removed listener still accepts")
	require.NoError(t, plainOK(pb))
	cn, _ = peer(pc)
	require.Equal(t, "two", cn)

	// HTTP and HTTPS on one port: refused, the rest keeps serving as it was.
	mixed := c("three")
	mixed.Port = int32(pb)
	err := set.reconcile(configOf([]config.Listener{b, mixed, c("two")}))
	require.ErrorContains(t, err, "share a port but not its protocol")
	require.NoError(t, plainOK(pb))
	cn, _ = peer(pc)
	require.Equal(t, "two", cn)

	// A port another process holds: that listener fails, and a retry
	// binds it once the port is free.
	holder, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	busy := config.Listener{Name: "default/gw/busy", Port: int32(holder.Addr().(*net.TCPAddr).Port)}
	err = set.reconcile(configOf([]config.Listener{b, busy}))
	require.ErrorContains(t, err, "address already in use")
	require.Contains(t, set.failures(), "default/gw/busy")
	require.NoError(t, plainOK(pb))
	require.NoError(t, holder.Close())
	tried, err := set.retry()
	require.True(t, tried)
	require.NoError(t, err)
	require.Empty(t, set.failures())
	require.NoError(t, plainOK(int(busy.Port)))
	tried, _ = set.retry()
	require.False(t, tried, "nothing left to retry")

	// Client settings changed: the listener starts again with them.
	require.NoError(t, set.reconcile(&config.Config{Gateways: []config.Gateway{{Name: "default/gw", Listeners: []config.Listener{b}, Client: config.ClientSettings{ConnectionLimit: 5}}}}))
	require.Eventually(t, func() bool { return plainOK(pb) == nil }, 5*time.Second, 10*time.Millisecond)
	require.Len(t, set.servers(), 1)
}

// configOf returns a configuration of one Gateway with listeners.
func configOf(listeners []config.Listener) *config.Config {
	return &config.Config{Gateways: []config.Gateway{{Name: "default/gw", Listeners: listeners}}}
}
