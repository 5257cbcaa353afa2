package app

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/standalone"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

// TestHelpOnStdout checks that every command's -h and --help print its
// usage on stdout, so that `aigw run -h | less` shows it, and succeed.
func TestHelpOnStdout(t *testing.T) {
	for _, cmd := range []string{"run", "epp", "sim", "demo", "validate", "version"} {
		for _, flag := range []string{"-h", "--help"} {
			t.Run(cmd+" "+flag, func(t *testing.T) {
				stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
				require.NoError(t, mainEnv(t.Context(), []string{cmd, flag}, envOf(nil), stdout, stderr))
				require.Contains(t, stdout.String(), "Usage: aigw "+cmd)
				require.Empty(t, stderr.String())
			})
		}
	}
	stdout := &syncbuf.Buffer{}
	require.NoError(t, mainEnv(t.Context(), []string{"help"}, envOf(nil), stdout, &syncbuf.Buffer{}))
	require.Contains(t, stdout.String(), "validate FILE|DIR...")
}

// TestDemoHelpExplains checks that `aigw demo -h` says what the demo runs.
func TestDemoHelpExplains(t *testing.T) {
	stdout := &syncbuf.Buffer{}
	require.NoError(t, mainEnv(t.Context(), []string{"demo", "-h"}, envOf(nil), stdout, &syncbuf.Buffer{}))
	for _, want := range []string{"simulated vLLM servers", "InferencePool", "fallback tier", "no API key", "no GPU", "-instances int", "-print-config"} {
		require.Contains(t, stdout.String(), want)
	}
}

// TestUsageErrors checks that command lines that cannot run are usage
// errors (exit status 2), and print nothing on stdout.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"nope"},
		{"run", "cfg.yaml", "--no-such-flag"},
		{"run", "--admin-port", "many"},
		{"run", "--port=70000"},
		{"run", "--log-format=xml", "x.yaml"},
		{"epp", "stray"},
		{"sim", "--nope"},
		{"demo", "--instances", "0"},
		{"demo", "--instances=1"},
		{"demo", "stray"},
		{"validate"},
		{"validate", "--nope", "x.yaml"},
		{"version", "extra"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			stdout := &syncbuf.Buffer{}
			err := mainEnv(t.Context(), args, envOf(nil), stdout, &syncbuf.Buffer{})
			require.ErrorIs(t, err, ErrUsage)
			require.Empty(t, stdout.String())
		})
	}
	err := mainEnv(t.Context(), []string{"demo", "--instances=1"}, envOf(nil), &syncbuf.Buffer{}, &syncbuf.Buffer{})
	require.ErrorContains(t, err, "--instances must be at least 2")
}

// TestDemoPrintConfigStartsNothing checks that --print-config renders the
// simulators on placeholder ports (8000 and up, where `aigw sim` listens)
// instead of starting them on free ports, and that the output loads.
func TestDemoPrintConfigStartsNothing(t *testing.T) {
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	require.NoError(t, mainEnv(t.Context(), []string{"demo", "--print-config", "--instances", "4", "--port=2000"}, envOf(nil), stdout, stderr))
	require.Empty(t, stderr.String(), "nothing started, nothing logged")
	res, err := standalone.LoadBytes(t.Context(), "demo.yaml", []byte(stdout.String()))
	require.NoError(t, err)
	require.Equal(t, int32(2000), res.Config.Listeners()[0].Port)
	var poolPorts, fallback []int32
	for _, b := range res.Config.Backends {
		if b.Pool != nil {
			poolPorts = b.Pool.TargetPorts
			continue
		}
		for _, ep := range b.Endpoints {
			fallback = append(fallback, ep.Port)
		}
	}
	require.Equal(t, []int32{8000, 8001, 8002}, poolPorts)
	require.Equal(t, []int32{8003}, fallback)
}

// validConfig has one warning (a GatewayClass, ignored) besides plainConfig.
const validConfig = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: aigw}
spec: {controllerName: example.com/aigw}
---
` + plainConfig

const brokenConfig = `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: bad}
spec:
  rules:
    - backendRefs: [{name: missing, weight: -1}]
`

func TestValidate(t *testing.T) {
	valid := writeConfig(t, fmt.Sprintf(validConfig, 1975))
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	require.NoError(t, mainEnv(t.Context(), []string{"validate", valid}, envOf(nil), stdout, stderr))
	require.Equal(t, "configuration valid: listeners=1 routes=1 backends=1 pools=0 models=[gpt-4o-mini]\n", stdout.String())
	require.Contains(t, stderr.String(), "warning: "+valid+": document 1: GatewayClass default/aigw")

	// A directory, with flags after it; ${VAR} from the environment.
	dir := filepath.Dir(writeConfig(t, fmt.Sprintf(plainConfig, 1975)+credentialsDocs))
	stdout = &syncbuf.Buffer{}
	require.NoError(t, mainEnv(t.Context(), []string{"validate", dir, "--"}, envOf(map[string]string{"UPSTREAM_KEY": "k"}), stdout, &syncbuf.Buffer{}))
	require.Contains(t, stdout.String(), "configuration valid: listeners=1 routes=1")

	// Invalid: the error `aigw run` gives, not a usage error (exit status 1).
	broken := writeConfig(t, brokenConfig)
	stdout = &syncbuf.Buffer{}
	validateErr := mainEnv(t.Context(), []string{"validate", broken}, envOf(nil), stdout, &syncbuf.Buffer{})
	require.Error(t, validateErr)
	require.NotErrorIs(t, validateErr, ErrUsage)
	require.Empty(t, stdout.String())
	require.Contains(t, validateErr.Error(), broken+": document 1: AIGatewayRoute default/bad")
	runErr := mainEnv(t.Context(), []string{"run", broken}, envOf(nil), &syncbuf.Buffer{}, &syncbuf.Buffer{})
	require.Equal(t, runErr.Error(), validateErr.Error())

	// A file that is not there.
	err := mainEnv(t.Context(), []string{"validate", filepath.Join(t.TempDir(), "missing.yaml")}, envOf(nil), &syncbuf.Buffer{}, &syncbuf.Buffer{})
	require.ErrorContains(t, err, "invalid configuration")
}

func TestVersionFormat(t *testing.T) {
	vcs := func(rev, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}}
	}
	for _, tc := range []struct {
		name             string
		version, commit  string
		bi               *debug.BuildInfo
		wantVer, wantCom string
		modified         bool
	}{
		{name: "stamped by make build", version: "v0.3.0-2-g9950a01-dirty", commit: "9950a01772733097ad15c4297eb6ba07cc8ba68e", bi: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			wantVer: "v0.3.0-2-g9950a01-dirty", wantCom: "9950a01772733097ad15c4297eb6ba07cc8ba68e"},
		{name: "stamp wins over VCS", version: "v1", commit: "abc", bi: vcs("def", "true"), wantVer: "v1", wantCom: "abc"},
		{name: "VCS stamping", bi: vcs("def", "true"), wantVer: "(devel)", wantCom: "def", modified: true},
		{name: "VCS stamping, clean", bi: vcs("def", "false"), wantVer: "(devel)", wantCom: "def"},
		{name: "go install @version", bi: &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, wantVer: "v1.2.3", wantCom: "unknown"},
		{name: "nothing known", wantVer: "(devel)", wantCom: "unknown"},
		{name: "not a git checkout: make stamps an empty commit", version: "", commit: "", bi: &debug.BuildInfo{}, wantVer: "(devel)", wantCom: "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := resolveVersion(tc.version, tc.commit, tc.bi)
			require.Equal(t, tc.wantVer, v.Version)
			require.Equal(t, tc.wantCom, v.Commit)
			require.Equal(t, tc.modified, v.Modified)
			mod := ""
			if tc.modified {
				mod = ", modified"
			}
			require.Equal(t, "aigw "+tc.wantVer+" (commit "+tc.wantCom+mod+", "+v.Go+")", v.String())
		})
	}
}

func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		stdout := &syncbuf.Buffer{}
		require.NoError(t, mainEnv(t.Context(), args, envOf(nil), stdout, &syncbuf.Buffer{}))
		require.Regexp(t, regexp.MustCompile(`^aigw \S+ \(commit \S+(, modified)?, go\S+ \S+/\S+\)\n$`), stdout.String())
	}
}

// TestRunWithoutAnything checks the message of `aigw run` with no file, no
// config home and no API key in the environment.
func TestRunWithoutAnything(t *testing.T) {
	home := t.TempDir()
	err := mainEnv(t.Context(), []string{"run"}, envOf(map[string]string{"AIGW_CONFIG_HOME": home}), &syncbuf.Buffer{}, &syncbuf.Buffer{})
	require.ErrorContains(t, err, "no configuration file given and none could be generated from the environment")
	require.NoError(t, os.WriteFile(filepath.Join(home, "config.yaml"), []byte(brokenConfig), 0o600))
	err = mainEnv(t.Context(), []string{"run"}, envOf(map[string]string{"AIGW_CONFIG_HOME": home}), &syncbuf.Buffer{}, &syncbuf.Buffer{})
	require.ErrorContains(t, err, filepath.Join(home, "config.yaml")+": document 1: AIGatewayRoute default/bad", "the config home is read from the given environment")
}
