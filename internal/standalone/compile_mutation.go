package standalone

import (
	"bytes"
	"encoding/json"
	"strings"

	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
	"github.com/aigw-dev/aigw/internal/config"
)

// mergeHeaderMutation merges the AIServiceBackend's header mutation with the
// route backendRef's: set is a union by lower-cased name where the route's
// value wins (in the backend's position), remove is the union of both.
// Validation has rejected the reserved headers.
func mergeHeaderMutation(backend, route *aigv1b1.HTTPHeaderMutation) *config.HeaderMutation {
	if backend == nil && route == nil {
		return nil
	}
	out := &config.HeaderMutation{}
	index := map[string]int{}
	removed := map[string]bool{}
	for _, m := range []*aigv1b1.HTTPHeaderMutation{backend, route} {
		if m == nil {
			continue
		}
		for _, h := range m.Set {
			name := strings.ToLower(string(h.Name))
			if i, ok := index[name]; ok {
				out.Set[i].Value = h.Value
				continue
			}
			index[name] = len(out.Set)
			out.Set = append(out.Set, config.HeaderValue{Name: name, Value: h.Value})
		}
		for _, r := range m.Remove {
			name := strings.ToLower(r)
			if !removed[name] {
				removed[name] = true
				out.Remove = append(out.Remove, name)
			}
		}
	}
	if len(out.Set) == 0 && len(out.Remove) == 0 {
		return nil
	}
	return out
}

// mergeBodyMutation merges body mutations as mergeHeaderMutation does
// headers (by path, case-sensitively).
func mergeBodyMutation(backend, route *aigv1b1.HTTPBodyMutation) *config.BodyMutation {
	if backend == nil && route == nil {
		return nil
	}
	out := &config.BodyMutation{}
	index := map[string]int{}
	removed := map[string]bool{}
	for _, m := range []*aigv1b1.HTTPBodyMutation{backend, route} {
		if m == nil {
			continue
		}
		for _, f := range m.Set {
			v := bodyValue(f.Value)
			if i, ok := index[f.Path]; ok {
				out.Set[i].Value = v
				continue
			}
			index[f.Path] = len(out.Set)
			out.Set = append(out.Set, config.BodyValue{Path: f.Path, Value: v})
		}
		for _, r := range m.Remove {
			if !removed[r] {
				removed[r] = true
				out.Remove = append(out.Remove, r)
			}
		}
	}
	if len(out.Set) == 0 && len(out.Remove) == 0 {
		return nil
	}
	return out
}

// bodyValue returns v itself (compacted) when it is a JSON text, else v as a
// JSON string.
func bodyValue(v string) json.RawMessage {
	var b bytes.Buffer
	if json.Valid([]byte(v)) && json.Compact(&b, []byte(v)) == nil {
		return b.Bytes()
	}
	s, _ := json.Marshal(v) // a string always marshals
	return s
}
