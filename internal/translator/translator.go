package translator

import (
	"fmt"
	"net/http"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/llm"
)

// Options tune one attempt's translation.
type Options struct {
	// ModelOverride, when set, replaces the model sent upstream.
	ModelOverride string
	// ForceUsage makes a stream carry usage even when the client did not
	// ask for it; the extra usage-only chunk is then not sent to the client.
	ForceUsage bool
	// MaxEventBytes bounds one event of a streamed response: a stream whose
	// event grows past it fails with an error wrapping
	// [sse.ErrEventTooLarge]. Zero means DefaultMaxEventBytes.
	MaxEventBytes int
	// Parsed, when set, is the request body's top-level members from the
	// pipeline's one scan; a translation that edits the body clones it
	// instead of parsing the body again. It must not be modified.
	Parsed *jsonobj.Object
	// AnthropicBeta are the client's anthropic-beta header values: the
	// beta features Anthropic's clients ask for, which Bedrock reads in
	// the body (anthropic_beta).
	AnthropicBeta []string
	// HeaderBlocks, when set, are the AWS event-stream header blocks
	// decoded so far, shared with the process's other streams; nil keeps
	// them for this stream only.
	HeaderBlocks *HeaderBlocks
}

// DefaultMaxEventBytes bounds one event of a streamed response when the
// options set no limit (16 MiB: a chunk of text is a few hundred bytes, a
// streamed partial image a few MiB).
const DefaultMaxEventBytes = 16 << 20

// Upstream is the translated request of one attempt.
type Upstream struct {
	// Path is the upstream path with its query.
	Path string
	// Body is the upstream body; it may alias [llm.Request.Body].
	Body []byte
	// SetHeaders are headers the translation sets (e.g. content-type).
	SetHeaders []config.HeaderValue
	// Object, when set, is Body as an object (the translation edited it):
	// later edits of the attempt start from it instead of parsing Body.
	Object *jsonobj.Object
}

// Translator translates one attempt.
type Translator interface {
	// Request returns the upstream request for req.
	Request(req *llm.Request) (*Upstream, error)
	// ResponseHeaders sees the upstream status and headers before the body
	// and may edit the headers sent to the client.
	ResponseHeaders(status int, h http.Header) error
	// ResponseBody translates a chunk of the upstream body; endOfStream
	// marks the last call. The result is what the client receives for this
	// chunk (it may be empty while an event is incomplete).
	ResponseBody(chunk []byte, endOfStream bool) ([]byte, error)
	// Usage returns the usage read so far; the last value reported in a
	// stream wins.
	Usage() llm.Usage
	// ResponseModel returns the model the response reports, if any.
	ResponseModel() string
	// Complete reports whether the response has reached its protocol-level
	// end (an SSE stream's terminal event), after which a failure to read
	// further bytes loses nothing.
	Complete() bool
}

// Serves reports whether requests can be translated to the backend schema
// (any other loads, and its attempts fail with ErrUnsupported).
func Serves(schema config.SchemaName) bool {
	switch schema {
	case config.SchemaOpenAI, config.SchemaAzureOpenAI, config.SchemaAnthropic, config.SchemaAWSBedrock, config.SchemaAWSAnthropic,
		config.SchemaGCPVertexAI, config.SchemaGCPAnthropic, config.SchemaCohere:
		return true
	default:
		return false
	}
}

// New returns the translator for op from the OpenAI input schema to the
// backend schema.
func New(op llm.Operation, schema config.Schema, opts Options) (Translator, error) {
	if op == llm.OperationPassThrough {
		return &passThrough{}, nil
	}
	if op == llm.OperationRerank || schema.Name == config.SchemaCohere {
		if op != llm.OperationRerank || schema.Name != config.SchemaCohere {
			return nil, fmt.Errorf("%w: %s to %s", ErrUnsupported, op, schema.Name)
		}
		return newCohereRerank(schema, opts), nil
	}
	if _, ok := endpointSuffix[op]; ok {
		if schema.Name != config.SchemaOpenAI && schema.Name != config.SchemaAzureOpenAI {
			return nil, fmt.Errorf("%w: %s to %s", ErrUnsupported, op, schema.Name)
		}
		return newOpenAIEndpoint(op, schema, opts)
	}
	if op == llm.OperationMessages || op == llm.OperationCountTokens {
		switch {
		case schema.Name == config.SchemaAnthropic || schema.Name == config.SchemaGCPAnthropic:
			return newAnthropicToAnthropic(op, schema, opts), nil
		case schema.Name == config.SchemaAWSAnthropic:
			return newMessagesToBedrock(op, schema, opts), nil
		case op == llm.OperationMessages && (schema.Name == config.SchemaOpenAI || schema.Name == config.SchemaAzureOpenAI ||
			schema.Name == config.SchemaAWSBedrock || schema.Name == config.SchemaGCPVertexAI):
			// Through a chat completion, which the inner translation
			// sends in the backend's schema; it builds its body itself.
			innerOpts := opts
			innerOpts.Parsed, innerOpts.ForceUsage = nil, false
			inner, err := New(llm.OperationChat, schema, innerOpts)
			if err != nil {
				return nil, err
			}
			return &anthropicToOpenAI{inner: inner, opts: opts, splitter: newSplitter(opts.MaxEventBytes),
				extensions: schema.Name == config.SchemaAWSBedrock}, nil
		default:
			return nil, fmt.Errorf("%w: %s to %s", ErrUnsupported, op, schema.Name)
		}
	}
	switch schema.Name {
	case config.SchemaOpenAI, config.SchemaAzureOpenAI:
		return newOpenAIToOpenAI(op, schema, opts)
	case config.SchemaAnthropic, config.SchemaAWSAnthropic, config.SchemaGCPAnthropic:
		return newOpenAIToAnthropic(op, schema, opts)
	case config.SchemaGCPVertexAI:
		return newOpenAIToGemini(op, schema, opts)
	case config.SchemaAWSBedrock:
		return newOpenAIToBedrock(op, schema, opts)
	default:
		return nil, fmt.Errorf("%w: %s to %s", ErrUnsupported, op, schema.Name)
	}
}
