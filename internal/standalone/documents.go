package standalone

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// rawDoc is one YAML document of a file.
type rawDoc struct {
	index int // 1-based, counting non-empty documents only
	line  int // 1-based line of the document's first line
	data  []byte
}

// splitDocuments splits a multi-document YAML stream on "---" lines (a
// separator may carry a trailing comment) and "..." end markers. Documents
// holding only blanks and comments are dropped and not counted.
func splitDocuments(data []byte) []rawDoc {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	var (
		docs    []rawDoc
		cur     bytes.Buffer
		start   = 1
		content bool
		line    = 0
	)
	flush := func(next int) {
		if content {
			docs = append(docs, rawDoc{index: len(docs) + 1, line: start, data: bytes.Clone(cur.Bytes())})
		}
		cur.Reset()
		content = false
		start = next
	}
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i+1], data[i+1:]
		} else {
			l, data = data, nil
		}
		trimmed := bytes.TrimRight(l, "\r\n")
		if sep, rest := isSeparator(trimmed); sep {
			flush(line)
			if len(rest) > 0 {
				// "--- {a: b}": the rest of the line opens the document.
				cur.Write(rest)
				cur.WriteByte('\n')
				content = true
			} else {
				// Keep line numbers of the next document aligned: the
				// separator line becomes an empty line of it.
				cur.WriteByte('\n')
			}
			continue
		}
		cur.Write(l)
		if t := bytes.TrimSpace(trimmed); len(t) > 0 && t[0] != '#' {
			content = true
		}
	}
	flush(line + 1)
	return docs
}

// isSeparator reports whether line separates documents, and what follows
// the marker on the same line (not a comment).
func isSeparator(line []byte) (bool, []byte) {
	for _, m := range [][]byte{[]byte("---"), []byte("...")} {
		if !bytes.HasPrefix(line, m) {
			continue
		}
		rest := line[len(m):]
		if len(rest) == 0 {
			return true, nil
		}
		if rest[0] != ' ' && rest[0] != '\t' {
			return false, nil
		}
		rest = bytes.TrimSpace(rest)
		if len(rest) == 0 || rest[0] == '#' || m[0] == '.' {
			return true, nil
		}
		return true, rest
	}
	return false, nil
}

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

// yamlError rewrites a YAML parser error so that its line numbers count
// from the start of the file rather than the document.
func yamlError(err error, docLine int) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	lines := strings.Split(msg, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	msg = strings.Join(lines, "; ")
	msg = yamlLineRe.ReplaceAllStringFunc(msg, func(m string) string {
		n, convErr := strconv.Atoi(m[len("line "):])
		if convErr != nil {
			return m
		}
		// A document's data starts at its first line; the separator line,
		// when there was one, is part of it as an empty line.
		return "line " + strconv.Itoa(n+docLine-1)
	})
	return fmt.Errorf("invalid YAML: %s", msg)
}

// docHeader is the part of a document read before its kind is known.
type docHeader struct {
	apiVersion, kind, name, namespace string
}

// readHeader reads apiVersion, kind and metadata.name/namespace leniently.
func readHeader(js []byte) (docHeader, error) {
	var top map[string]any
	if err := json.Unmarshal(js, &top); err != nil || top == nil {
		return docHeader{}, errors.New("a document must be a mapping with apiVersion, kind and metadata")
	}
	var h docHeader
	h.apiVersion, _ = top["apiVersion"].(string)
	h.kind, _ = top["kind"].(string)
	if meta, ok := top["metadata"].(map[string]any); ok {
		h.name, _ = meta["name"].(string)
		h.namespace, _ = meta["namespace"].(string)
	}
	return h, nil
}

// docInput is one resource to decode: its JSON, or from a Kubernetes
// client its typed object, which is used as it is when it has the type the
// compiler reads (no JSON round trip) and encoded otherwise.
type docInput struct {
	js  []byte
	obj any
}

// JSON returns the resource's JSON, encoding the typed object once (an
// object that does not encode gives no JSON, which the decoder reports).
func (in *docInput) JSON() []byte {
	if in.js == nil && in.obj != nil {
		in.js, _ = json.Marshal(in.obj)
	}
	return in.js
}

// decodeStrict decodes the input into a new T, reporting unknown fields (such as a
// misspelled one), duplicate fields and case mismatches, each with its path,
// and a value of the wrong type with its path and the type the schema wants
// (see typeError). It is the one place documents are decoded.
// It returns nil when anything is wrong.
func decodeStrict[T any](d *diag, src Source, in *docInput) *T {
	if typed, ok := in.obj.(*T); ok {
		// A client's typed object is already what its JSON would decode to.
		if m, ok := any(typed).(metav1.Object); ok && m.GetNamespace() == "" {
			m.SetNamespace(src.Namespace)
		}
		return typed
	}
	js := in.JSON()
	obj := new(T)
	strictErrs, err := sigsjson.UnmarshalStrict(js, obj)
	if err != nil {
		if path, msg, ok := typeError(js, err); ok {
			d.errField(src, path, msg)
		} else {
			d.errField(src, "", errors.New(strings.TrimPrefix(err.Error(), "json: ")))
		}
		return nil
	}
	for _, e := range strictErrs {
		var fe sigsjson.FieldError
		if errors.As(e, &fe) {
			msg := strings.TrimSuffix(e.Error(), fmt.Sprintf(" %q", fe.FieldPath()))
			d.errField(src, fe.FieldPath(), errors.New(msg))
			continue
		}
		d.errField(src, "", e)
	}
	if len(strictErrs) > 0 {
		return nil
	}
	if m, ok := any(obj).(metav1.Object); ok && m.GetNamespace() == "" {
		m.SetNamespace(src.Namespace)
	}
	return obj
}

// convertVersion converts between two versions of a type whose JSON forms
// are the same (v1alpha1 and v1beta1 of this project's API).
func convertVersion[In, Out any](in *In) (*Out, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("converting to v1beta1: %w", err)
	}
	out := new(Out)
	if err := json.Unmarshal(b, out); err != nil {
		if path, msg, ok := typeError(b, err); ok {
			return nil, fmt.Errorf("converting to v1beta1: %s: %w", path, msg)
		}
		return nil, fmt.Errorf("converting to v1beta1: %w", err)
	}
	return out, nil
}

// dropField removes the field at path (object keys) from the JSON document
// js and reports whether it was there.
func dropField(js []byte, path ...string) ([]byte, bool) {
	var top map[string]any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if dec.Decode(&top) != nil {
		return js, false
	}
	m := top
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return js, false
		}
		m = next
	}
	last := path[len(path)-1]
	if _, ok := m[last]; !ok {
		return js, false
	}
	delete(m, last)
	out, err := json.Marshal(top)
	if err != nil {
		return js, false
	}
	return out, true
}

// specKeys returns the top-level keys of the document's spec, for warning
// about fields standalone mode does not honour.
func specKeys(js []byte) []string {
	var top struct {
		Spec map[string]json.RawMessage `json:"spec"`
	}
	if json.Unmarshal(js, &top) != nil {
		return nil
	}
	keys := make([]string, 0, len(top.Spec))
	for k := range top.Spec {
		keys = append(keys, k)
	}
	return keys
}

// decodeYAML converts one YAML document to JSON, rejecting duplicate keys.
func decodeYAML(doc rawDoc) ([]byte, error) {
	js, err := yaml.YAMLToJSONStrict(doc.data)
	if err != nil {
		return nil, yamlError(err, doc.line)
	}
	return js, nil
}
