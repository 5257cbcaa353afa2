package translator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/apischema/anthropic"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/sse"
)

// anthropicToAnthropic passes Anthropic Messages requests (the
// /anthropic/v1 front door) to an Anthropic backend: the path gets the
// schema prefix, the model may be overridden, and usage is read from the
// response, JSON or event stream, without changing a byte of it.
type anthropicToAnthropic struct {
	op     llm.Operation
	prefix string
	opts   Options
	// vertexVersion, when set, serves Anthropic's models on Vertex AI
	// (GCPAnthropic): the model moves to the path, the version into the
	// body.
	vertexVersion string

	stream   bool
	status   int
	body     bodyBuffer
	splitter sse.Splitter
	usage    llm.Usage
	model    string
	complete bool
}

func newAnthropicToAnthropic(op llm.Operation, schema config.Schema, opts Options) *anthropicToAnthropic {
	t := &anthropicToAnthropic{op: op, prefix: strings.Trim(schema.Prefix, "/"), opts: opts}
	if t.prefix == "" {
		t.prefix = "v1"
	}
	t.splitter = newSplitter(opts.MaxEventBytes)
	if schema.Name == config.SchemaGCPAnthropic {
		t.vertexVersion = vertexAnthropicVersion(schema)
	}
	return t
}

// Request implements [Translator.Request].
func (t *anthropicToAnthropic) Request(req *llm.Request) (*Upstream, error) {
	if t.vertexVersion != "" {
		return t.vertexRequest(req)
	}
	path := "/" + t.prefix + "/messages"
	if t.op == llm.OperationCountTokens {
		path += "/count_tokens"
	}
	up := &Upstream{Path: path, Body: req.Body}
	t.stream = req.Stream
	if t.opts.ModelOverride == "" || t.opts.ModelOverride == req.Model {
		return up, nil
	}
	obj := t.opts.Parsed
	if obj == nil {
		var err error
		if obj, err = jsonobj.Parse(req.Body); err != nil {
			return nil, fmt.Errorf("re-reading request body: %w", err)
		}
	}
	obj = obj.Clone()
	obj.Set("model", jsonString(t.opts.ModelOverride))
	up.Body, up.Object = obj.Bytes(), obj
	return up, nil
}

// ResponseHeaders implements [Translator.ResponseHeaders].
func (t *anthropicToAnthropic) ResponseHeaders(status int, h http.Header) error {
	t.status = status
	if t.stream && !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
		t.stream = false
	}
	if t.vertexVersion != "" && status >= 400 {
		// Vertex AI answers its own errors in Google's shape: they are
		// rewritten in Anthropic's.
		rewrittenHeaders(status, h, false)
	}
	return nil
}

// ResponseBody implements [Translator.ResponseBody]: the bytes pass as they
// came; usage is read on the way.
func (t *anthropicToAnthropic) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if t.stream {
		if err := t.splitter.Feed(chunk, t.event); err != nil {
			return chunk, err
		}
		return chunk, nil
	}
	if t.vertexVersion != "" && t.status >= 400 {
		body, done, err := t.body.whole(chunk, eos)
		if !done || err != nil {
			return nil, err
		}
		t.complete = true
		return vertexAnthropicError(t.status, body), nil
	}
	t.body.add(chunk)
	if !eos {
		return chunk, nil
	}
	t.complete = true
	if body := t.body.take(); len(body) > 0 && t.status < 300 && t.op == llm.OperationMessages {
		var resp anthropic.Response
		if json.Unmarshal(body, &resp) == nil {
			t.observe(&resp.Usage, resp.Model)
		}
	}
	return chunk, nil
}

var (
	messageStartType = []byte(`"message_start"`)
	messageDeltaType = []byte(`"message_delta"`)
	messageStopType  = []byte(`"message_stop"`)
)

// event reads the usage of message_start and message_delta events.
func (t *anthropicToAnthropic) event(ev []byte) {
	data := sse.Data(ev)
	switch {
	case bytes.Contains(data, messageStopType):
		t.typedEvent("message_stop", data)
	case bytes.Contains(data, messageStartType):
		t.typedEvent("message_start", data)
	case bytes.Contains(data, messageDeltaType):
		t.typedEvent("message_delta", data)
	}
}

// typedEvent reads the usage of an event whose type is known, from its
// data.
func (t *anthropicToAnthropic) typedEvent(typ string, data []byte) {
	switch typ {
	case "message_stop":
		t.complete = true
	case "message_start", "message_delta":
		var e anthropic.Event
		if readAnthropicEvent(data, &e) != nil {
			return
		}
		if e.Message != nil {
			t.observe(&e.Message.Usage, e.Message.Model)
		}
		t.observe(e.Usage, "")
	}
}

func (t *anthropicToAnthropic) observe(u *anthropic.Usage, model string) {
	if model != "" {
		t.model = model
	}
	addAnthropicUsage(&t.usage, u)
}

// addAnthropicUsage folds an Anthropic usage block into u: input counts
// cached and cache-creation input, output is the latest reported (streams
// report it cumulatively).
func addAnthropicUsage(u *llm.Usage, a *anthropic.Usage) {
	if a == nil {
		return
	}
	if a.InputTokens > 0 || a.CacheReadInputTokens > 0 || a.CacheCreationInputTokens > 0 {
		u.InputTokens = a.InputTokens + a.CacheReadInputTokens + a.CacheCreationInputTokens
		u.CachedInputTokens = a.CacheReadInputTokens
		u.CacheCreationInputTokens = a.CacheCreationInputTokens
	}
	if a.OutputTokens > 0 {
		u.OutputTokens = a.OutputTokens
	}
	u.TotalTokens = u.InputTokens + u.OutputTokens
}

// Usage implements [Translator.Usage].
func (t *anthropicToAnthropic) Usage() llm.Usage { return t.usage }

// ResponseModel implements [Translator.ResponseModel].
func (t *anthropicToAnthropic) ResponseModel() string { return t.model }

// Complete implements [Translator.Complete].
func (t *anthropicToAnthropic) Complete() bool { return t.complete }

// vertexRequest is the rawPredict request of a Messages (or count_tokens)
// request on Vertex AI.
func (t *anthropicToAnthropic) vertexRequest(req *llm.Request) (*Upstream, error) {
	obj := t.opts.Parsed
	if obj == nil {
		var err error
		if obj, err = jsonobj.Parse(req.Body); err != nil {
			return nil, invalid("", "request body is not a JSON object")
		}
	}
	obj = obj.Clone()
	model := req.Model
	if t.opts.ModelOverride != "" {
		model = t.opts.ModelOverride
	}
	t.stream, t.model = req.Stream, model
	up := &Upstream{SetHeaders: []config.HeaderValue{{Name: "Content-Type", Value: "application/json"}}}
	if t.op == llm.OperationCountTokens {
		// Vertex counts at one path for every model, named in the body.
		obj.Set("model", jsonString(model))
		up.Path = vertexAnthropicModels + "count-tokens:rawPredict"
	} else {
		obj.Remove("model")
		if _, ok := obj.Get("anthropic_version"); !ok {
			obj.Set("anthropic_version", jsonString(t.vertexVersion))
		}
		up.Path = vertexAnthropicPath(model, req.Stream)
	}
	up.Body, up.Object = obj.Bytes(), obj
	return up, nil
}

// vertexAnthropicModels is where Vertex AI serves Anthropic's models,
// under the project's and region's prefix the GCPCredentials
// authenticator adds.
const vertexAnthropicModels = "/publishers/anthropic/models/"

// vertexAnthropicPath is the rawPredict path of a Claude model on Vertex.
func vertexAnthropicPath(model string, stream bool) string {
	if stream {
		return vertexAnthropicModels + url.PathEscape(model) + ":streamRawPredict"
	}
	return vertexAnthropicModels + url.PathEscape(model) + ":rawPredict"
}

// vertexAnthropicVersion is the anthropic_version of Claude on Vertex:
// the schema's, else vertex-2023-10-16.
func vertexAnthropicVersion(schema config.Schema) string {
	if schema.Version != "" {
		return schema.Version
	}
	return "vertex-2023-10-16"
}

// vertexAnthropicError is an error of Claude on Vertex AI in Anthropic's
// shape: Anthropic's own error as it is, Google's rewritten.
func vertexAnthropicError(status int, body []byte) []byte {
	var a anthropic.ErrorResponse
	if json.Unmarshal(body, &a) == nil && a.Type == "error" && a.Error.Message != "" {
		return body
	}
	e := googleError(status, body)
	e.Format = apierror.FormatAnthropic
	_, out := apierror.Render(e)
	return out
}
