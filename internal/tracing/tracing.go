// Package tracing sets up OpenTelemetry tracing from the standard OTEL_*
// environment variables, as Envoy AI Gateway's external processor reads
// them, and names the GenAI semantic-convention attributes the gateway
// records.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Propagator carries trace context in W3C traceparent/tracestate and
// baggage headers: read from clients, written to upstreams and pickers.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Provider is a tracer provider and how to flush and stop it.
type Provider struct {
	trace.TracerProvider
	// Shutdown flushes the spans still buffered and stops exporting.
	Shutdown func(context.Context) error
	// Enabled reports whether spans are exported.
	Enabled bool
	// Exporter names where spans go: "otlp (grpc)", "otlp (http/protobuf)",
	// "console", or "" when disabled.
	Exporter string
	// Content is what of prompts and completions spans record.
	Content Content
}

// Env is what Setup reads of the process: its environment and where the
// console exporter writes.
type Env struct {
	Getenv func(string) string
	Stdout io.Writer
	// ExportEvery, when set, exports batched spans that often instead of
	// OTEL_BSP_SCHEDULE_DELAY's (5 s by default): an interactive demo
	// shows each request's spans as it ends.
	ExportEvery time.Duration
}

// Setup returns the provider the environment configures, as the
// OpenTelemetry SDKs read it:
//   - OTEL_TRACES_EXPORTER: otlp (the default; only when an endpoint is
//     set: OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
//     console (JSON spans on stdout) or none; OTEL_SDK_DISABLED=true turns
//     tracing off.
//   - OTEL_EXPORTER_OTLP_PROTOCOL (or _TRACES_PROTOCOL): grpc (the default)
//     or http/protobuf; the exporters read the rest of their
//     OTEL_EXPORTER_OTLP_* settings (headers, TLS, timeouts).
//   - OTEL_TRACES_SAMPLER and _ARG, OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*:
//     read by the SDK; OTEL_SERVICE_NAME, else service, names the service.
//   - OPENINFERENCE_HIDE_*: see [ContentFromEnv].
//
// When nothing is configured the provider records nothing and costs
// nothing.
func Setup(ctx context.Context, env Env, service string) (*Provider, error) {
	getenv := env.Getenv
	disabled := &Provider{TracerProvider: noop.NewTracerProvider(), Shutdown: func(context.Context) error { return nil }}
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return disabled, nil
	}
	content, err := ContentFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	var exp sdktrace.SpanExporter
	var name string
	switch e := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); e {
	case "none":
		return disabled, nil
	case "console":
		stdout := env.Stdout
		if stdout == nil {
			stdout = io.Discard
		}
		if exp, err = stdouttrace.New(stdouttrace.WithWriter(stdout)); err != nil {
			return nil, fmt.Errorf("the console trace exporter: %w", err)
		}
		name = "console"
	case "", "otlp":
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
			return disabled, nil
		}
		protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
		if protocol == "" {
			protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
		}
		switch protocol {
		case "", "grpc":
			exp, err = otlptracegrpc.New(ctx)
			protocol = "grpc"
		case "http/protobuf":
			exp, err = otlptracehttp.New(ctx)
		default:
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%s: use grpc or http/protobuf", protocol)
		}
		if err != nil {
			return nil, fmt.Errorf("the OTLP trace exporter: %w", err)
		}
		name = "otlp (" + protocol + ")"
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: use otlp, console or none", e)
	}
	serviceName := getenv("OTEL_SERVICE_NAME")
	if serviceName == "" {
		serviceName = service
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", serviceName)))
	if err != nil && !errors.Is(err, resource.ErrSchemaURLConflict) {
		return nil, err
	}
	var batch []sdktrace.BatchSpanProcessorOption
	if env.ExportEvery > 0 {
		batch = append(batch, sdktrace.WithBatchTimeout(env.ExportEvery))
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, batch...), sdktrace.WithResource(res))
	return &Provider{TracerProvider: tp, Shutdown: tp.Shutdown, Enabled: true, Exporter: name, Content: content}, nil
}

// Content is what spans record of prompts and completions, as
// OpenInference's attributes carry them. Message content is sensitive: by
// default none is recorded.
type Content struct {
	// Inputs records the request body (input.value) and, unless
	// HideInputMessages, the chat messages (llm.input_messages.*).
	Inputs            bool
	HideInputMessages bool
	// Outputs records the start of the client's response body
	// (output.value) and, unless HideOutputMessages, the messages it
	// carries (llm.output_messages.*).
	Outputs            bool
	HideOutputMessages bool
}

// ContentFromEnv reads OpenInference's redaction switches, with the
// gateway's default of hiding content: OPENINFERENCE_HIDE_INPUTS=false
// records inputs, OPENINFERENCE_HIDE_OUTPUTS=false outputs, and
// OPENINFERENCE_HIDE_INPUT_MESSAGES=true and
// OPENINFERENCE_HIDE_OUTPUT_MESSAGES=true keep the messages out of recorded
// inputs and outputs.
func ContentFromEnv(getenv func(string) string) (Content, error) {
	flag := func(name string, def bool) (bool, error) {
		v := getenv(name)
		if v == "" {
			return def, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%s=%s: want true or false", name, v)
		}
		return b, nil
	}
	hideIn, err := flag("OPENINFERENCE_HIDE_INPUTS", true)
	if err != nil {
		return Content{}, err
	}
	hideOut, err := flag("OPENINFERENCE_HIDE_OUTPUTS", true)
	if err != nil {
		return Content{}, err
	}
	hideMsgs, err := flag("OPENINFERENCE_HIDE_INPUT_MESSAGES", false)
	if err != nil {
		return Content{}, err
	}
	hideOutMsgs, err := flag("OPENINFERENCE_HIDE_OUTPUT_MESSAGES", false)
	if err != nil {
		return Content{}, err
	}
	return Content{Inputs: !hideIn, HideInputMessages: hideMsgs, Outputs: !hideOut, HideOutputMessages: hideOutMsgs}, nil
}

// GenAI semantic-convention attributes, and the gateway's own.
const (
	OperationName     = attribute.Key("gen_ai.operation.name")
	ProviderName      = attribute.Key("gen_ai.provider.name")
	RequestModel      = attribute.Key("gen_ai.request.model")
	ResponseModel     = attribute.Key("gen_ai.response.model")
	FinishReasons     = attribute.Key("gen_ai.response.finish_reasons")
	InputTokens       = attribute.Key("gen_ai.usage.input_tokens")
	OutputTokens      = attribute.Key("gen_ai.usage.output_tokens")
	CachedInputTokens = attribute.Key("gen_ai.usage.cache_read.input_tokens")
	ReasoningTokens   = attribute.Key("gen_ai.usage.reasoning.output_tokens")
	HTTPStatusCode    = attribute.Key("http.response.status_code")
	ErrorType         = attribute.Key("error.type")

	Route       = attribute.Key("aigw.route")
	Backend     = attribute.Key("aigw.backend")
	Pool        = attribute.Key("aigw.pool")
	Endpoint    = attribute.Key("aigw.endpoint")
	Endpoints   = attribute.Key("aigw.picker.endpoints")
	Outcome     = attribute.Key("aigw.picker.outcome")
	TargetModel = attribute.Key("aigw.picker.target_model")
	Attempt     = attribute.Key("aigw.attempt")
)

// OpenInference attributes (the Arize Phoenix conventions Envoy AI
// Gateway also records).
const (
	OISpanKind            = attribute.Key("openinference.span.kind")
	OIModelName           = attribute.Key("llm.model_name")
	OIProvider            = attribute.Key("llm.provider")
	OIPromptTokens        = attribute.Key("llm.token_count.prompt")
	OICompletionTokens    = attribute.Key("llm.token_count.completion")
	OITotalTokens         = attribute.Key("llm.token_count.total")
	OIInputValue          = attribute.Key("input.value")
	OIInputMimeType       = attribute.Key("input.mime_type")
	OIOutputValue         = attribute.Key("output.value")
	OIOutputMimeType      = attribute.Key("output.mime_type")
	OIInputMessagePrefix  = "llm.input_messages."
	OIOutputMessagePrefix = "llm.output_messages."
)

// InstrumentationName names the gateway's tracer.
const InstrumentationName = "github.com/aigw-dev/aigw"

// MaxName bounds a client-chosen name (a model) in a span's name or
// attributes.
const MaxName = 128

// Clip cuts s to at most n bytes, on a rune boundary: client-chosen
// strings in spans stay bounded.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
