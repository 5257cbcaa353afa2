package standalone

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
	"github.com/aigw-dev/aigw/internal/config"
)

// apiKeyDataKey is the Secret data key of the API key types.
const apiKeyDataKey = "apiKey"

// securityPolicies resolves every valid BackendSecurityPolicy and maps each
// targeted AIServiceBackend and InferencePool to its credential. Policies
// are visited by namespace/name; a second policy on the same target is an
// error. A pool's credential applies to every backend compiled from the
// pool (a route's direct reference, and AIServiceBackends whose backendRef
// is the pool and that no policy of their own targets: an
// AIServiceBackend's own policy wins), on the request to the picked pod.
// A targetRef that matches nothing is an error, not a warning: a misspelled
// name would otherwise leave the intended backend called without its key.
func (c *compiler) securityPolicies() (map[nsName]*config.Auth, map[poolKey]*config.Auth) {
	out := map[nsName]*config.Auth{}
	pools := map[poolKey]*config.Auth{}
	owner := map[nsName]nsName{}
	poolOwner := map[poolKey]nsName{}
	for _, pol := range byName(c.s.securityPolicies) {
		if pol.invalid {
			continue
		}
		auth := c.policyAuth(pol)
		if len(pol.obj.Spec.TargetRefs) == 0 {
			c.d.errorf(pol.src, field.NewPath("spec", "targetRefs"), "required: without a target the credential would be sent to no backend")
		}
		for i, t := range pol.obj.Spec.TargetRefs {
			p := field.NewPath("spec", "targetRefs").Index(i)
			if string(t.Kind) == kindInferencePool {
				key := poolKey{string(t.Group), nsName{pol.src.Namespace, string(t.Name)}}
				if other, dup := poolOwner[key]; dup {
					c.d.errorf(pol.src, p, "%s is already targeted by BackendSecurityPolicy %s", key, other)
					continue
				}
				poolOwner[key] = pol.key()
				if _, ok := c.s.pools[key]; !ok {
					c.d.errorf(pol.src, p, "%s not found: the credential would be sent to no backend", key)
					continue
				}
				if auth != nil {
					pools[key] = auth
				}
				continue
			}
			key := nsName{pol.src.Namespace, string(t.Name)}
			if other, dup := owner[key]; dup {
				c.d.errorf(pol.src, p, "AIServiceBackend %s is already targeted by BackendSecurityPolicy %s", key, other)
				continue
			}
			owner[key] = pol.key()
			if _, ok := c.s.backends[key]; !ok {
				c.d.errorf(pol.src, p, "AIServiceBackend %s not found: the credential would be sent to no backend", key)
				continue
			}
			if auth != nil {
				out[key] = auth
			}
		}
	}
	return out, pools
}

// policyAuth compiles a policy's credential, with where each request's own
// comes from when it overrides it; nil when it failed.
func (c *compiler) policyAuth(pol *resource[aigv1b1.BackendSecurityPolicy]) *config.Auth {
	spec := &pol.obj.Spec
	a := c.staticAuth(pol)
	if a == nil || spec.CredentialOverride == nil {
		return a
	}
	a.Override = credentialOverride(spec.CredentialOverride, config.AuthType(spec.Type))
	return a
}

// credentialOverride compiles where each request's credential comes from,
// with the type's defaults.
func credentialOverride(o *aigv1b1.BackendSecurityPolicyCredentialOverride, t config.AuthType) *config.CredentialOverride {
	out := &config.CredentialOverride{FallbackToConfigured: true}
	if h := o.FromRequestHeaders; h != nil {
		out.Header = h.Header
		if out.Header == "" {
			out.Header = config.DefaultOverrideHeader[t]
		}
		if h.FallbackToConfigured != nil {
			out.FallbackToConfigured = *h.FallbackToConfigured
		}
	}
	if m := o.FromDynamicMetadata; m != nil {
		out.MetadataNamespace, out.MetadataKey = m.Namespace, m.Key
		if out.MetadataKey == "" {
			out.MetadataKey = config.DefaultOverrideMetadataKey(t)
		}
		if m.FallbackToConfigured != nil {
			out.FallbackToConfigured = *m.FallbackToConfigured
		}
	}
	return out
}

// staticAuth compiles a policy's own credential; nil when it failed.
func (c *compiler) staticAuth(pol *resource[aigv1b1.BackendSecurityPolicy]) *config.Auth {
	spec := &pol.obj.Spec
	sp := field.NewPath("spec")
	switch spec.Type {
	case aigv1b1.BackendSecurityPolicyTypeAPIKey:
		return c.apiKeyAuth(pol, config.AuthAPIKey, sp.Child("apiKey", "secretRef"), spec.APIKey.SecretRef)
	case aigv1b1.BackendSecurityPolicyTypeAzureAPIKey:
		return c.apiKeyAuth(pol, config.AuthAzureAPIKey, sp.Child("azureAPIKey", "secretRef"), spec.AzureAPIKey.SecretRef)
	case aigv1b1.BackendSecurityPolicyTypeAnthropicAPIKey:
		return c.apiKeyAuth(pol, config.AuthAnthropicAPIKey, sp.Child("anthropicAPIKey", "secretRef"), spec.AnthropicAPIKey.SecretRef)
	case aigv1b1.BackendSecurityPolicyTypeAzureCredentials:
		return c.azureCredentials(pol, sp.Child("azureCredentials"), spec.AzureCredentials)
	case aigv1b1.BackendSecurityPolicyTypeAWSCredentials:
		return c.awsCredentials(pol, sp.Child("awsCredentials"), spec.AWSCredentials)
	case aigv1b1.BackendSecurityPolicyTypeGCPCredentials:
		return c.gcpCredentials(pol, sp.Child("gcpCredentials"), spec.GCPCredentials)
	}
	return nil
}

// apiKeyAuth reads the "apiKey" of the referenced Secret. Surrounding white
// space (a trailing newline from a file) is trimmed: it cannot be part of a
// header value.
func (c *compiler) apiKeyAuth(pol *resource[aigv1b1.BackendSecurityPolicy], t config.AuthType, p *field.Path, ref *gwapiv1.SecretObjectReference) *config.Auth {
	s, key := c.secret(pol.src, p, *ref, pol.src.Namespace)
	if s == nil {
		return nil
	}
	v, ok := c.secretKey(pol.src, p, s, key, apiKeyDataKey)
	if !ok {
		return nil
	}
	v = bytes.TrimSpace(v)
	if bytes.ContainsAny(v, "\r\n") {
		c.d.errorf(pol.src, p, "Secret %s: key %q holds a line break, which a header value cannot", key, apiKeyDataKey)
		return nil
	}
	return &config.Auth{
		Policy: pol.key().String(),
		Type:   t,
		APIKey: &config.APIKeyAuth{Key: config.Secret(v)},
	}
}

// azureClientSecretKey is the Secret data key of an Entra ID client secret.
const azureClientSecretKey = "client-secret"

// azureCredentials compiles an Entra ID application with a client secret,
// or with an OIDC provider's token as its federated client assertion.
func (c *compiler) azureCredentials(pol *resource[aigv1b1.BackendSecurityPolicy], p *field.Path, az *aigv1b1.BackendSecurityPolicyAzureCredentials) *config.Auth {
	if o := az.OIDCExchangeToken; o != nil {
		oidc, ok := c.oidcClient(pol, p.Child("oidcExchangeToken"), &o.BackendSecurityPolicyOIDC)
		if !ok {
			return nil
		}
		return &config.Auth{Policy: pol.key().String(), Type: config.AuthAzureCredentials,
			Azure: &config.AzureCredentials{TenantID: az.TenantID, ClientID: az.ClientID, Federated: &oidc}}
	}
	if az.ClientSecretRef == nil {
		c.d.errorf(pol.src, p, "exactly one of clientSecretRef or oidcExchangeToken must be specified")
		return nil
	}
	rp := p.Child("clientSecretRef")
	s, key := c.secret(pol.src, rp, *az.ClientSecretRef, pol.src.Namespace)
	if s == nil {
		return nil
	}
	v, ok := c.secretKey(pol.src, rp, s, key, azureClientSecretKey)
	if !ok {
		return nil
	}
	return &config.Auth{
		Policy: pol.key().String(),
		Type:   config.AuthAzureCredentials,
		Azure:  &config.AzureCredentials{TenantID: az.TenantID, ClientID: az.ClientID, ClientSecret: config.Secret(bytes.TrimSpace(v))},
	}
}

// awsCredentialsKey is the Secret data key of an AWS credentials file.
const awsCredentialsKey = "credentials"

// awsCredentials compiles the signing region and where the credentials
// come from: a role assumed with an OIDC provider's token, a credentials
// file in a Secret, or the AWS SDK's default chain when the policy names
// neither.
func (c *compiler) awsCredentials(pol *resource[aigv1b1.BackendSecurityPolicy], p *field.Path, aw *aigv1b1.BackendSecurityPolicyAWSCredentials) *config.Auth {
	out := &config.AWSCredentials{Region: aw.Region}
	if o := aw.OIDCExchangeToken; o != nil {
		oidc, ok := c.oidcClient(pol, p.Child("oidcExchangeToken"), &o.BackendSecurityPolicyOIDC)
		if !ok {
			return nil
		}
		out.WebIdentity = &config.AWSWebIdentity{RoleARN: o.AwsRoleArn, OIDC: oidc}
		return &config.Auth{Policy: pol.key().String(), Type: config.AuthAWSCredentials, AWS: out}
	}
	if f := aw.CredentialsFile; f != nil {
		rp := p.Child("credentialsFile", "secretRef")
		s, key := c.secret(pol.src, rp, *f.SecretRef, pol.src.Namespace)
		if s == nil {
			return nil
		}
		v, ok := c.secretKey(pol.src, rp, s, key, awsCredentialsKey)
		if !ok {
			return nil
		}
		out.CredentialsFile, out.Profile = config.Secret(v), f.Profile
	}
	return &config.Auth{Policy: pol.key().String(), Type: config.AuthAWSCredentials, AWS: out}
}

// gcpCredentialsKey is the Secret data key of a Google credentials JSON.
const gcpCredentialsKey = "service_account.json"

// gcpCredentialsTypes are the Google credential JSON types a policy may
// hold (the Google library's own validation of each follows).
var gcpCredentialsTypes = []string{"service_account", "external_account", "impersonated_service_account", "authorized_user"}

// gcpCredentials compiles the project, region and where the tokens come
// from: workload identity federation from an OIDC provider, a credentials
// JSON in a Secret, or Application Default Credentials.
func (c *compiler) gcpCredentials(pol *resource[aigv1b1.BackendSecurityPolicy], p *field.Path, g *aigv1b1.BackendSecurityPolicyGCPCredentials) *config.Auth {
	out := &config.GCPCredentials{ProjectName: g.ProjectName, Region: g.Region}
	if w := g.WorkloadIdentityFederationConfig; w != nil {
		wp := p.Child("workloadIdentityFederationConfig")
		oidc, ok := c.oidcClient(pol, wp.Child("oidcExchangeToken"), &w.OIDCExchangeToken.BackendSecurityPolicyOIDC)
		if !ok {
			return nil
		}
		out.WorkloadIdentity = &config.GCPWorkloadIdentity{ProjectNumber: w.ProjectID, Pool: w.WorkloadIdentityPoolName,
			Provider: w.WorkloadIdentityProviderName, OIDC: oidc}
		if sa := w.ServiceAccountImpersonation; sa != nil {
			out.WorkloadIdentity.ServiceAccount = gcpServiceAccountEmail(sa.ServiceAccountName, g.ProjectName)
		}
		return &config.Auth{Policy: pol.key().String(), Type: config.AuthGCPCredentials, GCP: out}
	}
	if f := g.CredentialsFile; f != nil {
		rp := p.Child("credentialsFile", "secretRef")
		s, key := c.secret(pol.src, rp, *f.SecretRef, pol.src.Namespace)
		if s == nil {
			return nil
		}
		v, ok := c.secretKey(pol.src, rp, s, key, gcpCredentialsKey)
		if !ok {
			return nil
		}
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(v, &head); err != nil {
			c.d.errorf(pol.src, rp, "Secret %s: key %q is not JSON", key, gcpCredentialsKey)
			return nil
		}
		if !slices.Contains(gcpCredentialsTypes, head.Type) {
			c.d.errorf(pol.src, rp, "Secret %s: key %q holds credentials of type %q (want one of %s)", key, gcpCredentialsKey, head.Type, strings.Join(gcpCredentialsTypes, ", "))
			return nil
		}
		out.CredentialsFile = config.Secret(v)
	}
	return &config.Auth{Policy: pol.key().String(), Type: config.AuthGCPCredentials, GCP: out}
}

// Secret data keys of an OIDC client, as Envoy Gateway reads them.
const (
	oidcClientSecretKey = "client-secret"
	oidcClientIDKey     = "client-id"
)

// oidcClient compiles an OIDC client of a token exchange: the provider,
// the client ID (or its Secret) and the client secret from its Secret.
func (c *compiler) oidcClient(pol *resource[aigv1b1.BackendSecurityPolicy], p *field.Path, o *aigv1b1.BackendSecurityPolicyOIDC) (config.OIDCClient, bool) {
	op := p.Child("oidc")
	out := config.OIDCClient{Issuer: o.OIDC.Provider.Issuer, Scopes: o.OIDC.Scopes, Audience: o.Aud}
	if e := o.OIDC.Provider.TokenEndpoint; e != nil {
		out.TokenEndpoint = *e
	}
	if g := o.GrantType; g != "" && g != "client_credentials" {
		c.d.notSupported(pol.src, p.Child("grantType"), fmt.Sprintf("OIDC grant type %q (only client_credentials)", g))
		return out, false
	}
	if o.OIDC.ClientID != nil {
		out.ClientID = *o.OIDC.ClientID
	} else if ref := o.OIDC.ClientIDRef; ref != nil {
		rp := op.Child("clientIDRef")
		s, key := c.secret(pol.src, rp, *ref, pol.src.Namespace)
		if s == nil {
			return out, false
		}
		v, ok := c.secretKey(pol.src, rp, s, key, oidcClientIDKey)
		if !ok {
			return out, false
		}
		out.ClientID = string(bytes.TrimSpace(v))
	}
	rp := op.Child("clientSecret")
	s, key := c.secret(pol.src, rp, o.OIDC.ClientSecret, pol.src.Namespace)
	if s == nil {
		return out, false
	}
	v, ok := c.secretKey(pol.src, rp, s, key, oidcClientSecretKey)
	if !ok {
		return out, false
	}
	out.ClientSecret = config.Secret(bytes.TrimSpace(v))
	return out, true
}

// gcpServiceAccountEmail is a service account's email: the name as it is
// when it is one, else the account in the project.
func gcpServiceAccountEmail(name, project string) string {
	if strings.Contains(name, "@") {
		return name
	}
	return name + "@" + project + ".iam.gserviceaccount.com"
}
