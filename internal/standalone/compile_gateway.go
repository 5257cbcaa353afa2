package standalone

import (
	"fmt"
	"net/netip"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/aigw-dev/aigw/internal/config"
)

// The listener of a configuration without a Gateway, as `aigw run` has.
const (
	defaultGatewayName  = "aigw-run"
	defaultListenerName = "http"
	defaultListenerPort = 1975
)

// listeners compiles the one Gateway (Envoy AI Gateway's standalone mode
// also allows only one) into listeners, or returns the default listener
// when there is none. It sets c.gateway.
func (c *compiler) listeners() []config.Listener {
	if len(c.s.gateways) == 0 {
		return []config.Listener{{
			Name: defaultNamespace + "/" + defaultGatewayName + "/" + defaultListenerName,
			Port: defaultListenerPort,
		}}
	}
	gw := c.s.gateways[0]
	for _, other := range c.s.gateways[1:] {
		c.d.errorf(other.src, nil, "only one Gateway is supported in standalone mode; %s is defined at %s: document %d",
			gw.src.ref(), gw.src.File, gw.src.Doc)
	}
	c.gateway = gw
	if gw.invalid {
		return nil
	}
	spec := field.NewPath("spec")
	address := c.gatewayAddress(gw)
	if gw.obj.Spec.TLS != nil {
		c.d.notSupported(gw.src, spec.Child("tls"), "Gateway-level TLS settings (client certificate validation, backend client certificates)")
	}
	var out []config.Listener
	for i, l := range gw.obj.Spec.Listeners {
		p := spec.Child("listeners").Index(i)
		cl := config.Listener{
			Name:    fmt.Sprintf("%s/%s/%s", gw.src.Namespace, gw.src.Name, l.Name),
			Address: address,
			Port:    l.Port,
		}
		if l.Hostname != nil {
			cl.Hostname = string(*l.Hostname)
		}
		switch l.Protocol {
		case gwapiv1.HTTPProtocolType:
		case gwapiv1.HTTPSProtocolType:
			cl.TLS = c.listenerTLS(gw, p.Child("tls"), l.TLS)
		default:
			c.d.notSupported(gw.src, p.Child("protocol"), fmt.Sprintf("protocol %q (only HTTP and HTTPS)", l.Protocol))
			continue
		}
		out = append(out, cl)
	}
	return out
}

// gatewayAddress returns the one IP address of spec.addresses, or "" for
// all interfaces.
func (c *compiler) gatewayAddress(gw *resource[gwapiv1.Gateway]) string {
	addrs := gw.obj.Spec.Addresses
	p := field.NewPath("spec", "addresses")
	if len(addrs) == 0 {
		return ""
	}
	if len(addrs) > 1 {
		c.d.notSupported(gw.src, p, "more than one Gateway address")
		return ""
	}
	a := addrs[0]
	if a.Type != nil && *a.Type != gwapiv1.IPAddressType {
		c.d.notSupported(gw.src, p.Index(0).Child("type"), fmt.Sprintf("address type %q (only IPAddress)", *a.Type))
		return ""
	}
	if _, err := netip.ParseAddr(a.Value); err != nil {
		c.d.errorf(gw.src, p.Index(0).Child("value"), "invalid IP address %q", a.Value)
		return ""
	}
	return a.Value
}

// listenerTLS resolves the certificates of an HTTPS listener.
func (c *compiler) listenerTLS(gw *resource[gwapiv1.Gateway], p *field.Path, t *gwapiv1.ListenerTLSConfig) *config.ListenerTLS {
	if t == nil {
		c.d.errorf(gw.src, p, "required for protocol HTTPS")
		return nil
	}
	if len(t.Options) > 0 {
		c.d.ignored(gw.src, p.Child("options"), "TLS options are not supported in standalone mode")
	}
	out := &config.ListenerTLS{}
	for i, ref := range t.CertificateRefs {
		rp := p.Child("certificateRefs").Index(i)
		s, key := c.secret(gw.src, rp, ref, gw.src.Namespace)
		if s == nil {
			continue
		}
		if pair := c.certificatePair(gw.src, rp, s, key); pair != nil {
			out.Certificates = append(out.Certificates, *pair)
		}
	}
	if len(out.Certificates) == 0 {
		return nil
	}
	return out
}

// clientTrafficPolicies compiles the Envoy Gateway ClientTrafficPolicy
// attached to the Gateway: connection.bufferLimit is the request body limit
// (Envoy AI Gateway's autoconfig sets it to 50Mi so that large AI requests
// fit), connection.connectionLimit.value bounds each listener's
// connections, timeout.http.requestReceivedTimeout the time to receive a
// whole request and timeout.http.idleTimeout a connection's idle time.
func (c *compiler) clientTrafficPolicies() (int64, config.ClientSettings) {
	gwName := nsName{defaultNamespace, defaultGatewayName}
	if c.gateway != nil {
		gwName = c.gateway.key()
	}
	var limit int64
	var settings config.ClientSettings
	var owner *resource[egv1a1.ClientTrafficPolicy]
	for _, p := range byName(c.s.clientPolicies) {
		c.specFieldsIgnored(p.src, p.specKeys, "targetRef", "targetRefs", "targetSelectors", "connection", "timeout")
		attached := false
		for _, t := range policyTargets(p.obj.Spec.PolicyTargetReferences) {
			if t.ref.Group != groupGatewayAPI || t.ref.Kind != "Gateway" || (nsName{p.src.Namespace, string(t.ref.Name)}) != gwName {
				c.d.warnf(p.src, t.path, "ignored: only the Gateway %s can be targeted in standalone mode", gwName)
				continue
			}
			attached = true
		}
		if len(p.obj.Spec.TargetSelectors) > 0 {
			c.d.ignored(p.src, field.NewPath("spec", "targetSelectors"), "not supported in standalone mode")
		}
		if !attached {
			continue
		}
		if owner != nil {
			c.d.errorf(p.src, nil, "Gateway %s is already targeted by ClientTrafficPolicy %s", gwName, owner.key())
			continue
		}
		owner = p
		limit = c.clientConnection(p, &settings)
		c.clientTimeouts(p, &settings)
	}
	return limit, settings
}

// clientConnection compiles a ClientTrafficPolicy's connection block and
// returns its bufferLimit.
func (c *compiler) clientConnection(p *resource[egv1a1.ClientTrafficPolicy], settings *config.ClientSettings) int64 {
	conn := p.obj.Spec.Connection
	if conn == nil {
		return 0
	}
	var limit int64
	cp := field.NewPath("spec", "connection")
	if conn.BufferLimit != nil {
		limit = conn.BufferLimit.Value()
		if limit <= 0 {
			c.d.errorf(p.src, cp.Child("bufferLimit"), "must be positive")
		}
	}
	if cl := conn.ConnectionLimit; cl != nil {
		lp := cp.Child("connectionLimit")
		switch {
		case cl.Value == nil:
			c.d.errorf(p.src, lp.Child("value"), "required")
		case *cl.Value <= 0:
			c.d.errorf(p.src, lp.Child("value"), "must be positive, got %d", *cl.Value)
		default:
			settings.ConnectionLimit = *cl.Value
		}
		if cl.CloseDelay != nil || cl.MaxConnectionDuration != nil || cl.MaxRequestsPerConnection != nil || cl.MaxStreamDuration != nil {
			c.d.ignored(p.src, lp, "only value is supported in standalone mode")
		}
	}
	if conn.SocketBufferLimit != nil || conn.MaxAcceptPerSocketEvent != nil {
		c.d.ignored(p.src, cp, "only bufferLimit and connectionLimit are supported in standalone mode")
	}
	return limit
}

// clientTimeouts compiles a ClientTrafficPolicy's timeout block.
func (c *compiler) clientTimeouts(p *resource[egv1a1.ClientTrafficPolicy], settings *config.ClientSettings) {
	to := p.obj.Spec.Timeout
	if to == nil {
		return
	}
	tp := field.NewPath("spec", "timeout")
	if to.TCP != nil {
		c.d.ignored(p.src, tp.Child("tcp"), "not supported in standalone mode (HTTP listeners only)")
	}
	h := to.HTTP
	if h == nil {
		return
	}
	hp := tp.Child("http")
	chk := checker{d: c.d, src: p.src}
	if d, ok := chk.duration(hp.Child("requestReceivedTimeout"), h.RequestReceivedTimeout); ok {
		settings.RequestReceivedTimeout = config.Duration(d)
	}
	if d, ok := chk.duration(hp.Child("idleTimeout"), h.IdleTimeout); ok {
		settings.IdleTimeout = config.Duration(d)
	}
	if h.StreamIdleTimeout != nil {
		c.d.ignored(p.src, hp.Child("streamIdleTimeout"), "set the route's streamIdleTimeout or a BackendTrafficPolicy instead")
	}
}
