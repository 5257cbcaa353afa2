package standalone

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/podready"
)

// In standalone mode, core Pods declare model servers (and endpoint pickers)
// and core Services group them, as in a cluster: a selector picks the Pods
// of its own namespace by label, and only a Pod that serves by GAIE's rule
// (podready.Address: Ready, not terminating, an IP, no status.phase other
// than Running) receives traffic. Nothing here watches anything: the addresses
// are those of the files.

// selects reports whether a non-empty selector selects labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// readyPod is a Pod that can receive traffic.
type readyPod struct {
	pod *resource[corev1.Pod]
	ip  string
}

// readyPods returns the valid, ready Pods of namespace ns that selector
// selects, by name, and warns at src/p about the selected ones that are not
// ready. what names the selector's owner in the warnings.
func (c *compiler) readyPods(src Source, p *field.Path, ns string, selector map[string]string, what string) []readyPod {
	var out []readyPod
	for _, pod := range sortedValues(c.s.pods) {
		if pod.src.Namespace != ns || !selects(selector, pod.obj.Labels) {
			continue
		}
		if pod.invalid {
			continue // reported on the Pod
		}
		ip, why := podready.Address(pod.obj)
		if why != "" {
			c.d.warnf(src, p, "Pod %s, selected by %s, is not an endpoint: %s", pod.key(), what, why)
			continue
		}
		out = append(out, readyPod{pod: pod, ip: ip})
	}
	return out
}

// clusterIP returns the cluster IP of a Service: spec.clusterIP, else the
// first of spec.clusterIPs; "" for a headless Service (clusterIP None) and
// for one whose file gives no cluster IP (in a cluster the API server would
// assign one; here its Pods are used, as for a headless Service).
func clusterIP(s *corev1.Service) string {
	ip := s.Spec.ClusterIP
	if ip == "" && len(s.Spec.ClusterIPs) > 0 {
		ip = s.Spec.ClusterIPs[0]
	}
	if ip == corev1.ClusterIPNone {
		return ""
	}
	return ip
}

// servicePort returns the port of svc whose number is port, or reports an
// error at src/p.
func (c *compiler) servicePort(src Source, p *field.Path, svc *resource[corev1.Service], port int32) *corev1.ServicePort {
	for i := range svc.obj.Spec.Ports {
		if sp := &svc.obj.Spec.Ports[i]; sp.Port == port && (sp.Protocol == "" || sp.Protocol == corev1.ProtocolTCP) {
			return sp
		}
	}
	var have []string
	for _, sp := range svc.obj.Spec.Ports {
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		have = append(have, fmt.Sprintf("%d/%s", sp.Port, proto))
	}
	if len(have) == 0 {
		have = []string{"none"}
	}
	c.d.errorf(src, p, "Service %s has no TCP port %d (its ports: %s)", svc.key(), port, strings.Join(have, ", "))
	return nil
}

// targetPort maps a Service port to the port of one Pod: a number, a named
// container port of the Pod, or (unset) the Service port itself. ok is
// false when the Pod has no container port of that name.
func targetPort(sp *corev1.ServicePort, pod *corev1.Pod) (int32, bool) {
	switch tp := sp.TargetPort; {
	case tp.Type == intstr.String:
		for _, ctr := range pod.Spec.Containers {
			for _, cp := range ctr.Ports {
				if cp.Name == tp.StrVal && (cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP) {
					return cp.ContainerPort, true
				}
			}
		}
		return 0, false
	case tp.IntVal != 0:
		return tp.IntVal, true
	}
	return sp.Port, true
}

// serviceEndpoints resolves port of Service svc, for a reference at src/p:
// the cluster IP and the Service port, or, for a headless Service, every
// ready Pod it selects at the target port (by Pod name). ExternalName
// Services are refused (like GAIE for pickers; CVE-2021-25740). The
// ServicePort is nil after an error, which is reported.
func (c *compiler) serviceEndpoints(src Source, p *field.Path, svc *resource[corev1.Service], port int32) ([]config.Endpoint, *corev1.ServicePort) {
	if svc.obj.Spec.Type == corev1.ServiceTypeExternalName {
		c.d.notSupported(src, p, fmt.Sprintf("Service %s of type ExternalName (use an Envoy Gateway Backend with an fqdn endpoint)", svc.key()))
		return nil, nil
	}
	sp := c.servicePort(src, p, svc, port)
	if sp == nil {
		return nil, nil
	}
	if ip := clusterIP(svc.obj); ip != "" {
		return []config.Endpoint{{Host: ip, Port: port}}, sp
	}
	var out []config.Endpoint
	what := "Service " + svc.key().String()
	c.pods.Services = append(c.pods.Services, PodSelector{Namespace: svc.src.Namespace, Selector: svc.obj.Spec.Selector})
	for _, rp := range c.readyPods(src, p, svc.src.Namespace, svc.obj.Spec.Selector, what) {
		tp, ok := targetPort(sp, rp.pod.obj)
		if !ok {
			c.d.warnf(src, p, "Pod %s, selected by %s, is not an endpoint: it has no container port named %q", rp.pod.key(), what, sp.TargetPort.StrVal)
			continue
		}
		out = append(out, config.Endpoint{Host: rp.ip, Port: tp})
	}
	return out, sp
}

// serviceBackend returns the config.Backend for an HTTPRoute's direct
// reference to port of a Service, "namespace/name/svc/<port>", compiling it
// once; "" after an error. A missing Service gives a backend without
// endpoints (requests to it fail), as Gateway API asks of a route whose
// backend is not found; the caller warns.
func (c *compiler) serviceBackend(src Source, p *field.Path, key nsName, port int32) string {
	name := fmt.Sprintf("%s/svc/%d", key, port)
	if b, done := c.direct[name]; done {
		if b == nil {
			return ""
		}
		return name
	}
	c.direct[name] = nil
	out := &config.Backend{Name: name, Schema: passThroughSchema()}
	if svc, ok := c.s.services[key]; ok {
		c.usedServices[key] = true
		if svc.invalid {
			return "" // reported on the Service
		}
		eps, sp := c.serviceEndpoints(src, p, svc, port)
		if sp == nil {
			return ""
		}
		if len(eps) == 0 {
			c.d.warnf(src, p, "Service %s has no cluster IP and selects no ready Pod: requests to it fail", key)
		}
		out.Endpoints, out.HTTP2 = eps, sp.AppProtocol != nil && *sp.AppProtocol == string(config.AppProtocolH2C)
	}
	c.direct[name] = out
	return name
}

// passThroughSchema is the schema of backends compiled from a route's
// direct reference: OpenAI with prefix v1, as Envoy AI Gateway treats
// pools (an HTTPRoute forwards the client's path and body unchanged anyway).
func passThroughSchema() config.Schema { return config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"} }

// sortPoolEndpoints orders endpoints by IP, then port, then Pod, and drops
// duplicates.
func sortPoolEndpoints(eps []config.PoolEndpoint) []config.PoolEndpoint {
	slices.SortFunc(eps, func(a, b config.PoolEndpoint) int {
		ia, _ := netip.ParseAddr(a.IP)
		ib, _ := netip.ParseAddr(b.IP)
		if x := ia.Compare(ib); x != 0 {
			return x
		}
		if a.Port != b.Port {
			return int(a.Port - b.Port)
		}
		return strings.Compare(a.Pod, b.Pod)
	})
	return slices.CompactFunc(eps, func(a, b config.PoolEndpoint) bool { return a.IP == b.IP && a.Port == b.Port })
}
