package app

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
)

// TestListenerClientSettings: a ClientTrafficPolicy's connection limit
// holds the next connection until one closes; its idle timeout and
// Envoy's header limits apply to the server.
func TestListenerClientSettings(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	srv, ln, err := listen(config.Listener{Name: "l", Address: "127.0.0.1"}, listenSettings{
		client: config.ClientSettings{ConnectionLimit: 2, IdleTimeout: config.Duration(42 * time.Second)},
		base:   context.Background(),
	}, ok)
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	require.Equal(t, 42*time.Second, srv.IdleTimeout)
	require.Equal(t, defaultHeaderReadTimeout, srv.ReadHeaderTimeout)
	require.Equal(t, 60<<10, srv.MaxHeaderBytes)
	require.True(t, srv.Protocols.UnencryptedHTTP2(), "h2c with prior knowledge on a plain listener")

	get := func(c net.Conn) error {
		if _, err := fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, get(c))
		held = append(held, c)
	}
	third, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer third.Close()
	done := make(chan error, 1)
	go func() { done <- get(third) }()
	select {
	case err := <-done:
		t.Fatalf("a third connection was served over the limit of 2 (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	held[0].Close()
	require.NoError(t, <-done, "served once a connection closed")
}
