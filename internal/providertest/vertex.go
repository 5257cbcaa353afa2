package providertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// VertexRequest is what the fake Vertex AI read of a request.
type VertexRequest struct {
	// Publisher is "google" or "anthropic"; Model and Method come from the
	// path's last segment (model:method).
	Publisher, Model, Method string
	Body                     map[string]any
}

// Vertex is a fake Vertex AI endpoint for one project and region. It
// checks what Vertex checks — a bearer token its token endpoint minted
// (401 UNAUTHENTICATED otherwise) and the project's and region's path —
// and answers in Vertex's wire format, as its REST reference describes:
//   - Gemini generateContent and streamGenerateContent?alt=sse: "ok"
//     (streamed in two events), or a call of the first function when tools
//     are given, with usage 3 in, 2 out;
//   - a text embedding model's predict;
//   - Claude's rawPredict and streamRawPredict (Anthropic's Message and
//     events), and count-tokens:rawPredict.
//
// A model whose name starts with "fail" gets 503 UNAVAILABLE.
type Vertex struct {
	Tokens          *GoogleTokens
	Project, Region string

	mu   sync.Mutex
	seen []VertexRequest
}

// ServeHTTP implements [http.Handler].
func (v *Vertex) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !v.Tokens.Valid(r.Header.Get("Authorization")) {
		googleError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
		return
	}
	prefix := fmt.Sprintf("/v1/projects/%s/locations/%s/publishers/", v.Project, v.Region)
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix)
	publisher, rest, ok2 := strings.Cut(rest, "/models/")
	escaped, method, ok3 := strings.Cut(rest, ":")
	model, err := url.PathUnescape(escaped)
	if !ok || !ok2 || !ok3 || err != nil || r.Method != http.MethodPost {
		googleError(w, http.StatusNotFound, "NOT_FOUND", "no such resource "+r.URL.Path)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	v.mu.Lock()
	v.seen = append(v.seen, VertexRequest{Publisher: publisher, Model: model, Method: method, Body: body})
	v.mu.Unlock()
	if strings.HasPrefix(model, "fail") {
		googleError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "The service is currently unavailable.")
		return
	}
	switch {
	case publisher == "google" && method == "generateContent":
		writeJSON(w, geminiAnswer(body, false))
	case publisher == "google" && method == "streamGenerateContent":
		if r.URL.Query().Get("alt") != "sse" {
			googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "this fake streams only with alt=sse")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range geminiStream(body) {
			fmt.Fprintf(w, "data: %s\n\n", ev)
			w.(http.Flusher).Flush()
		}
	case publisher == "google" && method == "predict":
		instances, _ := body["instances"].([]any)
		preds := make([]string, len(instances))
		for i := range instances {
			preds[i] = `{"embeddings":{"values":[0.25,-0.5,1],"statistics":{"token_count":2,"truncated":false}}}`
		}
		writeJSON(w, `{"predictions":[`+strings.Join(preds, ",")+`]}`)
	case publisher == "anthropic" && model == "count-tokens" && method == "rawPredict":
		writeJSON(w, `{"input_tokens":3}`)
	case publisher == "anthropic" && (method == "rawPredict" || method == "streamRawPredict"):
		if body["model"] != nil || body["anthropic_version"] != "vertex-2023-10-16" {
			googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "anthropic_version vertex-2023-10-16 is required and model is not permitted")
			return
		}
		if stream, _ := body["stream"].(bool); !stream {
			writeJSON(w, `{"id":"msg_vrtx_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":2}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{
			`{"type":"message_start","message":{"id":"msg_vrtx_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}`,
			`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"o"}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"k"}}`,
			`{"type":"content_block_stop","index":0}`,
			`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}`,
			`{"type":"message_stop"}`,
		} {
			var head struct {
				Type string `json:"type"`
			}
			_ = json.Unmarshal([]byte(ev), &head)
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", head.Type, ev)
			w.(http.Flusher).Flush()
		}
	default:
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "unsupported method "+method)
	}
}

// geminiFunction is the first declared function's name, if any.
func geminiFunction(body map[string]any) string {
	tools, _ := body["tools"].([]any)
	if len(tools) == 0 {
		return ""
	}
	decls, _ := tools[0].(map[string]any)["functionDeclarations"].([]any)
	if len(decls) == 0 {
		return ""
	}
	name, _ := decls[0].(map[string]any)["name"].(string)
	return name
}

const geminiUsage = `"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5},"modelVersion":"gemini-2.5-flash","responseId":"vrtx-1"`

func geminiAnswer(body map[string]any, _ bool) string {
	parts := `[{"text":"ok"}]`
	if f := geminiFunction(body); f != "" {
		parts = fmt.Sprintf(`[{"functionCall":{"name":%q,"args":{"city":"Paris"}}}]`, f)
	}
	return `{"candidates":[{"content":{"role":"model","parts":` + parts + `},"finishReason":"STOP","index":0}],` + geminiUsage + `}`
}

func geminiStream(body map[string]any) []string {
	if f := geminiFunction(body); f != "" {
		return []string{`{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"` + f + `","args":{"city":"Paris"}}}]},"finishReason":"STOP","index":0}],` + geminiUsage + `}`}
	}
	return []string{
		`{"candidates":[{"content":{"role":"model","parts":[{"text":"o"}]},"index":0}],"modelVersion":"gemini-2.5-flash","responseId":"vrtx-1"}`,
		`{"candidates":[{"content":{"role":"model","parts":[{"text":"k"}]},"finishReason":"STOP","index":0}],` + geminiUsage + `}`,
	}
}

// googleError answers as Google APIs do.
func googleError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": status, "message": msg, "status": code}})
	_, _ = w.Write(b)
}

// Last returns the last request served (the zero value when none).
func (v *Vertex) Last() VertexRequest {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.seen) == 0 {
		return VertexRequest{}
	}
	return v.seen[len(v.seen)-1]
}

// Requests returns how many requests were served.
func (v *Vertex) Requests() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.seen)
}
