package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// AIServiceBackend is one upstream speaking one API schema, referenced by
// AIGatewayRoute rules. Credentials attach through a BackendSecurityPolicy
// whose targetRefs name it.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[-1:].type`
// +kubebuilder:storageversion
type AIServiceBackend struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state of the backend.
	Spec AIServiceBackendSpec `json:"spec,omitempty"`
	// Status is the observed state of the backend.
	Status AIServiceBackendStatus `json:"status,omitempty"`
}

// AIServiceBackendList is a list of AIServiceBackend.
//
// +kubebuilder:object:root=true
type AIServiceBackendList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AIServiceBackend `json:"items"`
}

// AIServiceBackendSpec is the desired state of an AIServiceBackend.
type AIServiceBackendSpec struct {
	// APISchema is the API schema the upstream speaks; requests are
	// translated into it.
	//
	// +kubebuilder:validation:Required
	APISchema VersionedAPISchema `json:"schema"`

	// BackendRef is the network address of the upstream: an Envoy Gateway
	// Backend (group gateway.envoyproxy.io, kind Backend, both written
	// explicitly, as in Envoy AI Gateway). This project also accepts a core
	// Service (group "", kind Service, with a port) and an InferencePool
	// (group inference.networking.k8s.io, or inference.networking.x-k8s.io
	// for v1alpha2 pools; kind InferencePool; the port is ignored); Envoy AI
	// Gateway rejects both.
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:XValidation:rule="(has(self.kind) && self.kind == 'Backend' && has(self.group) && self.group == 'gateway.envoyproxy.io') || ((!has(self.group) || self.group == '') && (!has(self.kind) || self.kind == 'Service')) || (has(self.group) && (self.group == 'inference.networking.k8s.io' || self.group == 'inference.networking.x-k8s.io') && has(self.kind) && self.kind == 'InferencePool')",message="BackendRef must be a Backend resource of Envoy Gateway (group gateway.envoyproxy.io, kind Backend), a Service, or an InferencePool (group inference.networking.k8s.io or inference.networking.x-k8s.io)"
	BackendRef gwapiv1.BackendObjectReference `json:"backendRef"`

	// HeaderMutation edits the request headers sent to this backend.
	//
	// +optional
	HeaderMutation *HTTPHeaderMutation `json:"headerMutation,omitempty"`

	// BodyMutation edits top-level JSON fields of the request body sent to
	// this backend.
	//
	// +optional
	BodyMutation *HTTPBodyMutation `json:"bodyMutation,omitempty"`
}

// AIServiceBackendStatus is the observed state of an AIServiceBackend.
type AIServiceBackendStatus struct {
	// Conditions hold at most one condition, Accepted or NotAccepted.
	//
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}
