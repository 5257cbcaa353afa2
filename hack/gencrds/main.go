// Command gencrds copies the CustomResourceDefinitions of the module
// versions that go.mod pins: GAIE's (sigs.k8s.io/gateway-api-inference-extension
// config/crd/bases) into the aigw-crds chart, which ships them, and, for the
// tests' API servers only, Gateway API's standard channel and the Envoy
// Gateway policies and Backend the gateway reads (from Envoy Gateway's CRD
// chart, without its template lines) into internal/testenv/crds-gateway;
// clusters get those two from their own projects. Run it from the
// repository's root through `make crds` after changing a version; testenv's
// TestEmbeddedCRDsMatchGoMod fails until you do.
//
// The copies are committed: the chart ships them, and tests never need the
// module cache's directory at run time (the tests run inside a network
// namespace without the module proxy, and a clean CI checkout may not have
// extracted the module).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	gaieModule       = "sigs.k8s.io/gateway-api-inference-extension"
	gatewayAPIModule = "sigs.k8s.io/gateway-api"
	egModule         = "github.com/envoyproxy/gateway"
)

// source is a module's CRD files to copy into dir.
type source struct {
	module, glob, dir string
	// keep filters the files by name; nil keeps all.
	keep func(name string) bool
}

var sources = []source{
	{module: gaieModule, glob: "config/crd/bases/*.yaml", dir: "charts/aigw-crds/files/inference-extension"},
	{module: gatewayAPIModule, glob: "config/crd/standard/*.yaml", dir: "internal/testenv/crds-gateway",
		keep: func(name string) bool { return !strings.Contains(name, "_vap_") }}, // admission policies, not CRDs
	{module: egModule, glob: "charts/gateway-crds-helm/templates/generated/*.yaml", dir: "internal/testenv/crds-gateway",
		keep: func(name string) bool {
			for _, kind := range []string{"backends", "backendtrafficpolicies", "clienttrafficpolicies", "securitypolicies"} {
				if name == "gateway.envoyproxy.io_"+kind+".yaml" {
					return true
				}
			}
			return false
		}},
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gencrds:", err)
		os.Exit(1)
	}
}

func run() error {
	cleaned := map[string]bool{}
	for _, src := range sources {
		if !cleaned[src.dir] {
			old, err := filepath.Glob(filepath.Join(src.dir, "*.yaml"))
			if err != nil {
				return err
			}
			for _, f := range old {
				if err := os.Remove(f); err != nil {
					return err
				}
			}
			cleaned[src.dir] = true
		}
		if err := copyCRDs(src); err != nil {
			return err
		}
	}
	return nil
}

func copyCRDs(src source) error {
	// Without a version, `go mod download` resolves the module to the version
	// in the main module's build list, i.e. what go.mod pins.
	out, err := exec.Command("go", "mod", "download", "-json", src.module).Output()
	if err != nil {
		return fmt.Errorf("go mod download %s: %w", src.module, err)
	}
	var info struct{ Version, Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return fmt.Errorf("decode go mod download output: %w", err)
	}
	if info.Error != "" {
		return fmt.Errorf("go mod download %s: %s", src.module, info.Error)
	}
	files, err := filepath.Glob(filepath.Join(info.Dir, src.glob))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(src.dir, 0o755); err != nil {
		return err
	}
	n := 0
	for _, f := range files {
		if src.keep != nil && !src.keep(filepath.Base(f)) {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		// Module cache files are read-only; write fresh files instead of
		// copying modes. A chart's template lines ({{ ... }}) go.
		var lines []string
		for _, line := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "{{") {
				lines = append(lines, line)
			}
		}
		if err := os.WriteFile(filepath.Join(src.dir, filepath.Base(f)), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("no CRDs in %s@%s/%s", src.module, info.Version, src.glob)
	}
	fmt.Printf("gencrds: %d CRDs from %s@%s\n", n, src.module, info.Version)
	return nil
}
