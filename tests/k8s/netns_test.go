package k8s

import (
	"net"
	"testing"

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
