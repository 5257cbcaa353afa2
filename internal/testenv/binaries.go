package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Versions of the prebuilt components; they must match hack/components.sh
// (TestVersionsMatchComponentsScript checks).
const (
	EtcdVersion          = "3.4.23"
	KubeAPIServerVersion = "v1.37.2"
	EPPVersion           = "v1.5.0"
	LWEPPVersion         = "v1.6.0"
	RedisVersion         = "7.0.15"
)

// Environment variables the harness reads.
const (
	// EnvCacheDir overrides the component cache directory.
	EnvCacheDir = "AIGW_CACHE_DIR"
	// EnvKubebuilderAssets names a directory holding etcd and kube-apiserver
	// (envtest's convention); it overrides the cache for those two.
	EnvKubebuilderAssets = "KUBEBUILDER_ASSETS"
	// EnvSkip, set to 1, turns a missing binary or an unavailable network
	// namespace from a test failure into a skip.
	EnvSkip = "SKIP_K8S_TESTS"
)

// buildCommand is what a missing-binary message tells the reader to run.
const buildCommand = "hack/components.sh"

// Component is a prebuilt program the tests run.
type Component int

// The components hack/components.sh builds.
const (
	Etcd          Component = iota // etcd, from Debian's etcd-server package
	KubeAPIServer                  // kube-apiserver, built from k8s.io/kubernetes
	EPP                            // GAIE's full endpoint picker, cmd/epp
	LWEPP                          // GAIE's lightweight (conformance) picker, cmd/lwepp
	Redis                          // redis-server, from Debian's package (its libraries in lib/ beside it)
)

type componentInfo struct {
	name, version, cacheDir, binary string
	envtestAsset                    bool // may come from KUBEBUILDER_ASSETS
}

func (c Component) info() componentInfo {
	switch c {
	case Etcd:
		return componentInfo{"etcd", EtcdVersion, "etcd", "etcd", true}
	case KubeAPIServer:
		return componentInfo{"kube-apiserver", KubeAPIServerVersion, "kube-apiserver", "kube-apiserver", true}
	case EPP:
		return componentInfo{"GAIE epp", EPPVersion, "gaie-epp", "epp", false}
	case LWEPP:
		return componentInfo{"GAIE lwepp", LWEPPVersion, "gaie-lwepp", "lwepp", false}
	case Redis:
		return componentInfo{"redis", RedisVersion, "redis", "redis-server", false}
	}
	panic(fmt.Sprintf("testenv: unknown component %d", int(c)))
}

// String returns the component's name and version, e.g. "kube-apiserver v1.37.2".
func (c Component) String() string {
	i := c.info()
	return i.name + " " + i.version
}

// Version returns the version the harness expects.
func (c Component) Version() string { return c.info().version }

// Path returns where the component's binary is expected, whether or not it
// exists: $KUBEBUILDER_ASSETS/<binary> for etcd and kube-apiserver when that
// variable is set, else <cache>/<component>/<version>/<binary>.
func (c Component) Path() string {
	i := c.info()
	if dir := os.Getenv(EnvKubebuilderAssets); dir != "" && i.envtestAsset {
		return filepath.Join(dir, i.binary)
	}
	return filepath.Join(CacheDir(), i.cacheDir, i.version, i.binary)
}

// CacheDir returns the component cache: $AIGW_CACHE_DIR, else
// $HOME/.cache/aigw-test (what hack/components.sh uses).
func CacheDir() string {
	if dir := os.Getenv(EnvCacheDir); dir != "" {
		return dir
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "aigw-test")
}

// SkipRequested reports whether SKIP_K8S_TESTS=1 is set.
func SkipRequested() bool { return os.Getenv(EnvSkip) == "1" }

// BinaryPath returns the path of c's binary. When it is missing or not
// executable the test fails with a message naming the binary and the command
// that builds it, or is skipped with that message when SKIP_K8S_TESTS=1.
func BinaryPath(t testing.TB, c Component) string {
	t.Helper()
	p := c.Path()
	st, err := os.Stat(p)
	if err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
		return p
	}
	problem := "is not an executable file"
	if err != nil {
		problem = "is missing"
	}
	where := "the cache " + CacheDir() + " (set " + EnvCacheDir + " to use another)"
	if c.info().envtestAsset && os.Getenv(EnvKubebuilderAssets) != "" {
		where = EnvKubebuilderAssets + "=" + os.Getenv(EnvKubebuilderAssets)
	}
	unavailable(t, "%s: %s %s (looked in %s); build it with %s, which caches every component by version, or set %s=1 to skip these tests",
		c, p, problem, where, buildCommand, EnvSkip)
	return ""
}

// unavailable fails the test, or skips it when SKIP_K8S_TESTS=1.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if SkipRequested() {
		t.Skipf(format, args...)
	}
	t.Fatalf(format, args...)
}
