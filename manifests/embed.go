// Package manifests holds the CustomResourceDefinitions of the
// aigateway.envoyproxy.io API (AIGatewayRoute, AIServiceBackend,
// BackendSecurityPolicy, GatewayConfig, QuotaPolicy), generated from
// api/v1alpha1 and api/v1beta1 by controller-gen (`make crds`; `make
// test` fails when they drift from the Go types).
package manifests

import "embed"

// CRDs holds crds/*.yaml.
//
//go:embed crds/*.yaml
var CRDs embed.FS
