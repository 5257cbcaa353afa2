package providertest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aigw-dev/aigw/internal/backendauth/sigv4test"
)

// BedrockRequest is what the fake Bedrock read of a request.
type BedrockRequest struct {
	// Model is the path's model ID, unescaped; Operation the path's last
	// segment (converse, converse-stream, invoke, …).
	Model, Operation string
	Body             map[string]any
}

// Bedrock is a fake Amazon Bedrock runtime. It verifies every request's
// SigV4 signature with Credentials, as AWS does (403
// InvalidSignatureException otherwise), and answers in Bedrock's wire
// format, as its API reference describes it:
//   - Converse and ConverseStream: "ok" (streamed as two text deltas), or
//     a call of the first tool when tools are given, with usage 3 in, 2 out;
//   - InvokeModel and InvokeModelWithResponseStream for Claude (a body with
//     anthropic_version): Anthropic's Message, or its events in "chunk"
//     messages;
//   - InvokeModel for Titan embeddings (a body with inputText);
//   - CountTokens.
//
// A model whose ID starts with "fail" gets 503 ServiceUnavailableException.
type Bedrock struct {
	Credentials aws.Credentials
	Region      string

	mu   sync.Mutex
	seen []BedrockRequest
}

// ServeHTTP implements [http.Handler].
func (b *Bedrock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	if err := sigv4test.Verify(r, raw, b.Credentials, "bedrock", b.Region); err != nil {
		bedrockError(w, http.StatusForbidden, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. "+err.Error())
		return
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/model/")
	escaped, op, ok2 := strings.Cut(rest, "/")
	model, err := url.PathUnescape(escaped)
	if !ok || !ok2 || err != nil || r.Method != http.MethodPost {
		bedrockError(w, http.StatusNotFound, "UnknownOperationException", "unknown operation "+r.URL.Path)
		return
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		bedrockError(w, http.StatusBadRequest, "ValidationException", "Malformed input request: "+err.Error())
		return
	}
	b.mu.Lock()
	b.seen = append(b.seen, BedrockRequest{Model: model, Operation: op, Body: body})
	b.mu.Unlock()
	if strings.HasPrefix(model, "fail") {
		bedrockError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", "Bedrock is unable to process your request.")
		return
	}
	tool := firstTool(body)
	switch {
	case op == "converse":
		b.converse(w, tool)
	case op == "converse-stream":
		b.converseStream(w, tool)
	case op == "count-tokens":
		writeJSON(w, `{"inputTokens":3}`)
	case body["inputText"] != nil && op == "invoke":
		writeJSON(w, `{"embedding":[0.25,-0.5,1],"inputTextTokenCount":2}`)
	case body["anthropic_version"] != nil && (op == "invoke" || op == "invoke-with-response-stream"):
		if body["model"] != nil || body["stream"] != nil {
			bedrockError(w, http.StatusBadRequest, "ValidationException", "model and stream are not permitted")
			return
		}
		if op == "invoke" {
			writeJSON(w, `{"id":"msg_bdrk_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":2}}`)
			return
		}
		b.claudeStream(w)
	default:
		bedrockError(w, http.StatusBadRequest, "ValidationException", "the model does not support "+op)
	}
}

func firstTool(body map[string]any) string {
	tc, _ := body["toolConfig"].(map[string]any)
	tools, _ := tc["tools"].([]any)
	if len(tools) == 0 {
		return ""
	}
	spec, _ := tools[0].(map[string]any)["toolSpec"].(map[string]any)
	name, _ := spec["name"].(string)
	return name
}

func (b *Bedrock) converse(w http.ResponseWriter, tool string) {
	content, stop := `[{"text":"ok"}]`, "end_turn"
	if tool != "" {
		content, stop = fmt.Sprintf(`[{"toolUse":{"toolUseId":"tooluse_1","name":%q,"input":{"city":"Paris"}}}]`, tool), "tool_use"
	}
	writeJSON(w, fmt.Sprintf(`{"output":{"message":{"role":"assistant","content":%s}},"stopReason":%q,"usage":{"inputTokens":3,"outputTokens":2,"totalTokens":5},"metrics":{"latencyMs":10}}`, content, stop))
}

func (b *Bedrock) converseStream(w http.ResponseWriter, tool string) {
	events := []AWSEvent{{Event: "messageStart", Payload: json.RawMessage(`{"role":"assistant"}`)}}
	stop := "end_turn"
	if tool != "" {
		stop = "tool_use"
		events = append(events,
			AWSEvent{Event: "contentBlockStart", Payload: json.RawMessage(fmt.Sprintf(`{"start":{"toolUse":{"toolUseId":"tooluse_1","name":%q}},"contentBlockIndex":0}`, tool))},
			AWSEvent{Event: "contentBlockDelta", Payload: json.RawMessage(`{"delta":{"toolUse":{"input":"{\"city\":"}},"contentBlockIndex":0}`)},
			AWSEvent{Event: "contentBlockDelta", Payload: json.RawMessage(`{"delta":{"toolUse":{"input":"\"Paris\"}"}},"contentBlockIndex":0}`)})
	} else {
		events = append(events,
			AWSEvent{Event: "contentBlockDelta", Payload: json.RawMessage(`{"delta":{"text":"o"},"contentBlockIndex":0}`)},
			AWSEvent{Event: "contentBlockDelta", Payload: json.RawMessage(`{"delta":{"text":"k"},"contentBlockIndex":0}`)})
	}
	events = append(events,
		AWSEvent{Event: "contentBlockStop", Payload: json.RawMessage(`{"contentBlockIndex":0}`)},
		AWSEvent{Event: "messageStop", Payload: json.RawMessage(fmt.Sprintf(`{"stopReason":%q}`, stop))},
		AWSEvent{Event: "metadata", Payload: json.RawMessage(`{"usage":{"inputTokens":3,"outputTokens":2,"totalTokens":5},"metrics":{"latencyMs":10}}`)})
	writeEvents(w, events)
}

func (b *Bedrock) claudeStream(w http.ResponseWriter) {
	var events []AWSEvent
	for _, data := range []string{
		`{"type":"message_start","message":{"id":"msg_bdrk_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"o"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"k"}}`,
		`{"type":"content_block_stop","index":0}`,
		`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}`,
		`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":3,"outputTokenCount":2,"invocationLatency":10,"firstByteLatency":5}}`,
	} {
		payload, _ := json.Marshal(map[string]string{"bytes": base64.StdEncoding.EncodeToString([]byte(data))})
		events = append(events, AWSEvent{Event: "chunk", Payload: payload})
	}
	writeEvents(w, events)
}

// writeEvents writes an event stream, flushing after each message.
func writeEvents(w http.ResponseWriter, events []AWSEvent) {
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.Header().Set("X-Amzn-Requestid", "b2c3d4")
	for _, e := range events {
		frame, err := EncodeAWSEvents([]AWSEvent{e})
		if err != nil {
			panic(err)
		}
		_, _ = w.Write(frame)
		w.(http.Flusher).Flush()
	}
}

func writeJSON(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", "b2c3d4")
	_, _ = io.WriteString(w, body)
}

// bedrockError answers as AWS services do: the exception's name in
// x-amzn-ErrorType, its message in the body.
func bedrockError(w http.ResponseWriter, status int, name, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", name+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	w.WriteHeader(status)
	m, _ := json.Marshal(map[string]string{"message": msg})
	_, _ = w.Write(m)
}

// Last returns the last request served (the zero value when none).
func (b *Bedrock) Last() BedrockRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.seen) == 0 {
		return BedrockRequest{}
	}
	return b.seen[len(b.seen)-1]
}

// Requests returns how many requests were served.
func (b *Bedrock) Requests() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.seen)
}
