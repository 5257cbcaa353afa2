// Package charts holds the gateway's Helm charts, embedded so that tests
// render and install exactly what ships:
//
//   - aigw-crds: the CustomResourceDefinitions of the gateway's own API,
//     aigateway.envoyproxy.io (controller-gen's output from api/), and
//     GAIE's InferencePool (copied from the module go.mod pins by
//     hack/gencrds), each behind a value; `make crds` regenerates both;
//   - aigw: the gateway in Kubernetes mode — Deployment, Service, RBAC,
//     PodDisruptionBudget, an optional GatewayClass and ServiceMonitor.
package charts

import "embed"

// FS holds the chart directories aigw-crds/ and aigw/.
//
//go:embed all:aigw-crds all:aigw
var FS embed.FS
