package processor

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/translator"
)

// Attempt is one try of a request on one backend. It is not safe for
// concurrent use.
type Attempt struct {
	Backend *Backend
	// Ref is the route's reference to the backend.
	Ref *config.BackendRef
	// RequestModel is the model sent upstream (after modelNameOverride).
	RequestModel string
	// ClientModel, when set, is the model name the client asked for before a
	// pool's rewrite rule replaced it with RequestModel: responses carry it
	// in RequestModel's place, as GAIE's endpoint picker restores it.
	ClientModel string
	// Upstream is the request to send.
	Upstream *llm.UpstreamRequest
	// Translator translates this attempt's response.
	Translator translator.Translator
	// Endpoint is where the attempt goes.
	Endpoint Endpoint

	authenticated bool
}

// stripHeaders are client headers never sent upstream: the transport sets
// its own framing and compression, and per-request credential overrides
// (x-aigw-*) are for the gateway only.
var stripHeaders = []string{"Content-Length", "Accept-Encoding", "Host"}

// clientCredentialHeaders are the client's credential headers, none of
// which reaches a backend whose credentials the gateway injects (a
// BackendSecurityPolicy): they are meant for the gateway, and a backend
// that found its own header missing could otherwise fall back to one the
// client chose. Without an Authenticator they pass through.
var clientCredentialHeaders = []string{"Authorization", "Proxy-Authorization", "X-Api-Key", "Api-Key", "Cookie",
	"X-Amz-Security-Token", "X-Amz-Date", "X-Amz-Content-Sha256", "X-Goog-Api-Key"}

// reservedHeader reports whether name is owned by the gateway and so never
// mutated (Envoy AI Gateway API §17).
func reservedHeader(name string) bool {
	name = strings.ToLower(name)
	return strings.HasPrefix(name, ":") || strings.HasPrefix(name, "x-ai-eg-") || name == "x-envoy-original-path"
}

// AttemptOptions tune how attempts are built.
type AttemptOptions struct {
	// ForceUsage asks a stream for usage (when costs are configured).
	ForceUsage bool
	// MaxEventBytes bounds one event of a streamed response; zero means
	// [translator.DefaultMaxEventBytes].
	MaxEventBytes int
	// Parsed, when set, is the client body's top-level members from the
	// one scan of the request (see ParseRequest); edits of the body clone
	// it instead of parsing the body again.
	Parsed *jsonobj.Object
	// HeaderBlocks are the AWS event-stream header blocks decoded so
	// far, shared by the pipeline's streams; nil keeps them per stream.
	HeaderBlocks *translator.HeaderBlocks
}

// NewAttempt builds the attempt of req on backend b through ref, from the
// original client headers and body: translate, mutate headers (remove then
// set), mutate the body (remove then set). The transport authenticates it
// ([Attempt.Authenticate]) after a pool's edits, just before sending.
func NewAttempt(req *llm.Request, clientHeader http.Header, b *Backend, ref *config.BackendRef, opts AttemptOptions) (*Attempt, error) {
	model := req.Model
	if ref.ModelNameOverride != "" {
		model = ref.ModelNameOverride
	}
	tr, err := translator.New(req.Operation, b.Schema, translator.Options{ModelOverride: ref.ModelNameOverride, ForceUsage: opts.ForceUsage,
		MaxEventBytes: opts.MaxEventBytes, Parsed: opts.Parsed, AnthropicBeta: anthropicBetas(clientHeader), HeaderBlocks: opts.HeaderBlocks})
	if err != nil {
		return nil, err
	}
	up, err := tr.Request(req)
	if err != nil {
		return nil, err
	}
	h := clientHeader.Clone()
	for _, name := range stripHeaders {
		h.Del(name)
	}
	var overrides http.Header
	for name, v := range h {
		if strings.HasPrefix(strings.ToLower(name), "x-aigw-") {
			if overrides == nil {
				overrides = http.Header{}
			}
			overrides[name] = v
			delete(h, name)
		}
	}
	if b.Auth != nil {
		for _, name := range clientCredentialHeaders {
			h.Del(name)
		}
	}
	for _, sh := range up.SetHeaders {
		h.Set(sh.Name, sh.Value)
	}
	if h.Get("Content-Type") == "" && req.Operation != llm.OperationPassThrough {
		h.Set("Content-Type", "application/json")
	}
	if m := ref.HeaderMutation; m != nil {
		for _, name := range m.Remove {
			if !reservedHeader(name) {
				h.Del(name)
			}
		}
		for _, sv := range m.Set {
			if !reservedHeader(sv.Name) {
				h.Set(sv.Name, sv.Value)
			}
		}
	}
	body := up.Body
	if m := ref.BodyMutation; m != nil && (len(m.Set) > 0 || len(m.Remove) > 0) {
		obj, err := editable(up, req, opts.Parsed)
		if err != nil {
			return nil, fmt.Errorf("applying body mutation: %w", err)
		}
		for _, k := range m.Remove {
			obj.Remove(k)
		}
		for _, sv := range m.Set {
			obj.Set(sv.Path, sv.Value)
		}
		body = obj.Bytes()
	}
	method := req.Method
	if method == "" {
		method = http.MethodPost
	}
	out := &llm.UpstreamRequest{Method: method, Path: up.Path, Header: h, Body: body, Overrides: overrides}
	return &Attempt{Backend: b, Ref: ref, RequestModel: model, Upstream: out, Translator: tr}, nil
}

// editable returns the attempt's body as an object to edit, parsing it
// only when neither the translation nor the request's one scan has it.
func editable(up *translator.Upstream, req *llm.Request, parsed *jsonobj.Object) (*jsonobj.Object, error) {
	switch {
	case up.Object != nil:
		return up.Object, nil
	case parsed != nil && sameBytes(up.Body, req.Body):
		return parsed.Clone(), nil
	default:
		return jsonobj.Parse(up.Body)
	}
}

// sameBytes reports whether a and b are the same slice of memory.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// Authenticate applies the backend's credentials to the upstream request.
// It must run last, after every edit of the request — a pool's endpoint
// picker and its model rewrite included — so that a signature covers the
// bytes sent and no picker sees the backend's credentials. It runs once;
// later calls do nothing.
func (a *Attempt) Authenticate(ctx context.Context) error {
	if a.authenticated || a.Backend.Auth == nil {
		return nil
	}
	a.authenticated = true
	if a.Upstream.Host == "" {
		a.Upstream.Host = a.Endpoint.Host
	}
	if err := a.Backend.Auth.Authenticate(ctx, a.Upstream); err != nil {
		return fmt.Errorf("authenticating to backend %s: %w", a.Backend.Name, err)
	}
	return nil
}

// ProviderName is the gen_ai.provider.name of a schema.
func ProviderName(s config.SchemaName) string {
	switch s {
	case config.SchemaOpenAI:
		return "openai"
	case config.SchemaAzureOpenAI:
		return "azure.openai"
	case config.SchemaAWSBedrock:
		return "aws.bedrock"
	case config.SchemaAWSAnthropic:
		return "aws.anthropic"
	case config.SchemaGCPVertexAI:
		return "gcp.vertex_ai"
	case config.SchemaGCPAnthropic:
		return "gcp.anthropic"
	case config.SchemaAnthropic:
		return "anthropic"
	case config.SchemaCohere:
		return "cohere"
	default:
		return strings.ToLower(string(s))
	}
}

// anthropicBetas are the beta features an Anthropic client asked for in
// its anthropic-beta headers (comma-separated), nil for none.
func anthropicBetas(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Anthropic-Beta") {
		for b := range strings.SplitSeq(v, ",") {
			if b = strings.TrimSpace(b); b != "" && len(out) < 16 {
				out = append(out, b)
			}
		}
	}
	return out
}
