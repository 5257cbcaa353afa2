package standalone

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	infv1a2 "github.com/aigw-dev/aigw/api/inferencev1alpha2"
	aigv1a1 "github.com/aigw-dev/aigw/api/v1alpha1"
	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
)

// API groups of the resources the loader reads.
const (
	groupAIGateway    = "aigateway.envoyproxy.io"
	groupGatewayAPI   = "gateway.networking.k8s.io"
	groupEnvoyGateway = "gateway.envoyproxy.io"
	groupInference    = "inference.networking.k8s.io"
	groupCore         = ""

	defaultNamespace = "default"
)

// nsName is a namespaced name.
type nsName struct{ namespace, name string }

func (n nsName) String() string { return n.namespace + "/" + n.name }

// sortedValues returns the values of m ordered by namespace/name.
func sortedValues[T any](m map[nsName]*resource[T]) []*resource[T] {
	keys := make([]nsName, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareNames)
	out := make([]*resource[T], len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// sortedPools returns the pools ordered by namespace/name, then group.
func sortedPools(m map[poolKey]*resource[inferencePool]) []*resource[inferencePool] {
	keys := make([]poolKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b poolKey) int {
		if c := compareNames(a.nsName, b.nsName); c != 0 {
			return c
		}
		return strings.Compare(a.group, b.group)
	})
	out := make([]*resource[inferencePool], len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

func compareNames(a, b nsName) int {
	if c := strings.Compare(a.namespace, b.namespace); c != 0 {
		return c
	}
	return strings.Compare(a.name, b.name)
}

// byName returns rs ordered by namespace/name.
func byName[T any](rs []*resource[T]) []*resource[T] {
	out := slices.Clone(rs)
	slices.SortStableFunc(out, func(a, b *resource[T]) int { return compareNames(a.key(), b.key()) })
	return out
}

// resource is one decoded input document.
type resource[T any] struct {
	src Source
	obj *T
	// specKeys are the top-level spec fields present in the input, kept for
	// the kinds of which standalone mode honours only some fields.
	specKeys []string
	// invalid is set when validation failed: the resource is not compiled,
	// but references to it still resolve (its own errors say what is wrong).
	invalid bool
}

func (r *resource[T]) key() nsName { return nsName{r.src.Namespace, r.src.Name} }

// store holds every resource of one load, by kind.
type store struct {
	// cluster marks a Kubernetes cluster's objects (NewClusterSet).
	cluster          bool
	routes           []*resource[aigv1b1.AIGatewayRoute]
	backends         map[nsName]*resource[aigv1b1.AIServiceBackend]
	securityPolicies []*resource[aigv1b1.BackendSecurityPolicy]
	gatewayConfigs   map[nsName]*resource[aigv1b1.GatewayConfig]
	quotaPolicies    []*resource[aigv1a1.QuotaPolicy]
	gateways         []*resource[gwapiv1.Gateway]
	egBackends       map[nsName]*resource[egv1a1.Backend]
	tlsPolicies      []*resource[gwapiv1.BackendTLSPolicy]
	trafficPolicies  []*resource[egv1a1.BackendTrafficPolicy]
	clientPolicies   []*resource[egv1a1.ClientTrafficPolicy]
	accessPolicies   []*resource[egv1a1.SecurityPolicy]
	secrets          map[nsName]*resource[corev1.Secret]
	configMaps       map[nsName]*resource[corev1.ConfigMap]
	httpRoutes       []*resource[gwapiv1.HTTPRoute]
	referenceGrants  []*resource[gwapiv1.ReferenceGrant]
	pools            map[poolKey]*resource[inferencePool]
	objectives       []*resource[infv1a2.InferenceObjective]
	modelRewrites    []*resource[infv1a2.InferenceModelRewrite]
	pods             map[nsName]*resource[corev1.Pod]
	services         map[nsName]*resource[corev1.Service]

	// seen maps "group/Kind/namespace/name" to where it was first defined.
	seen map[string]Source
}

func newStore() *store {
	return &store{
		backends:       map[nsName]*resource[aigv1b1.AIServiceBackend]{},
		gatewayConfigs: map[nsName]*resource[aigv1b1.GatewayConfig]{},
		egBackends:     map[nsName]*resource[egv1a1.Backend]{},
		secrets:        map[nsName]*resource[corev1.Secret]{},
		configMaps:     map[nsName]*resource[corev1.ConfigMap]{},
		pools:          map[poolKey]*resource[inferencePool]{},
		pods:           map[nsName]*resource[corev1.Pod]{},
		services:       map[nsName]*resource[corev1.Service]{},
		seen:           map[string]Source{},
	}
}

// claim records the resource and reports whether it is the first with its
// group, kind, namespace and name; a duplicate is an error.
func (s *store) claim(d *diag, group string, src Source) bool {
	k := group + "/" + src.Kind + "/" + src.Namespace + "/" + src.Name
	if first, dup := s.seen[k]; dup {
		d.errorf(src, nil, "duplicate resource: %s is already defined at %s: document %d", src.ref(), first.File, first.Doc)
		return false
	}
	s.seen[k] = src
	return true
}

// decodeDocument decodes one document and files it in the store.
func (ls *loadState) decodeDocument(src Source, doc rawDoc) {
	ls.documents++
	js, err := decodeYAML(doc)
	if err != nil {
		ls.d.err(src, nil, err)
		ls.unparsed = true
		return
	}
	h, err := readHeader(js)
	if err != nil {
		ls.d.err(src, nil, err)
		ls.unparsed = true
		return
	}
	src.APIVersion, src.Kind, src.Name, src.Namespace = h.apiVersion, h.kind, h.name, h.namespace
	ls.decode(src, &docInput{js: js})
}

// decode files the resource in of src, whose apiVersion, kind and name
// are set, in the store.
func (ls *Set) decode(src Source, in *docInput) {
	if src.Namespace == "" {
		src.Namespace = defaultNamespace
	}
	if src.APIVersion == "" || src.Kind == "" {
		ls.d.errorf(src, nil, "apiVersion and kind are required")
		return
	}
	gv, err := schema.ParseGroupVersion(src.APIVersion)
	if err != nil {
		ls.d.errField(src, "apiVersion", fmt.Errorf("invalid apiVersion %q", src.APIVersion))
		return
	}
	// An API server's typed object had its name validated there.
	if (in.obj == nil || src.Name == "") && !ls.validName(src) {
		return
	}
	switch gv.Group {
	case groupAIGateway:
		ls.decodeAIGateway(src, gv.Version, in)
	case groupGatewayAPI:
		ls.decodeGatewayAPI(src, gv.Version, in)
	case groupEnvoyGateway:
		ls.decodeEnvoyGateway(src, gv.Version, in)
	case groupCore:
		ls.decodeCore(src, gv.Version, in)
	case groupInference, groupInferenceX:
		ls.decodeInference(src, gv.Group, gv.Version, in)
	default:
		ls.unknown(src, "")
	}
}

// validName checks metadata.name and metadata.namespace.
func (ls *Set) validName(src Source) bool {
	if src.Name == "" {
		ls.d.errField(src, "metadata.name", fmt.Errorf("required"))
		return false
	}
	ok := true
	if msgs := validation.IsDNS1123Subdomain(src.Name); len(msgs) > 0 {
		ls.d.errField(src, "metadata.name", fmt.Errorf("invalid name %q: %s", src.Name, strings.Join(msgs, "; ")))
		ok = false
	}
	if msgs := validation.IsDNS1123Label(src.Namespace); len(msgs) > 0 {
		ls.d.errField(src, "metadata.namespace", fmt.Errorf("invalid namespace %q: %s", src.Namespace, strings.Join(msgs, "; ")))
		ok = false
	}
	return ok
}

// unknown warns about a resource the gateway does not use. why, when set,
// explains it.
func (ls *Set) unknown(src Source, why string) {
	if why == "" {
		why = "not understood by the standalone gateway"
	}
	ls.d.warnf(src, nil, "%s %s is ignored: %s", src.APIVersion, src.Kind, why)
}

func (ls *Set) badVersion(src Source, versions string) {
	ls.d.errField(src, "apiVersion", fmt.Errorf("unsupported apiVersion %q for kind %s: use %s", src.APIVersion, src.Kind, versions))
}

func (ls *Set) decodeAIGateway(src Source, version string, in *docInput) {
	d, s := ls.d, ls.store
	switch src.Kind {
	case "AIGatewayRoute":
		if obj := decodeVersioned[aigv1a1.AIGatewayRoute, aigv1b1.AIGatewayRoute](ls, src, version, in); obj != nil && s.claim(d, groupAIGateway, src) {
			s.routes = append(s.routes, &resource[aigv1b1.AIGatewayRoute]{src: src, obj: obj})
		}
	case "AIServiceBackend":
		// Envoy AI Gateway's own autoconfig writes spec.timeouts, which is
		// not part of the API: accept it with a warning.
		if stripped, ok := dropField(in.js, "spec", "timeouts"); in.obj == nil && ok {
			in.js = stripped
			d.ignored(src, field.NewPath("spec", "timeouts"), "not part of the AIServiceBackend API (Envoy AI Gateway's autoconfig writes it); set timeouts on the AIGatewayRoute rule")
		}
		if obj := decodeVersioned[aigv1a1.AIServiceBackend, aigv1b1.AIServiceBackend](ls, src, version, in); obj != nil && s.claim(d, groupAIGateway, src) {
			r := &resource[aigv1b1.AIServiceBackend]{src: src, obj: obj}
			s.backends[r.key()] = r
		}
	case "BackendSecurityPolicy":
		if obj := decodeVersioned[aigv1a1.BackendSecurityPolicy, aigv1b1.BackendSecurityPolicy](ls, src, version, in); obj != nil && s.claim(d, groupAIGateway, src) {
			s.securityPolicies = append(s.securityPolicies, &resource[aigv1b1.BackendSecurityPolicy]{src: src, obj: obj})
		}
	case "GatewayConfig":
		if obj := decodeVersioned[aigv1a1.GatewayConfig, aigv1b1.GatewayConfig](ls, src, version, in); obj != nil && s.claim(d, groupAIGateway, src) {
			r := &resource[aigv1b1.GatewayConfig]{src: src, obj: obj}
			s.gatewayConfigs[r.key()] = r
		}
	case "QuotaPolicy":
		if version != "v1alpha1" {
			ls.badVersion(src, "aigateway.envoyproxy.io/v1alpha1 (QuotaPolicy exists only in v1alpha1)")
			return
		}
		if obj := decodeStrict[aigv1a1.QuotaPolicy](d, src, in); obj != nil && s.claim(d, groupAIGateway, src) {
			s.quotaPolicies = append(s.quotaPolicies, &resource[aigv1a1.QuotaPolicy]{src: src, obj: obj})
		}
	case "MCPRoute":
		ls.unknown(src, "MCP routes are not supported yet in standalone mode")
	default:
		// A misspelled kind of this API (AIGatewayRoutes) would otherwise
		// drop its routes with only a warning.
		ls.d.errField(src, "kind", fmt.Errorf("unknown kind %q in group %s: the kinds are %s", src.Kind, groupAIGateway, aiGatewayKinds))
	}
}

// aiGatewayKinds are the kinds of the aigateway.envoyproxy.io group.
const aiGatewayKinds = "AIGatewayRoute, AIServiceBackend, BackendSecurityPolicy, GatewayConfig, QuotaPolicy, MCPRoute"

// decodeVersioned decodes a kind of this project's API in either version,
// converting v1alpha1 to v1beta1.
func decodeVersioned[A, B any](ls *Set, src Source, version string, in *docInput) *B {
	switch version {
	case "v1beta1":
		return decodeStrict[B](ls.d, src, in)
	case "v1alpha1":
		// The API server's deprecation warning for these kinds.
		ls.d.warnf(src, nil, "aigateway.envoyproxy.io/v1alpha1 is deprecated; use aigateway.envoyproxy.io/v1beta1 instead")
		a := decodeStrict[A](ls.d, src, in)
		if a == nil {
			return nil
		}
		b, err := convertVersion[A, B](a)
		if err != nil {
			ls.d.err(src, nil, err)
			return nil
		}
		return b
	default:
		ls.badVersion(src, "aigateway.envoyproxy.io/v1beta1 or aigateway.envoyproxy.io/v1alpha1")
		return nil
	}
}

func (ls *Set) decodeGatewayAPI(src Source, version string, in *docInput) {
	d, s := ls.d, ls.store
	switch src.Kind {
	case "Gateway":
		if version != "v1" && version != "v1beta1" {
			ls.badVersion(src, "gateway.networking.k8s.io/v1")
			return
		}
		if obj := decodeStrict[gwapiv1.Gateway](d, src, in); obj != nil && s.claim(d, groupGatewayAPI, src) {
			s.gateways = append(s.gateways, &resource[gwapiv1.Gateway]{src: src, obj: obj})
		}
	case "BackendTLSPolicy":
		if version != "v1" && version != "v1alpha3" {
			ls.badVersion(src, "gateway.networking.k8s.io/v1 or gateway.networking.k8s.io/v1alpha3")
			return
		}
		// v1alpha3 and v1 share their schema in Gateway API v1.5.
		if obj := decodeStrict[gwapiv1.BackendTLSPolicy](d, src, in); obj != nil && s.claim(d, groupGatewayAPI, src) {
			s.tlsPolicies = append(s.tlsPolicies, &resource[gwapiv1.BackendTLSPolicy]{src: src, obj: obj})
		}
	case "HTTPRoute":
		if version != "v1" && version != "v1beta1" {
			ls.badVersion(src, "gateway.networking.k8s.io/v1")
			return
		}
		// In files, an HTTPRoute to other backends is another data plane's;
		// a cluster's HTTPRoutes here are attached to our Gateways.
		if !s.cluster && !referencesPoolOrService(in.JSON()) {
			ls.unknown(src, "it references no InferencePool or Service (standalone mode serves HTTPRoutes to InferencePools and Services only)")
			return
		}
		if obj := decodeStrict[gwapiv1.HTTPRoute](d, src, in); obj != nil && s.claim(d, groupGatewayAPI, src) {
			s.httpRoutes = append(s.httpRoutes, &resource[gwapiv1.HTTPRoute]{src: src, obj: obj})
		}
	case "GatewayClass":
		ls.unknown(src, "standalone mode has no gateway classes")
	case "ReferenceGrant":
		if !s.cluster {
			ls.unknown(src, "standalone mode allows every cross-namespace reference")
			return
		}
		if version != "v1" && version != "v1beta1" {
			ls.badVersion(src, "gateway.networking.k8s.io/v1")
			return
		}
		if obj := decodeStrict[gwapiv1.ReferenceGrant](d, src, in); obj != nil && s.claim(d, groupGatewayAPI, src) {
			s.referenceGrants = append(s.referenceGrants, &resource[gwapiv1.ReferenceGrant]{src: src, obj: obj})
		}
	default:
		ls.unknown(src, "")
	}
}

func (ls *Set) decodeEnvoyGateway(src Source, version string, in *docInput) {
	d, s := ls.d, ls.store
	if version != "v1alpha1" {
		ls.unknown(src, "")
		return
	}
	switch src.Kind {
	case "Backend":
		if obj := decodeStrict[egv1a1.Backend](d, src, in); obj != nil && s.claim(d, groupEnvoyGateway, src) {
			r := &resource[egv1a1.Backend]{src: src, obj: obj}
			s.egBackends[r.key()] = r
		}
	case "BackendTrafficPolicy":
		if obj := decodeStrict[egv1a1.BackendTrafficPolicy](d, src, in); obj != nil && s.claim(d, groupEnvoyGateway, src) {
			s.trafficPolicies = append(s.trafficPolicies, &resource[egv1a1.BackendTrafficPolicy]{src: src, obj: obj, specKeys: specKeys(in.JSON())})
		}
	case "ClientTrafficPolicy":
		if obj := decodeStrict[egv1a1.ClientTrafficPolicy](d, src, in); obj != nil && s.claim(d, groupEnvoyGateway, src) {
			s.clientPolicies = append(s.clientPolicies, &resource[egv1a1.ClientTrafficPolicy]{src: src, obj: obj, specKeys: specKeys(in.JSON())})
		}
	case "SecurityPolicy":
		if obj := decodeStrict[egv1a1.SecurityPolicy](d, src, in); obj != nil && s.claim(d, groupEnvoyGateway, src) {
			s.accessPolicies = append(s.accessPolicies, &resource[egv1a1.SecurityPolicy]{src: src, obj: obj})
		}
	case "EnvoyProxy":
		ls.unknown(src, "standalone mode runs no Envoy; logging and telemetry are configured on the command line")
	default:
		ls.unknown(src, "")
	}
}

func (ls *Set) decodeCore(src Source, version string, in *docInput) {
	d, s := ls.d, ls.store
	if version != "v1" {
		ls.unknown(src, "")
		return
	}
	switch src.Kind {
	case "Secret":
		if obj := decodeStrict[corev1.Secret](d, src, in); obj != nil && s.claim(d, groupCore, src) {
			mergeStringData(obj)
			if ls.secretHook != nil {
				ls.secretHook(src, obj)
			}
			r := &resource[corev1.Secret]{src: src, obj: obj}
			s.secrets[r.key()] = r
		}
	case "ConfigMap":
		if obj := decodeStrict[corev1.ConfigMap](d, src, in); obj != nil && s.claim(d, groupCore, src) {
			r := &resource[corev1.ConfigMap]{src: src, obj: obj}
			s.configMaps[r.key()] = r
		}
	case "Pod":
		if obj := decodeStrict[corev1.Pod](d, src, in); obj != nil && s.claim(d, groupCore, src) {
			r := &resource[corev1.Pod]{src: src, obj: obj}
			s.pods[r.key()] = r
		}
	case "Service":
		if obj := decodeStrict[corev1.Service](d, src, in); obj != nil && s.claim(d, groupCore, src) {
			r := &resource[corev1.Service]{src: src, obj: obj}
			s.services[r.key()] = r
		}
	default:
		ls.unknown(src, "")
	}
}

// decodeInference decodes the GAIE kinds: InferencePool in
// inference.networking.k8s.io/v1 and inference.networking.x-k8s.io/v1alpha2,
// InferenceObjective and InferenceModelRewrite in the latter.
func (ls *Set) decodeInference(src Source, group, version string, in *docInput) {
	d, s := ls.d, ls.store
	if src.Kind != kindInferencePool {
		switch src.Kind {
		case kindInferenceObjective, kindInferenceModelRewrite:
			if group != groupInferenceX || version != "v1alpha2" {
				ls.badVersion(src, "inference.networking.x-k8s.io/v1alpha2")
				return
			}
			if src.Kind == kindInferenceObjective {
				if obj := decodeStrict[infv1a2.InferenceObjective](d, src, in); obj != nil && s.claim(d, group, src) {
					s.objectives = append(s.objectives, &resource[infv1a2.InferenceObjective]{src: src, obj: obj})
				}
			} else if obj := decodeStrict[infv1a2.InferenceModelRewrite](d, src, in); obj != nil && s.claim(d, group, src) {
				s.modelRewrites = append(s.modelRewrites, &resource[infv1a2.InferenceModelRewrite]{src: src, obj: obj})
			}
		case "InferenceModel":
			ls.unknown(src, "it is read by the endpoint picker of GAIE v0.x, not by the gateway")
		case "InferencePoolImport":
			ls.unknown(src, "multi-cluster InferencePools are not supported in standalone mode")
		default:
			ls.unknown(src, "")
		}
		return
	}
	var pool *inferencePool
	switch {
	case group == groupInference && version == "v1":
		if obj := decodeStrict[gaiev1.InferencePool](d, src, in); obj != nil {
			pool = &inferencePool{v1: obj}
		}
	case group == groupInferenceX && version == "v1alpha2":
		if obj := decodeStrict[infv1a2.InferencePool](d, src, in); obj != nil {
			pool = &inferencePool{v1a2: obj}
		}
	default:
		ls.badVersion(src, "inference.networking.k8s.io/v1 or inference.networking.x-k8s.io/v1alpha2")
		return
	}
	if pool != nil && s.claim(d, group, src) {
		r := &resource[inferencePool]{src: src, obj: pool}
		s.pools[poolKey{group, r.key()}] = r
	}
}

// referencesPoolOrService reports whether an HTTPRoute document has a
// backendRef to an InferencePool or a core Service (the Gateway API
// defaults: group "", kind Service). It reads the document leniently, so
// that HTTPRoutes standalone mode ignores are not held to its schema.
func referencesPoolOrService(js []byte) bool {
	var route struct {
		Spec struct {
			Rules []struct {
				BackendRefs []struct {
					Group *string `json:"group"`
					Kind  *string `json:"kind"`
				} `json:"backendRefs"`
			} `json:"rules"`
		} `json:"spec"`
	}
	if json.Unmarshal(js, &route) != nil {
		return true // let the strict decoder say what is wrong
	}
	for _, rule := range route.Spec.Rules {
		for _, ref := range rule.BackendRefs {
			group, kind := groupCore, kindService
			if ref.Group != nil {
				group = *ref.Group
			}
			if ref.Kind != nil {
				kind = *ref.Kind
			}
			if isPoolRef(group, kind) || (group == groupCore && kind == kindService) {
				return true
			}
		}
	}
	return false
}

// invalidate marks the resource of kind key invalid, and returns its
// source; false when the store holds no such resource of a kind a data
// plane can refuse.
func (s *store) invalidate(kind string, key nsName) (Source, bool) {
	switch kind {
	case "AIGatewayRoute":
		return invalidateIn(s.routes, key)
	case "HTTPRoute":
		return invalidateIn(s.httpRoutes, key)
	case "AIServiceBackend":
		if r := s.backends[key]; r != nil {
			r.invalid = true
			return r.src, true
		}
	case "BackendSecurityPolicy":
		return invalidateIn(s.securityPolicies, key)
	case "SecurityPolicy":
		return invalidateIn(s.accessPolicies, key)
	}
	return Source{}, false
}

func invalidateIn[T any](list []*resource[T], key nsName) (Source, bool) {
	for _, r := range list {
		if r.key() == key {
			r.invalid = true
			return r.src, true
		}
	}
	return Source{}, false
}
