package inferencev1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0 object paths=.

// GroupName is the API group of the package.
const GroupName = "inference.networking.x-k8s.io"

// GroupVersion is the group and version of the package's types.
var GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha2"}

var (
	// SchemeBuilder registers the package's types with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the package's types to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&InferencePool{}, &InferencePoolList{},
		&InferenceObjective{}, &InferenceObjectiveList{},
		&InferenceModelRewrite{}, &InferenceModelRewriteList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
