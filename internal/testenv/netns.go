package testenv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// envInNetNS marks the re-executed test binary, so it never re-executes again.
const envInNetNS = "AIGW_TESTENV_NETNS"

// netnsState is set once by ReexecInNetNS, before m.Run starts any test.
var netnsState struct {
	inside bool   // running in a private network namespace with lo up
	reason string // why not, for RequireNetNS
}

// ReexecInNetNS runs the package's tests in a private network namespace and
// returns the exit code for os.Exit. Use it as the whole TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.ReexecInNetNS(m)) }
//
// Outside a namespace it re-executes the already-built test binary, with the
// same arguments and environment, in new network and PID namespaces (what
// `unshare -n -p -f` does; it needs root), and relays its exit code; inside,
// it brings the loopback device up (`ip link set lo up`) and calls m.Run.
// The binary is not rebuilt, so the module proxy being unreachable inside the
// namespace does not matter. A private network namespace has only `lo`: the
// pickers' all-interface listeners on fixed ports are invisible from outside
// and cannot collide with other tests on the machine, and 127.0.0.2,
// 127.0.0.3, ... serve as Pod IPs without set-up. The PID namespace ends
// with the test binary, so a crashed or timed-out run leaves no etcd,
// kube-apiserver or picker behind.
//
// A binary started by hand under `unshare -n` is recognised (every interface
// is a loopback one) and runs in place. When the namespace cannot be created
// (not root, no user-namespace support), ReexecInNetNS prints why and returns
// 1, unless SKIP_K8S_TESTS=1: then the tests run in place and every test that
// calls [RequireNetNS] (directly or through [StartSim], [StartEPP],
// [StartLWEPP]) is skipped with that reason.
func ReexecInNetNS(m *testing.M) int {
	if os.Getenv(envInNetNS) != "" || onlyLoopback() {
		if err := loopbackUp(); err != nil {
			netnsState.reason = fmt.Sprintf("cannot bring the loopback device up in the network namespace: %v", err)
		} else {
			netnsState.inside = true
		}
		return m.Run()
	}
	code, err := reexec()
	if err == nil {
		return code
	}
	msg := fmt.Sprintf("testenv: cannot run the tests in a private network namespace (the equivalent of `unshare -n`, which needs root): %v", err)
	if SkipRequested() {
		netnsState.reason = msg
		return m.Run()
	}
	fmt.Fprintf(os.Stderr, "%s\nRun the tests as root, or set %s=1 to skip the tests that need the namespace.\n", msg, EnvSkip)
	return 1
}

// RequireNetNS fails the test unless it runs inside the private network
// namespace that ReexecInNetNS sets up (skips it when SKIP_K8S_TESTS=1).
func RequireNetNS(t testing.TB) {
	t.Helper()
	if netnsState.inside {
		return
	}
	reason := netnsState.reason
	if reason == "" {
		reason = "the test binary does not run in a private network namespace: call testenv.ReexecInNetNS from the package's TestMain"
	}
	unavailable(t, "%s", reason)
}

// reexec runs this test binary again in new network and PID namespaces and
// returns its exit code. An error means the child could not be started.
func reexec() (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("find the test binary: %w", err)
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), envInNetNS+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWPID,
		// If this process dies (e.g. go test kills it after its timeout), so
		// does the child, and with it, as PID 1 of its namespace, every
		// process it started.
		Pdeathsig: syscall.SIGKILL,
	}
	// Pdeathsig fires when the thread that started the child exits; keep it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	// Relay the signals go test and terminals send, so the child can run its
	// cleanups (SIGINT, SIGTERM) or dump its goroutines (SIGQUIT on timeout).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
	defer signal.Stop(sigs)

	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case err := <-done:
			var exit *exec.ExitError
			switch {
			case err == nil:
				return 0, nil
			case errors.As(err, &exit):
				if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					fmt.Fprintf(os.Stderr, "testenv: test binary in the network namespace died: %v\n", ws.Signal())
					return 128 + int(ws.Signal()), nil
				}
				return exit.ExitCode(), nil
			default:
				fmt.Fprintf(os.Stderr, "testenv: waiting for the test binary in the network namespace: %v\n", err)
				return 1, nil
			}
		}
	}
}

// onlyLoopback reports whether every network interface is a loopback one,
// as in a fresh network namespace.
func onlyLoopback() bool {
	ifaces, err := net.Interfaces()
	if err != nil || len(ifaces) == 0 {
		return false
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagLoopback == 0 {
			return false
		}
	}
	return true
}

// loopbackUp sets IFF_UP on lo, like `ip link set lo up`.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get lo flags: %w", err)
	}
	if ifr.Uint16()&unix.IFF_UP != 0 {
		return nil
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// AddLoopbackAddress adds ip (IPv4) to the loopback device of the test's
// private network namespace, so that processes listening on all interfaces
// are reached there too: a Service's ClusterIP, say, as kube-proxy would
// make it reachable. It fails the test outside the namespace.
func AddLoopbackAddress(t testing.TB, ip string) {
	t.Helper()
	RequireNetNS(t)
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is4() {
		t.Fatalf("AddLoopbackAddress: %q is not an IPv4 address", ip)
	}
	if err := addLoopbackAddress(addr); err != nil {
		t.Fatalf("AddLoopbackAddress %s: %v", ip, err)
	}
}

// addLoopbackAddress sends the kernel an RTM_NEWADDR for addr/32 on lo
// over rtnetlink and reads its acknowledgement; an address already there
// is fine.
func addLoopbackAddress(addr netip.Addr) error {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink bind: %w", err)
	}
	a := addr.As4()
	attr := func(typ uint16, data []byte) []byte {
		b := make([]byte, unix.SizeofRtAttr+len(data)) // 4-byte aligned: data is 4 bytes
		binary.NativeEndian.PutUint16(b[0:], uint16(len(b)))
		binary.NativeEndian.PutUint16(b[2:], typ)
		copy(b[unix.SizeofRtAttr:], data)
		return b
	}
	ifa := make([]byte, unix.SizeofIfAddrmsg)
	ifa[0], ifa[1] = unix.AF_INET, 32 // family, prefix length; flags and scope (universe) 0
	binary.NativeEndian.PutUint32(ifa[4:], uint32(lo.Index))
	body := append(append(ifa, attr(unix.IFA_LOCAL, a[:])...), attr(unix.IFA_ADDRESS, a[:])...)
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], unix.RTM_NEWADDR)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	binary.NativeEndian.PutUint32(msg[8:], 1) // sequence number
	msg = append(msg, body...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return fmt.Errorf("netlink receive: %w", err)
	}
	if n < unix.SizeofNlMsghdr+4 || binary.NativeEndian.Uint16(buf[4:]) != unix.NLMSG_ERROR {
		return fmt.Errorf("netlink: unexpected answer of %d bytes", n)
	}
	switch errno := -int32(binary.NativeEndian.Uint32(buf[unix.SizeofNlMsghdr:])); errno {
	case 0, int32(unix.EEXIST):
		return nil
	default:
		return fmt.Errorf("RTM_NEWADDR: %w", unix.Errno(errno))
	}
}
