// Package standalone loads the YAML resources of `aigw run` (the same ones
// Envoy AI Gateway users write for Kubernetes) and compiles them into a
// config.Config for the data plane.
//
// The compiler's input is a [Set] of resources: the file [Loader] fills one
// from YAML documents, and a Kubernetes controller fills one with the
// objects its informers hold ([Set.Add], then [Set.Compile]); both get the
// same validation, the same compilation and the same messages, which name
// the file and document only for resources read from files.
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
// standalone mode cannot serve yet (cloud credentials, HTTPRoute filters, …)
// wrap [ErrNotSupported]. No message ever holds a credential or a header
// value, nor a Go type name: a value of the wrong type is reported as
// "spec.rules[0].backendRefs[1].priority: must be a non-negative integer
// (uint32), got -1".
//
// Some mistakes would otherwise silently drop routes or credentials, so
// they are errors even where a cluster would accept them: a file set with no
// resource at all (an editor's file between truncate and write), an unknown
// kind of aigateway.envoyproxy.io (an unknown kind of another group is a
// warning), a BackendSecurityPolicy targetRef that matches no
// AIServiceBackend or InferencePool, and a CEL cost expression that the data
// plane would not compile (checked here with its own function). When a file
// or document does not parse, the others are validated one by one but not
// compiled, so that its error is not buried under reports about references
// to what it defines.
//
// # Kinds
//
//   - aigateway.envoyproxy.io v1beta1 and v1alpha1: AIGatewayRoute,
//     AIServiceBackend, BackendSecurityPolicy (APIKey, AzureAPIKey,
//     AnthropicAPIKey and AzureCredentials with a client secret compile;
//     AWS and GCP credentials and Azure's federated OIDC token are
//     validated and rejected as not supported), GatewayConfig
//     (globalLLMRequestCosts);
//     QuotaPolicy (v1alpha1): per-backend service and per-model token quotas.
//   - gateway.networking.k8s.io: Gateway (one at most; without one, a
//     listener "default/aigw-run/http" on port 1975), BackendTLSPolicy
//     (v1alpha3 and v1), HTTPRoute (v1) when it references InferencePools
//     or Services (others are ignored with a warning; see below).
//   - inference.networking.k8s.io/v1 and inference.networking.x-k8s.io/v1alpha2
//     (GAIE): InferencePool. The two versions are told apart by group
//     wherever a pool is referenced, so they never collide.
//   - gateway.envoyproxy.io/v1alpha1: Backend; BackendTrafficPolicy retry and
//     timeout blocks, attached to an HTTPRoute, or to an AIGatewayRoute by
//     the name of the HTTPRoute Envoy AI Gateway generates (or to a rule by
//     sectionName, or to the Gateway); ClientTrafficPolicy connection.bufferLimit as the
//     request body limit.
//   - v1: Secret (data, stringData), ConfigMap, Pod (labels, status.phase,
//     status.podIP/podIPs, the Ready condition, named container ports),
//     Service (type, clusterIP/clusterIPs, selector, ports).
//
// # InferencePools
//
// A pool's selector picks the Pods of its namespace exactly as in a
// cluster; a Pod is an endpoint by GAIE's rule (internal/podready: Ready
// condition True, no deletionTimestamp, a podIP, and no status.phase other
// than Running; a Pod without a phase is judged by its Ready condition),
// and every podIP × targetPort is one config.PoolEndpoint (sorted by IP,
// then port). A pool with no endpoint is valid, with a warning. A
// v1alpha2 pool is read as v1 (selector → matchLabels, targetPortNumber →
// one target port, extensionRef → endpointPickerRef with port 9002 by
// default, appProtocol http).
//
// The endpoint picker reference resolves in the pool's namespace to a
// Service (its clusterIP or first clusterIPs entry at the referenced port;
// for a headless Service, or one whose file gives no cluster IP, the first
// ready Pod it selects, by name, at the mapped targetPort; ExternalName is
// an error, as GAIE requires) or to an Envoy Gateway Backend (its first ip
// or fqdn endpoint, at the reference's port if set). A picker that does not
// exist, or a headless Service without a ready Pod, is not a load error: GAIE
// requires requests to such a pool to get a 5xx, so the pool compiles with
// an EndpointPicker whose Address is empty and FailureMode FailClose, with
// a warning, and the data plane answers 503. Other kinds are an error. The
// connection uses TLS without verification by default (as GAIE deploys its
// pickers) and health-checks port + 1 with the service names of GAIE's EPP
// and lwepp; annotations on the pool change that:
//
//	aigw.dev/endpoint-picker-tls: "false"           plaintext h2c
//	aigw.dev/endpoint-picker-ca-secret: <Secret>    verify with its "ca.crt"
//	aigw.dev/endpoint-picker-server-name: <name>    SNI and verified name
//	aigw.dev/endpoint-picker-health-port: "<port>"  "0" turns checks off
//	aigw.dev/endpoint-picker-timeout: <duration>    per picker answer
//
// A pool the gateway picks for itself (no endpointPickerRef, or FailOpen when
// its picker fails) schedules with GAIE's default profile, or with the
// EndpointPickerConfig in "config.yaml" of the ConfigMap named by
// aigw.dev/scheduler-config, checked at load (errors name the ConfigMap).
//
// Envoy AI Gateway's aigateway.envoyproxy.io/processing-body-mode is
// accepted; "buffered" is warned about (the stream is always full-duplex).
//
// Pools are referenced from an AIServiceBackend's backendRef (the backend,
// named after the AIServiceBackend, keeps its schema, translation, security
// policy and mutations; the backendRef port is ignored), from an
// AIGatewayRoute rule directly (group and kind set), and from an HTTPRoute.
// A direct reference compiles to a backend of its own, schema OpenAI prefix
// v1, named "namespace/name/infpool" for an inference.networking.k8s.io pool
// and "namespace/name/xinfpool" for an inference.networking.x-k8s.io one
// (GAIE's short names; an AIServiceBackend's name has one slash, so the
// names never collide). A BackendSecurityPolicy may target a pool: its
// credential applies to every backend compiled from the pool, except an
// AIServiceBackend that a policy of its own targets (that one wins). A
// missing pool is a load error naming the field, except in an HTTPRoute (see
// below).
//
// Deliberate differences from Envoy AI Gateway: a rule may mix
// InferencePools and AIServiceBackends and hold several pools (its CEL
// rules "cannot mix InferencePool and AIServiceBackend references in the
// same rule" and "only one InferencePool backend is allowed per rule" are
// not enforced); priority, modelNameOverride and mutations are honoured on
// direct pool references, so that a pool can fall back to a provider;
// inference.networking.x-k8s.io pools are accepted wherever v1 pools are;
// an AIServiceBackend's backendRef may be an InferencePool or a Service.
//
// # Services and HTTPRoutes
//
// An AIServiceBackend whose backendRef is a Service (port required) gets
// the Service's cluster IP at that port, or, for a headless Service, the
// ready Pods it selects at the target port; appProtocol kubernetes.io/h2c
// selects HTTP/2. ExternalName Services are not supported (use an Envoy
// Gateway Backend with an fqdn endpoint).
//
// An HTTPRoute whose backendRefs include InferencePools or Services
// compiles to a config.Route with PassThrough set: matches on path
// (PathPrefix "/" by default, Exact, RegularExpression) and headers, no
// model-from-body routing, no translation, the client's path and body
// forwarded as they are. Weights, timeouts (request 60s by default, as for
// AIGatewayRoutes), BackendTrafficPolicies and multiple rules work; filters
// and query parameter or method matches are not supported. A Service
// reference compiles to a backend "namespace/name/svc/<port>". A reference
// to a missing pool or Service is a warning, not an error, because Gateway
// API accepts the route and fails the traffic: it compiles to a backend
// with no endpoint (for a pool: a Pool with no target port, endpoint or
// picker), which the data plane answers with 503. An HTTPRoute may not
// share its name with an AIGatewayRoute (Envoy AI Gateway generates an
// HTTPRoute of that name). Unused pools and Services, and Pods nothing
// selects, are warned about.
//
// # Defaults
//
// Metadata namespace "default"; rule names "rule-<index>"; backendRef
// weight 1 and priority 0; request timeout 60s ("0s" disables it);
// modelsOwnedBy "Envoy AI Gateway"; modelsCreatedAt the route's
// creationTimestamp, else the Unix epoch (deterministic; load time would
// not be); schema prefix "v1" for OpenAI and Anthropic; retry without a
// BackendTrafficPolicy: 2 retries, each on the next priority, on
// connect-failure, reset, 5xx and 429, no back-off. Routes (AIGatewayRoutes
// and HTTPRoutes together) are ordered by creationTimestamp, then
// namespace/name. InferencePool appProtocol http, endpointPickerRef kind
// Service and failureMode FailClose; v1alpha2 extensionRef portNumber 9002.
//
// This package reads files but serves nothing; it must not import the data
// plane (internal/httpproxy, internal/processor). It shares with it only the
// checks a configuration must pass there: CEL costs (internal/costs) and
// Pod readiness (internal/podready). It holds no package state: a [Loader]
// carries what a load needs.
package standalone
