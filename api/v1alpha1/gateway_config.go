package v1alpha1

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GatewayConfigAnnotationKey is the Gateway annotation naming the
// GatewayConfig (in the Gateway's namespace) that applies to it.
const GatewayConfigAnnotationKey = "aigateway.envoyproxy.io/gateway-config"

// GatewayConfig holds gateway-wide settings. A Gateway refers to it with the
// annotation aigateway.envoyproxy.io/gateway-config; several Gateways may
// share one.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=gwconfig
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[-1:].type`
// +kubebuilder:deprecatedversion:warning="aigateway.envoyproxy.io/v1alpha1 is deprecated; use aigateway.envoyproxy.io/v1beta1 instead"
type GatewayConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state of the GatewayConfig.
	Spec GatewayConfigSpec `json:"spec,omitempty"`
	// Status is the observed state of the GatewayConfig.
	Status GatewayConfigStatus `json:"status,omitempty"`
}

// GatewayConfigList is a list of GatewayConfig.
//
// +kubebuilder:object:root=true
type GatewayConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GatewayConfig `json:"items"`
}

// GatewayConfigSpec is the desired state of a GatewayConfig.
type GatewayConfigSpec struct {
	// ExtProc configures Envoy AI Gateway's external processor container.
	// It is accepted for compatibility and only meaningful for a sidecar
	// data plane.
	//
	// +optional
	ExtProc *GatewayConfigExtProc `json:"extProc,omitempty"`

	// GlobalLLMRequestCosts are the gateway-wide costs; a route's
	// llmRequestCosts entry with the same metadataKey wins.
	//
	// +optional
	// +listType=map
	// +listMapKey=metadataKey
	GlobalLLMRequestCosts []LLMRequestCost `json:"globalLLMRequestCosts,omitempty"`

	// ForwardProxy tunnels all upstream traffic of the Gateway through an
	// HTTP CONNECT proxy.
	//
	// +optional
	ForwardProxy *GatewayConfigForwardProxy `json:"forwardProxy,omitempty"`
}

// GatewayConfigExtProc configures the external processor container.
type GatewayConfigExtProc struct {
	// Kubernetes holds the container settings (env, resources, image, …).
	//
	// +optional
	Kubernetes *egv1a1.KubernetesContainerSpec `json:"kubernetes,omitempty"`
}

// GatewayConfigForwardProxy is an HTTP CONNECT proxy for upstream traffic.
type GatewayConfigForwardProxy struct {
	// Address is the proxy's "host:port".
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Address string `json:"address"`
}

// GatewayConfigStatus is the observed state of a GatewayConfig.
type GatewayConfigStatus struct {
	// Conditions of the GatewayConfig.
	//
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}
