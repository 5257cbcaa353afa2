package standalone

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	infv1a2 "github.com/aigw-dev/aigw/api/inferencev1alpha2"
)

// Patterns of GAIE's LabelKey and LabelValue. GAIE's Go marker for
// LabelKey escapes the dot twice (`\\.`), which as a regular expression
// would demand a backslash; this is the pattern it means, the one
// Kubernetes enforces on label keys.
var (
	labelKeyRe   = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$`)
	labelValueRe = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
)

// validatePoolV1 mirrors GAIE's inference.networking.k8s.io/v1
// InferencePool CRD (v1.6.0).
func validatePoolV1(c checker, p *gaiev1.InferencePool) {
	spec := field.NewPath("spec")
	sel := map[string]string{}
	for k, v := range p.Spec.Selector.MatchLabels {
		sel[string(k)] = string(v)
	}
	c.poolSelector(spec.Child("selector", "matchLabels"), sel, p.Spec.Selector.MatchLabels != nil)

	tp := spec.Child("targetPorts")
	switch n := len(p.Spec.TargetPorts); {
	case p.Spec.TargetPorts == nil:
		c.errorf(tp, "required")
	case n == 0:
		c.errorf(tp, "must have at least 1 item")
	default:
		c.maxItems(tp, n, 8)
	}
	seen := map[gaiev1.PortNumber]bool{}
	unique := true
	for i, port := range p.Spec.TargetPorts {
		if port.Number == 0 {
			c.errorf(tp.Index(i).Child("number"), "required")
		} else {
			c.port(tp.Index(i).Child("number"), int32(port.Number), 1)
		}
		if seen[port.Number] {
			unique = false
		}
		seen[port.Number] = true
	}
	if !unique {
		c.errorf(tp, "port number must be unique")
	}
	if p.Spec.AppProtocol != "" {
		c.enum(spec.Child("appProtocol"), string(p.Spec.AppProtocol), string(gaiev1.AppProtocolHTTP), string(gaiev1.AppProtocolH2C))
	}

	if ref := p.Spec.EndpointPickerRef; ref != nil {
		rp := spec.Child("endpointPickerRef")
		if ref.Group != nil {
			c.group(rp.Child("group"), ptr(gwapiv1.Group(*ref.Group)))
		}
		kind := string(ref.Kind)
		if kind == "" {
			kind = kindService // the CRD default, applied before the CEL rule
		} else {
			c.kind(rp.Child("kind"), ptr(gwapiv1.Kind(kind)))
		}
		if c.length(rp.Child("name"), string(ref.Name), 1, 253) && kind == kindService {
			c.dnsLabel(rp.Child("name"), string(ref.Name), "Service name")
		}
		if ref.Port != nil {
			c.port(rp.Child("port", "number"), int32(ref.Port.Number), 1)
		}
		if kind == kindService && ref.Port == nil {
			c.errorf(rp, "port is required when kind is 'Service' or unspecified (defaults to 'Service')")
		}
		if ref.FailureMode != "" {
			c.enum(rp.Child("failureMode"), string(ref.FailureMode), string(gaiev1.EndpointPickerFailOpen), string(gaiev1.EndpointPickerFailClose))
		}
	}
	c.poolAnnotations(p.Annotations, p.Spec.EndpointPickerRef != nil)
}

// validatePoolV1Alpha2 mirrors GAIE's inference.networking.x-k8s.io/v1alpha2
// InferencePool CRD (v1.4.0). Its selector is held to v1's 1–64 labels: an
// empty one would select every Pod of the namespace.
func validatePoolV1Alpha2(c checker, p *infv1a2.InferencePool) {
	spec := field.NewPath("spec")
	sel := map[string]string{}
	for k, v := range p.Spec.Selector {
		sel[string(k)] = string(v)
	}
	c.poolSelector(spec.Child("selector"), sel, p.Spec.Selector != nil)
	if p.Spec.TargetPortNumber == 0 {
		c.errorf(spec.Child("targetPortNumber"), "required")
	} else {
		c.port(spec.Child("targetPortNumber"), p.Spec.TargetPortNumber, 1)
	}
	rp := spec.Child("extensionRef")
	if ref := p.Spec.ExtensionRef; c.required(rp, ref != nil) {
		if ref.Group != nil {
			c.group(rp.Child("group"), ptr(gwapiv1.Group(*ref.Group)))
		}
		kind := kindService
		if ref.Kind != nil {
			kind = string(*ref.Kind)
			c.kind(rp.Child("kind"), ptr(gwapiv1.Kind(kind)))
		}
		if c.length(rp.Child("name"), string(ref.Name), 1, 253) && kind == kindService {
			c.dnsLabel(rp.Child("name"), string(ref.Name), "Service name")
		}
		if ref.PortNumber != nil {
			c.port(rp.Child("portNumber"), int32(*ref.PortNumber), 1)
		}
		if ref.FailureMode != nil {
			c.enum(rp.Child("failureMode"), string(*ref.FailureMode), string(infv1a2.FailOpen), string(infv1a2.FailClose))
		}
	}
	c.poolAnnotations(p.Annotations, true)
}

// poolSelector checks a pool's label selector: 1–64 labels, each key and
// value a valid label key and value.
func (c checker) poolSelector(p *field.Path, sel map[string]string, present bool) {
	if !c.required(p, present) {
		return
	}
	switch n := len(sel); {
	case n == 0:
		c.errorf(p, "must have at least 1 label")
	case n > 64:
		c.errorf(p, "must have at most 64 labels (has %d)", n)
	}
	c.labels(p, sel)
}

// labels checks label keys and values (a selector's or a Pod's), in key
// order so that messages are deterministic.
func (c checker) labels(p *field.Path, labels map[string]string) {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		kp := p.Key(k)
		if c.length(kp, k, 1, 253) {
			c.pattern(kp, k, labelKeyRe, "label key")
		}
		if c.length(kp, labels[k], 0, 63) {
			c.pattern(kp, labels[k], labelValueRe, "label value")
		}
	}
}

// dnsLabel checks a name that must be an RFC 1123 label (Service names).
func (c checker) dnsLabel(p *field.Path, s, what string) {
	if msgs := validation.IsDNS1123Label(s); len(msgs) > 0 {
		c.errorf(p, "%q is not a valid %s: %s", s, what, strings.Join(msgs, "; "))
	}
}

// poolAnnotations checks the annotations of poolAnnotations' keys; picker
// tells whether the pool has an endpoint picker to apply them to.
func (c checker) poolAnnotations(a map[string]string, picker bool) {
	ap := field.NewPath("metadata", "annotations")
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, p := a[k], ap.Key(k)
		if strings.HasPrefix(k, annotationPrefix) {
			if !slices.Contains(pickerAnnotations, k) {
				c.d.warnf(c.src, p, "ignored: unknown annotation; known: %s", strings.Join(pickerAnnotations, ", "))
				continue
			}
			if !picker && k != annotationSchedulerConfig {
				c.d.ignored(c.src, p, "the pool has no endpointPickerRef")
				continue
			}
		}
		switch k {
		case annotationPickerTLS:
			if c.enum(p, v, "true", "false") && v == "false" && a[annotationPickerCASecret] != "" {
				c.errorf(p, "\"false\" (plaintext) contradicts %s", annotationPickerCASecret)
			}
		case annotationSchedulerConfig:
			if c.length(p, v, 1, 253) {
				c.pattern(p, v, preciseHostnameRe, "ConfigMap name")
			}
		case annotationPickerCASecret:
			if c.length(p, v, 1, 253) {
				c.pattern(p, v, preciseHostnameRe, "Secret name")
			}
		case annotationPickerServerName:
			if _, err := netip.ParseAddr(v); err != nil && c.length(p, v, 1, 253) {
				c.pattern(p, v, preciseHostnameRe, "server name (a host name or an IP address)")
			}
		case annotationPickerHealthPort:
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n < 0 || n > 65535 {
				c.errorf(p, "%q is not a port: must be 1-65535, or 0 to turn health checking off", v)
			}
		case annotationPickerTimeout:
			if d, err := time.ParseDuration(v); err != nil || d <= 0 {
				c.errorf(p, "%q is not a positive Go duration such as \"10s\"", v)
			}
		case annotationPickerClientHeaders:
			for _, h := range strings.Split(v, ",") {
				if h = strings.ToLower(strings.TrimSpace(h)); h != "" && !slices.Contains(pickerControlHeaders, h) {
					c.errorf(p, "%q is not an endpoint picker control header (one of %s)", h, strings.Join(pickerControlHeaders, ", "))
				}
			}
		case annotationBodyMode:
			if c.enum(p, v, "duplex", "buffered") && v == "buffered" {
				c.d.warnf(c.src, p, "buffered is not supported: the endpoint picker stream is always full-duplex (duplex), which GAIE's pickers require")
			}
		case annotationAllowModeOverride:
			if c.enum(p, v, "true", "false") && v == "true" {
				c.d.ignored(c.src, p, "the endpoint picker cannot change processing modes in standalone mode")
			}
		}
	}
}

var podPhases = []string{
	string(corev1.PodPending), string(corev1.PodRunning), string(corev1.PodSucceeded),
	string(corev1.PodFailed), string(corev1.PodUnknown),
}

// validatePod checks the parts of a Pod that standalone mode reads: its
// labels and the status fields that make it an endpoint.
func validatePod(c checker, p *corev1.Pod) {
	c.labels(field.NewPath("metadata", "labels"), p.Labels)
	sp := field.NewPath("status")
	st := &p.Status
	if st.Phase != "" {
		c.enum(sp.Child("phase"), string(st.Phase), podPhases...)
	}
	if st.PodIP != "" {
		c.ipAddress(sp.Child("podIP"), st.PodIP)
	}
	c.maxItems(sp.Child("podIPs"), len(st.PodIPs), 2)
	for i, ip := range st.PodIPs {
		c.ipAddress(sp.Child("podIPs").Index(i).Child("ip"), ip.IP)
	}
	if len(st.PodIPs) > 0 && st.PodIP != "" && st.PodIPs[0].IP != st.PodIP {
		c.errorf(sp.Child("podIPs").Index(0).Child("ip"), "must equal status.podIP")
	}
	for i, cond := range st.Conditions {
		cp := sp.Child("conditions").Index(i)
		c.length(cp.Child("type"), string(cond.Type), 1, 316)
		c.enum(cp.Child("status"), string(cond.Status), string(corev1.ConditionTrue), string(corev1.ConditionFalse), string(corev1.ConditionUnknown))
	}
	for i, ctr := range p.Spec.Containers {
		for j, port := range ctr.Ports {
			pp := field.NewPath("spec", "containers").Index(i).Child("ports").Index(j)
			c.port(pp.Child("containerPort"), port.ContainerPort, 1)
			if port.Name != "" {
				c.portName(pp.Child("name"), port.Name)
			}
		}
	}
}

var serviceTypes = []string{
	string(corev1.ServiceTypeClusterIP), string(corev1.ServiceTypeNodePort),
	string(corev1.ServiceTypeLoadBalancer), string(corev1.ServiceTypeExternalName),
}

// validateService checks the parts of a Service that standalone mode reads:
// type, cluster IPs, selector and ports.
func validateService(c checker, s *corev1.Service) {
	if msgs := validation.IsDNS1123Label(c.src.Name); len(msgs) > 0 {
		c.errorf(field.NewPath("metadata", "name"), "%q is not a valid Service name: %s", c.src.Name, strings.Join(msgs, "; "))
	}
	spec := field.NewPath("spec")
	if s.Spec.Type != "" {
		c.enum(spec.Child("type"), string(s.Spec.Type), serviceTypes...)
	}
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		c.required(spec.Child("externalName"), s.Spec.ExternalName != "")
	}
	if ip := s.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		c.ipAddress(spec.Child("clusterIP"), ip)
	}
	c.maxItems(spec.Child("clusterIPs"), len(s.Spec.ClusterIPs), 2)
	for i, ip := range s.Spec.ClusterIPs {
		if ip != corev1.ClusterIPNone {
			c.ipAddress(spec.Child("clusterIPs").Index(i), ip)
		}
	}
	if len(s.Spec.ClusterIPs) > 0 && s.Spec.ClusterIP != "" && s.Spec.ClusterIPs[0] != s.Spec.ClusterIP {
		c.errorf(spec.Child("clusterIPs").Index(0), "must equal spec.clusterIP")
	}
	c.labels(spec.Child("selector"), s.Spec.Selector)
	names, numbers := map[string]bool{}, map[int32]bool{}
	for i, port := range s.Spec.Ports {
		pp := spec.Child("ports").Index(i)
		if len(s.Spec.Ports) > 1 && port.Name == "" {
			c.errorf(pp.Child("name"), "required when the Service has more than one port")
		}
		if port.Name != "" {
			if names[port.Name] {
				c.errorf(pp.Child("name"), "duplicate port name %q", port.Name)
			}
			names[port.Name] = true
		}
		c.port(pp.Child("port"), port.Port, 1)
		if numbers[port.Port] && (port.Protocol == "" || port.Protocol == corev1.ProtocolTCP) {
			c.errorf(pp.Child("port"), "duplicate port %d", port.Port)
		}
		numbers[port.Port] = true
		if port.Protocol != "" {
			c.enum(pp.Child("protocol"), string(port.Protocol), string(corev1.ProtocolTCP), string(corev1.ProtocolUDP), string(corev1.ProtocolSCTP))
		}
		switch tp := port.TargetPort; {
		case tp.Type == intstr.String:
			c.portName(pp.Child("targetPort"), tp.StrVal)
		case tp.IntVal != 0:
			c.port(pp.Child("targetPort"), tp.IntVal, 1)
		}
	}
}

// ipAddress checks an IP literal.
func (c checker) ipAddress(p *field.Path, s string) {
	if _, err := netip.ParseAddr(s); err != nil {
		c.errorf(p, "invalid IP address %q", s)
	}
}

// portName checks an IANA service name (a named container or target port).
func (c checker) portName(p *field.Path, s string) {
	if msgs := validation.IsValidPortName(s); len(msgs) > 0 {
		c.errorf(p, "%q is not a valid port name: %s", s, strings.Join(msgs, "; "))
	}
}
