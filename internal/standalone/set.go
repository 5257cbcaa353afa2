package standalone

import (
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aigw-dev/aigw/internal/config"
)

// Set is a set of resources to compile into one config.Config: the
// compiler's input, whatever reads the resources. The file [Loader] fills
// one from YAML documents; a Kubernetes controller fills one with the
// objects its informers hold ([Set.Add]). Each resource is validated as its
// CRD would be, and references between them are resolved, by
// [Set.Compile]. A Set is for one compilation and not safe for concurrent
// use.
type Set struct {
	d     *diag
	store *store
	// unparsed is set when an input could not be read or parsed at all:
	// the resources are then incomplete, and checks across them would
	// report references to what the broken part defines.
	unparsed bool
	// secretHook, when set, sees each Secret as it is added (the file
	// loader's substitution.aigw.run annotations).
	secretHook func(Source, *corev1.Secret)
	// pods is what the last compilation read of Pods.
	pods PodSelection
	// refused are the resources a data plane refused ([Set.Refuse]).
	refused []refusal
}

// refusal is a resource a data plane refused, and why.
type refusal struct {
	kind string
	key  nsName
	err  error
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{d: &diag{}, store: newStore()} }

// NewClusterSet returns an empty set for the objects of a Kubernetes
// cluster: Services and Pods no gateway resource references are the
// cluster's other workloads, not mistakes worth a warning.
func NewClusterSet() *Set {
	s := NewSet()
	s.store.cluster = true
	return s
}

// Add files one resource of the given apiVersion and kind: obj is its
// typed API object (as a Kubernetes client or informer holds it, often
// without apiVersion and kind, which is why they are given), or anything
// that encodes to the resource's JSON. A typed object of the type the
// compiler reads is kept as it is (the set owns it from then on: pass a
// copy); anything else is decoded strictly into that type, so a field it
// does not know is an error;
// problems are reported by Compile, each naming the resource ("Kind
// namespace/name").
func (s *Set) Add(apiVersion, kind string, obj any) {
	src := Source{APIVersion: apiVersion, Kind: kind}
	if m, ok := obj.(metav1.Object); ok {
		// A typed object is filed as it is when it has the type the
		// compiler reads (what an informer holds), without a JSON round trip.
		src.Name, src.Namespace = m.GetName(), m.GetNamespace()
		s.decode(src, &docInput{obj: obj})
		return
	}
	js, err := json.Marshal(obj)
	if err != nil {
		s.d.err(src, nil, fmt.Errorf("encoding the object: %w", err))
		s.unparsed = true
		return
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(js, &doc); err != nil || doc == nil {
		s.d.err(src, nil, errors.New("the object does not encode to a JSON object"))
		s.unparsed = true
		return
	}
	doc["apiVersion"], _ = json.Marshal(apiVersion)
	doc["kind"], _ = json.Marshal(kind)
	if js, err = json.Marshal(doc); err != nil {
		s.d.err(src, nil, err)
		s.unparsed = true
		return
	}
	h, err := readHeader(js)
	if err != nil {
		s.d.err(src, nil, err)
		s.unparsed = true
		return
	}
	src.Name, src.Namespace = h.name, h.namespace
	s.decode(src, &docInput{js: js})
}

// Compile validates the set's resources and compiles the valid ones. It
// returns the configuration, and the warnings (also on error); the error
// joins one *[Error] per problem. Call it once.
func (s *Set) Compile() (*config.Config, []Warning, error) {
	cfg := s.compile()
	if s.d.failed() {
		return nil, s.d.warns, errors.Join(s.d.errs...)
	}
	return cfg, s.d.warns, nil
}

// CompileValid is Compile for a controller: a resource with errors is
// left out (or its broken reference, as a file load would fail on) and
// the rest compiled; skipped lists the errors. The configuration is nil
// only when an input could not be parsed.
func (s *Set) CompileValid() (cfg *config.Config, warnings []Warning, skipped []error) {
	cfg = s.compile()
	return cfg, s.d.warns, s.d.errs
}

// compile validates the resources and, unless an input could not be
// parsed, compiles them.
func (s *Set) compile() *config.Config {
	s.validate()
	for _, r := range s.refused {
		if src, ok := s.store.invalidate(r.kind, r.key); ok {
			s.d.err(src, nil, r.err)
		}
	}
	if s.unparsed {
		return nil
	}
	cfg, pods := compile(s.d, s.store)
	s.pods = pods
	return cfg
}

// Refuse leaves the resource of kind (AIGatewayRoute, HTTPRoute,
// AIServiceBackend, BackendSecurityPolicy or SecurityPolicy) namespace/name
// out of the compilation, with err as its error: a data plane refused the
// part of an earlier configuration compiled from it. Call it before
// compiling; a resource the set does not hold is ignored.
func (s *Set) Refuse(kind, namespace, name string, err error) {
	s.refused = append(s.refused, refusal{kind, nsName{namespace, name}, err})
}

// PodSelection is which Pods the last compilation read; see
// [PodSelection].
func (s *Set) PodSelection() PodSelection { return s.pods }
