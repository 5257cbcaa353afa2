package translator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/jsonscan"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/sse"
)

// endpointSuffix is the path of each of OpenAI's other endpoints, after
// the prefix (or Azure's deployment).
var endpointSuffix = map[llm.Operation]string{
	llm.OperationResponses:            "responses",
	llm.OperationResponsesInputTokens: "responses/input_tokens",
	llm.OperationImageGeneration:      "images/generations",
	llm.OperationSpeech:               "audio/speech",
	llm.OperationTranscription:        "audio/transcriptions",
	llm.OperationTranslation:          "audio/translations",
}

// terminalEvents end the streams of these endpoints (they send no [DONE]).
var terminalEvents = []string{"response.completed", "response.failed", "response.incomplete",
	"image_generation.completed", "transcript.text.done", "speech.audio.done"}

// openAIEndpoint passes OpenAI's other endpoints (Responses, images,
// speech, transcription) to an OpenAI-compatible or Azure OpenAI backend:
// the path gets the prefix or the deployment, the model may be overridden
// (in the JSON body, or re-encoded in a multipart one), and usage is read
// from JSON answers and streams, whichever of OpenAI's two usage shapes
// they carry. Other bodies (audio) pass untouched and unbuffered.
type openAIEndpoint struct {
	inner *openAIToOpenAI // the path

	op       llm.Operation
	stream   bool
	json     bool
	status   int
	body     bodyBuffer
	splitter sse.Splitter
	usage    llm.Usage
	model    string
	complete bool
}

// Request implements [Translator.Request].
func (t *openAIEndpoint) Request(req *llm.Request) (*Upstream, error) {
	model := req.Model
	if t.inner.opts.ModelOverride != "" {
		model = t.inner.opts.ModelOverride
	}
	up := &Upstream{Path: t.inner.path(endpointSuffix[t.op], model), Body: req.Body}
	if t.inner.azure && (t.op == llm.OperationResponses || t.op == llm.OperationResponsesInputTokens) {
		// Azure's Responses API names the deployment in the body's model.
		up.Path = "/openai/" + endpointSuffix[t.op]
		if t.inner.apiVersion != "" {
			up.Path += "?api-version=" + url.QueryEscape(t.inner.apiVersion)
		}
	}
	t.stream = req.Stream
	if model == req.Model {
		return up, nil
	}
	if t.op.Multipart() {
		body, err := withFormField(req.ContentType, req.Body, "model", model)
		if err != nil {
			return nil, invalid("", err.Error())
		}
		up.Body = body
		return up, nil
	}
	obj := t.inner.opts.Parsed
	if obj == nil {
		var err error
		if obj, err = jsonobj.Parse(req.Body); err != nil {
			return nil, fmt.Errorf("re-reading request body: %w", err)
		}
	} else {
		obj = obj.Clone()
	}
	obj.Set("model", jsonString(model))
	up.Body, up.Object = obj.Bytes(), obj
	return up, nil
}

// withFormField re-encodes a multipart body with one field's value
// replaced, every other part (the file) copied as it is, with the same
// boundary.
func withFormField(contentType string, body []byte, name, value string) ([]byte, error) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil || params["boundary"] == "" {
		return nil, errors.New("the request body must be multipart/form-data with a boundary")
	}
	var out bytes.Buffer
	out.Grow(len(body) + len(value))
	w := multipart.NewWriter(&out)
	if err := w.SetBoundary(params["boundary"]); err != nil {
		return nil, err
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := r.NextRawPart() // as sent: no decoding of a quoted-printable part
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the multipart body is malformed: %w", err)
		}
		pw, err := w.CreatePart(textproto.MIMEHeader(part.Header))
		if err != nil {
			return nil, err
		}
		if part.FormName() == name {
			_, err = io.WriteString(pw, value)
		} else {
			_, err = io.Copy(pw, part)
		}
		if err != nil {
			return nil, fmt.Errorf("the multipart body is malformed: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// ResponseHeaders implements [Translator.ResponseHeaders].
func (t *openAIEndpoint) ResponseHeaders(status int, h http.Header) error {
	t.status = status
	ct := h.Get("Content-Type")
	t.stream = t.stream && strings.HasPrefix(ct, "text/event-stream")
	t.json = strings.HasPrefix(ct, "application/json")
	return nil
}

// ResponseBody implements [Translator.ResponseBody]: the bytes pass as they
// came; usage is read on the way.
func (t *openAIEndpoint) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if t.stream {
		if err := t.splitter.Feed(chunk, t.event); err != nil {
			return chunk, err
		}
		return chunk, nil
	}
	if !t.json { // audio, or text: nothing to read
		t.complete = t.complete || eos
		return chunk, nil
	}
	t.body.add(chunk)
	if eos {
		t.complete = true
		if body := t.body.take(); t.status < 300 && len(body) > 0 {
			t.observe(body)
		}
	}
	return chunk, nil
}

// event reads the usage of a stream's events and its end.
func (t *openAIEndpoint) event(ev []byte) {
	data := sse.Data(ev)
	if bytes.Equal(data, doneEvent) {
		t.complete = true
		return
	}
	if len(data) == 0 || data[0] != '{' {
		return
	}
	typ := eventType(data)
	for _, end := range terminalEvents {
		if typ == end {
			t.complete = true
		}
	}
	if jsonscan.MayHaveMember(data, "usage") {
		t.observe(data)
	}
}

// endpointUsage is usage in either of OpenAI's shapes: prompt and
// completion tokens (chat), or input and output tokens (Responses,
// images, audio).
type endpointUsage struct {
	PromptTokens       int64 `json:"prompt_tokens"`
	CompletionTokens   int64 `json:"completion_tokens"`
	InputTokens        int64 `json:"input_tokens"`
	OutputTokens       int64 `json:"output_tokens"`
	TotalTokens        int64 `json:"total_tokens"`
	InputTokensDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokensDetails *struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

// observe reads the model and usage of a body or event: at the top, or in
// the "response" of a Responses event.
func (t *openAIEndpoint) observe(data []byte) {
	var v struct {
		Model    string         `json:"model"`
		Usage    *endpointUsage `json:"usage"`
		Response *struct {
			Model string         `json:"model"`
			Usage *endpointUsage `json:"usage"`
		} `json:"response"`
		InputTokens *int64 `json:"input_tokens"` // /responses/input_tokens
	}
	if json.Unmarshal(data, &v) != nil {
		return
	}
	if r := v.Response; r != nil {
		v.Model, v.Usage = r.Model, r.Usage
	}
	if v.Model != "" {
		t.model = v.Model
	}
	if v.InputTokens != nil && v.Usage == nil {
		t.usage = llm.Usage{InputTokens: *v.InputTokens, TotalTokens: *v.InputTokens}
		return
	}
	u := v.Usage
	if u == nil {
		return
	}
	t.usage = llm.Usage{InputTokens: u.InputTokens + u.PromptTokens, OutputTokens: u.OutputTokens + u.CompletionTokens, TotalTokens: u.TotalTokens}
	if d := u.InputTokensDetails; d != nil {
		t.usage.CachedInputTokens = d.CachedTokens
	}
	if d := u.OutputTokensDetails; d != nil {
		t.usage.ReasoningTokens = d.ReasoningTokens
	}
	if t.usage.TotalTokens == 0 {
		t.usage.TotalTokens = t.usage.InputTokens + t.usage.OutputTokens
	}
}

// Usage implements [Translator.Usage].
func (t *openAIEndpoint) Usage() llm.Usage { return t.usage }

// ResponseModel implements [Translator.ResponseModel].
func (t *openAIEndpoint) ResponseModel() string { return t.model }

// Complete implements [Translator.Complete].
func (t *openAIEndpoint) Complete() bool { return t.complete }

// newOpenAIEndpoint returns the translator of one of OpenAI's other
// endpoints for an OpenAI-compatible or Azure OpenAI schema.
func newOpenAIEndpoint(op llm.Operation, schema config.Schema, opts Options) (Translator, error) {
	inner, err := newOpenAIToOpenAI(llm.OperationChat, schema, opts)
	if err != nil {
		return nil, err
	}
	return &openAIEndpoint{inner: inner, op: op, splitter: newSplitter(opts.MaxEventBytes)}, nil
}
