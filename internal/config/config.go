package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Version is the version of the contract written by this build. A data plane
// rejects a Config whose Version it does not know.
const Version = "v1"

// Config is the whole data-plane configuration of one gateway.
type Config struct {
	// Version is the contract version; see [Version].
	Version string `json:"version"`
	// Gateways are the Gateways served, each with its listeners and the
	// settings of its policies; none means the data plane's default
	// listener with default settings.
	Gateways []Gateway `json:"gateways,omitempty"`
	// Routes are the AI routes, in precedence order of their resources
	// (oldest first, then namespace/name), as Gateway API orders routes.
	Routes []Route `json:"routes,omitempty"`
	// Backends are the upstreams referenced by route rules, keyed by Name.
	Backends []Backend `json:"backends,omitempty"`
}

// Listeners returns the listeners of every Gateway, in order.
func (c *Config) Listeners() []Listener {
	var out []Listener
	for i := range c.Gateways {
		out = append(out, c.Gateways[i].Listeners...)
	}
	return out
}

// Gateway is one Gateway: its listeners, and what the policies that
// target it set for every request it serves.
type Gateway struct {
	// Name is "namespace/name".
	Name string `json:"name"`
	// Listeners are the addresses the Gateway serves client traffic on.
	Listeners []Listener `json:"listeners,omitempty"`
	// RequestCosts are the Gateway's costs (its GatewayConfig's
	// globalLLMRequestCosts); a route's cost with the same MetadataKey wins.
	RequestCosts []RequestCost `json:"requestCosts,omitempty"`
	// MaxRequestBodyBytes bounds the request body read by the gateway; zero
	// means the data plane's default.
	MaxRequestBodyBytes int64 `json:"maxRequestBodyBytes,omitempty"`
	// Client holds the settings of client connections (Envoy Gateway's
	// ClientTrafficPolicy on the Gateway).
	Client ClientSettings `json:"client,omitzero"`
	// ClientAuth, when set, is who may call the Gateway (an Envoy Gateway
	// SecurityPolicy targeting it): every request, the routes without a
	// policy of their own and /v1/models included.
	ClientAuth *ClientAuth `json:"clientAuth,omitempty"`
}

// ClientAuth is who may call: an Envoy Gateway SecurityPolicy's client
// authentication (any of API keys, basic auth; a request passes with one
// of them) and authorization, compiled.
type ClientAuth struct {
	// Policy is "namespace/name" of the SecurityPolicy.
	Policy        string                `json:"policy"`
	APIKey        *APIKeyAuthentication `json:"apiKey,omitempty"`
	Basic         *BasicAuthentication  `json:"basic,omitempty"`
	JWT           *JWTAuthentication    `json:"jwt,omitempty"`
	Authorization *Authorization        `json:"authorization,omitempty"`
}

// JWTAuthentication accepts JSON Web Tokens of its providers.
type JWTAuthentication struct {
	// Optional lets a request without a token pass (one with an invalid
	// token is still refused).
	Optional  bool          `json:"optional,omitempty"`
	Providers []JWTProvider `json:"providers"`
}

// JWTProvider is an issuer of tokens and the keys that verify them.
type JWTProvider struct {
	Name string `json:"name"`
	// Issuer, when set, must be the token's iss; Audiences, when set,
	// must hold one of the token's aud.
	Issuer    string   `json:"issuer,omitempty"`
	Audiences []string `json:"audiences,omitempty"`
	// RemoteJWKS is the URL of the keys (refreshed every CacheDuration),
	// else LocalJWKS holds them (a JWK Set's JSON).
	RemoteJWKS    string   `json:"remoteJWKS,omitempty"`
	CacheDuration Duration `json:"cacheDuration,omitempty"`
	LocalJWKS     string   `json:"localJWKS,omitempty"`
	// Extractors are where the token is; empty means
	// "Authorization: Bearer <token>".
	Extractors []JWTExtractor `json:"extractors,omitempty"`
	// ClaimToHeaders copy claims into request headers (a client's own
	// copy is replaced).
	ClaimToHeaders []ClaimToHeader `json:"claimToHeaders,omitempty"`
}

// JWTExtractor is a header carrying a token after a prefix.
type JWTExtractor struct {
	Header      string `json:"header"`
	ValuePrefix string `json:"valuePrefix,omitempty"`
}

// ClaimToHeader copies a claim (a dotted path for a nested one) into a
// header.
type ClaimToHeader struct {
	Header string `json:"header"`
	Claim  string `json:"claim"`
}

// JWTPrincipal matches a request whose token, from Provider, has every
// claim with one of its values and every scope.
type JWTPrincipal struct {
	Provider string         `json:"provider"`
	Claims   []HeaderValues `json:"claims,omitempty"`
	Scopes   []string       `json:"scopes,omitempty"`
}

// APIKeyAuthentication accepts the clients' API keys.
type APIKeyAuthentication struct {
	// Clients are the client IDs with their keys.
	Clients []APIKeyClient `json:"clients"`
	// Headers carry the key, the first present one is read.
	Headers []string `json:"headers"`
	// ForwardClientIDHeader, when set, carries the authenticated client ID
	// (a client's own copy is replaced).
	ForwardClientIDHeader string `json:"forwardClientIDHeader,omitempty"`
	// Sanitize removes the key's header before the upstream.
	Sanitize bool `json:"sanitize,omitempty"`
}

// APIKeyClient is a client ID and its key.
type APIKeyClient struct {
	ID  string `json:"id"`
	Key Secret `json:"key"`
}

// BasicAuthentication accepts users of an htpasswd file.
type BasicAuthentication struct {
	// Users are the htpasswd lines' users and password hashes ({SHA} or
	// bcrypt).
	Users []BasicUser `json:"users"`
	// ForwardUsernameHeader, when set, carries the authenticated user.
	ForwardUsernameHeader string `json:"forwardUsernameHeader,omitempty"`
}

// BasicUser is an htpasswd line.
type BasicUser struct {
	Name string `json:"name"`
	Hash Secret `json:"hash"`
}

// Authorization allows or denies the requests (after authentication) by
// the first rule that matches, else by DefaultAction.
type Authorization struct {
	DefaultAction AuthorizationAction `json:"defaultAction"`
	Rules         []AuthorizationRule `json:"rules,omitempty"`
}

// AuthorizationAction is Allow or Deny.
type AuthorizationAction string

// Authorization actions.
const (
	AuthorizationAllow AuthorizationAction = "Allow"
	AuthorizationDeny  AuthorizationAction = "Deny"
)

// AuthorizationRule matches when every condition it sets holds: the
// client's address in one of ClientCIDRs, every header with one of its
// values.
type AuthorizationRule struct {
	Name        string              `json:"name"`
	Action      AuthorizationAction `json:"action"`
	ClientCIDRs []string            `json:"clientCIDRs,omitempty"`
	Headers     []HeaderValues      `json:"headers,omitempty"`
	JWT         *JWTPrincipal       `json:"jwt,omitempty"`
}

// HeaderValues is a header and the values it may have.
type HeaderValues struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// ClientSettings bound what clients may make the gateway hold, as Envoy
// Gateway's ClientTrafficPolicy sets them for Envoy. Zero values mean the
// data plane's defaults.
type ClientSettings struct {
	// RequestReceivedTimeout bounds the time from the start of a request
	// until its whole body has arrived (timeout.http.requestReceivedTimeout);
	// zero means no overall bound (a read that makes no progress is still
	// cut by the data plane's body read timeout).
	RequestReceivedTimeout Duration `json:"requestReceivedTimeout,omitempty"`
	// IdleTimeout closes a client connection without requests for this long
	// (timeout.http.idleTimeout). Applied when listeners start.
	IdleTimeout Duration `json:"idleTimeout,omitempty"`
	// ConnectionLimit bounds the open client connections of each listener
	// (connection.connectionLimit.value); zero means no limit. Applied when
	// listeners start.
	ConnectionLimit int64 `json:"connectionLimit,omitempty"`
}

// Listener is one client-facing listener.
type Listener struct {
	// Name is the Gateway listener's name, "namespace/gateway/listener".
	Name string `json:"name"`
	// Address is the host part to bind; empty means all interfaces.
	Address string `json:"address,omitempty"`
	// Port is the TCP port.
	Port int32 `json:"port"`
	// Hostname, when set, is the listener's hostname (exact or "*.suffix").
	Hostname string `json:"hostname,omitempty"`
	// TLS, when set, makes the listener serve HTTPS.
	TLS *ListenerTLS `json:"tls,omitempty"`
}

// ListenerTLS holds the server certificates of an HTTPS listener.
type ListenerTLS struct {
	// Certificates are PEM pairs; the first is the default.
	Certificates []CertificatePair `json:"certificates"`
}

// CertificatePair is a PEM certificate chain and its private key.
type CertificatePair struct {
	// Name identifies the source Secret, "namespace/name".
	Name    string `json:"name"`
	CertPEM string `json:"certPEM"`
	KeyPEM  Secret `json:"keyPEM"`
}

// Route is one AIGatewayRoute, or one Gateway API HTTPRoute (PassThrough).
type Route struct {
	// Name is "namespace/name".
	Name string `json:"name"`
	// PassThrough marks a route compiled from a Gateway API HTTPRoute (as
	// GAIE users write them to reach InferencePools): its rules match on
	// the path (Match.Path) and headers before the body is read; the body's
	// model is not used for routing, nothing is translated and the client's
	// path and body are forwarded as they are (a pool's endpoint picker
	// still sees the body). Its rules have no ModelsOwnedBy/ModelsCreatedAt
	// and add nothing to /v1/models; RequestCosts are empty.
	PassThrough bool `json:"passThrough,omitempty"`
	// Hostnames restricts the route to these hosts (exact or "*.suffix");
	// empty means every host.
	Hostnames []string `json:"hostnames,omitempty"`
	// Listeners are the names of the listeners the route is attached to;
	// empty means every listener.
	Listeners []string `json:"listeners,omitempty"`
	// Rules are matched in precedence order; see the data plane's router.
	Rules []Rule `json:"rules"`
	// RequestCosts are the route's llmRequestCosts.
	RequestCosts []RequestCost `json:"requestCosts,omitempty"`
	// ClientAuth, when set, is who may call this route (a SecurityPolicy
	// targeting it), instead of the Gateway's.
	ClientAuth *ClientAuth `json:"clientAuth,omitempty"`
}

// RateLimitRule is one rule of an Envoy Gateway BackendTrafficPolicy's
// rateLimit: the requests its selectors pick share a budget of Limit per
// Window, in buckets keyed by their Distinct values.
type RateLimitRule struct {
	// Name identifies the rule in metrics and bucket keys:
	// "namespace/policy/global/0".
	Name string `json:"name"`
	// Local rules count per replica; global ones in the shared store.
	Local bool `json:"local,omitempty"`
	// Selectors must all match; none matches every request.
	Selectors []RateLimitSelector `json:"selectors,omitempty"`
	Limit     uint64              `json:"limit"`
	Window    Duration            `json:"window"`
	// RequestCost is charged when the request is checked (1 unless the
	// rule sets a cost).
	RequestCost uint64 `json:"requestCost"`
	// ResponseCost is charged after the response: ResponseCostKey's value
	// (a route's llmRequestCosts metadata key) when set, else this number.
	ResponseCost    uint64 `json:"responseCost,omitempty"`
	ResponseCostKey string `json:"responseCostKey,omitempty"`
	// Shared buckets are common to every route the policy targets; others
	// are per route.
	Shared bool `json:"shared,omitempty"`
	// Shadow rules count and report but never refuse.
	Shadow bool `json:"shadow,omitempty"`
	// NoHeaders turns off the x-ratelimit-* response headers.
	NoHeaders bool `json:"noHeaders,omitempty"`
}

// RateLimitSelector picks requests by their headers, client address,
// method and path; every condition it sets must hold.
type RateLimitSelector struct {
	Headers    []RateLimitHeaderMatch `json:"headers,omitempty"`
	SourceCIDR *RateLimitSourceMatch  `json:"sourceCIDR,omitempty"`
	Methods    []RateLimitValueMatch  `json:"methods,omitempty"`
	Path       *RateLimitPathMatch    `json:"path,omitempty"`
}

// RateLimitMatchType is how a value is compared.
type RateLimitMatchType string

// Match types: a value, a regular expression, or each distinct value its
// own bucket.
const (
	RateLimitExact    RateLimitMatchType = "Exact"
	RateLimitRegex    RateLimitMatchType = "RegularExpression"
	RateLimitDistinct RateLimitMatchType = "Distinct"
	RateLimitPrefix   RateLimitMatchType = "PathPrefix"
)

// RateLimitHeaderMatch matches a request header; a Distinct one matches
// any value, and the value keys the bucket.
type RateLimitHeaderMatch struct {
	Name   string             `json:"name"`
	Type   RateLimitMatchType `json:"type"`
	Value  string             `json:"value,omitempty"`
	Invert bool               `json:"invert,omitempty"`
}

// RateLimitSourceMatch matches the client's address against a CIDR;
// Distinct keys a bucket per address.
type RateLimitSourceMatch struct {
	CIDR     string `json:"cidr"`
	Distinct bool   `json:"distinct,omitempty"`
	Invert   bool   `json:"invert,omitempty"`
}

// RateLimitValueMatch matches a value exactly (a method).
type RateLimitValueMatch struct {
	Value  string `json:"value"`
	Invert bool   `json:"invert,omitempty"`
}

// RateLimitPathMatch matches the request path: Exact, PathPrefix or
// RegularExpression.
type RateLimitPathMatch struct {
	Type   RateLimitMatchType `json:"type"`
	Value  string             `json:"value"`
	Invert bool               `json:"invert,omitempty"`
}

// Rule is one AIGatewayRoute or HTTPRoute rule.
type Rule struct {
	// Name is the rule's name, or "rule-<index>" when the resource has none.
	Name string `json:"name"`
	// Matches are ORed; an empty list matches every request.
	Matches []Match `json:"matches,omitempty"`
	// BackendRefs are the rule's weighted, prioritised backends.
	BackendRefs []BackendRef `json:"backendRefs,omitempty"`
	// Timeouts bound the request as a whole and each attempt.
	Timeouts Timeouts `json:"timeouts,omitempty"`
	// Retry decides when an attempt is retried and where.
	Retry RetryPolicy `json:"retry"`
	// ModelsOwnedBy is the owned_by of the rule's models in /v1/models.
	ModelsOwnedBy string `json:"modelsOwnedBy,omitempty"`
	// ModelsCreatedAt is the created time of the rule's models in /v1/models;
	// zero (omitted) in PassThrough routes.
	ModelsCreatedAt time.Time `json:"modelsCreatedAt,omitzero"`
	// RateLimits are the rule's rate limits and token budgets: the
	// rateLimit of the BackendTrafficPolicy that covers it (its own, its
	// route's, else the Gateway's). Buckets are per rule unless shared, as
	// in Envoy Gateway.
	RateLimits []RateLimitRule `json:"rateLimits,omitempty"`
}

// Match is a conjunction of a path match and header matches.
type Match struct {
	// Path, when set, matches the request path (without the query). Only
	// PassThrough routes set it, and there every match has one.
	Path    *PathMatch    `json:"path,omitempty"`
	Headers []HeaderMatch `json:"headers,omitempty"`
}

// PathMatchType is how a PathMatch compares the request path.
type PathMatchType string

// Path match types, as in Gateway API HTTPRoute.
const (
	// PathMatchPathPrefix matches path elements: "/foo" matches "/foo",
	// "/foo/" and "/foo/bar" but not "/foobar"; a trailing "/" in Value is
	// ignored, and "/" matches every path.
	PathMatchPathPrefix PathMatchType = "PathPrefix"
	// PathMatchExact matches the whole path.
	PathMatchExact PathMatchType = "Exact"
	// PathMatchRegularExpression matches the whole path against an RE2
	// expression (anchored at both ends).
	PathMatchRegularExpression PathMatchType = "RegularExpression"
)

// PathMatch matches the request path.
type PathMatch struct {
	Type  PathMatchType `json:"type"`
	Value string        `json:"value"`
}

// HeaderMatchType is how a HeaderMatch compares a value.
type HeaderMatchType string

// Header match types, as in Gateway API.
const (
	HeaderMatchExact             HeaderMatchType = "Exact"
	HeaderMatchRegularExpression HeaderMatchType = "RegularExpression"
)

// HeaderMatch matches one request header. Name is lower-case.
type HeaderMatch struct {
	Type  HeaderMatchType `json:"type"`
	Name  string          `json:"name"`
	Value string          `json:"value"`
}

// BackendRef is a weighted, prioritised reference from a rule to a Backend.
// Its mutations are already merged with the Backend's own (route-level
// values win on conflict), so the data plane applies only these.
type BackendRef struct {
	// Backend is the Name of an entry in Config.Backends.
	Backend string `json:"backend"`
	// Weight splits traffic within a priority; zero disables the ref.
	Weight int32 `json:"weight"`
	// Priority orders tiers; lower is tried first.
	Priority uint32 `json:"priority"`
	// ModelNameOverride, when set, replaces the model sent upstream.
	ModelNameOverride string `json:"modelNameOverride,omitempty"`
	// HeaderMutation is applied to every attempt on this ref.
	HeaderMutation *HeaderMutation `json:"headerMutation,omitempty"`
	// BodyMutation is applied to every attempt on this ref.
	BodyMutation *BodyMutation `json:"bodyMutation,omitempty"`
}

// Timeouts of a rule; zero means none.
type Timeouts struct {
	// Request is the deadline of the whole request, streamed body included.
	Request Duration `json:"request,omitempty"`
	// BackendRequest is the deadline of one attempt until its response
	// headers arrive.
	BackendRequest Duration `json:"backendRequest,omitempty"`
	// StreamIdle is the longest time without a byte from the upstream.
	StreamIdle Duration `json:"streamIdle,omitempty"`
}

// RetryOn names a condition that makes an attempt retriable.
type RetryOn string

// Retry conditions, named as Envoy Gateway's retry triggers.
const (
	RetryOnConnectFailure   RetryOn = "connect-failure"
	RetryOnReset            RetryOn = "reset"
	RetryOn5xx              RetryOn = "5xx"
	RetryOnGatewayError     RetryOn = "gateway-error"
	RetryOnRetriableStatus  RetryOn = "retriable-status-codes"
	RetryOnRetriable4xx     RetryOn = "retriable-4xx"
	RetryOnDeadlineExceeded RetryOn = "deadline-exceeded"
)

// RetryPolicy decides which failed attempts are retried and where. A
// failure is retriable only before the response starts.
type RetryPolicy struct {
	// NumRetries is the number of retries after the first attempt.
	NumRetries int32 `json:"numRetries"`
	// NumAttemptsPerPriority is how many attempts one priority tier gets
	// before the next tier is tried; 1 moves down a tier on every retry.
	NumAttemptsPerPriority int32 `json:"numAttemptsPerPriority"`
	// On lists the retriable conditions.
	On []RetryOn `json:"on"`
	// StatusCodes are the codes for [RetryOnRetriableStatus].
	StatusCodes []int32 `json:"statusCodes,omitempty"`
	// BackOffBase and BackOffMax shape the exponential back-off with jitter
	// between attempts; zero BackOffBase retries at once.
	BackOffBase Duration `json:"backOffBase,omitempty"`
	BackOffMax  Duration `json:"backOffMax,omitempty"`
}

// HeaderMutation edits request headers. Names are lower-case.
type HeaderMutation struct {
	Set    []HeaderValue `json:"set,omitempty"`
	Remove []string      `json:"remove,omitempty"`
}

// HeaderValue is a header name and value.
type HeaderValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// BodyMutation edits top-level fields of the JSON request body.
type BodyMutation struct {
	// Set values are JSON texts, inserted raw.
	Set    []BodyValue `json:"set,omitempty"`
	Remove []string    `json:"remove,omitempty"`
}

// BodyValue is a top-level field and its JSON value.
type BodyValue struct {
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// SchemaName names an upstream API schema.
type SchemaName string

// Schemas, as in AIServiceBackend.spec.schema.name.
const (
	SchemaOpenAI       SchemaName = "OpenAI"
	SchemaAzureOpenAI  SchemaName = "AzureOpenAI"
	SchemaAWSBedrock   SchemaName = "AWSBedrock"
	SchemaAWSAnthropic SchemaName = "AWSAnthropic"
	SchemaGCPVertexAI  SchemaName = "GCPVertexAI"
	SchemaGCPAnthropic SchemaName = "GCPAnthropic"
	SchemaAnthropic    SchemaName = "Anthropic"
	SchemaCohere       SchemaName = "Cohere"
)

// Schema is an upstream's API schema.
type Schema struct {
	Name SchemaName `json:"name"`
	// Version is schema specific (Azure api-version, anthropic_version, …).
	Version string `json:"version,omitempty"`
	// Prefix is the path prefix for OpenAI and Anthropic, without slashes
	// at either end; the compiler fills the default "v1".
	Prefix string `json:"prefix,omitempty"`
}

// Backend is one AIServiceBackend with its resolved address and auth, or
// the target of a route's direct reference to an InferencePool or Service.
type Backend struct {
	// Name is "namespace/name" of the AIServiceBackend. Backends compiled
	// from a route's direct reference have three or four segments, so the
	// names never collide: "namespace/name/infpool" (an
	// inference.networking.k8s.io InferencePool), "namespace/name/xinfpool"
	// (an inference.networking.x-k8s.io one) and "namespace/name/svc/<port>"
	// (a Service port, from an HTTPRoute).
	Name string `json:"name"`
	// Schema is the upstream API schema.
	Schema Schema `json:"schema"`
	// Endpoints are the upstream addresses; the data plane balances over
	// them.
	Endpoints []Endpoint `json:"endpoints"`
	// TLS, when set, makes the upstream connection use TLS.
	TLS *UpstreamTLS `json:"tls,omitempty"`
	// HTTP2 speaks HTTP/2 (h2c without TLS) to the upstream.
	HTTP2 bool `json:"http2,omitempty"`
	// Auth injects credentials into every attempt; nil means none.
	Auth *Auth `json:"auth,omitempty"`
	// Pool, when set, makes this backend a pool of self-hosted model
	// servers (a GAIE InferencePool): each attempt goes to one of the pool's
	// endpoints, picked by the pool's endpoint picker or by the gateway.
	// Endpoints and TLS are then unused; HTTP2 follows the pool's
	// appProtocol.
	Pool *Pool `json:"pool,omitempty"`
	// Quota, when set, is the backend's token quota (an Envoy AI Gateway
	// QuotaPolicy targeting it).
	Quota *BackendQuota `json:"quota,omitempty"`
}

// BackendQuota is a QuotaPolicy: what a backend may serve per window,
// in all and per model. An exhausted backend is skipped for the next one
// of the route (a fallback), unlike a client's exhausted budget.
type BackendQuota struct {
	// Policy is "namespace/name" of the QuotaPolicy.
	Policy string `json:"policy"`
	// Service caps every request to the backend; nil means no cap.
	Service *QuotaBucket `json:"service,omitempty"`
	// Models are per-model quotas, by the model sent to the backend.
	Models []ModelQuota `json:"models,omitempty"`
}

// ModelQuota is the quota of one model (Shared mode): a request passes
// while one of the buckets that select it (the default bucket, its bucket
// rules) has quota left, and is charged to all of them.
type ModelQuota struct {
	Model string `json:"model"`
	// CostExpression is the CEL cost charged (the llmRequestCosts
	// variables); empty means total_tokens.
	CostExpression string        `json:"costExpression,omitempty"`
	Default        *QuotaBucket  `json:"default,omitempty"`
	Rules          []QuotaBucket `json:"rules,omitempty"`
}

// QuotaBucket is a limit per window for the requests its selectors pick
// (all of them when none); Distinct header selectors key a bucket per
// value.
type QuotaBucket struct {
	Limit     uint64              `json:"limit"`
	Window    Duration            `json:"window"`
	Selectors []RateLimitSelector `json:"selectors,omitempty"`
	// Shadow buckets count and report but never refuse.
	Shadow bool `json:"shadow,omitempty"`
	// CostExpression, on a service quota, is its CEL cost (empty:
	// total_tokens).
	CostExpression string `json:"costExpression,omitempty"`
}

// AppProtocol is the protocol a pool's model servers speak.
type AppProtocol string

// Pool app protocols, as InferencePool.spec.appProtocol.
const (
	AppProtocolHTTP AppProtocol = "http"
	AppProtocolH2C  AppProtocol = "kubernetes.io/h2c"
)

// Pool is an InferencePool: model-server endpoints and how to pick one.
type Pool struct {
	// Name is "namespace/name" of the InferencePool.
	Name string `json:"name"`
	// TargetPorts are the ports of every endpoint (data-parallel ranks).
	TargetPorts []int32 `json:"targetPorts"`
	// AppProtocol is http (HTTP/1.1) or kubernetes.io/h2c.
	AppProtocol AppProtocol `json:"appProtocol,omitempty"`
	// Endpoints are the pool's ready endpoints, every pod IP × target port,
	// as resolved by the control plane when the configuration was built.
	// The data plane may be fed fresher ones through its endpoint source.
	Endpoints []PoolEndpoint `json:"endpoints,omitempty"`
	// EndpointPicker is the pool's EPP; nil means the gateway picks.
	EndpointPicker *EndpointPicker `json:"endpointPicker,omitempty"`
	// Scheduler is the gateway's own picking for the pool, compiled from a
	// GAIE EndpointPickerConfig; nil means GAIE's default profile.
	Scheduler *Scheduler `json:"scheduler,omitempty"`
	// Objectives maps the pool's InferenceObjective names to their
	// priorities, for the gateway's own picking (a pool's picker reads its
	// objectives itself): a request naming a negative-priority objective in
	// x-gateway-inference-objective is sheddable.
	Objectives map[string]int `json:"objectives,omitempty"`
	// ModelRewrites are the pool's InferenceModelRewrite rules in
	// precedence order (oldest resource first, each one's rules in order),
	// applied by the gateway's own picking.
	ModelRewrites []ModelRewrite `json:"modelRewrites,omitempty"`
}

// ModelRewrite is one InferenceModelRewrite rule: requests for one of
// Models (any model when empty) are sent to one of Targets.
type ModelRewrite struct {
	// Models are exact model names; empty matches any model no exact rule
	// names.
	Models []string `json:"models,omitempty"`
	// Targets are the weighted models sent upstream: every weight
	// positive, or every weight 0 (equal shares).
	Targets []ModelRewriteTarget `json:"targets"`
	// Source names the rule, e.g. "InferenceModelRewrite ns/name rules[0]".
	Source string `json:"source,omitempty"`
}

// ModelRewriteTarget is one weighted target of a [ModelRewrite].
type ModelRewriteTarget struct {
	Model  string `json:"model"`
	Weight int    `json:"weight,omitempty"`
}

// PoolEndpoint is one model-server endpoint of a pool.
type PoolEndpoint struct {
	// Pod is "namespace/name" of the pod, for logs.
	Pod  string `json:"pod,omitempty"`
	IP   string `json:"ip"`
	Port int32  `json:"port"`
}

// FailureMode is what happens to a request when the endpoint picker fails.
type FailureMode string

// Failure modes, as InferencePool.spec.endpointPickerRef.failureMode.
const (
	FailClose FailureMode = "FailClose"
	FailOpen  FailureMode = "FailOpen"
)

// EndpointPicker is how the gateway reaches a pool's EPP (GAIE's ext_proc
// protocol over gRPC).
type EndpointPicker struct {
	// Name is "namespace/name" of the Service or Backend it resolves from.
	Name string `json:"name"`
	// Address is host:port of the ext_proc server.
	Address string `json:"address"`
	// FailureMode applies when the picker is unreachable, errs or times out.
	FailureMode FailureMode `json:"failureMode"`
	// TLS configures the connection; nil means plaintext (h2c).
	TLS *EndpointPickerTLS `json:"tls,omitempty"`
	// MessageTimeout bounds each wait for a picker answer; zero means the
	// data plane's default.
	MessageTimeout Duration `json:"messageTimeout,omitempty"`
	// HealthAddress, when set, is host:port of the gRPC health service,
	// checked with HealthService names.
	HealthAddress string   `json:"healthAddress,omitempty"`
	HealthService []string `json:"healthService,omitempty"`
	// ClientHeaders are the GAIE control headers a client may send to the
	// picker (x-gateway-inference-objective, x-gateway-inference-fairness-id,
	// x-gateway-model-name-rewrite): they let a client choose its priority,
	// its tenant and the model served, so the gateway drops client copies
	// of any not listed. Lower-case.
	ClientHeaders []string `json:"clientHeaders,omitempty"`
}

// EndpointPickerTLS configures TLS to an EPP. By default the certificate is
// not verified, as GAIE's own deployments do with the EPP's self-signed
// certificate; a CA makes it verified.
type EndpointPickerTLS struct {
	// CACertPEM, when set, verifies the picker's certificate.
	CACertPEM string `json:"caCertPEM,omitempty"`
	// ServerName is the SNI and verified name; empty means the host.
	ServerName string `json:"serverName,omitempty"`
}

// Endpoint is one upstream address.
type Endpoint struct {
	// Host is a DNS name or an IP literal.
	Host string `json:"host"`
	Port int32  `json:"port"`
	// HostHeader, when set, overrides the Host header sent upstream.
	HostHeader string `json:"hostHeader,omitempty"`
}

// UpstreamTLS configures TLS to an upstream. Certificates are verified
// unless InsecureSkipVerify is set; with no CACertPEM the system roots are
// used.
type UpstreamTLS struct {
	// ServerName is the SNI and the name verified; empty means the host.
	ServerName         string `json:"serverName,omitempty"`
	CACertPEM          string `json:"caCertPEM,omitempty"`
	InsecureSkipVerify bool   `json:"insecureSkipVerify,omitempty"`
	// MinVersion and MaxVersion are "1.0" … "1.3"; empty means the default.
	MinVersion string `json:"minVersion,omitempty"`
	MaxVersion string `json:"maxVersion,omitempty"`
	// ClientCertificate, when set, is presented for mTLS.
	ClientCertificate *CertificatePair `json:"clientCertificate,omitempty"`
}

// AuthType names a kind of upstream credential.
type AuthType string

// Auth types, as in BackendSecurityPolicy.spec.type.
const (
	AuthAPIKey           AuthType = "APIKey"
	AuthAzureAPIKey      AuthType = "AzureAPIKey"
	AuthAnthropicAPIKey  AuthType = "AnthropicAPIKey"
	AuthAWSCredentials   AuthType = "AWSCredentials"
	AuthAzureCredentials AuthType = "AzureCredentials"
	AuthGCPCredentials   AuthType = "GCPCredentials"
)

// Auth is the resolved credential of a Backend. Exactly the field of Type
// is set.
type Auth struct {
	// Policy is "namespace/name" of the BackendSecurityPolicy.
	Policy string   `json:"policy"`
	Type   AuthType `json:"type"`
	// APIKey carries the key for APIKey, AzureAPIKey and AnthropicAPIKey.
	APIKey *APIKeyAuth `json:"apiKey,omitempty"`
	// Azure carries the Entra ID application for AzureCredentials.
	Azure *AzureCredentials `json:"azure,omitempty"`
	// AWS carries the signing region and credentials for AWSCredentials.
	AWS *AWSCredentials `json:"aws,omitempty"`
	// GCP carries the project, region and credentials for GCPCredentials.
	GCP *GCPCredentials `json:"gcp,omitempty"`
	// Override, when set, takes the credential from each request instead.
	Override *CredentialOverride `json:"override,omitempty"`
}

// DefaultOverrideHeader is the header a credentialOverride reads by
// default for each policy type; for AWSCredentials it is a prefix.
var DefaultOverrideHeader = map[AuthType]string{
	AuthAPIKey:           "x-aigw-api-key",
	AuthAnthropicAPIKey:  "x-aigw-anthropic-api-key",
	AuthAzureAPIKey:      "x-aigw-azure-api-key",
	AuthAzureCredentials: "x-aigw-azure-access-token",
	AuthGCPCredentials:   "x-aigw-gcp-access-token",
	AuthAWSCredentials:   "x-aigw-aws-",
}

// DefaultOverrideMetadataKey is the dynamic metadata key a
// credentialOverride reads by default.
func DefaultOverrideMetadataKey(t AuthType) string {
	if t == AuthAWSCredentials {
		return "x-aigw-aws-credentials"
	}
	return DefaultOverrideHeader[t]
}

// CredentialOverride takes a request's credential from a header or from
// dynamic metadata a trusted filter set (exactly one of Header and
// MetadataNamespace is set).
type CredentialOverride struct {
	// Header carries the credential; for AWSCredentials it is a prefix
	// (access-key-id, secret-access-key and session-token follow it).
	Header string `json:"header,omitempty"`
	// MetadataNamespace and MetadataKey locate it in dynamic metadata;
	// for AWSCredentials the value is {accessKeyId, secretAccessKey,
	// sessionToken}.
	MetadataNamespace string `json:"metadataNamespace,omitempty"`
	MetadataKey       string `json:"metadataKey,omitempty"`
	// FallbackToConfigured uses the policy's own credential when the
	// request carries none; false answers 401.
	FallbackToConfigured bool `json:"fallbackToConfigured"`
}

// GCPCredentials authorizes requests to Vertex AI with Google access tokens
// (scope https://www.googleapis.com/auth/cloud-platform) and places them
// under the project's and region's path.
type GCPCredentials struct {
	ProjectName string `json:"projectName"`
	Region      string `json:"region"`
	// CredentialsFile is a Google credentials JSON: a service account key,
	// or an external account (workload identity federation) or impersonated
	// service account configuration. Empty means Application Default
	// Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's, or the
	// metadata server's).
	CredentialsFile Secret `json:"credentialsFile,omitempty"`
	// WorkloadIdentity, when set, exchanges an OIDC provider's token at
	// Google's STS through a workload identity pool.
	WorkloadIdentity *GCPWorkloadIdentity `json:"workloadIdentity,omitempty"`
}

// GCPWorkloadIdentity is workload identity federation: an OIDC token
// exchanged through a pool's provider, and optionally a service account
// impersonated with the federated token.
type GCPWorkloadIdentity struct {
	// ProjectNumber, Pool and Provider name the pool's provider (the STS
	// audience).
	ProjectNumber string `json:"projectNumber"`
	Pool          string `json:"pool"`
	Provider      string `json:"provider"`
	// ServiceAccount, when set, is the email of the service account to
	// impersonate.
	ServiceAccount string     `json:"serviceAccount,omitempty"`
	OIDC           OIDCClient `json:"oidc"`
}

// AWSCredentials signs every request with AWS Signature Version 4 for the
// service "bedrock".
type AWSCredentials struct {
	// Region is the signing region.
	Region string `json:"region"`
	// CredentialsFile is the content of an AWS shared credentials file and
	// Profile the profile used from it ("default" when empty). Without a
	// file the AWS SDK's default chain finds the credentials: environment,
	// shared config, web identity, container and instance metadata.
	CredentialsFile Secret `json:"credentialsFile,omitempty"`
	Profile         string `json:"profile,omitempty"`
	// WebIdentity, when set, exchanges an OIDC provider's token for the
	// role's temporary credentials (STS AssumeRoleWithWebIdentity).
	WebIdentity *AWSWebIdentity `json:"webIdentity,omitempty"`
}

// AWSWebIdentity is an IAM role assumed with an OIDC token.
type AWSWebIdentity struct {
	RoleARN string     `json:"roleARN"`
	OIDC    OIDCClient `json:"oidc"`
}

// OIDCClient gets tokens from an OpenID Connect provider with the client
// credentials grant, to exchange for a cloud's credentials.
type OIDCClient struct {
	// Issuer is the provider; its token endpoint is TokenEndpoint, or the
	// one its discovery document names.
	Issuer        string   `json:"issuer"`
	TokenEndpoint string   `json:"tokenEndpoint,omitempty"`
	ClientID      string   `json:"clientID"`
	ClientSecret  Secret   `json:"clientSecret"`
	Scopes        []string `json:"scopes,omitempty"`
	// Audience, when set, is asked for (the audience parameter).
	Audience string `json:"audience,omitempty"`
}

// AzureCredentials is an Entra ID application whose access tokens (scope
// https://cognitiveservices.azure.com/.default) authorize requests to
// Azure OpenAI.
type AzureCredentials struct {
	TenantID string `json:"tenantID"`
	ClientID string `json:"clientID"`
	// ClientSecret authenticates the application; without it, Federated
	// does (exactly one is set).
	ClientSecret Secret `json:"clientSecret,omitempty"`
	// Federated, when set, is the OIDC provider whose tokens Entra ID
	// accepts as the application's client assertion (workload identity
	// federation).
	Federated *OIDCClient `json:"federated,omitempty"`
	// AuthorityHost is the Entra ID endpoint; empty means the public cloud
	// (or the AZURE_AUTHORITY_HOST environment variable).
	AuthorityHost string `json:"authorityHost,omitempty"`
}

// APIKeyAuth is a static API key.
type APIKeyAuth struct {
	Key Secret `json:"key"`
}

// CostType names what a RequestCost counts.
type CostType string

// Cost types, as in LLMRequestCost.type.
const (
	CostInputToken              CostType = "InputToken"
	CostCachedInputToken        CostType = "CachedInputToken"
	CostCacheCreationInputToken CostType = "CacheCreationInputToken"
	CostOutputToken             CostType = "OutputToken"
	CostTotalToken              CostType = "TotalToken"
	CostReasoningToken          CostType = "ReasoningToken"
	CostCEL                     CostType = "CEL"
)

// RequestCost computes one number per successful request.
type RequestCost struct {
	MetadataKey string   `json:"metadataKey"`
	Type        CostType `json:"type"`
	// CEL is the expression for CostCEL.
	CEL string `json:"cel,omitempty"`
}

// Duration is a time.Duration that encodes as a Go duration string.
type Duration time.Duration

// MarshalJSON implements [json.Marshaler].
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON implements [json.Unmarshaler].
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Secret is a credential. It prints as "[redacted]" through fmt and slog so
// that a Config can be logged; JSON keeps the value so a Config survives a
// round trip (never log a Config's JSON).
type Secret string

// String implements [fmt.Stringer].
func (Secret) String() string { return "[redacted]" }

// GoString implements [fmt.GoStringer].
func (Secret) GoString() string { return "[redacted]" }

// LogValue implements [slog.LogValuer].
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Reveal returns the credential itself, for the one place that sends it.
func (s Secret) Reveal() string { return string(s) }

// Scheduler is how the gateway picks for a pool itself: the effective
// settings of a GAIE EndpointPickerConfig, compiled (parsed and checked)
// once by the control plane, so that the data plane only builds its
// scheduler from them.
type Scheduler struct {
	// Scorers are the profile's scorers by plugin type, with their
	// weights (all positive).
	Scorers []WeightedScorer `json:"scorers"`
	// Picker is the picker's plugin type; Fallbacks how many endpoints it
	// returns after the primary.
	Picker    string `json:"picker"`
	Fallbacks int    `json:"fallbacks"`
	// QueueThreshold and KVCacheThreshold are the saturation thresholds of
	// an endpoint (waiting requests, KV-cache utilization in (0,1]), and
	// Staleness the age after which its scraped metrics are not used.
	QueueThreshold   int      `json:"queueThreshold"`
	KVCacheThreshold float64  `json:"kvCacheThreshold"`
	Staleness        Duration `json:"staleness"`
	// Prefix sizes the prefix-cache affinity index.
	Prefix SchedulerPrefix `json:"prefix"`
	// FlowControl, when set, holds requests while the pool is saturated
	// (GAIE's flowControl feature gate).
	FlowControl *FlowControl `json:"flowControl,omitempty"`
}

// WeightedScorer is a scorer plugin type and its weight.
type WeightedScorer struct {
	Type   string  `json:"type"`
	Weight float64 `json:"weight"`
}

// SchedulerPrefix sizes the prefix-cache affinity index: blocks of
// BlockSizeTokens tokens, at most MaxBlocks per request, IndexCapacity
// blocks remembered per endpoint.
type SchedulerPrefix struct {
	BlockSizeTokens int `json:"blockSizeTokens"`
	MaxBlocks       int `json:"maxBlocks"`
	IndexCapacity   int `json:"indexCapacity"`
}

// FlowControl holds requests while every endpoint of the pool is
// saturated, highest priority first.
type FlowControl struct {
	// MaxRequests and MaxBytes bound the requests held, all priorities
	// together (0: no bound).
	MaxRequests int   `json:"maxRequests,omitempty"`
	MaxBytes    int64 `json:"maxBytes,omitempty"`
	// DefaultTTL is how long a request may wait (0: until it ends).
	DefaultTTL Duration `json:"defaultTTL,omitempty"`
	// Bands configure priorities by value; DefaultBand every other.
	Bands       map[int]FlowBand `json:"bands,omitempty"`
	DefaultBand FlowBand         `json:"defaultBand"`
}

// FlowBand configures one priority of flow control.
type FlowBand struct {
	MaxRequests int    `json:"maxRequests,omitempty"`
	MaxBytes    int64  `json:"maxBytes,omitempty"`
	Fairness    string `json:"fairness,omitempty"`
}
