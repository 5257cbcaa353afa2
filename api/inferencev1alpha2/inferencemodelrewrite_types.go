package inferencev1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InferenceModelRewrite rewrites the model name of a pool's requests,
// optionally splitting them across weighted targets (canary rollouts, A/B
// tests, aliases). GAIE v1.5 defined it in this group and version; v1.6.0
// no longer ships the Go type, so it is defined here with the CRD's JSON
// names.
//
// Precedence, as GAIE's EPP applies it across all the rewrites of a pool:
// a rule matching the model exactly beats a generic rule (no matches);
// among equals the oldest resource (by creation timestamp) wins, and within
// one resource the first rule in list order.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=infmr
// +kubebuilder:subresource:status
type InferenceModelRewrite struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state of the rewrite.
	Spec InferenceModelRewriteSpec `json:"spec,omitempty"`
	// Status is the observed state of the rewrite.
	Status InferenceModelRewriteStatus `json:"status,omitempty"`
}

// InferenceModelRewriteList is a list of InferenceModelRewrite.
//
// +kubebuilder:object:root=true
type InferenceModelRewriteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []InferenceModelRewrite `json:"items"`
}

// InferenceModelRewriteSpec is the desired state of an
// InferenceModelRewrite.
type InferenceModelRewriteSpec struct {
	// PoolRef is the InferencePool, in the rewrite's namespace, whose
	// requests are rewritten.
	//
	// +kubebuilder:validation:Required
	PoolRef *PoolObjectReference `json:"poolRef"`

	// Rules are tried in order; the first that matches is used (see the
	// type's precedence rules across resources).
	//
	// +required
	Rules []InferenceModelRewriteRule `json:"rules"`
}

// InferenceModelRewriteRule matches requests and sends them to weighted
// target models.
type InferenceModelRewriteRule struct {
	// Matches are ORed; an empty list matches every request (a generic
	// rule).
	//
	// +optional
	Matches []Match `json:"matches,omitempty"`

	// Targets are the models requests are sent to, in proportion to their
	// weights.
	//
	// +optional
	// +kubebuilder:validation:MinItems=1
	Targets []TargetModel `json:"targets,omitempty"`
}

// TargetModel is one weighted model of a rewrite rule.
type TargetModel struct {
	// Weight is this target's share relative to the rule's other targets.
	// Either every target of a rule sets it or none does (then they share
	// equally). Unlike GAIE's Go type, an unset weight is omitted when
	// encoding, so that the CRD's minimum of 1 admits it.
	//
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	Weight int32 `json:"weight,omitempty"`

	// ModelRewrite is the model name sent to the model server.
	//
	// +required
	ModelRewrite string `json:"modelRewrite"`
}

// Match is one criterion of a rewrite rule.
type Match struct {
	// Model matches the "model" field of the request body.
	//
	// +required
	Model *ModelMatch `json:"model,omitempty"`
}

// ModelMatch matches a model name.
type ModelMatch struct {
	// Type is how Value is compared; only Exact is defined.
	//
	// +optional
	// +kubebuilder:default=Exact
	// +kubebuilder:validation:Enum=Exact
	Type *MatchValidationType `json:"type,omitempty"`

	// Value is the model name to match.
	//
	// +required
	Value string `json:"value"`
}

// MatchValidationType is how a model name is compared.
type MatchValidationType string

// MatchExact compares model names for equality.
const MatchExact MatchValidationType = "Exact"

// InferenceModelRewriteStatus is the observed state of an
// InferenceModelRewrite.
type InferenceModelRewriteStatus struct {
	// Conditions track the state of the rewrite.
	//
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}
