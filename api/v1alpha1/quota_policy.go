package v1alpha1

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1a2 "sigs.k8s.io/gateway-api/apis/v1alpha2"
)

// QuotaPolicy sets token quotas per AIServiceBackend and model. A request is
// rejected with 429 once every quota bucket that applies to it is exhausted;
// costs are charged after the response, from its token usage.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[-1:].type`
// +kubebuilder:metadata:labels="gateway.networking.k8s.io/policy=direct"
type QuotaPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state of the policy.
	Spec QuotaPolicySpec `json:"spec,omitempty"`
	// Status is the observed state of the policy.
	Status QuotaPolicyStatus `json:"status,omitempty"`
}

// QuotaPolicyList is a list of QuotaPolicy.
//
// +kubebuilder:object:root=true
type QuotaPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []QuotaPolicy `json:"items"`
}

// QuotaPolicySpec is the desired state of a QuotaPolicy.
type QuotaPolicySpec struct {
	// TargetRefs are the AIServiceBackends the quotas apply to.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(ref, ref.group == 'aigateway.envoyproxy.io' && ref.kind == 'AIServiceBackend')", message="targetRefs must reference AIServiceBackend resources"
	TargetRefs []gwapiv1a2.LocalPolicyTargetReference `json:"targetRefs,omitempty"`

	// ServiceQuota applies to every model of the targeted backends;
	// PerModelQuotas override it per model.
	//
	// +optional
	ServiceQuota *ServiceQuotaDefinition `json:"serviceQuota,omitempty"`

	// PerModelQuotas are quotas for single models.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=128
	PerModelQuotas []PerModelQuota `json:"perModelQuotas,omitempty"`
}

// ServiceQuotaDefinition is the quota of all models of a backend.
type ServiceQuotaDefinition struct {
	// CostExpression is a CEL expression computing the cost charged per
	// request (not enforced by Envoy AI Gateway).
	//
	// +optional
	// +kubebuilder:default=total_tokens
	CostExpression *string `json:"costExpression,omitempty"`

	// Quota is the limit for all requests.
	//
	// +kubebuilder:validation:Required
	Quota QuotaValue `json:"quota"`
}

// PerModelQuota is the quota of one model.
type PerModelQuota struct {
	// ModelName is the model, as sent upstream: it must equal the route
	// backendRef's modelNameOverride for the backend when one is set.
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	ModelName *string `json:"modelName"`

	// Quota is how the model's cost is computed and which buckets it burns.
	//
	// +kubebuilder:validation:Required
	Quota QuotaDefinition `json:"quota"`
}

// QuotaDefinition computes a request's cost and the buckets it is charged to.
type QuotaDefinition struct {
	// CostExpression is a CEL expression computing the cost charged per
	// request, with the variables of LLMRequestCost's CEL.
	//
	// +optional
	// +kubebuilder:default=total_tokens
	CostExpression *string `json:"costExpression,omitempty"`

	// Mode is how the cost is charged to the default bucket and the matching
	// bucket rules. Shared charges all of them; the request is allowed if any
	// matching bucket still has quota.
	//
	// +optional
	// +kubebuilder:default=Shared
	Mode QuotaBucketMode `json:"mode,omitempty"`

	// DefaultBucket applies to all traffic of the model.
	//
	// +optional
	DefaultBucket *QuotaValue `json:"defaultBucket,omitempty"`

	// BucketRules are quotas for selected clients. A request matching several
	// rules burns all of them.
	//
	// +optional
	BucketRules []QuotaRule `json:"bucketRules,omitempty"`
}

// QuotaBucketMode is how a cost is charged across buckets.
//
// +kubebuilder:validation:Enum=Shared
type QuotaBucketMode string

// QuotaBucketModeShared charges every matching bucket and the default bucket.
const QuotaBucketModeShared QuotaBucketMode = "Shared"

// QuotaRule is a quota for the clients its selectors match.
type QuotaRule struct {
	// ClientSelectors select the clients (request headers only); all must
	// match. None means all traffic.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=8
	ClientSelectors []egv1a1.RateLimitSelectCondition `json:"clientSelectors,omitempty"`

	// Quota is the limit for the selected clients.
	//
	// +kubebuilder:validation:Required
	Quota QuotaValue `json:"quota"`

	// ShadowMode counts usage but never rejects a request.
	//
	// +optional
	ShadowMode *bool `json:"shadowMode,omitempty"`
}

// QuotaValue is a limit over a time window.
type QuotaValue struct {
	// Limit is the cost allowed per window.
	Limit uint `json:"limit"`

	// Duration is the window.
	//
	// +kubebuilder:validation:Enum="1s";"1m";"1h";"1d"
	Duration string `json:"duration"`
}

// QuotaPolicyStatus is the observed state of a QuotaPolicy.
type QuotaPolicyStatus struct {
	// Conditions of the policy.
	//
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}
