package app

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/aigw-dev/aigw/internal/cli"
)

// buildVersion and buildCommit are stamped by `make build` with -ldflags -X
// (git describe and git rev-parse HEAD); other builds leave them empty and
// the build information embedded by the go command is used instead.
var (
	buildVersion string
	buildCommit  string
)

// versionInfo is what `aigw version` prints.
type versionInfo struct {
	Version  string // a release tag, git describe output, or "(devel)"
	Commit   string // the full commit hash, or "unknown"
	Modified bool   // built from a tree with uncommitted changes (vcs.modified)
	Go       string // the toolchain and platform, "go1.26.0 linux/amd64"
}

// String formats v as one line, e.g. "aigw v1.2.0-3-g9950a01 (commit
// 9950a01…, go1.26.0 linux/amd64)".
func (v versionInfo) String() string {
	modified := ""
	if v.Modified {
		modified = ", modified"
	}
	return fmt.Sprintf("aigw %s (commit %s%s, %s)", v.Version, v.Commit, modified, v.Go)
}

// resolveVersion prefers the stamped values, then the module version and
// VCS settings of bi (nil when the binary has no build information).
func resolveVersion(stampedVersion, stampedCommit string, bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: "(devel)", Commit: "unknown", Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	var revision string
	var modified bool
	if bi != nil {
		if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
			v.Version = mv
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if revision != "" {
		v.Commit, v.Modified = revision, modified
	}
	if stampedVersion != "" {
		v.Version = stampedVersion
	}
	if stampedCommit != "" {
		// git describe --dirty already says whether the tree was modified.
		v.Commit, v.Modified = stampedCommit, false
	}
	return v
}

// currentVersion is the version of this binary.
func currentVersion() versionInfo {
	bi, _ := debug.ReadBuildInfo()
	return resolveVersion(buildVersion, buildCommit, bi)
}

func versionCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("aigw version", flag.ContinueOnError)
	rest, err := cli.Parse(fs, "Usage: aigw version\n\nPrints the version, the commit and the Go toolchain of this binary.\n", args, stdout)
	if err != nil {
		return ignoreHelp(err)
	}
	if len(rest) > 0 {
		return cli.Usagef("unexpected arguments %q", rest)
	}
	_, err = fmt.Fprintln(stdout, currentVersion())
	return err
}
