// Package standalone loads the YAML resources of `aigw run` (the same ones
// Envoy AI Gateway users write for Kubernetes) and compiles them into a
// config.Config for the data plane.
//
// # Pipeline
//
// [Loader.Load] reads files and directories; each file goes through
// environment substitution (${VAR}, ${VAR:=default}; see substituteEnv for
// the exact rules: an unset variable without default becomes "" with a
// warning, as in Envoy AI Gateway), is split into YAML documents and each
// document is decoded strictly into its API type, so that a misspelled field
// is an error. Secrets get their substitution.aigw.run/env and
// substitution.aigw.run/file annotations applied. Every resource is then
// validated as its CRD would (required fields, enums, limits, patterns, CEL
// rules with their messages), and the valid ones are compiled, resolving
// references between them. [Autoconfig] generates the YAML `aigw run` uses
// when given no file; it is loaded with [Loader.LoadBytes].
//
// All problems are reported at once: the error of a failed load joins one
// *[Error] per problem, each naming the file, the document (1-based), the
// resource and the field, e.g.
//
//	config.yaml: document 3: AIGatewayRoute default/chat: spec.rules[0].backendRefs[1].weight: must be >= 0
//
// Resources and fields the gateway does not use are never dropped silently:
// they are [Warning]s in the [Result]. Errors about valid configuration that
// standalone mode cannot serve yet (cloud credentials, InferencePool and
// Service backends, …) wrap [ErrNotSupported]. No message ever holds a
// credential or a header value.
//
// # Kinds
//
//   - aigateway.envoyproxy.io v1beta1 and v1alpha1: AIGatewayRoute,
//     AIServiceBackend, BackendSecurityPolicy (APIKey, AzureAPIKey and
//     AnthropicAPIKey compile; the cloud credential types are validated and
//     rejected as not supported), GatewayConfig (globalLLMRequestCosts);
//     QuotaPolicy (v1alpha1) is validated, not enforced.
//   - gateway.networking.k8s.io: Gateway (one at most; without one, a
//     listener "default/aigw-run/http" on port 1975), BackendTLSPolicy
//     (v1alpha3 and v1).
//   - gateway.envoyproxy.io/v1alpha1: Backend; BackendTrafficPolicy retry and
//     timeout blocks, attached to an AIGatewayRoute by the name of the
//     HTTPRoute Envoy AI Gateway generates (or to a rule by sectionName, or
//     to the Gateway); ClientTrafficPolicy connection.bufferLimit as the
//     request body limit.
//   - v1: Secret (data, stringData), ConfigMap.
//
// # Defaults
//
// Metadata namespace "default"; rule names "rule-<index>"; backendRef
// weight 1 and priority 0; request timeout 60s ("0s" disables it);
// modelsOwnedBy "Envoy AI Gateway"; modelsCreatedAt the route's
// creationTimestamp, else the Unix epoch (deterministic; load time would
// not be); schema prefix "v1" for OpenAI and Anthropic; retry without a
// BackendTrafficPolicy: 2 retries, each on the next priority, on
// connect-failure, reset, 5xx and 429, no back-off. Routes are ordered by
// creationTimestamp, then namespace/name.
//
// This package reads files but serves nothing; it must not import the data
// plane. It holds no package state: a [Loader] carries what a load needs.
package standalone
