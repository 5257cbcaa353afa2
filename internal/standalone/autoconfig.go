package standalone

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"text/template"
)

// Environment variables read by Autoconfig, as the OpenAI and Anthropic SDKs
// and Envoy AI Gateway's `aigw run` read them.
const (
	envOpenAIAPIKey      = "OPENAI_API_KEY"
	envOpenAIBaseURL     = "OPENAI_BASE_URL"
	envOpenAIOrgID       = "OPENAI_ORG_ID"
	envOpenAIProjectID   = "OPENAI_PROJECT_ID"
	envAzureAPIKey       = "AZURE_OPENAI_API_KEY"
	envAzureEndpoint     = "AZURE_OPENAI_ENDPOINT"
	envOpenAIAPIVersion  = "OPENAI_API_VERSION"
	envAnthropicAPIKey   = "ANTHROPIC_API_KEY"
	envAnthropicBaseURL  = "ANTHROPIC_BASE_URL"
	envAWSRegion         = "AWS_REGION"
	envAWSDefaultRegion  = "AWS_DEFAULT_REGION"
	envBedrockEndpoint   = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
	envAWSEndpoint       = "AWS_ENDPOINT_URL"
	envGoogleProject     = "GOOGLE_CLOUD_PROJECT"
	envGoogleLocation    = "GOOGLE_CLOUD_LOCATION"
	envVertexBaseURL     = "GOOGLE_VERTEX_BASE_URL"
	defaultOpenAIURL     = "https://api.openai.com/v1"
	defaultAnthropicURL  = "https://api.anthropic.com/v1"
	autoconfigBufferSize = "50Mi"
	// autoconfigAddress is the address the generated Gateway binds: the
	// gateway injects the operator's key into whatever it forwards and asks
	// clients for none, so it serves this host only unless told otherwise
	// (`aigw run --listen-address`).
	autoconfigAddress = "127.0.0.1"
)

// Autoconfig generates the configuration `aigw run` uses when it is given no
// file, from the SDK environment variables read through env (os.Getenv in
// production):
//
//   - AZURE_OPENAI_API_KEY with AZURE_OPENAI_ENDPOINT and OPENAI_API_VERSION
//     (all three required together): schema AzureOpenAI. It wins over
//     OPENAI_API_KEY.
//   - OPENAI_API_KEY, with OPENAI_BASE_URL (default https://api.openai.com/v1),
//     OPENAI_ORG_ID and OPENAI_PROJECT_ID (sent as OpenAI-Organization and
//     OpenAI-Project): schema OpenAI. The base URL's path is the schema
//     prefix, so https://openrouter.ai/api/v1 calls /api/v1/chat/completions
//     (Envoy AI Gateway loses the "/api" there) and a URL without a path
//     calls /chat/completions, as the SDK does.
//   - ANTHROPIC_API_KEY, with ANTHROPIC_BASE_URL (default
//     https://api.anthropic.com/v1), only when neither of the above is set:
//     schema Anthropic. A base URL whose last path segment is "v1" is the
//     prefix itself (Envoy AI Gateway's convention); otherwise "/v1" is
//     appended, as the Anthropic SDK does (https://api.anthropic.com calls
//     /v1/messages).
//   - AWS credentials for the AWS SDK's default chain (AWS_ACCESS_KEY_ID,
//     AWS_PROFILE, AWS_WEB_IDENTITY_TOKEN_FILE, or a container's
//     credentials endpoint) with AWS_REGION (or AWS_DEFAULT_REGION), only
//     when none of the above is set: schema AWSBedrock (Converse) at
//     bedrock-runtime.<region>.amazonaws.com, or at
//     AWS_ENDPOINT_URL_BEDROCK_RUNTIME (else AWS_ENDPOINT_URL) as the AWS
//     SDKs read them; requests are signed with SigV4 by credentials the
//     default chain resolves when the gateway runs, so the configuration
//     holds none.
//   - GOOGLE_CLOUD_PROJECT with GOOGLE_CLOUD_LOCATION, as Google's Gen AI
//     SDKs read them for Vertex AI, only when none of the above is set:
//     schema GCPVertexAI (Gemini) at <location>-aiplatform.googleapis.com
//     (aiplatform.googleapis.com for "global"), or at
//     GOOGLE_VERTEX_BASE_URL; access tokens come from Application Default
//     Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's, or the
//     metadata server) when the gateway runs.
//
// The result is YAML of the same resources a user would write: Gateway
// aigw-run listening on 127.0.0.1 (spec.addresses) and port (1975 when
// zero), one AIGatewayRoute sending every model
// to the backend with a 120s request timeout and the llm_input_token,
// llm_output_token and llm_reasoning_token costs, an AIServiceBackend with
// its Backend (and TLS for https), a BackendSecurityPolicy, a
// ClientTrafficPolicy raising the request body limit to 50Mi, and a Secret.
// Unlike Envoy AI Gateway's, it writes no AIServiceBackend spec.timeouts.
//
// The API key never appears in the output: the Secret names the variable
// with the substitution.aigw.run/env/apiKey annotation, resolved when the
// output is loaded with [Loader.LoadBytes]. Errors never quote a variable's
// value.
func Autoconfig(env func(string) string, port int) ([]byte, error) {
	if port == 0 {
		port = defaultListenerPort
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("invalid listener port %d", port)
	}
	var (
		a   autoconfigData
		err error
	)
	switch {
	case env(envAzureAPIKey) != "":
		endpoint, version := env(envAzureEndpoint), env(envOpenAIAPIVersion)
		if endpoint == "" || version == "" {
			return nil, fmt.Errorf("%s needs %s and %s", envAzureAPIKey, envAzureEndpoint, envOpenAIAPIVersion)
		}
		a = autoconfigData{Name: "openai", Schema: "AzureOpenAI", Version: version, Auth: "AzureAPIKey", KeyEnv: envAzureAPIKey}
		a.endpoint, err = parseBaseURL(envAzureEndpoint, endpoint)
	case env(envOpenAIAPIKey) != "":
		base := env(envOpenAIBaseURL)
		if base == "" {
			base = defaultOpenAIURL
		}
		a = autoconfigData{Name: "openai", Schema: "OpenAI", Auth: "APIKey", KeyEnv: envOpenAIAPIKey}
		a.endpoint, err = parseBaseURL(envOpenAIBaseURL, base)
		a.Prefix = a.path
		for _, h := range []struct{ name, env string }{{"OpenAI-Organization", envOpenAIOrgID}, {"OpenAI-Project", envOpenAIProjectID}} {
			if v := env(h.env); v != "" {
				a.Headers = append(a.Headers, autoconfigHeader{Name: h.name, Value: v})
			}
		}
	case env(envAnthropicAPIKey) != "":
		base := env(envAnthropicBaseURL)
		if base == "" {
			base = defaultAnthropicURL
		}
		a = autoconfigData{Name: "anthropic", Schema: "Anthropic", Auth: "AnthropicAPIKey", KeyEnv: envAnthropicAPIKey}
		a.endpoint, err = parseBaseURL(envAnthropicBaseURL, base)
		a.Prefix = a.path
		if last := a.path[strings.LastIndex(a.path, "/")+1:]; last != "v1" {
			a.Prefix = strings.TrimPrefix(a.path+"/v1", "/")
		}
	case awsCredentialsSet(env):
		a, err = bedrockAutoconfig(env)
	case env(envGoogleProject) != "" && env(envGoogleLocation) != "":
		a, err = vertexAutoconfig(env)
	default:
		return nil, fmt.Errorf("set %s, %s (with %s and %s), %s, AWS credentials with %s, or %s with %s, or give a configuration file",
			envOpenAIAPIKey, envAzureAPIKey, envAzureEndpoint, envOpenAIAPIVersion, envAnthropicAPIKey, envAWSRegion, envGoogleProject, envGoogleLocation)
	}
	if err != nil {
		return nil, err
	}
	a.BufferLimit = autoconfigBufferSize
	a.ListenAddress, a.ListenPort = autoconfigAddress, port
	a.DefaultPrefix = a.Prefix == "v1"
	var out bytes.Buffer
	if err := autoconfigTemplate().Execute(&out, &a); err != nil {
		return nil, fmt.Errorf("rendering the generated configuration: %w", err)
	}
	return out.Bytes(), nil
}

// awsCredentialsSet reports whether the environment gives the AWS SDK's
// default chain credentials (the shared files alone do not count: they
// are on many machines that do not mean to use Bedrock).
func awsCredentialsSet(env func(string) string) bool {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		if env(k) != "" {
			return true
		}
	}
	return false
}

// bedrockAutoconfig is Amazon Bedrock's runtime in the environment's
// region, signed with the default chain's credentials.
func bedrockAutoconfig(env func(string) string) (autoconfigData, error) {
	region := env(envAWSRegion)
	if region == "" {
		region = env(envAWSDefaultRegion)
	}
	if region == "" {
		return autoconfigData{}, fmt.Errorf("AWS credentials need %s (or %s) to reach Bedrock", envAWSRegion, envAWSDefaultRegion)
	}
	if !preciseHostnameRe.MatchString("bedrock-runtime." + region + ".amazonaws.com") {
		return autoconfigData{}, fmt.Errorf("%s is not a valid region name", envAWSRegion)
	}
	a := autoconfigData{Name: "bedrock", Schema: "AWSBedrock", Auth: "AWSCredentials", KeyEnv: envAWSRegion, Region: region}
	var err error
	switch {
	case env(envBedrockEndpoint) != "":
		a.endpoint, err = parseBaseURL(envBedrockEndpoint, env(envBedrockEndpoint))
	case env(envAWSEndpoint) != "":
		a.endpoint, err = parseBaseURL(envAWSEndpoint, env(envAWSEndpoint))
	default:
		a.endpoint = endpoint{Host: "bedrock-runtime." + region + ".amazonaws.com", Port: 443, TLS: true}
	}
	return a, err
}

// vertexAutoconfig is Vertex AI's Gemini in the environment's project and
// location, with Application Default Credentials.
func vertexAutoconfig(env func(string) string) (autoconfigData, error) {
	project, location := env(envGoogleProject), env(envGoogleLocation)
	host := location + "-aiplatform.googleapis.com"
	if location == "global" {
		host = "aiplatform.googleapis.com"
	}
	if !preciseHostnameRe.MatchString(host) {
		return autoconfigData{}, fmt.Errorf("%s is not a valid location name", envGoogleLocation)
	}
	if !preciseHostnameRe.MatchString(project) {
		return autoconfigData{}, fmt.Errorf("%s is not a valid project ID", envGoogleProject)
	}
	a := autoconfigData{Name: "vertex", Schema: "GCPVertexAI", Auth: "GCPCredentials", KeyEnv: envGoogleProject, Project: project, Region: location}
	var err error
	if base := env(envVertexBaseURL); base != "" {
		a.endpoint, err = parseBaseURL(envVertexBaseURL, base)
	} else {
		a.endpoint = endpoint{Host: host, Port: 443, TLS: true}
	}
	return a, err
}

// autoconfigData feeds the template.
type autoconfigData struct {
	endpoint
	Name, Schema, Version, Prefix, Auth, KeyEnv, BufferLimit string
	// Region is AWSCredentials' signing region, or GCPCredentials'
	// location with Project.
	Region, Project string
	DefaultPrefix   bool
	Headers         []autoconfigHeader
	ListenAddress   string
	ListenPort      int
}

type autoconfigHeader struct{ Name, Value string }

// endpoint is a parsed base URL.
type endpoint struct {
	Host string
	IP   bool
	Port int
	TLS  bool
	path string // without slashes at either end
}

// parseBaseURL parses the base URL in variable name. Messages never quote
// the URL, which may carry credentials.
func parseBaseURL(name, raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return endpoint{}, fmt.Errorf("%s is not a valid URL: %w", name, err)
	}
	var e endpoint
	switch u.Scheme {
	case "https":
		e.Port, e.TLS = 443, true
	case "http":
		e.Port = 80
	default:
		return endpoint{}, fmt.Errorf("%s must be an http or https URL", name)
	}
	if u.User != nil {
		return endpoint{}, fmt.Errorf("%s must not hold a user name or password; the key comes from the API key variable", name)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return endpoint{}, fmt.Errorf("%s must not have a query or fragment", name)
	}
	e.Host = strings.ToLower(u.Hostname())
	if e.Host == "" {
		return endpoint{}, fmt.Errorf("%s has no host", name)
	}
	if _, err := netip.ParseAddr(e.Host); err == nil {
		e.IP = true
	} else if !preciseHostnameRe.MatchString(e.Host) {
		return endpoint{}, fmt.Errorf("%s has an invalid host name", name)
	}
	if p := u.Port(); p != "" {
		e.Port, err = strconv.Atoi(p)
		if err != nil || e.Port < 1 || e.Port > 65535 {
			return endpoint{}, fmt.Errorf("%s has an invalid port", name)
		}
	}
	e.path = strings.Trim(u.Path, "/")
	return e, nil
}

// yamlString quotes s for YAML (a JSON string is a YAML double-quoted
// scalar) and escapes "${" so that environment substitution leaves it alone.
func yamlString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return strings.ReplaceAll(string(b), "${", "$${")
}

func autoconfigTemplate() *template.Template {
	return template.Must(template.New("autoconfig").Funcs(template.FuncMap{"q": yamlString}).Parse(autoconfigYAML))
}

const autoconfigYAML = `# Generated by aigw from the environment ({{ .KeyEnv }}).
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: aigw-run
  namespace: default
spec:
  gatewayClassName: aigw-run
  # This host only: the gateway adds the API key to every request it
  # forwards and asks clients for no credentials.
  addresses:
    - type: IPAddress
      value: {{ .ListenAddress }}
  listeners:
    - name: http
      protocol: HTTP
      port: {{ .ListenPort }}
---
# Large AI requests: raise the request body limit.
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: client-buffer-limit
  namespace: default
spec:
  targetRefs:
    - group: gateway.networking.k8s.io
      kind: Gateway
      name: aigw-run
  connection:
    bufferLimit: {{ .BufferLimit }}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata:
  name: aigw-run
  namespace: default
spec:
  parentRefs:
    - name: aigw-run
      kind: Gateway
      group: gateway.networking.k8s.io
  rules:
    - matches:
        - headers:
            - type: RegularExpression
              name: x-ai-eg-model
              value: .*
      backendRefs:
        - name: {{ .Name }}
      timeouts:
        request: 120s
  llmRequestCosts:
    - metadataKey: llm_input_token
      type: InputToken
    - metadataKey: llm_output_token
      type: OutputToken
    - metadataKey: llm_reasoning_token
      type: ReasoningToken
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata:
  name: {{ .Name }}
  namespace: default
spec:
  schema:
    name: {{ .Schema }}
{{- if .Version }}
    version: {{ q .Version }}
{{- end }}
{{- if and (or (eq .Schema "OpenAI") (eq .Schema "Anthropic")) (not .DefaultPrefix) }}
    prefix: {{ q .Prefix }}
{{- end }}
  backendRef:
    name: {{ .Name }}
    kind: Backend
    group: gateway.envoyproxy.io
{{- if .Headers }}
  headerMutation:
    set:
{{- range .Headers }}
      - name: {{ .Name }}
        value: {{ q .Value }}
{{- end }}
{{- end }}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata:
  name: {{ .Name }}
  namespace: default
spec:
  endpoints:
{{- if .IP }}
    - ip:
        address: {{ q .Host }}
        port: {{ .Port }}
{{- else }}
    - fqdn:
        hostname: {{ q .Host }}
        port: {{ .Port }}
{{- end }}
{{- if and .TLS .IP }}
  tls:
    wellKnownCACertificates: System
{{- end }}
---
{{- if and .TLS (not .IP) }}
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata:
  name: {{ .Name }}-tls
  namespace: default
spec:
  targetRefs:
    - group: gateway.envoyproxy.io
      kind: Backend
      name: {{ .Name }}
  validation:
    wellKnownCACertificates: System
    hostname: {{ q .Host }}
---
{{- end }}
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata:
  name: {{ .Name }}-{{ if eq .Auth "AWSCredentials" }}aws{{ else if eq .Auth "GCPCredentials" }}gcp{{ else }}apikey{{ end }}
  namespace: default
spec:
  targetRefs:
    - group: aigateway.envoyproxy.io
      kind: AIServiceBackend
      name: {{ .Name }}
  type: {{ .Auth }}
{{- if eq .Auth "AWSCredentials" }}
  # The AWS SDK's default chain finds the credentials when the gateway runs.
  awsCredentials:
    region: {{ q .Region }}
{{- else if eq .Auth "GCPCredentials" }}
  # Application Default Credentials give the tokens when the gateway runs.
  gcpCredentials:
    projectName: {{ q .Project }}
    region: {{ q .Region }}
{{- else }}
{{- if eq .Auth "APIKey" }}
  apiKey:
{{- else if eq .Auth "AzureAPIKey" }}
  azureAPIKey:
{{- else }}
  anthropicAPIKey:
{{- end }}
    secretRef:
      name: {{ .Name }}-apikey
---
# The key is read from {{ .KeyEnv }} when the configuration is loaded.
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Name }}-apikey
  namespace: default
  annotations:
    substitution.aigw.run/env/apiKey: {{ .KeyEnv }}
type: Opaque
{{- end }}
`
