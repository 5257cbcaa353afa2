package dataplane

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// anthropicRequest is what the fake Anthropic server read of a request.
type anthropicRequest struct {
	path, apiKey, version, authorization string
	body                                 map[string]any
}

// fakeAnthropic answers Messages requests in Anthropic's wire format, as
// the Messages API reference describes it: "ok" (streamed as two text
// deltas), or a call of the first tool when tools are given. It checks the
// headers Anthropic requires.
type fakeAnthropic struct {
	mu   sync.Mutex
	seen []anthropicRequest
}

func (f *fakeAnthropic) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	f.mu.Lock()
	f.seen = append(f.seen, anthropicRequest{path: r.URL.Path, apiKey: r.Header.Get("X-Api-Key"), version: r.Header.Get("Anthropic-Version"),
		authorization: r.Header.Get("Authorization"), body: body})
	f.mu.Unlock()
	if r.Header.Get("Anthropic-Version") == "" || body["max_tokens"] == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"type":"error","error":{"type":"invalid_request_error","message":"anthropic-version and max_tokens are required"}}`)
		return
	}
	model, _ := body["model"].(string)
	tool := ""
	if tools, _ := body["tools"].([]any); len(tools) > 0 {
		tool, _ = tools[0].(map[string]any)["name"].(string)
	}
	if stream, _ := body["stream"].(bool); !stream {
		w.Header().Set("Content-Type", "application/json")
		content := `[{"type":"text","text":"ok"}]`
		stop := "end_turn"
		if tool != "" {
			content = fmt.Sprintf(`[{"type":"tool_use","id":"toolu_1","name":%q,"input":{"city":"Paris"}}]`, tool)
			stop = "tool_use"
		}
		fmt.Fprintf(w, `{"id":"msg_1","type":"message","role":"assistant","model":%q,"content":%s,"stop_reason":%q,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":2}}`, model, content, stop)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	event := func(typ, data string) {
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, data)
		w.(http.Flusher).Flush()
	}
	event("message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":%q,"content":[],"usage":{"input_tokens":3,"output_tokens":1}}}`, model))
	stop := "end_turn"
	if tool != "" {
		stop = "tool_use"
		event("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":%q,"input":{}}}`, tool))
		event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}`)
		event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}`)
	} else {
		event("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
		event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"o"}}`)
		event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"k"}}`)
	}
	event("content_block_stop", `{"type":"content_block_stop","index":0}`)
	event("message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":%q,"stop_sequence":null},"usage":{"output_tokens":2}}`, stop))
	event("message_stop", `{"type":"message_stop"}`)
}

func (f *fakeAnthropic) last() anthropicRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) == 0 {
		return anthropicRequest{}
	}
	return f.seen[len(f.seen)-1]
}
