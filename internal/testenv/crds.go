package testenv

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/aigw-dev/aigw/charts"
)

// crdFS holds, in crds-gateway/, Gateway API's standard channel and the
// Envoy Gateway CRDs the gateway reads (copied from the pinned modules by
// hack/gencrds), and in crds-v1alpha2/ the older
// inference.networking.x-k8s.io/v1alpha2 CRDs that the pinned GAIE version
// no longer ships. aigateway.envoyproxy.io's and GAIE's come from the
// aigw-crds chart.
//
//go:embed crds-gateway/*.yaml crds-v1alpha2/*.yaml
var crdFS embed.FS

// GAIEBundleVersionAnnotation is the annotation on GAIE's CRDs that names
// the release they come from.
const GAIEBundleVersionAnnotation = "inference.networking.k8s.io/bundle-version"

// GAIECRDs returns GAIE's CustomResourceDefinitions (InferencePool v1 and
// what else the pinned release ships), parsed from the embedded copies.
func GAIECRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return embeddedCRDs(charts.FS, "aigw-crds/files/inference-extension/*.yaml", "run make crds")
}

// V1Alpha2CRDs returns the inference.networking.x-k8s.io/v1alpha2 CRDs that
// the pinned GAIE release no longer ships: InferencePool (GAIE v0.2–v1.4;
// generated from api/inferencev1alpha2), InferenceObjective and
// InferenceModelRewrite (GAIE v1.5.0's config/crd/bases).
func V1Alpha2CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return embeddedCRDs(crdFS, "crds-v1alpha2/*.yaml", "crds-v1alpha2 is committed, not generated")
}

// UpstreamGatewayCRDs returns the CRDs a cluster gets from other projects
// than ours: Gateway API's standard channel, and the Envoy Gateway kinds
// the gateway reads (Backend, BackendTrafficPolicy, ClientTrafficPolicy,
// SecurityPolicy).
func UpstreamGatewayCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return embeddedCRDs(crdFS, "crds-gateway/*.yaml", "run make crds")
}

// GatewayCRDs returns the CRDs of the resources a gateway in Kubernetes
// mode watches besides GAIE's: [UpstreamGatewayCRDs] and
// aigateway.envoyproxy.io's, from the aigw-crds chart.
func GatewayCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	out, err := UpstreamGatewayCRDs()
	if err != nil {
		return nil, err
	}
	ours, err := embeddedCRDs(charts.FS, "aigw-crds/files/aigateway/*.yaml", "run make crds")
	if err != nil {
		return nil, err
	}
	return append(out, ours...), nil
}

// InstallGatewayCRDs installs [GatewayCRDs] into e's API server and waits
// until they are served. Clients of their types need
// [NewGatewayScheme].
func (e *Env) InstallGatewayCRDs(t testing.TB) {
	t.Helper()
	crds, err := GatewayCRDs()
	if err != nil {
		t.Fatalf("gateway CRDs: %v", err)
	}
	if _, err := envtest.InstallCRDs(e.Config, envtest.CRDInstallOptions{CRDs: crds}); err != nil {
		t.Fatalf("install gateway CRDs: %v", err)
	}
}

// InstallUpstreamGatewayCRDs installs [UpstreamGatewayCRDs] into e's API
// server, as a cluster has them before our charts are installed, and waits
// until they are served.
func (e *Env) InstallUpstreamGatewayCRDs(t testing.TB) {
	t.Helper()
	crds, err := UpstreamGatewayCRDs()
	if err != nil {
		t.Fatalf("upstream gateway CRDs: %v", err)
	}
	if _, err := envtest.InstallCRDs(e.Config, envtest.CRDInstallOptions{CRDs: crds}); err != nil {
		t.Fatalf("install upstream gateway CRDs: %v", err)
	}
}

// InstallV1Alpha2CRDs installs [V1Alpha2CRDs] into e's API server and waits
// until they are served. Clients of their types need
// api/inferencev1alpha2 in their scheme.
func (e *Env) InstallV1Alpha2CRDs(t testing.TB) {
	t.Helper()
	crds, err := V1Alpha2CRDs()
	if err != nil {
		t.Fatalf("v1alpha2 CRDs: %v", err)
	}
	if _, err := envtest.InstallCRDs(e.Config, envtest.CRDInstallOptions{CRDs: crds}); err != nil {
		t.Fatalf("install v1alpha2 CRDs: %v", err)
	}
}

// embeddedCRDs parses the embedded CRD files matching pattern; hint says
// what to do when there are none.
func embeddedCRDs(fsys fs.ReadFileFS, pattern, hint string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no CRDs embedded as %s; %s", pattern, hint)
	}
	crds := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(names))
	for _, name := range names {
		data, err := fsys.ReadFile(name)
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
