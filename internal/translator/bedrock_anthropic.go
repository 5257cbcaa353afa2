package translator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/apischema/anthropic"
	"github.com/aigw-dev/aigw/internal/apischema/bedrock"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/jsonscan"
	"github.com/aigw-dev/aigw/internal/llm"
)

// bedrockAnthropicVersion is the anthropic_version Bedrock's Claude models
// take when the schema names none.
const bedrockAnthropicVersion = "bedrock-2023-05-31"

// bedrockAnthropic is how Anthropic's Messages API is reached on Amazon
// Bedrock (AWSAnthropic): InvokeModel on the model's path with the
// version in the body; a stream (InvokeModelWithResponseStream) is an
// event stream whose "chunk" messages each carry one Anthropic event,
// base64-encoded.
type bedrockAnthropic struct {
	version   string
	errorType string
	frames    frames
	// decoded holds the current chunk's event, reused.
	decoded []byte
}

func newBedrockAnthropic(schema config.Schema, opts Options) *bedrockAnthropic {
	b := &bedrockAnthropic{version: schema.Version, frames: newFrames(opts.MaxEventBytes, opts.HeaderBlocks)}
	if b.version == "" {
		b.version = bedrockAnthropicVersion
	}
	return b
}

// upstream is the InvokeModel request of a Messages body.
func (b *bedrockAnthropic) upstream(model string, stream bool, body []byte) *Upstream {
	op := bedrock.OperationInvoke
	if stream {
		op = bedrock.OperationInvokeResponseStream
	}
	return &Upstream{Path: bedrockPath(model, op), Body: body,
		SetHeaders: []config.HeaderValue{{Name: "Content-Type", Value: "application/json"}, {Name: "Accept", Value: "application/json"}}}
}

// event hands the Anthropic event a chunk message carries to fn; an
// exception or error message is the stream's failure.
func (b *bedrockAnthropic) event(m eventstream.Message, fn func(data []byte)) error {
	switch header(m, ":message-type") {
	case "event":
	case "exception":
		return streamException(m)
	case "error":
		return &apierror.Error{Status: http.StatusBadGateway, Type: apierror.TypeUpstream, Code: "upstream_error",
			Message: "Bedrock: " + header(m, ":error-code") + ": " + header(m, ":error-message")}
	default:
		return nil
	}
	if header(m, ":event-type") != bedrock.EventChunk {
		return nil
	}
	var encoded []byte
	err := jsonscan.Object(m.Payload, func(k string, v []byte) error {
		if k == "bytes" {
			if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
				return errors.New(`"bytes" is not a string`)
			}
			encoded = v[1 : len(v)-1] // base64 needs no JSON escapes
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading a Bedrock chunk: %w", err)
	}
	n := base64.StdEncoding.DecodedLen(len(encoded))
	if cap(b.decoded) < n {
		b.decoded = make([]byte, n)
	}
	n, err = base64.StdEncoding.Decode(b.decoded[:n], encoded)
	if err != nil {
		return fmt.Errorf("reading a Bedrock chunk: %w", err)
	}
	fn(b.decoded[:n])
	return nil
}

// messagesToBedrock serves the Messages front door (/anthropic/v1) from
// Anthropic's models on Amazon Bedrock: the body loses model and stream
// and gains the version; a stream's chunks become Anthropic's SSE events
// again, byte for byte; count_tokens is Bedrock's CountTokens.
type messagesToBedrock struct {
	op      llm.Operation
	opts    Options
	bedrock *bedrockAnthropic
	// usage reads the restored Messages response as for Anthropic itself.
	usage *anthropicToAnthropic

	stream   bool
	status   int
	body     bodyBuffer
	out      []byte
	complete bool
}

func newMessagesToBedrock(op llm.Operation, schema config.Schema, opts Options) *messagesToBedrock {
	return &messagesToBedrock{op: op, opts: opts, bedrock: newBedrockAnthropic(schema, opts), usage: newAnthropicToAnthropic(op, schema, opts)}
}

// Request implements [Translator.Request].
func (t *messagesToBedrock) Request(req *llm.Request) (*Upstream, error) {
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
	obj.Remove("model")
	obj.Remove("stream")
	if _, ok := obj.Get("anthropic_version"); !ok {
		obj.Set("anthropic_version", jsonString(t.bedrock.version))
	}
	if _, ok := obj.Get("anthropic_beta"); !ok && len(t.opts.AnthropicBeta) > 0 {
		// Bedrock takes the client's anthropic-beta header in the body.
		betas, err := json.Marshal(t.opts.AnthropicBeta)
		if err != nil {
			return nil, err
		}
		obj.Set("anthropic_beta", betas)
	}
	body := obj.Bytes()
	t.usage.model = model
	if t.op == llm.OperationCountTokens {
		// CountTokens takes the InvokeModel body it would count, base64.
		wrapped, err := json.Marshal(map[string]any{"input": map[string]any{"invokeModel": map[string]string{"body": base64.StdEncoding.EncodeToString(body)}}})
		if err != nil {
			return nil, err
		}
		return &Upstream{Path: bedrockPath(model, "count-tokens"), Body: wrapped,
			SetHeaders: []config.HeaderValue{{Name: "Content-Type", Value: "application/json"}}}, nil
	}
	t.stream = req.Stream
	t.usage.stream = req.Stream
	return t.bedrock.upstream(model, t.stream, body), nil
}

// ResponseHeaders implements [Translator.ResponseHeaders].
func (t *messagesToBedrock) ResponseHeaders(status int, h http.Header) error {
	t.status = status
	t.bedrock.errorType = h.Get("X-Amzn-Errortype")
	t.stream = eventStreamHeaders(status, h, t.stream)
	return t.usage.ResponseHeaders(status, h)
}

// ResponseBody implements [Translator.ResponseBody].
func (t *messagesToBedrock) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if t.stream {
		t.out = outputFor(t.out, len(chunk))
		err := t.bedrock.frames.feed(chunk, func(m eventstream.Message) error { return t.bedrock.event(m, t.event) })
		if err == nil && eos && !t.usage.complete {
			err = fmt.Errorf("the Bedrock stream ended before message_stop")
		}
		t.complete = t.usage.complete
		return t.out, err
	}
	body, done, err := t.body.whole(chunk, eos)
	if !done || err != nil {
		return nil, err
	}
	t.complete = true
	if t.status >= 400 {
		e := bedrockError(t.status, t.bedrock.errorType, body)
		e.Format = apierror.FormatAnthropic
		_, b := apierror.Render(e)
		return b, nil
	}
	if t.op == llm.OperationCountTokens {
		var r struct {
			InputTokens int64 `json:"inputTokens"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, fmt.Errorf("reading the CountTokens response: %w", err)
		}
		return json.Marshal(anthropic.CountTokensResponse{InputTokens: r.InputTokens})
	}
	return t.usage.ResponseBody(body, true)
}

// event writes one Anthropic event as SSE, reading its usage.
func (t *messagesToBedrock) event(data []byte) {
	typ := eventType(data)
	if typ == "" {
		return
	}
	data = bytes.TrimSpace(data)
	t.out = append(t.out, "event: "...)
	t.out = append(t.out, typ...)
	t.out = append(t.out, "\ndata: "...)
	t.out = append(t.out, data...)
	t.out = append(t.out, '\n', '\n')
	t.usage.typedEvent(typ, data)
}

// Usage implements [Translator.Usage].
func (t *messagesToBedrock) Usage() llm.Usage { return t.usage.usage }

// ResponseModel implements [Translator.ResponseModel].
func (t *messagesToBedrock) ResponseModel() string { return t.usage.model }

// Complete implements [Translator.Complete].
func (t *messagesToBedrock) Complete() bool { return t.complete }
