package testenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Health services the pickers report readiness on (gaie-protocol.md §5.2).
const (
	// EPPHealthService is GAIE v1.5.0's: SERVING once the pool is synced.
	EPPHealthService = "envoy.service.ext_proc.v3.ExternalProcessor"
	// LWEPPHealthService is lwepp's: SERVING once its caches are synced.
	LWEPPHealthService = "inference-extension"
)

// Limits for a picker process.
const (
	pickerReadyTimeout = 60 * time.Second
	pickerStopTimeout  = 10 * time.Second
)

// PickerOptions configure [StartEPP] and [StartLWEPP].
type PickerOptions struct {
	// Kubeconfig is the path of the kubeconfig the picker uses, usually
	// [Env.Kubeconfig].
	Kubeconfig string
	// PoolName and PoolNamespace name the InferencePool (namespace
	// DefaultNamespace if empty).
	PoolName      string
	PoolNamespace string
	// GRPCPort (ext_proc, default 9002), HealthPort (default 9003) and
	// MetricsPort (default 9090) are bound on all interfaces; pickers that
	// run at the same time need distinct ports.
	GRPCPort, HealthPort, MetricsPort int
	// TLS keeps the pickers' default --secure-serving=true (a self-signed
	// certificate); otherwise ext_proc is plaintext h2c.
	TLS bool
	// Args are extra command-line flags.
	Args []string
}

// Picker is a running endpoint-picker process.
type Picker struct {
	// Name is e.g. "GAIE epp v1.5.0".
	Name string
	// Addr is the ext_proc address, "127.0.0.1:<GRPCPort>".
	Addr string
	// HealthAddr and MetricsAddr are the health and Prometheus addresses.
	HealthAddr, MetricsAddr string
	// TLS tells whether ext_proc is served over TLS.
	TLS bool

	cmd     *exec.Cmd
	log     *logBuffer
	exited  chan struct{}
	err     error // the process's exit, valid after exited is closed
	stopped bool  // Stop was called: exiting early is expected
}

// StartEPP starts GAIE's full endpoint picker (v1.5.0) for the pool, with
// KUBECONFIG set (it has no --kubeconfig flag), tracing, pprof and metrics
// authentication off, and waits until its health service reports SERVING.
// The process is stopped at cleanup; its output goes to the test log when
// the test failed.
func StartEPP(t testing.TB, o PickerOptions) *Picker {
	t.Helper()
	o = o.withDefaults()
	args := []string{
		"--pool-name=" + o.PoolName,
		"--pool-namespace=" + o.PoolNamespace,
		"--grpc-port=" + strconv.Itoa(o.GRPCPort),
		"--grpc-health-port=" + strconv.Itoa(o.HealthPort),
		"--metrics-port=" + strconv.Itoa(o.MetricsPort),
		"--secure-serving=" + strconv.FormatBool(o.TLS),
		"--tracing=false",
		"--metrics-endpoint-auth=false",
		"--enable-pprof=false",
		"--v=2",
	}
	return startPicker(t, EPP, EPPHealthService, o, append(args, o.Args...))
}

// StartLWEPP starts GAIE's lightweight picker lwepp (v1.6.0) for the pool,
// with --kubeconfig, and waits until its health service reports SERVING.
// lwepp round-robins, does not scrape metrics, and honours the
// test-epp-endpoint-selection header. The process is stopped at cleanup; its
// output goes to the test log when the test failed.
func StartLWEPP(t testing.TB, o PickerOptions) *Picker {
	t.Helper()
	o = o.withDefaults()
	args := []string{
		"--pool-name=" + o.PoolName,
		"--pool-namespace=" + o.PoolNamespace,
		"--grpc-port=" + strconv.Itoa(o.GRPCPort),
		"--grpc-health-port=" + strconv.Itoa(o.HealthPort),
		"--metrics-port=" + strconv.Itoa(o.MetricsPort),
		"--secure-serving=" + strconv.FormatBool(o.TLS),
		"--kubeconfig=" + o.Kubeconfig,
		"--zap-log-level=4",
	}
	return startPicker(t, LWEPP, LWEPPHealthService, o, append(args, o.Args...))
}

func (o PickerOptions) withDefaults() PickerOptions {
	if o.PoolNamespace == "" {
		o.PoolNamespace = DefaultNamespace
	}
	if o.GRPCPort == 0 {
		o.GRPCPort = 9002
	}
	if o.HealthPort == 0 {
		o.HealthPort = 9003
	}
	if o.MetricsPort == 0 {
		o.MetricsPort = 9090
	}
	return o
}

func startPicker(t testing.TB, c Component, healthService string, o PickerOptions, args []string) *Picker {
	t.Helper()
	bin := BinaryPath(t, c)
	RequireNetNS(t)
	if o.Kubeconfig == "" || o.PoolName == "" {
		t.Fatalf("%s: PickerOptions need Kubeconfig and PoolName", c)
	}
	p := &Picker{
		Name:        c.String(),
		Addr:        net.JoinHostPort("127.0.0.1", strconv.Itoa(o.GRPCPort)),
		HealthAddr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(o.HealthPort)),
		MetricsAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(o.MetricsPort)),
		TLS:         o.TLS,
		log:         newLogBuffer(),
		exited:      make(chan struct{}),
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+o.Kubeconfig)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.Dir = t.TempDir()
	// Dies with the test process, whatever happens to it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.Name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("%s output (%s):\n%s", p.Name, p.cmd, p.log.String())
		}
	})
	if err := p.waitServing(t, healthService); err != nil {
		t.Fatalf("%s did not become ready: %v\n%s output:\n%s", p.Name, err, p.Name, p.log.String())
	}
	t.Logf("%s: %s SERVING on %s after %v", p.Name, healthService, p.HealthAddr, time.Since(start).Round(time.Millisecond))
	return p
}

// waitServing polls the gRPC health service until it answers SERVING, the
// process exits, or pickerReadyTimeout passes.
func (p *Picker) waitServing(t testing.TB, service string) error {
	conn, err := grpc.NewClient(p.HealthAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(pickerReadyTimeout)
	var last error
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		cancel()
		switch {
		case err != nil:
			last = err
		case resp.GetStatus() == healthpb.HealthCheckResponse_SERVING:
			return nil
		default:
			last = fmt.Errorf("health service %q is %v", service, resp.GetStatus())
		}
		select {
		case <-p.exited:
			return fmt.Errorf("process exited: %w", p.exitErr())
		case <-t.Context().Done():
			return t.Context().Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not SERVING after %v: %w", pickerReadyTimeout, last)
		}
	}
}

func (p *Picker) exitErr() error {
	if p.err == nil {
		return errors.New("exit status 0")
	}
	return p.err
}

// Exited reports whether the process has ended, and how.
func (p *Picker) Exited() (bool, error) {
	select {
	case <-p.exited:
		return true, p.exitErr()
	default:
		return false, nil
	}
}

// Logs returns the process's output so far (the last part of it).
func (p *Picker) Logs() string { return p.log.String() }

// Dial returns a gRPC client connection to the ext_proc port, closed at
// cleanup. With TLS it does not verify the picker's self-signed certificate,
// as GAIE's own Envoy examples do.
func (p *Picker) Dial(t testing.TB) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if p.TLS {
		creds = credentials.NewTLS(&tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // the picker's certificate is self-signed (gaie-protocol.md §5.2)
			MinVersion:         tls.VersionTLS12,
		})
	}
	conn, err := grpc.NewClient(p.Addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatalf("dial %s at %s: %v", p.Name, p.Addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// Stop stops the picker in the middle of a test (to test what a gateway
// does when its picker is gone); cleanup then does nothing more.
func (p *Picker) Stop(t testing.TB) {
	t.Helper()
	p.stop(t)
	p.stopped = true
}

// stop sends SIGTERM, then SIGKILL after pickerStopTimeout.
func (p *Picker) stop(t testing.TB) {
	select {
	case <-p.exited:
		if !t.Failed() && !p.stopped {
			t.Errorf("%s exited before the end of the test: %v", p.Name, p.exitErr())
		}
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(pickerStopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Logf("%s did not stop within %v of SIGTERM; killed", p.Name, pickerStopTimeout)
	}
}
