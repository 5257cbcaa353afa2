//go:build ignore

// gen_crds copies the CustomResourceDefinitions of the
// sigs.k8s.io/gateway-api-inference-extension version that go.mod pins into
// crds/, where crds.go embeds them. Run it through `go generate
// ./internal/testenv` after changing that version; TestEmbeddedCRDsMatchGoMod
// fails until you do.
//
// The copies are committed so that tests never need the module cache's
// directory at run time (the tests run inside a network namespace without the
// module proxy, and a clean CI checkout may not have extracted the module).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

const (
	gaieModule = "sigs.k8s.io/gateway-api-inference-extension"
	outDir     = "crds"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen_crds:", err)
		os.Exit(1)
	}
}

func run() error {
	// Without a version, `go mod download` resolves the module to the version
	// in the main module's build list, i.e. what go.mod pins.
	out, err := exec.Command("go", "mod", "download", "-json", gaieModule).Output()
	if err != nil {
		return fmt.Errorf("go mod download %s: %w", gaieModule, err)
	}
	var info struct{ Version, Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return fmt.Errorf("decode go mod download output: %w", err)
	}
	if info.Error != "" {
		return fmt.Errorf("go mod download %s: %s", gaieModule, info.Error)
	}
	src := filepath.Join(info.Dir, "config", "crd", "bases")
	files, err := filepath.Glob(filepath.Join(src, "*.yaml"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no CRDs in %s", src)
	}
	old, err := filepath.Glob(filepath.Join(outDir, "*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		// Module cache files are read-only; write fresh files instead of copying modes.
		if err := os.WriteFile(filepath.Join(outDir, filepath.Base(f)), data, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("gen_crds: %d CRDs from %s@%s\n", len(files), gaieModule, info.Version)
	return nil
}
