package v1alpha1

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwapiv1a2 "sigs.k8s.io/gateway-api/apis/v1alpha2"
)

// BackendSecurityPolicyType names a kind of upstream credential.
type BackendSecurityPolicyType string

// The credential types.
const (
	// BackendSecurityPolicyTypeAPIKey sends "Authorization: Bearer <key>".
	BackendSecurityPolicyTypeAPIKey BackendSecurityPolicyType = "APIKey"
	// BackendSecurityPolicyTypeAWSCredentials signs requests with SigV4.
	BackendSecurityPolicyTypeAWSCredentials BackendSecurityPolicyType = "AWSCredentials"
	// BackendSecurityPolicyTypeAzureAPIKey sends "api-key: <key>".
	BackendSecurityPolicyTypeAzureAPIKey BackendSecurityPolicyType = "AzureAPIKey"
	// BackendSecurityPolicyTypeAnthropicAPIKey sends "x-api-key: <key>".
	BackendSecurityPolicyTypeAnthropicAPIKey BackendSecurityPolicyType = "AnthropicAPIKey" // #nosec G101 -- a type name, not a credential.
	// BackendSecurityPolicyTypeAzureCredentials sends an Entra ID bearer
	// token.
	BackendSecurityPolicyTypeAzureCredentials BackendSecurityPolicyType = "AzureCredentials"
	// BackendSecurityPolicyTypeGCPCredentials sends a GCP bearer token and
	// adds the project/region path prefix.
	BackendSecurityPolicyTypeGCPCredentials BackendSecurityPolicyType = "GCPCredentials"
)

// BackendSecurityPolicy holds the credentials used to call the upstreams it
// targets. At most one policy may target a given resource.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[-1:].type`
// +kubebuilder:metadata:labels="gateway.networking.k8s.io/policy=direct"
// +kubebuilder:deprecatedversion:warning="aigateway.envoyproxy.io/v1alpha1 is deprecated; use aigateway.envoyproxy.io/v1beta1 instead"
type BackendSecurityPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state of the policy.
	Spec BackendSecurityPolicySpec `json:"spec,omitempty"`
	// Status is the observed state of the policy.
	Status BackendSecurityPolicyStatus `json:"status,omitempty"`
}

// BackendSecurityPolicyList is a list of BackendSecurityPolicy.
//
// +kubebuilder:object:root=true
type BackendSecurityPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BackendSecurityPolicy `json:"items"`
}

// BackendSecurityPolicySpec is the desired state of a BackendSecurityPolicy.
// Exactly the field named by Type is set. v1alpha1 has no credentialOverride.
//
// +kubebuilder:validation:MaxProperties=3
// +kubebuilder:validation:XValidation:rule="self.type == 'APIKey' ? (has(self.apiKey) && !has(self.awsCredentials) && !has(self.azureAPIKey) && !has(self.azureCredentials) && !has(self.gcpCredentials) && !has(self.anthropicAPIKey)) : true",message="When type is APIKey, only apiKey field should be set"
// +kubebuilder:validation:XValidation:rule="self.type == 'AWSCredentials' ? (has(self.awsCredentials) && !has(self.apiKey) && !has(self.azureAPIKey) && !has(self.azureCredentials) && !has(self.gcpCredentials) && !has(self.anthropicAPIKey)) : true",message="When type is AWSCredentials, only awsCredentials field should be set"
// +kubebuilder:validation:XValidation:rule="self.type == 'AzureAPIKey' ? (has(self.azureAPIKey) && !has(self.apiKey) && !has(self.awsCredentials) && !has(self.azureCredentials) && !has(self.gcpCredentials) && !has(self.anthropicAPIKey)) : true",message="When type is AzureAPIKey, only azureAPIKey field should be set"
// +kubebuilder:validation:XValidation:rule="self.type == 'AzureCredentials' ? (has(self.azureCredentials) && !has(self.apiKey) && !has(self.awsCredentials) && !has(self.azureAPIKey) && !has(self.gcpCredentials) && !has(self.anthropicAPIKey)) : true",message="When type is AzureCredentials, only azureCredentials field should be set"
// +kubebuilder:validation:XValidation:rule="self.type == 'GCPCredentials' ? (has(self.gcpCredentials) && !has(self.apiKey) && !has(self.awsCredentials) && !has(self.azureAPIKey) && !has(self.azureCredentials) && !has(self.anthropicAPIKey)) : true",message="When type is GCPCredentials, only gcpCredentials field should be set"
// +kubebuilder:validation:XValidation:rule="self.type == 'AnthropicAPIKey' ? (has(self.anthropicAPIKey) && !has(self.apiKey) && !has(self.awsCredentials) && !has(self.azureAPIKey) && !has(self.azureCredentials) && !has(self.gcpCredentials)) : true",message="When type is AnthropicAPIKey, only anthropicAPIKey field should be set"
type BackendSecurityPolicySpec struct {
	// TargetRefs are the AIServiceBackends or InferencePools the policy
	// applies to.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(ref, (ref.group == 'aigateway.envoyproxy.io' && ref.kind == 'AIServiceBackend') || ((ref.group == 'inference.networking.k8s.io' || ref.group == 'inference.networking.x-k8s.io') && ref.kind == 'InferencePool'))", message="targetRefs must reference AIServiceBackend or InferencePool resources"
	TargetRefs []gwapiv1a2.LocalPolicyTargetReference `json:"targetRefs,omitempty"`

	// Type is the kind of credential.
	//
	// +kubebuilder:validation:Enum=APIKey;AWSCredentials;AzureAPIKey;AzureCredentials;GCPCredentials;AnthropicAPIKey
	Type BackendSecurityPolicyType `json:"type"`

	// APIKey is the credential for type APIKey.
	//
	// +optional
	APIKey *BackendSecurityPolicyAPIKey `json:"apiKey,omitempty"`

	// AWSCredentials is the credential for type AWSCredentials.
	//
	// +optional
	AWSCredentials *BackendSecurityPolicyAWSCredentials `json:"awsCredentials,omitempty"`

	// AzureAPIKey is the credential for type AzureAPIKey.
	//
	// +optional
	AzureAPIKey *BackendSecurityPolicyAzureAPIKey `json:"azureAPIKey,omitempty"`

	// AzureCredentials is the credential for type AzureCredentials.
	//
	// +optional
	AzureCredentials *BackendSecurityPolicyAzureCredentials `json:"azureCredentials,omitempty"`

	// GCPCredentials is the credential for type GCPCredentials.
	//
	// +optional
	GCPCredentials *BackendSecurityPolicyGCPCredentials `json:"gcpCredentials,omitempty"`

	// AnthropicAPIKey is the credential for type AnthropicAPIKey.
	//
	// +optional
	AnthropicAPIKey *BackendSecurityPolicyAnthropicAPIKey `json:"anthropicAPIKey,omitempty"`
}

// BackendSecurityPolicyAPIKey is a static API key.
type BackendSecurityPolicyAPIKey struct {
	// SecretRef is the Secret holding the key under data key "apiKey".
	SecretRef *gwapiv1.SecretObjectReference `json:"secretRef"`
}

// BackendSecurityPolicyAzureAPIKey is a static Azure OpenAI API key.
type BackendSecurityPolicyAzureAPIKey struct {
	// SecretRef is the Secret holding the key under data key "apiKey".
	SecretRef *gwapiv1.SecretObjectReference `json:"secretRef"`
}

// BackendSecurityPolicyAnthropicAPIKey is a static Anthropic API key.
type BackendSecurityPolicyAnthropicAPIKey struct {
	// SecretRef is the Secret holding the key under data key "apiKey".
	SecretRef *gwapiv1.SecretObjectReference `json:"secretRef"`
}

// BackendSecurityPolicyOIDC obtains an OIDC token (client credentials) that
// is exchanged for provider credentials.
type BackendSecurityPolicyOIDC struct {
	// OIDC is the Envoy Gateway OIDC client configuration.
	//
	// +kubebuilder:validation:Required
	OIDC egv1a1.OIDC `json:"oidc"`

	// GrantType is the OAuth grant type used to get the token.
	//
	// +optional
	GrantType string `json:"grantType,omitempty"`

	// Aud is the audience of the ID token.
	//
	// +optional
	Aud string `json:"aud,omitempty"`
}

// BackendSecurityPolicyAWSCredentials signs requests with AWS SigV4 (service
// bedrock). With neither CredentialsFile nor OIDCExchangeToken, the AWS SDK
// default credential chain is used.
type BackendSecurityPolicyAWSCredentials struct {
	// Region is the signing region.
	//
	// +kubebuilder:validation:MinLength=1
	Region string `json:"region"`

	// CredentialsFile is an AWS INI credentials file held in a Secret.
	//
	// +optional
	CredentialsFile *AWSCredentialsFile `json:"credentialsFile,omitempty"`

	// OIDCExchangeToken exchanges an OIDC token for temporary credentials
	// with STS AssumeRoleWithWebIdentity.
	//
	// +optional
	OIDCExchangeToken *AWSOIDCExchangeToken `json:"oidcExchangeToken,omitempty"`
}

// AWSCredentialsFile is an AWS credentials file held in a Secret.
type AWSCredentialsFile struct {
	// SecretRef is the Secret holding the file under data key "credentials".
	SecretRef *gwapiv1.SecretObjectReference `json:"secretRef"`

	// Profile is the profile used from the file.
	//
	// +kubebuilder:default=default
	Profile string `json:"profile,omitempty"`
}

// AWSOIDCExchangeToken exchanges an OIDC token for AWS credentials.
type AWSOIDCExchangeToken struct {
	BackendSecurityPolicyOIDC `json:",inline"`

	// AwsRoleArn is the IAM role assumed with the OIDC token.
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	AwsRoleArn string `json:"awsRoleArn"`
}

// BackendSecurityPolicyAzureCredentials obtains an Entra ID access token for
// the https://cognitiveservices.azure.com/.default scope.
//
// +kubebuilder:validation:XValidation:rule="(has(self.clientSecretRef) && !has(self.oidcExchangeToken)) || (!has(self.clientSecretRef) && has(self.oidcExchangeToken))",message="Exactly one of clientSecretRef or oidcExchangeToken must be specified"
type BackendSecurityPolicyAzureCredentials struct {
	// ClientID is the application (client) ID.
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	ClientID string `json:"clientID"`

	// TenantID is the directory (tenant) ID.
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	TenantID string `json:"tenantID"`

	// ClientSecretRef is the Secret holding the client secret under data key
	// "client-secret".
	//
	// +optional
	ClientSecretRef *gwapiv1.SecretObjectReference `json:"clientSecretRef,omitempty"`

	// OIDCExchangeToken federates an OIDC token with Entra ID.
	//
	// +optional
	OIDCExchangeToken *AzureOIDCExchangeToken `json:"oidcExchangeToken,omitempty"`
}

// AzureOIDCExchangeToken federates an OIDC token with Entra ID.
type AzureOIDCExchangeToken struct {
	BackendSecurityPolicyOIDC `json:",inline"`
}

// BackendSecurityPolicyGCPCredentials obtains a GCP access token. In
// v1alpha1 exactly one of CredentialsFile and WorkloadIdentityFederationConfig
// is required (v1beta1 also allows neither, meaning Application Default
// Credentials).
//
// +kubebuilder:validation:XValidation:rule="(has(self.credentialsFile) && !has(self.workloadIdentityFederationConfig)) || (!has(self.credentialsFile) && has(self.workloadIdentityFederationConfig))",message="Exactly one of GCPWorkloadIdentityFederationConfig or GCPCredentialsFile must be specified"
type BackendSecurityPolicyGCPCredentials struct {
	// ProjectName is the GCP project, used in the upstream path.
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	ProjectName string `json:"projectName"`

	// Region is the GCP region, used in the upstream path.
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Region string `json:"region"`

	// CredentialsFile is a service account key held in a Secret.
	//
	// +optional
	CredentialsFile *GCPCredentialsFile `json:"credentialsFile,omitempty"`

	// WorkloadIdentityFederationConfig exchanges an OIDC token through GCP
	// workload identity federation.
	//
	// +optional
	WorkloadIdentityFederationConfig *GCPWorkloadIdentityFederationConfig `json:"workloadIdentityFederationConfig,omitempty"`
}

// GCPCredentialsFile is a service account key held in a Secret.
type GCPCredentialsFile struct {
	// SecretRef is the Secret holding the key under data key
	// "service_account.json".
	SecretRef *gwapiv1.SecretObjectReference `json:"secretRef"`
}

// GCPWorkloadIdentityFederationConfig configures GCP workload identity
// federation.
type GCPWorkloadIdentityFederationConfig struct {
	// ProjectID is the GCP project ID of the pool.
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	ProjectID string `json:"projectID"`

	// WorkloadIdentityProviderName is the provider registered in the pool.
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	WorkloadIdentityProviderName string `json:"workloadIdentityProviderName"`

	// OIDCExchangeToken is the OIDC token exchanged with GCP STS.
	//
	// +kubebuilder:validation:Required
	OIDCExchangeToken GCPOIDCExchangeToken `json:"oidcExchangeToken"`

	// WorkloadIdentityPoolName is the workload identity pool.
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	WorkloadIdentityPoolName string `json:"workloadIdentityPoolName"`

	// ServiceAccountImpersonation, when set, impersonates a service account.
	//
	// +optional
	ServiceAccountImpersonation *GCPServiceAccountImpersonationConfig `json:"serviceAccountImpersonation,omitempty"`
}

// GCPOIDCExchangeToken is the OIDC token exchanged with GCP STS.
type GCPOIDCExchangeToken struct {
	BackendSecurityPolicyOIDC `json:",inline"`
}

// GCPServiceAccountImpersonationConfig names the service account to
// impersonate.
type GCPServiceAccountImpersonationConfig struct {
	// ServiceAccountName is the service account to impersonate.
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	ServiceAccountName string `json:"serviceAccountName"`
}

// BackendSecurityPolicyStatus is the observed state of a
// BackendSecurityPolicy.
type BackendSecurityPolicyStatus struct {
	// Conditions hold at most one condition, Accepted or NotAccepted.
	//
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}
