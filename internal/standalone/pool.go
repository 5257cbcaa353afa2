package standalone

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"

	infv1a2 "github.com/aigw-dev/aigw/api/inferencev1alpha2"
	"github.com/aigw-dev/aigw/internal/config"
)

// API group of the older InferencePool version (v1alpha2). Pools are
// referenced by group, so a v1 and a v1alpha2 pool of the same name never
// collide.
const groupInferenceX = "inference.networking.x-k8s.io"

// Annotations on an InferencePool (either version) that tune the connection
// to its endpoint picker. The aigw.dev ones are this project's (GAIE's
// Kubernetes deployments configure the same things on the EPP's command
// line and in the gateway's own configuration); the aigateway.envoyproxy.io
// ones are Envoy AI Gateway's.
const (
	// annotationPrefix is the prefix of this project's annotations; an
	// unknown key with it is warned about (a likely typo).
	annotationPrefix = "aigw.dev/"
	// annotationPickerTLS is "true" (the default: TLS without certificate
	// verification, as GAIE deploys its pickers with a self-signed
	// certificate) or "false" (plaintext h2c, for an EPP started with
	// --secure-serving=false).
	annotationPickerTLS = "aigw.dev/endpoint-picker-tls"
	// annotationPickerCASecret names a Secret in the pool's namespace whose
	// "ca.crt" verifies the picker's certificate.
	annotationPickerCASecret = "aigw.dev/endpoint-picker-ca-secret"
	// annotationPickerServerName is the name sent as SNI and verified
	// against the picker's certificate; it defaults to the picker's host.
	annotationPickerServerName = "aigw.dev/endpoint-picker-server-name"
	// annotationPickerHealthPort is the port of the picker's gRPC health
	// service on the picker's host; it defaults to the ext_proc port + 1
	// (GAIE's 9003 beside 9002); "0" turns health checking off.
	annotationPickerHealthPort = "aigw.dev/endpoint-picker-health-port"
	// annotationPickerTimeout bounds each wait for a picker answer (a Go
	// duration such as "10s"); unset means the data plane's default.
	annotationPickerTimeout = "aigw.dev/endpoint-picker-timeout"
	// annotationPickerClientHeaders lists, comma-separated, the GAIE control
	// headers a client may send to the picker (see pickerControlHeaders);
	// unset allows none: a client would otherwise choose its own priority,
	// tenant or model.
	annotationPickerClientHeaders = "aigw.dev/endpoint-picker-client-headers"
	// annotationSchedulerConfig names a ConfigMap in the pool's namespace
	// whose "config.yaml" is a GAIE EndpointPickerConfig for the gateway's
	// own picking (pools without endpointPickerRef, and FailOpen when the
	// picker fails); unset means GAIE's default profile.
	annotationSchedulerConfig = "aigw.dev/scheduler-config"
	// schedulerConfigKey is the ConfigMap key holding the configuration.
	schedulerConfigKey = "config.yaml"
	// annotationBodyMode is Envoy AI Gateway's body mode of the picker
	// stream, duplex (the default) or buffered; only duplex exists here.
	annotationBodyMode = "aigateway.envoyproxy.io/processing-body-mode"
	// annotationAllowModeOverride is Envoy AI Gateway's switch letting the
	// picker change processing modes per message; not supported here.
	annotationAllowModeOverride = "aigateway.envoyproxy.io/allow-mode-override"
)

// pickerAnnotations are this project's annotation keys.
var pickerAnnotations = []string{
	annotationPickerTLS, annotationPickerCASecret, annotationPickerServerName,
	annotationPickerHealthPort, annotationPickerTimeout, annotationPickerClientHeaders,
	annotationSchedulerConfig,
}

// pickerControlHeaders are GAIE's request headers that steer a picker.
var pickerControlHeaders = []string{"x-gateway-inference-objective", "x-gateway-inference-fairness-id", "x-gateway-model-name-rewrite"}

// Endpoint picker defaults: the gRPC health service names of GAIE's EPP and
// of its lightweight picker (lwepp), tried in this order.
var pickerHealthServices = []string{"envoy.service.ext_proc.v3.ExternalProcessor", "inference-extension"}

// poolKey identifies an InferencePool: its group tells the version apart.
type poolKey struct {
	group string
	nsName
}

// String formats k as "InferencePool namespace/name (group)".
func (k poolKey) String() string {
	return kindInferencePool + " " + k.nsName.String() + " (" + k.group + ")"
}

// backendName is the name of the config.Backend compiled for a route's
// direct reference to the pool: "namespace/name/infpool" for a v1 pool,
// "namespace/name/xinfpool" for a v1alpha2 pool (GAIE's short names).
// AIServiceBackend names have one slash, so the two never collide.
func (k poolKey) backendName() string {
	if k.group == groupInferenceX {
		return k.nsName.String() + "/xinfpool"
	}
	return k.nsName.String() + "/infpool"
}

// isPoolRef reports whether group and kind name an InferencePool.
func isPoolRef(group, kind string) bool {
	return kind == kindInferencePool && (group == groupInference || group == groupInferenceX)
}

// inferencePool is an InferencePool of either version; exactly one field
// is set.
type inferencePool struct {
	v1   *gaiev1.InferencePool
	v1a2 *infv1a2.InferencePool
}

// group returns the pool's API group.
func (p *inferencePool) group() string {
	if p.v1a2 != nil {
		return groupInferenceX
	}
	return groupInference
}

// poolSpec is what compile reads from a pool, whatever its version, with
// the CRD defaults applied.
type poolSpec struct {
	annotations map[string]string
	selector    map[string]string
	// selectorPath is where the selector is, for messages.
	selectorPath *field.Path
	targetPorts  []int32
	appProtocol  config.AppProtocol
	// picker is nil when the pool names no endpoint picker (v1.6.0 made
	// endpointPickerRef optional).
	picker *pickerRef
}

// pickerRef is a pool's endpoint picker reference with the defaults of its
// version applied.
type pickerRef struct {
	path        *field.Path // spec.endpointPickerRef or spec.extensionRef
	group, kind string
	name        string
	// port is the Service port (or the Backend port override); zero when
	// unset (only possible for non-Service kinds).
	port        int32
	failureMode config.FailureMode
}

// spec normalises the pool. Values are meaningful only for a valid pool,
// but an invalid one does not make it panic.
func (p *inferencePool) spec() poolSpec {
	if p.v1a2 != nil {
		return p.v1a2Spec()
	}
	s := &p.v1.Spec
	out := poolSpec{
		annotations:  p.v1.Annotations,
		selector:     map[string]string{},
		selectorPath: field.NewPath("spec", "selector", "matchLabels"),
		appProtocol:  config.AppProtocolHTTP,
	}
	for k, v := range s.Selector.MatchLabels {
		out.selector[string(k)] = string(v)
	}
	for _, tp := range s.TargetPorts {
		out.targetPorts = append(out.targetPorts, int32(tp.Number))
	}
	if s.AppProtocol != "" {
		out.appProtocol = config.AppProtocol(s.AppProtocol)
	}
	if ref := s.EndpointPickerRef; ref != nil {
		pr := &pickerRef{
			path:        field.NewPath("spec", "endpointPickerRef"),
			kind:        string(ref.Kind),
			name:        string(ref.Name),
			failureMode: config.FailureMode(ref.FailureMode),
		}
		if ref.Group != nil {
			pr.group = string(*ref.Group)
		}
		if pr.kind == "" {
			pr.kind = kindService
		}
		if ref.Port != nil {
			pr.port = int32(ref.Port.Number)
		}
		if pr.failureMode == "" {
			pr.failureMode = config.FailClose
		}
		out.picker = pr
	}
	return out
}

// v1a2Spec maps a v1alpha2 pool to the v1 shape as GAIE's conversion does:
// selector → matchLabels, targetPortNumber → one target port,
// extensionRef → endpointPickerRef (portNumber defaulting to 9002),
// appProtocol http.
func (p *inferencePool) v1a2Spec() poolSpec {
	s := &p.v1a2.Spec
	out := poolSpec{
		annotations:  p.v1a2.Annotations,
		selector:     map[string]string{},
		selectorPath: field.NewPath("spec", "selector"),
		targetPorts:  []int32{s.TargetPortNumber},
		appProtocol:  config.AppProtocolHTTP,
	}
	for k, v := range s.Selector {
		out.selector[string(k)] = string(v)
	}
	ref := s.ExtensionRef
	if ref == nil {
		return out // invalid: extensionRef is required
	}
	pr := &pickerRef{
		path:        field.NewPath("spec", "extensionRef"),
		kind:        string(infv1a2.DefaultExtensionKind),
		name:        string(ref.Name),
		failureMode: config.FailureMode(infv1a2.DefaultExtensionFailureMode),
	}
	if ref.Group != nil {
		pr.group = string(*ref.Group)
	}
	if ref.Kind != nil {
		pr.kind = string(*ref.Kind)
	}
	if ref.PortNumber != nil {
		pr.port = int32(*ref.PortNumber)
	} else if pr.group == groupCore && pr.kind == kindService {
		pr.port = int32(infv1a2.DefaultExtensionPortNumber)
	}
	if ref.FailureMode != nil {
		pr.failureMode = config.FailureMode(*ref.FailureMode)
	}
	out.picker = pr
	return out
}
