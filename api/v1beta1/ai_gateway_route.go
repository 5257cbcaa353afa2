package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// AIGatewayRoute binds Gateways to rules that match AI requests (usually on
// the x-ai-eg-model header) and send them to weighted, prioritised backends.
//
// Envoy AI Gateway compiles each AIGatewayRoute into a Gateway API HTTPRoute
// of the same namespace and name; policies such as an Envoy Gateway
// BackendTrafficPolicy (retries) attach to that HTTPRoute name, and this
// project honours them the same way.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[-1:].type`
// +kubebuilder:storageversion
type AIGatewayRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state of the route.
	Spec AIGatewayRouteSpec `json:"spec,omitempty"`
	// Status is the observed state of the route.
	Status AIGatewayRouteStatus `json:"status,omitempty"`
}

// AIGatewayRouteList is a list of AIGatewayRoute.
//
// +kubebuilder:object:root=true
type AIGatewayRouteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AIGatewayRoute `json:"items"`
}

// AIGatewayRouteSpec is the desired state of an AIGatewayRoute.
type AIGatewayRouteSpec struct {
	// ParentRefs are the Gateways the route attaches to.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(match, match.kind == 'Gateway')", message="only Gateway is supported"
	ParentRefs []gwapiv1.ParentReference `json:"parentRefs,omitempty"`

	// Hostnames restrict the route to requests for these hosts (exact or a
	// "*." wildcard of one label), as HTTPRoute hostnames do. They also scope
	// the models listed by /v1/models.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Hostnames []gwapiv1.Hostname `json:"hostnames,omitempty"`

	// Rules match requests and pick their backends. Precedence across rules
	// and routes follows HTTPRoute. At most 15 rules: the generated HTTPRoute
	// keeps one slot for the catch-all "route-not-found" rule.
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MaxItems=15
	// +kubebuilder:validation:XValidation:rule="self.all(r1, !has(r1.name) || self.exists_one(r2, has(r2.name) && r2.name == r1.name))", message="rule name must be unique within the route"
	Rules []AIGatewayRouteRule `json:"rules"`

	// LLMRequestCosts are the costs computed for every successful request
	// served by this route. An entry wins over the GatewayConfig's
	// globalLLMRequestCosts entry with the same metadataKey.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=36
	LLMRequestCosts []LLMRequestCost `json:"llmRequestCosts,omitempty"`
}

// AIGatewayRouteRule matches requests and routes them to its backends.
//
// This project deliberately drops two of Envoy AI Gateway's rule-level CEL
// rules ("cannot mix InferencePool and AIServiceBackend references in the
// same rule" and "only one InferencePool backend is allowed per rule"): a
// rule may weight several pools and mix them with AIServiceBackends, and
// priority is honoured on pool references, so that a self-hosted pool can
// fall back to a provider (Envoy AI Gateway issue #2231).
type AIGatewayRouteRule struct {
	// Name identifies the rule; it defaults to "rule-<index>".
	//
	// +optional
	// +kubebuilder:validation:XValidation:rule="self != 'route-not-found'", message="rule name route-not-found is reserved"
	Name *gwapiv1.SectionName `json:"name,omitempty"`

	// BackendRefs are the backends the rule sends traffic to:
	// AIServiceBackends (no group or kind) and InferencePools, in any mix.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=128
	BackendRefs []AIGatewayRouteRuleBackendRef `json:"backendRefs,omitempty"`

	// Matches are ORed; the headers within one match are ANDed. There is no
	// path match: the endpoint is chosen by the request path.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=128
	Matches []AIGatewayRouteRuleMatch `json:"matches,omitempty"`

	// Timeouts bound the whole request (request, streamed body included) and
	// each attempt (backendRequest). Unset request means 60s.
	//
	// +optional
	Timeouts *gwapiv1.HTTPRouteTimeouts `json:"timeouts,omitempty"`

	// StreamIdleTimeout is the longest time without a byte from the upstream,
	// per attempt. Before the first response byte it fails the attempt over
	// to a retry; mid-stream it ends the stream. Unset means none.
	//
	// +optional
	StreamIdleTimeout *gwapiv1.Duration `json:"streamIdleTimeout,omitempty"`

	// ModelsOwnedBy is the owned_by of this rule's models in /v1/models.
	//
	// +optional
	// +kubebuilder:default="Envoy AI Gateway"
	ModelsOwnedBy *string `json:"modelsOwnedBy,omitempty"`

	// ModelsCreatedAt is the created time (RFC 3339) of this rule's models in
	// /v1/models; it defaults to the route's creationTimestamp.
	//
	// +optional
	// +kubebuilder:validation:Format=date-time
	ModelsCreatedAt *metav1.Time `json:"modelsCreatedAt,omitempty"`
}

// AIGatewayRouteRuleBackendRef is a weighted, prioritised reference to an
// AIServiceBackend (no group and kind) or an InferencePool.
//
// +kubebuilder:validation:XValidation:rule="!has(self.group) && !has(self.kind) || (has(self.group) && has(self.kind))", message="group and kind must be specified together"
// +kubebuilder:validation:XValidation:rule="!has(self.group) || ((self.group == 'inference.networking.k8s.io' || self.group == 'inference.networking.x-k8s.io') && self.kind == 'InferencePool')", message="only InferencePool from inference.networking.k8s.io or inference.networking.x-k8s.io group is supported"
type AIGatewayRouteRuleBackendRef struct {
	// Name is the name of the AIServiceBackend, or of the InferencePool when
	// group and kind are set.
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Namespace of the referent; it defaults to the route's namespace.
	//
	// +optional
	Namespace *gwapiv1.Namespace `json:"namespace,omitempty"`

	// Group of the referent; unset means aigateway.envoyproxy.io
	// (AIServiceBackend). Only inference.networking.k8s.io (v1 pools) and,
	// unlike Envoy AI Gateway, inference.networking.x-k8s.io (v1alpha2
	// pools) are accepted.
	//
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Group *string `json:"group,omitempty"`

	// Kind of the referent; unset means AIServiceBackend. Only InferencePool
	// is accepted.
	//
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^$|^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$`
	Kind *string `json:"kind,omitempty"`

	// ModelNameOverride replaces the request's model for this backend.
	//
	// +optional
	ModelNameOverride string `json:"modelNameOverride,omitempty"`

	// HeaderMutation is merged with the AIServiceBackend's; this one wins on
	// conflict.
	//
	// +optional
	HeaderMutation *HTTPHeaderMutation `json:"headerMutation,omitempty"`

	// BodyMutation is merged with the AIServiceBackend's; this one wins on
	// conflict.
	//
	// +optional
	BodyMutation *HTTPBodyMutation `json:"bodyMutation,omitempty"`

	// Weight splits traffic within a priority, as Gateway API BackendRef
	// weight does; 0 disables the backend.
	//
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=1
	Weight *int32 `json:"weight,omitempty"`

	// Priority orders the backends in tiers; lower is preferred, and a
	// higher tier gets traffic on retry.
	//
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=0
	Priority *uint32 `json:"priority,omitempty"`
}

// AIGatewayRouteRuleMatch is a conjunction of header matches.
type AIGatewayRouteRuleMatch struct {
	// Headers are Gateway API header matches (Exact by default).
	//
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Headers []gwapiv1.HTTPHeaderMatch `json:"headers,omitempty"`
}

// AIGatewayRouteStatus is the observed state of an AIGatewayRoute.
type AIGatewayRouteStatus struct {
	// Conditions hold at most one condition, Accepted or NotAccepted.
	//
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}
