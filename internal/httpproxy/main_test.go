package httpproxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// upstreamProcessEnv names the file whose content type and body a copy of
// the test binary serves as an upstream in its own process (see
// startUpstreamProcess).
const upstreamProcessEnv = "AIGW_TEST_UPSTREAM_PROCESS"

func TestMain(m *testing.M) {
	if path := os.Getenv(upstreamProcessEnv); path != "" {
		os.Exit(serveUpstreamProcess(path))
	}
	os.Exit(m.Run())
}

// serveUpstreamProcess answers every request with the file's body (after
// its first line, the content type) until its standard input closes.
func serveUpstreamProcess(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	contentType, body, _ := bytes.Cut(b, []byte("\n"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", string(contentType))
		_, _ = w.Write(body)
	}))
	return 1
}

// startUpstreamProcess serves body as contentType from another process (a
// copy of the test binary), so that a benchmark's CPU time is the
// gateway's alone; it returns the upstream's URL.
func startUpstreamProcess(tb testing.TB, contentType string, body []byte) string {
	path := tb.TempDir() + "/upstream"
	if err := os.WriteFile(path, append([]byte(contentType+"\n"), body...), 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), upstreamProcessEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("the upstream process did not start: %v", err)
	}
	return "http://" + strings.TrimSpace(addr)
}
