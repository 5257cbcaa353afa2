package standalone

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Secret annotations that fill a data key from the environment or a file,
// so that credentials never appear in the YAML (standalone mode only).
const (
	substitutionEnvPrefix  = "substitution.aigw.run/env/"
	substitutionFilePrefix = "substitution.aigw.run/file/"
)

// mergeStringData merges stringData into data (stringData wins), as the
// API server does on write.
func mergeStringData(s *corev1.Secret) {
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

// resolveSecret applies the substitution annotations of a Secret read from
// a file, which win over data and stringData. An empty variable or file
// leaves the key unchanged, with a warning.
func (ls *loadState) resolveSecret(src Source, s *corev1.Secret) {
	keys := make([]string, 0, len(s.Annotations))
	for k := range s.Annotations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	annotations := field.NewPath("metadata", "annotations")
	for _, k := range keys {
		v := s.Annotations[k]
		path := annotations.Key(k)
		switch {
		case strings.HasPrefix(k, substitutionEnvPrefix):
			dataKey := strings.TrimPrefix(k, substitutionEnvPrefix)
			if dataKey == "" || v == "" {
				ls.d.errorf(src, path, "must be %s<data key>: <environment variable>", substitutionEnvPrefix)
				continue
			}
			val, _ := ls.lookupEnv(v)
			if val == "" {
				ls.d.warnf(src, path, "environment variable %s is empty or unset; data key %q left unchanged", v, dataKey)
				continue
			}
			s.Data[dataKey] = []byte(val)
		case strings.HasPrefix(k, substitutionFilePrefix):
			dataKey := strings.TrimPrefix(k, substitutionFilePrefix)
			if dataKey == "" || v == "" {
				ls.d.errorf(src, path, "must be %s<data key>: <file path>", substitutionFilePrefix)
				continue
			}
			name, err := ls.substitutionPath(src.File, v)
			if err != nil {
				ls.d.err(src, path, err)
				continue
			}
			b, err := ls.readFile(name)
			if err != nil {
				// The error names the path, never the content.
				ls.d.err(src, path, fmt.Errorf("reading the file for data key %q: %w", dataKey, err))
				continue
			}
			if len(b) == 0 {
				ls.d.warnf(src, path, "file %s is empty; data key %q left unchanged", name, dataKey)
				continue
			}
			s.Data[dataKey] = b
		}
	}
}

// substitutionPath expands "~" and makes a relative path relative to the
// directory of the configuration file that holds the annotation.
func (ls *loadState) substitutionPath(configFile, p string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := ls.homeDir()
		if err != nil {
			return "", fmt.Errorf("expanding ~ in %q: %w", p, err)
		}
		return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
	}
	if filepath.IsAbs(p) {
		return p, nil
	}
	return filepath.Join(filepath.Dir(configFile), p), nil
}

func (ls *loadState) homeDir() (string, error) {
	if ls.loader.HomeDir != "" {
		return ls.loader.HomeDir, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the home directory: %w", err)
	}
	return home, nil
}
