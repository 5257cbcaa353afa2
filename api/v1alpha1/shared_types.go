package v1alpha1

import (
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// AIModelHeaderKey is the request header the gateway fills with the model
// named in the request body before routing; rule matches usually match on it.
const AIModelHeaderKey = "x-ai-eg-model"

// AIGatewayFilterMetadataNamespace is the namespace of the per-request values
// the gateway records (costs, backend and route names), as used in access-log
// formats.
const AIGatewayFilterMetadataNamespace = "io.envoy.ai_gateway"

// VersionedAPISchema names the API schema an AIServiceBackend speaks, with a
// schema-specific version and path prefix.
type VersionedAPISchema struct {
	// Name is the API schema of the upstream.
	//
	// +kubebuilder:validation:Enum=OpenAI;Cohere;AWSBedrock;AzureOpenAI;GCPVertexAI;GCPAnthropic;Anthropic;AWSAnthropic
	Name APISchema `json:"name"`

	// Version is schema specific: the api-version query value for
	// AzureOpenAI, the anthropic_version body value for GCPAnthropic and
	// AWSAnthropic (default bedrock-2023-05-31 for the latter), the path
	// version for Cohere. It is ignored for OpenAI, AWSBedrock, GCPVertexAI
	// and Anthropic.
	//
	// +optional
	Version *string `json:"version,omitempty"`

	// Prefix is the path prefix for the OpenAI and Anthropic schemas, with or
	// without a leading slash: chat completions go to
	// "/<prefix>/chat/completions" and Anthropic messages to
	// "/<prefix>/messages". Unset means "v1". It is ignored for other schemas.
	//
	// +optional
	Prefix *string `json:"prefix,omitempty"`
}

// APISchema names an upstream API schema.
type APISchema string

// The API schemas an AIServiceBackend may speak.
const (
	// APISchemaOpenAI is the OpenAI API.
	APISchemaOpenAI APISchema = "OpenAI"
	// APISchemaCohere is the Cohere v2 API.
	APISchemaCohere APISchema = "Cohere"
	// APISchemaAWSBedrock is the AWS Bedrock runtime (Converse) API.
	APISchemaAWSBedrock APISchema = "AWSBedrock"
	// APISchemaAzureOpenAI is the Azure OpenAI API.
	APISchemaAzureOpenAI APISchema = "AzureOpenAI"
	// APISchemaGCPVertexAI is Gemini on GCP Vertex AI. It needs a
	// GCPCredentials BackendSecurityPolicy for the project and region.
	APISchemaGCPVertexAI APISchema = "GCPVertexAI"
	// APISchemaGCPAnthropic is Anthropic models on GCP Vertex AI.
	APISchemaGCPAnthropic APISchema = "GCPAnthropic"
	// APISchemaAnthropic is the native Anthropic Messages API.
	APISchemaAnthropic APISchema = "Anthropic"
	// APISchemaAWSAnthropic is Anthropic models on AWS Bedrock (InvokeModel).
	APISchemaAWSAnthropic APISchema = "AWSAnthropic"
)

// LLMRequestCost computes one number per successful request and records it
// under MetadataKey.
type LLMRequestCost struct {
	// MetadataKey is the key the cost is recorded under.
	//
	// +kubebuilder:validation:Required
	MetadataKey string `json:"metadataKey"`

	// Type is what the cost counts. The CRD marks it required even though
	// Envoy AI Gateway's documentation mentions a default of OutputToken.
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Enum=OutputToken;InputToken;CachedInputToken;CacheCreationInputToken;TotalToken;ReasoningToken;CEL
	Type LLMRequestCostType `json:"type"`

	// CEL is the expression computing the cost when Type is CEL. It must
	// evaluate to a non-negative int or a uint. Variables: model, backend,
	// route_name (strings) and input_tokens, cached_input_tokens,
	// cache_creation_input_tokens, output_tokens, total_tokens,
	// reasoning_tokens (uints).
	//
	// +optional
	CEL *string `json:"cel,omitempty"`
}

// LLMRequestCostType names what an LLMRequestCost counts.
type LLMRequestCostType string

// The cost types.
const (
	// LLMRequestCostTypeInputToken counts input (prompt) tokens.
	LLMRequestCostTypeInputToken LLMRequestCostType = "InputToken"
	// LLMRequestCostTypeCachedInputToken counts cached (read) input tokens.
	LLMRequestCostTypeCachedInputToken LLMRequestCostType = "CachedInputToken"
	// LLMRequestCostTypeCacheCreationInputToken counts cache-write input
	// tokens.
	LLMRequestCostTypeCacheCreationInputToken LLMRequestCostType = "CacheCreationInputToken"
	// LLMRequestCostTypeOutputToken counts output (completion) tokens.
	LLMRequestCostTypeOutputToken LLMRequestCostType = "OutputToken"
	// LLMRequestCostTypeTotalToken counts all tokens.
	LLMRequestCostTypeTotalToken LLMRequestCostType = "TotalToken"
	// LLMRequestCostTypeReasoningToken counts reasoning tokens.
	LLMRequestCostTypeReasoningToken LLMRequestCostType = "ReasoningToken"
	// LLMRequestCostTypeCEL evaluates the CEL expression.
	LLMRequestCostTypeCEL LLMRequestCostType = "CEL"
)

// HTTPHeaderMutation edits the request headers sent to a backend. Pseudo
// headers, x-ai-eg-* headers and x-envoy-original-path are never mutated.
type HTTPHeaderMutation struct {
	// Set adds or overwrites headers. Names are case-insensitive.
	//
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Set []gwapiv1.HTTPHeader `json:"set,omitempty"`

	// Remove deletes headers by (case-insensitive) name. Removal happens
	// before Set.
	//
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	Remove []string `json:"remove,omitempty"`
}

// HTTPBodyMutation edits top-level fields of the JSON request body sent to a
// backend, after translation.
type HTTPBodyMutation struct {
	// Set adds or overwrites top-level fields.
	//
	// +optional
	// +listType=map
	// +listMapKey=path
	// +kubebuilder:validation:MaxItems=16
	Set []HTTPBodyField `json:"set,omitempty"`

	// Remove deletes top-level fields. Removal happens before Set.
	//
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	Remove []string `json:"remove,omitempty"`
}

// HTTPBodyField is a top-level JSON field and the value to set it to.
type HTTPBodyField struct {
	// Path is the top-level field name, such as "service_tier".
	//
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Path string `json:"path"`

	// Value is a JSON text ("\"scale\"", "42", "true", "{\"k\":\"v\"}",
	// "[1,2]", "null") inserted as is; a value that is not valid JSON is
	// inserted as a JSON string.
	//
	// +kubebuilder:validation:Required
	Value string `json:"value"`
}
