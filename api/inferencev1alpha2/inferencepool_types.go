package inferencev1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InferencePool is a pool of model-server Pods, selected by label, behind
// one endpoint picker extension.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=xinfpool
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
type InferencePool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state of the pool.
	Spec InferencePoolSpec `json:"spec,omitempty"`
	// Status is the observed state of the pool, per Gateway.
	Status InferencePoolStatus `json:"status,omitempty"`
}

// InferencePoolList is a list of InferencePool.
//
// +kubebuilder:object:root=true
type InferencePoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []InferencePool `json:"items"`
}

// InferencePoolSpec is the desired state of an InferencePool.
type InferencePoolSpec struct {
	// Selector selects the pool's model-server Pods by label, in the pool's
	// namespace only. It is a plain map, like a Service selector, so that an
	// implementation may mirror it into a Service.
	//
	// +kubebuilder:validation:Required
	Selector map[LabelKey]LabelValue `json:"selector"`

	// TargetPortNumber is the port of the model servers on every selected
	// Pod (one port; v1 allows several).
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	TargetPortNumber int32 `json:"targetPortNumber"`

	// ExtensionRef is the endpoint picker extension of the pool.
	//
	// +kubebuilder:validation:Required
	ExtensionRef *Extension `json:"extensionRef,omitempty"`
}

// Extension references the endpoint picker and says how to reach it. GAIE
// v0.5.1 writes it as the inline ExtensionReference (group, kind, name,
// portNumber) and ExtensionConnection (failureMode); the JSON is the same.
//
// Connections to the extension use TLS by default. When the reference is
// invalid, requests that would have been routed to the pool get a 5xx.
type Extension struct {
	// Group of the referent; "" (the default) is the core API group.
	//
	// +optional
	// +kubebuilder:default=""
	Group *Group `json:"group,omitempty"`

	// Kind of the referent; it defaults to Service. ExternalName Services
	// are never supported.
	//
	// +optional
	// +kubebuilder:default=Service
	Kind *Kind `json:"kind,omitempty"`

	// Name of the referent, in the pool's namespace.
	//
	// +kubebuilder:validation:Required
	Name ObjectName `json:"name"`

	// PortNumber is the Service port of the extension. Implementations
	// infer 9002 when it is unset and the kind is Service.
	//
	// +optional
	PortNumber *PortNumber `json:"portNumber,omitempty"`

	// FailureMode is what happens to a request when the extension does not
	// answer; it defaults to FailClose.
	//
	// +optional
	// +kubebuilder:default="FailClose"
	FailureMode *ExtensionFailureMode `json:"failureMode,omitempty"`
}

// ExtensionFailureMode is how a gateway handles an unresponsive extension.
//
// +kubebuilder:validation:Enum=FailOpen;FailClose
type ExtensionFailureMode string

// Failure modes.
const (
	// FailOpen forwards the request to an endpoint of the gateway's picking.
	FailOpen ExtensionFailureMode = "FailOpen"
	// FailClose drops the request with a 5xx.
	FailClose ExtensionFailureMode = "FailClose"
)

// InferencePoolStatus is the observed state of an InferencePool.
type InferencePoolStatus struct {
	// Parents holds one entry per Gateway the pool is used from. The JSON
	// key is "parent" (singular) in this version.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=32
	Parents []PoolStatus `json:"parent,omitempty"`
}

// PoolStatus is the state of the pool as one Gateway sees it.
type PoolStatus struct {
	// GatewayRef is the Gateway.
	GatewayRef ParentGatewayReference `json:"parentRef"`

	// Conditions are Accepted and ResolvedRefs.
	//
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ParentGatewayReference names a Gateway (by default).
type ParentGatewayReference struct {
	// Group defaults to gateway.networking.k8s.io.
	//
	// +optional
	// +kubebuilder:default="gateway.networking.k8s.io"
	Group *Group `json:"group,omitempty"`

	// Kind defaults to Gateway.
	//
	// +optional
	// +kubebuilder:default=Gateway
	Kind *Kind `json:"kind,omitempty"`

	// Name of the referent.
	Name ObjectName `json:"name"`

	// Namespace of the referent; unset means the pool's namespace.
	//
	// +optional
	Namespace *Namespace `json:"namespace,omitempty"`
}

// Defaults of the CRD, and the port GAIE says implementations should infer.
const (
	// DefaultExtensionPortNumber is the extension port when portNumber is
	// unset and the kind is Service.
	DefaultExtensionPortNumber PortNumber = 9002
	// DefaultExtensionKind is the kind of an extensionRef without one.
	DefaultExtensionKind Kind = "Service"
	// DefaultExtensionFailureMode is the failure mode of an extensionRef
	// without one.
	DefaultExtensionFailureMode = FailClose
)

// Condition types of PoolStatus.
const (
	ConditionAccepted     = "Accepted"
	ConditionResolvedRefs = "ResolvedRefs"
)

// Condition reasons of PoolStatus.
const (
	ReasonAccepted              = "Accepted"
	ReasonNotSupportedByGateway = "NotSupportedByGateway"
	ReasonHTTPRouteNotAccepted  = "HTTPRouteNotAccepted"
	ReasonPending               = "Pending"
	ReasonResolvedRefs          = "ResolvedRefs"
	ReasonInvalidExtensionRef   = "InvalidExtensionRef"
)
