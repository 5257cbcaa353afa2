package standalone

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// typeError turns a JSON decoding error about a value of the wrong type
// (a *json.UnmarshalTypeError, which sigs.k8s.io/json returns too; YAML is
// converted to JSON before it is decoded, so every document's type errors
// come this way) into the path of that value in js and a message in the words
// of the schema: "spec.rules[0].backendRefs[1].priority", "must be a
// non-negative integer (uint32), got -1". It never names a Go type, and it
// never repeats a string value (which may be a credential). ok is false
// when err is not such an error.
func typeError(js []byte, err error) (path string, msg error, ok bool) {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return "", nil, false
	}
	path = typeErrorPath(js, te)
	if path == "" {
		path = te.Field
	}
	want := schemaType(te.Type)
	hint := ""
	if te.Value == "bool" && want == "a string" {
		hint = " (YAML reads an unquoted yes, no, on, off, true or false as a boolean: quote it)"
	}
	return path, fmt.Errorf("must be %s, got %s%s", want, valueWords(te.Value), hint), true
}

// schemaType describes a Go type as the CRD schema does.
func schemaType(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Name() {
	case "Duration": // Gateway API and metav1 durations
		return `a duration such as "30s"`
	case "IntOrString":
		return "an integer or a string"
	case "Time":
		return `a timestamp such as "2026-01-02T15:04:05Z"`
	}
	switch k := t.Kind(); k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return "an integer (" + k.String() + ")"
	case reflect.Uint, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return "a non-negative integer (" + k.String() + ")"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64-encoded string"
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another type"
}

// valueWords describes the JSON value of a type error ("number -1",
// "string", "array" …): numbers with their literal, when the decoder gives
// it, other values by their kind only.
func valueWords(v string) string {
	if n, ok := strings.CutPrefix(v, "number "); ok {
		return n
	}
	switch v {
	case "number":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "array":
		return "a list"
	case "object":
		return "an object"
	case "null":
		return "null"
	}
	return v
}

// typeErrorPath finds the value te is about in the document js and returns
// its path with list indices and map keys. te.Field names the path without
// them, and with the Go names of embedded structs (Envoy Gateway's
// "ClusterSettings") among the JSON names; values at that path whose JSON
// kind (and number literal) is te's all fail the same way, so the first one
// in document order is the one the decoder reported. It returns "" when
// nothing matches.
func typeErrorPath(js []byte, te *json.UnmarshalTypeError) string {
	var root any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if dec.Decode(&root) != nil {
		return ""
	}
	var segs []string
	if te.Field != "" {
		segs = strings.Split(te.Field, ".")
	}
	kind, literal, _ := strings.Cut(te.Value, " ")
	matches := func(v any) bool {
		switch x := v.(type) {
		case json.Number:
			return kind == "number" && (literal == "" || x.String() == literal)
		case string:
			return kind == "string"
		case bool:
			return kind == "bool"
		case []any:
			return kind == "array"
		case map[string]any:
			return kind == "object"
		case nil:
			return kind == "null"
		}
		return false
	}
	// children returns the direct children of a list or object with their
	// paths, in document order (object keys sorted: a map's order is lost).
	type child struct {
		v any
		p *field.Path
	}
	children := func(v any, p *field.Path) []child {
		var out []child
		switch x := v.(type) {
		case []any:
			for i, e := range x {
				out = append(out, child{e, p.Index(i)})
			}
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				out = append(out, child{x[k], p.Key(k)})
			}
		}
		return out
	}
	var found *field.Path
	// walk looks for the value at segs below v (at p). lenient also looks
	// through the values of objects that lack the next name, for maps of
	// objects, whose keys Field leaves out.
	var walk func(v any, segs []string, p *field.Path, lenient bool) bool
	walk = func(v any, segs []string, p *field.Path, lenient bool) bool {
		if len(segs) == 0 {
			// A list or map of scalars: Field names the list or map; the
			// culprit is one of its items, or the value itself.
			for _, c := range children(v, p) {
				if matches(c.v) {
					found = c.p
					return true
				}
			}
			if matches(v) {
				found = p
				return true
			}
			return false
		}
		switch x := v.(type) {
		case []any:
			// Field names no list index: try each item.
			for _, c := range children(v, p) {
				if walk(c.v, segs, c.p, lenient) {
					return true
				}
			}
		case map[string]any:
			if next, ok := x[segs[0]]; ok {
				return walk(next, segs[1:], p.Child(segs[0]), lenient)
			}
			// An embedded struct's Go name (never the last one): the same
			// object holds the next name.
			if len(segs) > 1 && walk(x, segs[1:], p, lenient) {
				return true
			}
			if lenient {
				for _, c := range children(v, p) {
					if walk(c.v, segs, c.p, lenient) {
						return true
					}
				}
			}
		}
		return false
	}
	if !walk(root, segs, nil, false) && !walk(root, segs, nil, true) {
		return ""
	}
	return found.String()
}
