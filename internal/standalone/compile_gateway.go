package standalone

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

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

// gateways compiles the valid Gateways into listeners, or returns the
// default Gateway with the default listener when there is none. It sets
// c.gateways. Listeners of different Gateways may share an address and
// port when their hostnames tell them apart, their protocols and client
// settings agree; a listener that conflicts with an earlier one (of its
// Gateway or another) is left out, with an error on its Gateway that
// names it (ReasonHostnameConflict or ReasonProtocolConflict).
func (c *compiler) gateways() []config.Gateway {
	served := map[nsName]bool{}
	for _, gw := range c.s.gateways {
		if !gw.invalid {
			served[gw.key()] = true
		}
	}
	if len(c.s.gateways) == 0 {
		def := nsName{defaultNamespace, defaultGatewayName}
		cs := c.clientTrafficPolicies(map[nsName]bool{def: true})[def]
		return []config.Gateway{{
			Name: def.String(),
			Listeners: []config.Listener{{
				Name: def.String() + "/" + defaultListenerName,
				Port: defaultListenerPort,
			}},
			MaxRequestBodyBytes: cs.bodyLimit,
			Client:              cs.settings,
		}}
	}
	clients := c.clientTrafficPolicies(served)
	type socket struct {
		address string
		port    int32
	}
	type occupant struct {
		gateway  nsName
		listener string
		tls      bool
		client   config.ClientSettings
	}
	sockets := map[socket][]occupant{}
	hostnames := map[socket]map[string]string{} // hostname → "gateway listener"
	var out []config.Gateway
	for _, gw := range c.s.gateways {
		if gw.invalid {
			continue
		}
		cg := config.Gateway{Name: gw.key().String()}
		cs := clients[gw.key()]
		cg.MaxRequestBodyBytes, cg.Client = cs.bodyLimit, cs.settings
		cg.RequestCosts = c.gatewayCosts(gw)
		for _, l := range c.listeners(gw) {
			sk := socket{l.Address, l.Port}
			p := listenerPath(gw, l)
			conflict := false
			for _, o := range sockets[sk] {
				if o.tls != (l.TLS != nil) {
					c.d.errorReasonf(gw.src, p, ReasonProtocolConflict, "port %d is an %s listener of %s (%s)", l.Port, protocolName(o.tls), o.gateway, o.listener)
				} else if o.client != cg.Client {
					c.d.errorReasonf(gw.src, p, ReasonProtocolConflict, "port %d is also served by %s, whose ClientTrafficPolicy differs: one port has one set of connection settings", l.Port, o.gateway)
				} else {
					continue
				}
				conflict = true
				break
			}
			if other, taken := hostnames[sk][l.Hostname]; taken && !conflict {
				c.d.errorReasonf(gw.src, p, ReasonHostnameConflict, "port %d and hostname %q are already those of %s: requests could not be told apart", l.Port, l.Hostname, other)
				conflict = true
			}
			if conflict {
				continue // the Gateway's other listeners are served
			}
			sockets[sk] = append(sockets[sk], occupant{gw.key(), l.Name, l.TLS != nil, cg.Client})
			if hostnames[sk] == nil {
				hostnames[sk] = map[string]string{}
			}
			hostnames[sk][l.Hostname] = gw.key().String() + " listener " + l.Name[strings.LastIndexByte(l.Name, '/')+1:]
			cg.Listeners = append(cg.Listeners, l)
		}
		c.gatewayList = append(c.gatewayList, gw)
		out = append(out, cg)
	}
	return out
}

// listenerPath is the field path of the listener l of gw.
func listenerPath(gw *resource[gwapiv1.Gateway], l config.Listener) *field.Path {
	name := l.Name[strings.LastIndexByte(l.Name, '/')+1:]
	for i, sl := range gw.obj.Spec.Listeners {
		if string(sl.Name) == name {
			return field.NewPath("spec", "listeners").Index(i)
		}
	}
	return field.NewPath("spec", "listeners")
}

func protocolName(tls bool) string {
	if tls {
		return "HTTPS"
	}
	return "HTTP"
}

// listeners compiles the listeners of gw.
func (c *compiler) listeners(gw *resource[gwapiv1.Gateway]) []config.Listener {
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

// clientSettings is what a ClientTrafficPolicy sets for its Gateways.
type clientSettings struct {
	bodyLimit int64
	settings  config.ClientSettings
}

// clientTrafficPolicies compiles the Envoy Gateway ClientTrafficPolicies
// by the Gateway (among gateways) they target: connection.bufferLimit is
// the request body limit (Envoy AI Gateway's autoconfig sets it to 50Mi so
// that large AI requests fit), connection.connectionLimit.value bounds each
// listener's connections, timeout.http.requestReceivedTimeout the time to
// receive a whole request and timeout.http.idleTimeout a connection's idle
// time.
func (c *compiler) clientTrafficPolicies(gateways map[nsName]bool) map[nsName]clientSettings {
	out := map[nsName]clientSettings{}
	owner := map[nsName]nsName{}
	for _, p := range byName(c.s.clientPolicies) {
		c.specFieldsIgnored(p.src, p.specKeys, "targetRef", "targetRefs", "targetSelectors", "connection", "timeout")
		var targets []nsName
		for _, t := range policyTargets(p.obj.Spec.PolicyTargetReferences) {
			gw := nsName{p.src.Namespace, string(t.ref.Name)}
			if t.ref.Group != groupGatewayAPI || t.ref.Kind != "Gateway" || !gateways[gw] {
				c.d.warnf(p.src, t.path, "ignored: only the Gateways served (%s) can be targeted", strings.Join(sortedNames(gateways), ", "))
				continue
			}
			if other, dup := owner[gw]; dup {
				c.d.errorf(p.src, t.path, "Gateway %s is already targeted by ClientTrafficPolicy %s", gw, other)
				continue
			}
			targets = append(targets, gw)
		}
		if len(p.obj.Spec.TargetSelectors) > 0 {
			c.d.ignored(p.src, field.NewPath("spec", "targetSelectors"), "not supported in standalone mode")
		}
		if len(targets) == 0 {
			continue
		}
		var cs clientSettings
		cs.bodyLimit = c.clientConnection(p, &cs.settings)
		c.clientTimeouts(p, &cs.settings)
		for _, gw := range targets {
			owner[gw], out[gw] = p.key(), cs
		}
	}
	return out
}

// sortedNames returns the names of set, sorted.
func sortedNames(set map[nsName]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k.String())
	}
	slices.Sort(out)
	return out
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
