package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const gaieModule = "sigs.k8s.io/gateway-api-inference-extension"

// The embedded CRDs must come from the GAIE version go.mod pins.
func TestEmbeddedCRDsMatchGoMod(t *testing.T) {
	crds, err := GAIECRDs()
	require.NoError(t, err)

	// go.mod lists the selected version of every module in the build.
	gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(gaieModule) + `\s+(v\S+)`).FindSubmatch(gomod)
	require.NotNil(t, m, "go.mod does not require %s", gaieModule)
	pinned := string(m[1])

	var pool bool
	for _, crd := range crds {
		require.Equal(t, pinned, crd.Annotations[GAIEBundleVersionAnnotation],
			"CRD %s comes from another GAIE release than go.mod pins; run make crds", crd.Name)
		if crd.Name == "inferencepools.inference.networking.k8s.io" {
			for _, v := range crd.Spec.Versions {
				pool = pool || (v.Name == "v1" && v.Served && v.Storage)
			}
		}
	}
	require.True(t, pool, "the embedded CRDs must serve and store InferencePool v1")
}

// The versions the harness expects must be the ones hack/components.sh builds.
func TestVersionsMatchComponentsScript(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", "hack", "components.sh"))
	require.NoError(t, err)
	get := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `=(\S+)$`).FindSubmatch(script)
		require.NotNil(t, m, "%s not set in hack/components.sh", name)
		return string(m[1])
	}
	require.Equal(t, EtcdVersion, get("ETCD_VERSION"))
	require.Equal(t, KubeAPIServerVersion, "v"+get("KUBE_VERSION"))
	require.Equal(t, EPPVersion, get("GAIE_EPP_VERSION"))
	require.Equal(t, LWEPPVersion, get("GAIE_LWEPP_VERSION"))
	require.Equal(t, RedisVersion, get("REDIS_VERSION"))
}

// fakeTB records how a helper ended the test.
type fakeTB struct {
	testing.TB
	failed, skipped bool
	msg             string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped, f.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with f on a goroutine of its own, as Fatalf ends it.
func (f *fakeTB) run(fn func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
}

func TestBinaryPath(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(EnvCacheDir, cache)
	t.Setenv(EnvKubebuilderAssets, "")
	t.Setenv(EnvSkip, "")

	want := filepath.Join(cache, "gaie-epp", EPPVersion, "epp")
	require.Equal(t, want, EPP.Path())

	t.Run("missing fails naming the binary and the build command", func(t *testing.T) {
		f := &fakeTB{}
		f.run(func(tb testing.TB) { BinaryPath(tb, EPP) })
		require.True(t, f.failed)
		require.Contains(t, f.msg, want)
		require.Contains(t, f.msg, "GAIE epp "+EPPVersion)
		require.Contains(t, f.msg, "hack/components.sh")
	})
	t.Run("missing skips with SKIP_K8S_TESTS=1", func(t *testing.T) {
		t.Setenv(EnvSkip, "1")
		f := &fakeTB{}
		f.run(func(tb testing.TB) { BinaryPath(tb, EPP) })
		require.True(t, f.skipped)
		require.Contains(t, f.msg, want)
	})
	t.Run("not executable fails", func(t *testing.T) {
		require.NoError(t, os.MkdirAll(filepath.Dir(want), 0o755))
		require.NoError(t, os.WriteFile(want, []byte("#!/bin/sh\n"), 0o644))
		f := &fakeTB{}
		f.run(func(tb testing.TB) { BinaryPath(tb, EPP) })
		require.True(t, f.failed)
		require.Contains(t, f.msg, "not an executable")
	})
	t.Run("present", func(t *testing.T) {
		require.NoError(t, os.Chmod(want, 0o755))
		f := &fakeTB{}
		var got string
		f.run(func(tb testing.TB) { got = BinaryPath(tb, EPP) })
		require.False(t, f.failed || f.skipped, f.msg)
		require.Equal(t, want, got)
	})
	t.Run("KUBEBUILDER_ASSETS overrides etcd and kube-apiserver only", func(t *testing.T) {
		t.Setenv(EnvKubebuilderAssets, "/assets")
		require.Equal(t, "/assets/kube-apiserver", KubeAPIServer.Path())
		require.Equal(t, "/assets/etcd", Etcd.Path())
		require.Equal(t, want, EPP.Path())
	})
}

func TestLogBufferKeepsTheEnd(t *testing.T) {
	b := newLogBuffer()
	line := strings.Repeat("x", 1023) + "\n"
	for range 2 * logBufferLimit / len(line) {
		_, _ = b.Write([]byte(line))
	}
	_, _ = b.Write([]byte("the end\n"))
	s := b.String()
	require.True(t, strings.HasPrefix(s, "[... first bytes dropped ...]"))
	require.True(t, strings.HasSuffix(s, "the end\n"))
	require.LessOrEqual(t, len(s), logBufferLimit+64)
}
