package testenv

import (
	"embed"
	"fmt"
	"io/fs"
	"path"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// crdFS holds config/crd/bases of the GAIE module version go.mod pins,
// copied by gen_crds.go.
//
//go:embed crds/*.yaml
var crdFS embed.FS

// GAIEBundleVersionAnnotation is the annotation on GAIE's CRDs that names
// the release they come from.
const GAIEBundleVersionAnnotation = "inference.networking.k8s.io/bundle-version"

// GAIECRDs returns GAIE's CustomResourceDefinitions (InferencePool v1 and
// what else the pinned release ships), parsed from the embedded copies.
func GAIECRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(crdFS, "crds/*.yaml")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no CRDs embedded; run go generate ./internal/testenv")
	}
	crds := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(names))
	for _, name := range names {
		data, err := crdFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return nil, fmt.Errorf("%s: %w", path.Base(name), err)
		}
		if crd.Kind != "CustomResourceDefinition" || crd.Name == "" {
			return nil, fmt.Errorf("%s: not a CustomResourceDefinition", path.Base(name))
		}
		crds = append(crds, crd)
	}
	return crds, nil
}
