package k8s

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/testenv"
)

// TestMain put the binary in a private network namespace: only loopback
// devices, lo up, and the Pod IPs usable.
func TestRunsInPrivateNetworkNamespace(t *testing.T) {
	testenv.RequireNetNS(t)
	ifaces, err := net.Interfaces()
	require.NoError(t, err)
	for _, ifc := range ifaces {
		require.NotZero(t, ifc.Flags&net.FlagLoopback, "interface %s is visible in the namespace", ifc.Name)
		require.NotZero(t, ifc.Flags&net.FlagUp, "%s is down", ifc.Name)
	}
	for _, ip := range podIPs {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		require.NoError(t, err, "listen on Pod IP %s", ip)
		require.NoError(t, ln.Close())
	}
}

// TestAddLoopbackAddress: an address added to the namespace's loopback
// device (a Service's ClusterIP) reaches a listener on all interfaces.
func TestAddLoopbackAddress(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	testenv.AddLoopbackAddress(t, "10.0.0.77")
	testenv.AddLoopbackAddress(t, "10.0.0.77") // twice is fine
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	c, err := net.DialTimeout("tcp", net.JoinHostPort("10.0.0.77", port), 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, c.Close())
}
