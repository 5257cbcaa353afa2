package standalone

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
	gwapiv1a2 "sigs.k8s.io/gateway-api/apis/v1alpha2"

	aigv1a1 "github.com/aigw-dev/aigw/api/v1alpha1"
	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
)

var securityPolicyTypes = []string{
	string(aigv1b1.BackendSecurityPolicyTypeAPIKey), string(aigv1b1.BackendSecurityPolicyTypeAWSCredentials),
	string(aigv1b1.BackendSecurityPolicyTypeAzureAPIKey), string(aigv1b1.BackendSecurityPolicyTypeAzureCredentials),
	string(aigv1b1.BackendSecurityPolicyTypeGCPCredentials), string(aigv1b1.BackendSecurityPolicyTypeAnthropicAPIKey),
}

// validateSecurityPolicy mirrors the BackendSecurityPolicy CRD of the
// document's version (v1alpha1 differs in MaxProperties and gcpCredentials).
func validateSecurityPolicy(c checker, bsp *aigv1b1.BackendSecurityPolicy) {
	alpha := c.src.APIVersion == aigv1a1.GroupVersion.String()
	spec := field.NewPath("spec")
	s := &bsp.Spec

	c.targetRefs(spec.Child("targetRefs"), s.TargetRefs, true)
	c.enum(spec.Child("type"), string(s.Type), securityPolicyTypes...)

	// One CEL rule per type: the sub-struct of the type is set, no other is.
	set := map[aigv1b1.BackendSecurityPolicyType]bool{
		aigv1b1.BackendSecurityPolicyTypeAPIKey:           s.APIKey != nil,
		aigv1b1.BackendSecurityPolicyTypeAWSCredentials:   s.AWSCredentials != nil,
		aigv1b1.BackendSecurityPolicyTypeAzureAPIKey:      s.AzureAPIKey != nil,
		aigv1b1.BackendSecurityPolicyTypeAzureCredentials: s.AzureCredentials != nil,
		aigv1b1.BackendSecurityPolicyTypeGCPCredentials:   s.GCPCredentials != nil,
		aigv1b1.BackendSecurityPolicyTypeAnthropicAPIKey:  s.AnthropicAPIKey != nil,
	}
	if _, known := set[s.Type]; known {
		exactly := set[s.Type]
		props := 1 // type
		for t, isSet := range set {
			if isSet {
				props++
			}
			if t != s.Type && isSet {
				exactly = false
			}
		}
		if !exactly {
			c.errorf(spec, "When type is %s, only %s field should be set", s.Type, typeField(s.Type))
		}
		if len(s.TargetRefs) > 0 {
			props++
		}
		if s.CredentialOverride != nil {
			props++
		}
		maxProps := 4
		if alpha {
			maxProps = 3
		}
		if props > maxProps {
			c.errorf(spec, "must have at most %d properties", maxProps)
		}
	}

	if s.APIKey != nil {
		c.secretRef(spec.Child("apiKey", "secretRef"), s.APIKey.SecretRef)
	}
	if s.AzureAPIKey != nil {
		c.secretRef(spec.Child("azureAPIKey", "secretRef"), s.AzureAPIKey.SecretRef)
	}
	if s.AnthropicAPIKey != nil {
		c.secretRef(spec.Child("anthropicAPIKey", "secretRef"), s.AnthropicAPIKey.SecretRef)
	}
	if a := s.AWSCredentials; a != nil {
		p := spec.Child("awsCredentials")
		c.length(p.Child("region"), a.Region, 1, 0)
		if a.CredentialsFile != nil {
			c.secretRef(p.Child("credentialsFile", "secretRef"), a.CredentialsFile.SecretRef)
		}
		if o := a.OIDCExchangeToken; o != nil {
			c.oidc(p.Child("oidcExchangeToken", "oidc"), &o.OIDC)
			c.length(p.Child("oidcExchangeToken", "awsRoleArn"), o.AwsRoleArn, 1, 0)
		}
	}
	if a := s.AzureCredentials; a != nil {
		p := spec.Child("azureCredentials")
		c.length(p.Child("clientID"), a.ClientID, 1, 0)
		c.length(p.Child("tenantID"), a.TenantID, 1, 0)
		if (a.ClientSecretRef != nil) == (a.OIDCExchangeToken != nil) {
			c.errorf(p, "Exactly one of clientSecretRef or oidcExchangeToken must be specified")
		}
		if a.ClientSecretRef != nil {
			c.secretRef(p.Child("clientSecretRef"), a.ClientSecretRef)
		}
		if a.OIDCExchangeToken != nil {
			c.oidc(p.Child("oidcExchangeToken", "oidc"), &a.OIDCExchangeToken.OIDC)
		}
	}
	if g := s.GCPCredentials; g != nil {
		validateGCPCredentials(c, spec.Child("gcpCredentials"), g, alpha)
	}
	if o := s.CredentialOverride; o != nil {
		p := spec.Child("credentialOverride")
		if (o.FromRequestHeaders != nil) == (o.FromDynamicMetadata != nil) {
			c.errorf(p, "must have exactly one of fromRequestHeaders or fromDynamicMetadata")
		}
		if m := o.FromDynamicMetadata; m != nil {
			c.length(p.Child("fromDynamicMetadata", "namespace"), m.Namespace, 1, 0)
		}
		if h := o.FromRequestHeaders; h != nil && h.Header != "" {
			c.headerName(p.Child("fromRequestHeaders", "header"), h.Header)
		}
	}
}

func validateGCPCredentials(c checker, p *field.Path, g *aigv1b1.BackendSecurityPolicyGCPCredentials, alpha bool) {
	c.length(p.Child("projectName"), g.ProjectName, 1, 0)
	c.length(p.Child("region"), g.Region, 1, 0)
	file, wif := g.CredentialsFile != nil, g.WorkloadIdentityFederationConfig != nil
	switch {
	case alpha && file == wif:
		c.errorf(p, "Exactly one of GCPWorkloadIdentityFederationConfig or GCPCredentialsFile must be specified")
	case !alpha && file && wif:
		c.errorf(p, "At most one of credentialsFile or workloadIdentityFederationConfig may be specified")
	}
	if file {
		c.secretRef(p.Child("credentialsFile", "secretRef"), g.CredentialsFile.SecretRef)
	}
	if w := g.WorkloadIdentityFederationConfig; w != nil {
		wp := p.Child("workloadIdentityFederationConfig")
		c.length(wp.Child("projectID"), w.ProjectID, 1, 0)
		c.length(wp.Child("workloadIdentityProviderName"), w.WorkloadIdentityProviderName, 1, 0)
		c.length(wp.Child("workloadIdentityPoolName"), w.WorkloadIdentityPoolName, 1, 0)
		c.oidc(wp.Child("oidcExchangeToken", "oidc"), &w.OIDCExchangeToken.OIDC)
		if sa := w.ServiceAccountImpersonation; sa != nil {
			c.length(wp.Child("serviceAccountImpersonation", "serviceAccountName"), sa.ServiceAccountName, 1, 0)
		}
	}
}

// typeField is the spec field that goes with a policy type.
func typeField(t aigv1b1.BackendSecurityPolicyType) string {
	switch t {
	case aigv1b1.BackendSecurityPolicyTypeAPIKey:
		return "apiKey"
	case aigv1b1.BackendSecurityPolicyTypeAWSCredentials:
		return "awsCredentials"
	case aigv1b1.BackendSecurityPolicyTypeAzureAPIKey:
		return "azureAPIKey"
	case aigv1b1.BackendSecurityPolicyTypeAzureCredentials:
		return "azureCredentials"
	case aigv1b1.BackendSecurityPolicyTypeGCPCredentials:
		return "gcpCredentials"
	case aigv1b1.BackendSecurityPolicyTypeAnthropicAPIKey:
		return "anthropicAPIKey"
	}
	return ""
}

// targetRefs checks policy targetRefs: AIServiceBackends, and InferencePools
// when pools is set.
func (c checker) targetRefs(p *field.Path, refs []gwapiv1a2.LocalPolicyTargetReference, pools bool) {
	c.maxItems(p, len(refs), 16)
	for i, ref := range refs {
		rp := p.Index(i)
		if c.length(rp.Child("group"), string(ref.Group), 0, 253) {
			c.pattern(rp.Child("group"), string(ref.Group), groupRe, "group")
		}
		if c.length(rp.Child("kind"), string(ref.Kind), 1, 63) {
			c.pattern(rp.Child("kind"), string(ref.Kind), kindRe, "kind")
		}
		c.objectName(rp.Child("name"), string(ref.Name))
	}
	for _, ref := range refs {
		backend := ref.Group == groupAIGateway && ref.Kind == "AIServiceBackend"
		pool := isPoolRef(string(ref.Group), string(ref.Kind))
		switch {
		case pools && !backend && !pool:
			c.errorf(p, "targetRefs must reference AIServiceBackend or InferencePool resources")
			return
		case !pools && !backend:
			c.errorf(p, "targetRefs must reference AIServiceBackend resources")
			return
		}
	}
}

// validateGatewayConfig mirrors the GatewayConfig CRD.
func validateGatewayConfig(c checker, g *aigv1b1.GatewayConfig) {
	spec := field.NewPath("spec")
	c.costs(spec.Child("globalLLMRequestCosts"), g.Spec.GlobalLLMRequestCosts, true)
	if fp := g.Spec.ForwardProxy; fp != nil {
		c.length(spec.Child("forwardProxy", "address"), fp.Address, 1, 0)
	}
	if g.Spec.ExtProc != nil {
		c.d.ignored(c.src, spec.Child("extProc"), "standalone mode runs no external processor container")
	}
}

var quotaDurations = []string{"1s", "1m", "1h", "1d"}

// validateQuotaPolicy mirrors the QuotaPolicy CRD.
func validateQuotaPolicy(c checker, q *aigv1a1.QuotaPolicy) {
	spec := field.NewPath("spec")
	c.targetRefs(spec.Child("targetRefs"), q.Spec.TargetRefs, false)
	if sq := q.Spec.ServiceQuota; sq != nil {
		c.quotaValue(spec.Child("serviceQuota", "quota"), sq.Quota)
	}
	pmq := spec.Child("perModelQuotas")
	c.maxItems(pmq, len(q.Spec.PerModelQuotas), 128)
	for i, m := range q.Spec.PerModelQuotas {
		p := pmq.Index(i)
		if c.required(p.Child("modelName"), m.ModelName != nil) {
			c.length(p.Child("modelName"), *m.ModelName, 1, 0)
		}
		qp := p.Child("quota")
		if m.Quota.Mode != "" {
			c.enum(qp.Child("mode"), string(m.Quota.Mode), string(aigv1a1.QuotaBucketModeShared))
		}
		if m.Quota.DefaultBucket != nil {
			c.quotaValue(qp.Child("defaultBucket"), *m.Quota.DefaultBucket)
		}
		for j, rule := range m.Quota.BucketRules {
			rp := qp.Child("bucketRules").Index(j)
			c.maxItems(rp.Child("clientSelectors"), len(rule.ClientSelectors), 8)
			for k, sel := range rule.ClientSelectors {
				sp := rp.Child("clientSelectors").Index(k)
				if len(sel.Methods) > 0 || sel.Path != nil || sel.SourceCIDR != nil || len(sel.QueryParams) > 0 {
					c.errorf(sp, "only headers selectors are supported")
				}
				for l, h := range sel.Headers {
					hp := sp.Child("headers").Index(l)
					c.length(hp.Child("name"), h.Name, 1, 0)
					if h.Type != nil {
						c.enum(hp.Child("type"), string(*h.Type), "Exact", "RegularExpression", "Distinct")
					}
				}
			}
			c.quotaValue(rp.Child("quota"), rule.Quota)
		}
	}
}

func (c checker) quotaValue(p *field.Path, v aigv1a1.QuotaValue) {
	c.enum(p.Child("duration"), v.Duration, quotaDurations...)
}
