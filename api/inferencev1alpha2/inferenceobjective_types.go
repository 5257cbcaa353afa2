package inferencev1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InferenceObjective gives the requests that name it (GAIE's
// x-gateway-inference-objective header) a priority within one
// InferencePool. GAIE v1.0–v1.5 defined it in this group and version;
// v1.6.0 no longer ships the Go type, so it is defined here with the CRD's
// JSON names.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=infobj
// +kubebuilder:subresource:status
type InferenceObjective struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state of the objective.
	Spec InferenceObjectiveSpec `json:"spec,omitempty"`
	// Status is the observed state of the objective.
	Status InferenceObjectiveStatus `json:"status,omitempty"`
}

// InferenceObjectiveList is a list of InferenceObjective.
//
// +kubebuilder:object:root=true
type InferenceObjectiveList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []InferenceObjective `json:"items"`
}

// InferenceObjectiveSpec is the desired state of an InferenceObjective.
type InferenceObjectiveSpec struct {
	// Priority orders requests of the same pool: higher is more important,
	// negative values are sheddable (dropped with 429 when the pool is
	// saturated). Unset means 0, as for requests naming no objective.
	//
	// +optional
	Priority *int `json:"priority,omitempty"`

	// PoolRef is the InferencePool, in the objective's namespace, whose
	// requests the objective applies to.
	//
	// +kubebuilder:validation:Required
	PoolRef PoolObjectReference `json:"poolRef"`
}

// InferenceObjectiveStatus is the observed state of an InferenceObjective.
type InferenceObjectiveStatus struct {
	// Conditions track the state of the objective.
	//
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// PoolObjectReference names an InferencePool in the referrer's namespace.
type PoolObjectReference struct {
	// Group is the pool's API group.
	//
	// +optional
	// +kubebuilder:default="inference.networking.k8s.io"
	Group Group `json:"group,omitempty"`

	// Kind is the pool's kind.
	//
	// +optional
	// +kubebuilder:default="InferencePool"
	Kind Kind `json:"kind,omitempty"`

	// Name is the pool's name.
	//
	// +kubebuilder:validation:Required
	Name ObjectName `json:"name"`
}

// Defaults of a PoolObjectReference, as GAIE's CRDs set them.
const (
	DefaultPoolRefGroup Group = "inference.networking.k8s.io"
	DefaultPoolRefKind  Kind  = "InferencePool"
)

// Defaulted returns r with the CRD's defaults for an empty group and kind,
// as the API server would have stored it.
func (r PoolObjectReference) Defaulted() PoolObjectReference {
	if r.Group == "" {
		r.Group = DefaultPoolRefGroup
	}
	if r.Kind == "" {
		r.Kind = DefaultPoolRefKind
	}
	return r
}
