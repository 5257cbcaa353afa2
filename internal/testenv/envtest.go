package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"
)

// Env is a running envtest control plane: a real kube-apiserver and etcd
// with GAIE's CRDs installed.
type Env struct {
	// Client is a controller-runtime client for an admin (system:masters)
	// user, with [Env.Scheme].
	Client client.Client
	// Config is the admin user's rest.Config.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for the admin user, for
	// child processes (KUBECONFIG=... or --kubeconfig=...).
	Kubeconfig string
	// Scheme knows the built-in types, apiextensions v1 and GAIE's v1 API.
	Scheme *runtime.Scheme

	env *envtest.Environment
}

// StopAPIServer stops the kube-apiserver (etcd keeps the data), as an
// outage or a restart does; [Env.StartAPIServer] starts it again on the
// same address.
func (e *Env) StopAPIServer(t testing.TB) {
	t.Helper()
	// With clients watching, kube-apiserver may not finish its graceful
	// shutdown within the stop timeout; it is then killed, which is an
	// outage too.
	if err := e.env.ControlPlane.APIServer.Stop(); err != nil && !strings.Contains(err.Error(), "timeout waiting") {
		t.Fatalf("stop kube-apiserver: %v", err)
	}
}

// StartAPIServer starts the kube-apiserver [Env.StopAPIServer] stopped.
func (e *Env) StartAPIServer(t testing.TB) {
	t.Helper()
	if err := e.env.ControlPlane.APIServer.Start(); err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
}

// Timeouts of the control plane; generous, since the machines running these
// tests are small and busy.
const (
	controlPlaneStartTimeout = 90 * time.Second
	controlPlaneStopTimeout  = 20 * time.Second
)

var silenceControllerRuntime sync.Once

// NewScheme returns a scheme with the built-in Kubernetes types,
// apiextensions v1 and GAIE's inference.networking.k8s.io/v1.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		apiextensionsv1.AddToScheme,
		gaiev1.Install,
	} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// StartEnv starts etcd and kube-apiserver through controller-runtime's
// envtest, installs GAIE's CRDs (embedded copies of the pinned module's
// config/crd/bases) and waits until they are served. The control plane is
// stopped at cleanup, and its output is written to the test log if the test
// failed. Missing binaries fail the test, or skip it with SKIP_K8S_TESTS=1
// (see [BinaryPath]).
//
// kube-apiserver gets --advertise-address=127.0.0.1 and
// --endpoint-reconciler-type=none: inside a network namespace that has only
// lo it otherwise exits ("no default routes found", then "cannot use public
// IP 127.0.0.1 with endpoint reconciler"); both flags also work outside one.
func StartEnv(t testing.TB) *Env {
	t.Helper()
	crds, err := GAIECRDs()
	if err != nil {
		t.Fatalf("GAIE CRDs: %v", err)
	}
	return startEnv(t, crds)
}

// StartBareEnv is [StartEnv] without any CRD installed: for tests that
// install CRDs as users do (the aigw-crds chart).
func StartBareEnv(t testing.TB) *Env {
	t.Helper()
	return startEnv(t, nil)
}

func startEnv(t testing.TB, crds []*apiextensionsv1.CustomResourceDefinition) *Env {
	t.Helper()
	etcdPath := BinaryPath(t, Etcd)
	apiserverPath := BinaryPath(t, KubeAPIServer)

	silenceControllerRuntime.Do(func() {
		// Otherwise controller-runtime complains, with a stack trace, that
		// its logger was never set.
		ctrllog.SetLogger(logr.Discard())
	})
	scheme, err := NewScheme()
	if err != nil {
		t.Fatalf("scheme: %v", err)
	}

	// Registered before env.Stop's cleanup, so it is removed after the
	// processes have stopped.
	dir := t.TempDir()
	etcdLog := newLogBuffer()
	apiserverLog := newLogBuffer()
	env := &envtest.Environment{
		Scheme:                   scheme,
		CRDs:                     crds,
		ControlPlaneStartTimeout: controlPlaneStartTimeout,
		ControlPlaneStopTimeout:  controlPlaneStopTimeout,
	}
	env.ControlPlane.Etcd = &envtest.Etcd{
		Path:    etcdPath,
		DataDir: filepath.Join(dir, "etcd"),
		Out:     etcdLog,
		Err:     etcdLog,
	}
	apiserver := env.ControlPlane.GetAPIServer()
	apiserver.Path = apiserverPath
	apiserver.CertDir = filepath.Join(dir, "apiserver")
	apiserver.Out = apiserverLog
	apiserver.Err = apiserverLog
	apiserver.Configure().
		Set("advertise-address", "127.0.0.1").
		Set("endpoint-reconciler-type", "none")
	for _, d := range []string{env.ControlPlane.Etcd.DataDir, apiserver.CertDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	dumpLogs := func() {
		t.Logf("etcd output (last %d bytes kept):\n%s", logBufferLimit, etcdLog.String())
		t.Logf("kube-apiserver output (last %d bytes kept):\n%s", logBufferLimit, apiserverLog.String())
	}
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		dumpLogs()
		t.Fatalf("start envtest (etcd %s, kube-apiserver %s): %v", etcdPath, apiserverPath, err)
	}
	t.Logf("envtest: control plane with %d CRDs up in %v", len(crds), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs()
		}
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatalf("write kubeconfig: %v", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return &Env{Client: c, Config: cfg, Kubeconfig: kubeconfig, Scheme: scheme, env: env}
}
