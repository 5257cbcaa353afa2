package translator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aigw-dev/aigw/internal/apischema/openai"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/jsonscan"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/sse"
)

// openAIToOpenAI passes OpenAI requests to an OpenAI-compatible backend
// (OpenAI, vLLM, Ollama, Groq, …, and Azure OpenAI, which speaks the same
// bodies at other paths): the path gets the schema prefix (or Azure's
// deployment path), the model may be overridden, and usage is read from
// the response.
type openAIToOpenAI struct {
	op   llm.Operation
	opts Options
	// prefix starts an OpenAI path ("v1"); for Azure OpenAI, azure is set
	// and apiVersion is the api-version query.
	prefix     string
	azure      bool
	apiVersion string

	stream    bool
	hideUsage bool
	status    int
	splitter  sse.Splitter
	out       []byte
	body      bodyBuffer
	usage     llm.Usage
	model     string
	complete  bool
}

func newOpenAIToOpenAI(op llm.Operation, schema config.Schema, opts Options) (*openAIToOpenAI, error) {
	switch op {
	case llm.OperationChat, llm.OperationCompletion, llm.OperationEmbeddings:
	default:
		return nil, fmt.Errorf("%w: %s to %s", ErrUnsupported, op, schema.Name)
	}
	t := &openAIToOpenAI{op: op, opts: opts}
	if schema.Name == config.SchemaAzureOpenAI {
		t.azure, t.apiVersion = true, schema.Version
	} else if t.prefix = strings.Trim(schema.Prefix, "/"); t.prefix == "" {
		t.prefix = "v1"
	}
	t.splitter = newSplitter(opts.MaxEventBytes)
	return t, nil
}

// Request implements [Translator.Request].
func (t *openAIToOpenAI) Request(req *llm.Request) (*Upstream, error) {
	var suffix string
	switch t.op {
	case llm.OperationChat:
		suffix = openai.PathChatCompletions
	case llm.OperationCompletion:
		suffix = openai.PathCompletions
	case llm.OperationEmbeddings:
		suffix = openai.PathEmbeddings
	}
	model := req.Model
	if t.opts.ModelOverride != "" {
		model = t.opts.ModelOverride
	}
	up := &Upstream{Path: t.path(suffix, model), Body: req.Body}
	t.stream = req.Stream
	forceUsage := t.opts.ForceUsage && req.Stream && !req.IncludeUsage && t.op != llm.OperationEmbeddings
	override := model != req.Model
	if !forceUsage && !override {
		return up, nil
	}
	var obj *jsonobj.Object
	if t.opts.Parsed != nil {
		obj = t.opts.Parsed.Clone()
	} else {
		var err error
		if obj, err = jsonobj.Parse(req.Body); err != nil {
			return nil, fmt.Errorf("re-reading request body: %w", err)
		}
	}
	if override {
		m, _ := json.Marshal(t.opts.ModelOverride)
		obj.Set("model", m)
	}
	if forceUsage {
		t.hideUsage = true
		obj.Set("stream_options", withIncludeUsage(obj))
	}
	up.Body, up.Object = obj.Bytes(), obj
	return up, nil
}

// path returns the upstream path of the operation's suffix (e.g.
// "chat/completions") for the model sent: under the prefix, or for Azure
// OpenAI under the model's deployment, with the api-version.
func (t *openAIToOpenAI) path(suffix, model string) string {
	if !t.azure {
		return "/" + t.prefix + "/" + suffix
	}
	p := "/openai/deployments/" + url.PathEscape(model) + "/" + suffix
	if t.apiVersion != "" {
		p += "?api-version=" + url.QueryEscape(t.apiVersion)
	}
	return p
}

// withIncludeUsage returns the request's stream_options with include_usage
// set, keeping any other option.
func withIncludeUsage(obj *jsonobj.Object) json.RawMessage {
	opts := map[string]json.RawMessage{}
	if raw, ok := obj.Get("stream_options"); ok {
		_ = json.Unmarshal(raw, &opts) // null or invalid: start afresh
		if opts == nil {
			opts = map[string]json.RawMessage{}
		}
	}
	opts["include_usage"] = json.RawMessage("true")
	b, _ := json.Marshal(opts) // a map of raw messages cannot fail
	return b
}

// ResponseHeaders implements [Translator.ResponseHeaders].
func (t *openAIToOpenAI) ResponseHeaders(status int, h http.Header) error {
	t.status = status
	if t.stream && !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
		// An error or a non-stream answer to a stream request.
		t.stream = false
	}
	if t.hideUsage && t.stream {
		// The body changes length when the usage chunk is dropped.
		h.Del("Content-Length")
	}
	return nil
}

// ResponseBody implements [Translator.ResponseBody].
func (t *openAIToOpenAI) ResponseBody(chunk []byte, endOfStream bool) ([]byte, error) {
	if t.stream {
		return t.streamBody(chunk, endOfStream)
	}
	t.body.add(chunk)
	if !endOfStream {
		return chunk, nil
	}
	t.complete = true
	if body := t.body.take(); t.status < 300 && len(body) > 0 {
		var head openai.ResponseHead
		if err := json.Unmarshal(body, &head); err == nil {
			t.observe(&head)
		}
	}
	return chunk, nil
}

// streamBody frames the SSE stream so that each complete event goes out as
// soon as it is whole, reading usage on the way and dropping the usage-only
// chunk the gateway asked for on the client's behalf.
func (t *openAIToOpenAI) streamBody(chunk []byte, endOfStream bool) ([]byte, error) {
	t.out = outputFor(t.out, len(chunk))
	if err := t.splitter.Feed(chunk, t.event); err != nil {
		// The events before the oversized one still go out.
		return t.out, err
	}
	if endOfStream {
		t.out = append(t.out, t.splitter.Pending()...)
	}
	return t.out, nil
}

var doneEvent = []byte("[DONE]")

func (t *openAIToOpenAI) event(ev []byte) {
	data := sse.Data(ev)
	if bytes.Equal(data, doneEvent) {
		t.complete = true
	}
	// OpenAI's stream has "usage":null in every chunk once usage is asked
	// for, and the usage in the last: only that one is decoded.
	if len(data) == 0 || data[0] != '{' || (t.model != "" && !jsonscan.MayHaveMember(data, "usage")) {
		t.out = append(t.out, ev...)
		return
	}
	var head openai.ResponseHead
	if err := json.Unmarshal(data, &head); err != nil {
		t.out = append(t.out, ev...)
		return
	}
	t.observe(&head)
	if t.hideUsage && head.Usage != nil && len(head.Choices) == 0 {
		return
	}
	t.out = append(t.out, ev...)
}

func (t *openAIToOpenAI) observe(head *openai.ResponseHead) {
	if head.Model != "" {
		t.model = head.Model
	}
	u := head.Usage
	if u == nil {
		return
	}
	t.usage = llm.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if u.PromptTokensDetails != nil {
		t.usage.CachedInputTokens = u.PromptTokensDetails.CachedTokens
	}
	if u.CompletionTokensDetails != nil {
		t.usage.ReasoningTokens = u.CompletionTokensDetails.ReasoningTokens
	}
}

// Usage implements [Translator.Usage].
func (t *openAIToOpenAI) Usage() llm.Usage { return t.usage }

// ResponseModel implements [Translator.ResponseModel].
func (t *openAIToOpenAI) ResponseModel() string { return t.model }

// Complete implements [Translator.Complete].
func (t *openAIToOpenAI) Complete() bool { return t.complete }
