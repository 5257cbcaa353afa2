package standalone

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net/netip"
	"strings"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/translator"
)

// defaultAWSAnthropicVersion is the anthropic_version sent to Bedrock when
// the AWSAnthropic schema sets none.
const defaultAWSAnthropicVersion = "bedrock-2023-05-31"

// upstream is a resolved Envoy Gateway Backend.
type upstream struct {
	endpoints []config.Endpoint
	tls       *config.UpstreamTLS
	http2     bool
}

// compileBackend compiles one valid AIServiceBackend; nil when it failed.
func (c *compiler) compileBackend(r *resource[aigv1b1.AIServiceBackend]) *config.Backend {
	spec := &r.obj.Spec
	out := &config.Backend{
		Name:   r.key().String(),
		Schema: c.schema(r),
		Auth:   c.auth[r.key()],
	}
	switch out.Schema.Name {
	case config.SchemaGCPVertexAI, config.SchemaGCPAnthropic:
		if out.Auth == nil || out.Auth.Type != config.AuthGCPCredentials {
			c.d.errorf(r.src, field.NewPath("spec", "schema", "name"),
				"schema %s needs a BackendSecurityPolicy of type GCPCredentials (it gives the project and region of the upstream path)", out.Schema.Name)
		}
	}
	rp := field.NewPath("spec", "backendRef")
	switch backendRefKind(spec.BackendRef) {
	case kindEGBackend:
		key := nsName{r.src.Namespace, string(spec.BackendRef.Name)}
		if spec.BackendRef.Namespace != nil {
			key.namespace = string(*spec.BackendRef.Namespace)
		}
		if spec.BackendRef.Port != nil {
			c.d.ignored(r.src, rp.Child("port"), "the port comes from the Backend's endpoints")
		}
		if !c.permitted(r.src, rp, refTarget{groupEnvoyGateway, kindEGBackend, key}, false) {
			return nil
		}
		eg, ok := c.s.egBackends[key]
		if !ok {
			c.d.errorf(r.src, rp, "Backend %s (gateway.envoyproxy.io) not found", key)
			return nil
		}
		up := c.upstream(eg)
		if up == nil {
			return nil // reported on the Backend
		}
		out.Endpoints, out.TLS, out.HTTP2 = up.endpoints, up.tls, up.http2
	case kindService:
		key := nsName{r.src.Namespace, string(spec.BackendRef.Name)}
		if spec.BackendRef.Namespace != nil {
			key.namespace = string(*spec.BackendRef.Namespace)
		}
		if !c.permitted(r.src, rp, refTarget{groupCore, kindService, key}, false) {
			return nil
		}
		svc, ok := c.s.services[key]
		if !ok {
			c.d.errorf(r.src, rp, "Service %s not found", key)
			return nil
		}
		c.usedServices[key] = true
		if svc.invalid {
			return nil // reported on the Service
		}
		eps, sp := c.serviceEndpoints(r.src, rp, svc, *spec.BackendRef.Port) // validation: port is set
		if sp == nil {
			return nil
		}
		if len(eps) == 0 {
			c.d.warnf(r.src, rp, "Service %s has no cluster IP and selects no ready Pod: requests to this backend fail", key)
		}
		out.Endpoints = eps
		out.HTTP2 = sp.AppProtocol != nil && *sp.AppProtocol == string(config.AppProtocolH2C)
	case kindInferencePool:
		key := poolKey{string(*spec.BackendRef.Group), nsName{r.src.Namespace, string(spec.BackendRef.Name)}}
		if spec.BackendRef.Namespace != nil {
			key.namespace = string(*spec.BackendRef.Namespace)
		}
		if spec.BackendRef.Port != nil {
			c.d.ignored(r.src, rp.Child("port"), "the pool's targetPorts decide the ports")
		}
		if !c.permitted(r.src, rp, refTarget{key.group, kindInferencePool, key.nsName}, false) {
			return nil
		}
		pool, found := c.pool(key)
		if !found {
			c.d.errorf(r.src, rp, "%s not found", key)
			return nil
		}
		if pool == nil {
			return nil // reported on the pool
		}
		out.Pool = clonePool(pool)
		out.HTTP2 = pool.AppProtocol == config.AppProtocolH2C
		if out.Auth == nil {
			out.Auth = c.poolAuth[key]
		}
	}
	return out
}

// schema compiles spec.schema, applying the defaults: prefix "v1" for
// OpenAI and Anthropic (without slashes at either end; an explicit empty
// prefix means none) and anthropic_version for AWSAnthropic.
func (c *compiler) schema(r *resource[aigv1b1.AIServiceBackend]) config.Schema {
	in := r.obj.Spec.APISchema
	p := field.NewPath("spec", "schema")
	out := config.Schema{Name: config.SchemaName(in.Name)}
	if in.Version != nil {
		out.Version = *in.Version
	}
	switch in.Name {
	case aigv1b1.APISchemaOpenAI, aigv1b1.APISchemaAnthropic:
		out.Prefix = "v1"
		if in.Prefix != nil {
			out.Prefix = strings.Trim(*in.Prefix, "/")
		}
		if in.Version != nil {
			c.d.ignored(r.src, p.Child("version"), fmt.Sprintf("not used by schema %s; use prefix for the path", in.Name))
		}
	default:
		if in.Prefix != nil {
			c.d.ignored(r.src, p.Child("prefix"), fmt.Sprintf("not used by schema %s", in.Name))
		}
	}
	if !translator.Serves(out.Name) {
		c.d.warnf(r.src, p.Child("name"), "schema %s is not served yet: requests this backend would serve are answered 422 (or go to the route's next backend)", in.Name)
	}
	switch in.Name {
	case aigv1b1.APISchemaAWSAnthropic:
		if out.Version == "" {
			out.Version = defaultAWSAnthropicVersion
		}
	case aigv1b1.APISchemaAzureOpenAI:
		if out.Version == "" {
			c.d.warnf(r.src, p.Child("version"), "unset: requests to Azure OpenAI carry no api-version and are likely rejected")
		}
	}
	return out
}

// upstream resolves an Envoy Gateway Backend once; nil when it failed.
func (c *compiler) upstream(eg *resource[egv1a1.Backend]) *upstream {
	key := eg.key()
	if up, done := c.upstreams[key]; done {
		return up
	}
	c.upstreams[key] = nil
	if eg.invalid {
		return nil
	}
	before := len(c.d.errs)
	spec := &eg.obj.Spec
	sp := field.NewPath("spec")
	if spec.Type != nil && *spec.Type == egv1a1.BackendTypeDynamicResolver {
		c.d.notSupported(eg.src, sp.Child("type"), "Backend type DynamicResolver")
		return nil
	}
	up := &upstream{}
	for i, e := range spec.Endpoints {
		p := sp.Child("endpoints").Index(i)
		var ep config.Endpoint
		switch {
		case e.FQDN != nil:
			ep = config.Endpoint{Host: e.FQDN.Hostname, Port: e.FQDN.Port}
			p = p.Child("fqdn")
		case e.IP != nil:
			ep = config.Endpoint{Host: e.IP.Address, Port: e.IP.Port}
			p = p.Child("ip")
			if _, err := netip.ParseAddr(e.IP.Address); err != nil {
				c.d.errorf(eg.src, p.Child("address"), "invalid IP address %q", e.IP.Address)
			}
		case e.Unix != nil:
			c.d.notSupported(eg.src, p.Child("unix"), "Unix socket endpoints")
			continue
		}
		if ep.Port == 0 {
			c.d.errorf(eg.src, p.Child("port"), "must be set (1-65535)")
		}
		if e.Hostname != nil {
			ep.HostHeader = *e.Hostname
		}
		up.endpoints = append(up.endpoints, ep)
	}
	for i, a := range spec.AppProtocols {
		switch a {
		case egv1a1.AppProtocolTypeH2C:
			up.http2 = true
		default:
			c.d.ignored(eg.src, sp.Child("appProtocols").Index(i), fmt.Sprintf("%s is not supported in standalone mode", a))
		}
	}
	if spec.Fallback != nil {
		c.d.ignored(eg.src, sp.Child("fallback"), "the AIGatewayRoute backendRef priority decides fallback")
	}
	up.tls = c.upstreamTLS(eg)
	if len(c.d.errs) > before {
		return nil
	}
	c.upstreams[key] = up
	return up
}

// upstreamTLS combines the Backend's spec.tls and the BackendTLSPolicy that
// targets it (whose fields win where both speak). Without either the
// upstream is plain text: TLS is not implied by port 443.
func (c *compiler) upstreamTLS(eg *resource[egv1a1.Backend]) *config.UpstreamTLS {
	var out *config.UpstreamTLS
	if t := eg.obj.Spec.TLS; t != nil {
		p := field.NewPath("spec", "tls")
		out = &config.UpstreamTLS{}
		if t.SNI != nil {
			out.ServerName = string(*t.SNI)
		}
		out.CACertPEM = c.caBundle(eg.src, p.Child("caCertificateRefs"), t.CACertificateRefs, eg.src.Namespace)
		out.InsecureSkipVerify = t.InsecureSkipVerify != nil && *t.InsecureSkipVerify
		if bc := t.BackendTLSConfig; bc != nil {
			out.MinVersion = tlsVersion(bc.MinVersion)
			out.MaxVersion = tlsVersion(bc.MaxVersion)
			if bc.ClientCertificateRef != nil {
				out.ClientCertificate = c.clientCertificate(eg, p.Child("clientCertificateRef"), *bc.ClientCertificateRef)
			}
			if len(bc.Ciphers) > 0 || len(bc.ECDHCurves) > 0 || len(bc.SignatureAlgorithms) > 0 || len(bc.ALPNProtocols) > 0 {
				c.d.ignored(eg.src, p, "ciphers, ecdhCurves, signatureAlgorithms and alpnProtocols are not supported in standalone mode")
			}
		}
	}
	pol := c.tlsPolicies[eg.key()]
	if pol == nil {
		return out
	}
	v := pol.obj.Spec.Validation
	vp := field.NewPath("spec", "validation")
	if out == nil {
		out = &config.UpstreamTLS{}
	} else if out.InsecureSkipVerify {
		c.d.warnf(pol.src, vp, "overrides insecureSkipVerify of %s: the certificate is verified", eg.src.ref())
	}
	out.InsecureSkipVerify = false
	out.ServerName = string(v.Hostname)
	// wellKnownCACertificates System: the system roots.
	out.CACertPEM = c.caBundle(pol.src, vp.Child("caCertificateRefs"), v.CACertificateRefs, pol.src.Namespace)
	if len(v.SubjectAltNames) > 0 {
		c.d.notSupported(pol.src, vp.Child("subjectAltNames"), "subjectAltNames verification")
	}
	if len(pol.obj.Spec.Options) > 0 {
		c.d.ignored(pol.src, field.NewPath("spec", "options"), "not supported in standalone mode")
	}
	return out
}

func tlsVersion(v *egv1a1.TLSVersion) string {
	if v == nil || *v == egv1a1.TLSAuto {
		return ""
	}
	return string(*v)
}

// indexTLSPolicies maps each Envoy Gateway Backend to the BackendTLSPolicy
// that targets it; two policies on one Backend are an error.
func (c *compiler) indexTLSPolicies() map[nsName]*resource[gwapiv1.BackendTLSPolicy] {
	out := map[nsName]*resource[gwapiv1.BackendTLSPolicy]{}
	for _, pol := range byName(c.s.tlsPolicies) {
		if pol.invalid {
			continue
		}
		for i, t := range pol.obj.Spec.TargetRefs {
			p := field.NewPath("spec", "targetRefs").Index(i)
			if string(t.Group) != groupEnvoyGateway || t.Kind != kindEGBackend {
				c.d.warnf(pol.src, p, "ignored: only Envoy Gateway Backends (group gateway.envoyproxy.io, kind Backend) can be targeted in standalone mode")
				continue
			}
			if t.SectionName != nil {
				c.d.ignored(pol.src, p.Child("sectionName"), "the policy applies to the whole Backend")
			}
			key := nsName{pol.src.Namespace, string(t.Name)}
			if _, ok := c.s.egBackends[key]; !ok {
				c.d.warnf(pol.src, p, "ignored: Backend %s not found", key)
				continue
			}
			if other, dup := out[key]; dup {
				c.d.errorf(pol.src, p, "Backend %s is already targeted by BackendTLSPolicy %s", key, other.key())
				continue
			}
			out[key] = pol
		}
	}
	return out
}

// caBundle concatenates the "ca.crt" of ConfigMaps and Secrets.
func (c *compiler) caBundle(src Source, p *field.Path, refs []gwapiv1.LocalObjectReference, ns string) string {
	var b strings.Builder
	for i, ref := range refs {
		rp := p.Index(i)
		key := nsName{ns, string(ref.Name)}
		var data []byte
		switch {
		case ref.Group == groupCore && ref.Kind == "ConfigMap":
			cm, ok := c.s.configMaps[key]
			if !ok {
				c.d.errorf(src, rp, "ConfigMap %s not found", key)
				continue
			}
			v, ok := cm.obj.Data["ca.crt"]
			if !ok {
				c.d.errorf(src, rp, "ConfigMap %s has no key \"ca.crt\"", key)
				continue
			}
			data = []byte(v)
		case ref.Group == groupCore && ref.Kind == "Secret":
			s, ok := c.s.secrets[key]
			if !ok {
				c.d.errorf(src, rp, "Secret %s not found", key)
				continue
			}
			v, ok := c.secretKey(src, rp, s, key, "ca.crt")
			if !ok {
				continue
			}
			data = v
		default:
			c.d.errorf(src, rp, "must be a ConfigMap or a Secret (group \"\")")
			continue
		}
		if !hasPEMCertificate(data) {
			c.d.errorf(src, rp, "\"ca.crt\" of %s holds no PEM certificate", key)
			continue
		}
		b.Write(bytes.TrimSpace(data))
		b.WriteByte('\n')
	}
	return b.String()
}

func hasPEMCertificate(data []byte) bool {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return false
		}
		if block.Type == "CERTIFICATE" {
			return true
		}
	}
}

// clientCertificate resolves an mTLS client certificate Secret.
func (c *compiler) clientCertificate(eg *resource[egv1a1.Backend], p *field.Path, ref gwapiv1.SecretObjectReference) *config.CertificatePair {
	s, key := c.secret(eg.src, p, ref, eg.src.Namespace)
	if s == nil {
		return nil
	}
	return c.certificatePair(eg.src, p, s, key)
}

// certificatePair reads tls.crt and tls.key of a Secret and checks that
// they form a key pair. Messages never quote the key.
func (c *compiler) certificatePair(src Source, p *field.Path, s *resource[corev1.Secret], key nsName) *config.CertificatePair {
	cert, okCert := c.secretKey(src, p, s, key, "tls.crt")
	pk, okKey := c.secretKey(src, p, s, key, "tls.key")
	if !okCert || !okKey {
		return nil
	}
	if _, err := tls.X509KeyPair(cert, pk); err != nil {
		c.d.errorf(src, p, "Secret %s: tls.crt and tls.key are not a valid certificate and key: %w", key, err)
		return nil
	}
	return &config.CertificatePair{Name: key.String(), CertPEM: string(cert), KeyPEM: config.Secret(pk)}
}

// secret resolves a SecretObjectReference (core Secrets only); ns is the
// namespace of the referring resource.
func (c *compiler) secret(src Source, p *field.Path, ref gwapiv1.SecretObjectReference, ns string) (*resource[corev1.Secret], nsName) {
	if (ref.Group != nil && *ref.Group != groupCore) || (ref.Kind != nil && *ref.Kind != "Secret") {
		c.d.errorf(src, p, "only core Secrets (group \"\", kind Secret) are supported")
		return nil, nsName{}
	}
	key := nsName{ns, string(ref.Name)}
	if ref.Namespace != nil {
		key.namespace = string(*ref.Namespace)
	}
	if !c.permitted(src, p, refTarget{groupCore, "Secret", key}, false) {
		return nil, key
	}
	s, ok := c.s.secrets[key]
	if !ok {
		c.d.errorf(src, p, "Secret %s not found", key)
		return nil, key
	}
	return s, key
}

// secretKey returns one data key of a Secret. Messages name the key, never
// the value.
func (c *compiler) secretKey(src Source, p *field.Path, s *resource[corev1.Secret], key nsName, dataKey string) ([]byte, bool) {
	v, ok := s.obj.Data[dataKey]
	if !ok {
		c.d.errorf(src, p, "Secret %s has no key %q", key, dataKey)
		return nil, false
	}
	if len(bytes.TrimSpace(v)) == 0 {
		c.d.errorf(src, p, "Secret %s: key %q is empty", key, dataKey)
		return nil, false
	}
	return v, true
}
