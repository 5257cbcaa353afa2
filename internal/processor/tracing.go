package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/pool"
	"github.com/aigw-dev/aigw/internal/tracing"
)

// Bounds on what a span holds of client-chosen data.
const (
	// maxTracedContent bounds input.value and output.value.
	maxTracedContent = 32 << 10
	// maxTracedMessages bounds the llm.input_messages recorded.
	maxTracedMessages = 64
	// maxFinishReasons bounds the finish reasons recorded.
	maxFinishReasons = 8
)

// startSpan starts the request's span, continuing the client's trace
// (W3C traceparent).
func (s *Session) startSpan() {
	parent := tracing.Propagator.Extract(context.Background(), propagation.HeaderCarrier(s.info.Header))
	s.traceCtx, s.span = s.rt.p.tracer.Start(parent, "aigw.request", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(s.info.Start))
}

// routedSpan names the request's span after its operation and model, as
// the GenAI conventions do, once routed, and records the input when the
// content switches allow.
func (s *Session) routedSpan() {
	if !s.span.IsRecording() || s.req == nil || s.rule == nil {
		return
	}
	name := string(s.op)
	if s.req.Model != "" {
		model := tracing.Clip(s.req.Model, tracing.MaxName)
		name += " " + model
		s.span.SetAttributes(tracing.RequestModel.String(model), tracing.OIModelName.String(model))
	}
	s.span.SetName(name)
	s.span.SetAttributes(tracing.OperationName.String(string(s.op)), tracing.Route.String(s.rule.Route.Name))
	if kind := openInferenceKind(s.op); kind != "" {
		s.span.SetAttributes(tracing.OISpanKind.String(kind))
	}
	content := s.rt.p.traceContent
	if content.Inputs && len(s.req.Body) > 0 {
		s.span.SetAttributes(tracing.OIInputValue.String(tracing.Clip(string(s.req.Body), maxTracedContent)),
			tracing.OIInputMimeType.String(mimeType(s.req.ContentType)))
		if !content.HideInputMessages && hasMessages(s.op) {
			s.span.SetAttributes(inputMessages(s.req.Body)...)
		}
	}
	s.reasons = &finishScanner{output: content.Outputs}
}

// hasMessages reports whether op's bodies carry chat messages (OpenAI's
// chat or Anthropic's Messages), which spans record one by one.
func hasMessages(op llm.Operation) bool {
	return op == llm.OperationChat || op == llm.OperationMessages
}

// openInferenceKind is OpenInference's span kind of an operation.
func openInferenceKind(op llm.Operation) string {
	switch op {
	case llm.OperationEmbeddings:
		return "EMBEDDING"
	case llm.OperationRerank:
		return "RERANKER"
	case llm.OperationPassThrough:
		return ""
	default:
		return "LLM"
	}
}

// startAttemptSpan ends the previous attempt's span, starts a's, and
// writes its trace context into the headers the upstream receives.
func (s *Session) startAttemptSpan(a *Attempt) {
	s.endAttemptSpan()
	name := "attempt " + a.Backend.Name
	if s.req != nil && s.op != llm.OperationPassThrough {
		name = string(s.op) + " " + tracing.Clip(a.RequestModel, tracing.MaxName)
	}
	_, s.attemptSpan = s.rt.p.tracer.Start(s.traceCtx, name, trace.WithSpanKind(trace.SpanKindClient))
	if s.attemptSpan.IsRecording() {
		s.attemptSpan.SetAttributes(tracing.ProviderName.String(a.Backend.provider), tracing.Backend.String(a.Backend.Name),
			tracing.RequestModel.String(tracing.Clip(a.RequestModel, tracing.MaxName)), tracing.Attempt.Int(s.attempts))
		if s.op != llm.OperationPassThrough {
			s.attemptSpan.SetAttributes(tracing.OperationName.String(string(s.op)))
		}
		if a.Backend.Pool != nil {
			s.attemptSpan.SetAttributes(tracing.Pool.String(a.Backend.Pool.Name()))
		}
	}
	s.injectTrace(s.attemptSpan, a.Upstream.Header)
}

// injectTrace writes span's context (the client's when it records
// nothing) into h as W3C traceparent.
func (s *Session) injectTrace(span trace.Span, h http.Header) {
	tracing.Propagator.Inject(trace.ContextWithSpan(s.traceCtx, span), propagation.HeaderCarrier(h))
}

// pickSpan starts the span of a pool pick, a child of the attempt's, and
// hands the picker its trace context; the returned function ends it and
// gives the upstream the attempt's context back.
func (s *Session) pickSpan(p *pool.Pool, h http.Header) func(*pool.Pick, error) {
	parent := trace.ContextWithSpan(s.traceCtx, s.attemptSpan)
	_, span := s.rt.p.tracer.Start(parent, "pick "+p.Name(), trace.WithSpanKind(trace.SpanKindClient))
	if !span.IsRecording() {
		return func(*pool.Pick, error) {}
	}
	span.SetAttributes(tracing.Pool.String(p.Name()))
	s.injectTrace(span, h)
	return func(pk *pool.Pick, err error) {
		switch {
		case err != nil:
			typ := string(apierror.Classify(err).Type)
			span.SetStatus(codes.Error, typ)
			span.SetAttributes(tracing.ErrorType.String(typ))
		case pk.Immediate != nil:
			span.SetStatus(codes.Error, "refused")
			span.SetAttributes(tracing.Outcome.String("refused"), tracing.HTTPStatusCode.Int(pk.Immediate.Status))
		default:
			span.SetAttributes(tracing.Outcome.String("picked"), tracing.Endpoints.StringSlice(pk.Endpoints[:min(len(pk.Endpoints), 8)]))
			if pk.Model != "" {
				span.SetAttributes(tracing.TargetModel.String(tracing.Clip(pk.Model, tracing.MaxName)))
			}
		}
		span.End()
		s.injectTrace(s.attemptSpan, h)
	}
}

// attemptAnswered records the status of the attempt's response.
func (s *Session) attemptAnswered(status int) {
	if s.attemptSpan != nil && s.attemptSpan.IsRecording() {
		s.attemptSpan.SetAttributes(tracing.HTTPStatusCode.Int(status))
		if status >= 500 {
			s.attemptSpan.SetStatus(codes.Error, http.StatusText(status))
		}
	}
}

// attemptFailed records why an attempt failed.
func (s *Session) attemptFailed(err error) {
	if s.attemptSpan != nil && s.attemptSpan.IsRecording() {
		typ := string(apierror.Classify(err).Type)
		s.attemptSpan.SetStatus(codes.Error, typ)
		s.attemptSpan.SetAttributes(tracing.ErrorType.String(typ))
	}
}

// endAttemptSpan ends the current attempt's span, with the endpoint a
// pool picked.
func (s *Session) endAttemptSpan() {
	if s.attemptSpan == nil {
		return
	}
	if s.endpoint != "" && s.attemptSpan.IsRecording() {
		s.attemptSpan.SetAttributes(tracing.Endpoint.String(s.endpoint))
	}
	s.attemptSpan.End()
	s.attemptSpan = nil
}

// traceResponse reads the client's response for its finish reasons and,
// when the content switches allow, its start.
func (s *Session) traceResponse(out []byte) {
	if s.reasons != nil && len(out) > 0 {
		s.reasons.feed(out)
	}
}

// endSpans ends the attempt's and the request's spans with what the
// request came to: status, models, usage, finish reasons, error.
func (s *Session) endSpans(status int, usage llm.Usage, respModel string) {
	if !s.span.IsRecording() {
		s.endAttemptSpan()
		s.span.End()
		return
	}
	respModel = tracing.Clip(respModel, tracing.MaxName)
	tokens := []attribute.KeyValue{tracing.ResponseModel.String(respModel), tracing.InputTokens.Int64(usage.InputTokens),
		tracing.OutputTokens.Int64(usage.OutputTokens)}
	if s.attemptSpan != nil {
		s.attemptSpan.SetAttributes(tokens...)
	}
	s.endAttemptSpan()
	s.span.SetAttributes(tracing.HTTPStatusCode.Int(status))
	if s.attempt != nil {
		s.span.SetAttributes(tokens...)
		s.span.SetAttributes(tracing.ProviderName.String(s.backend.provider), tracing.Backend.String(s.backend.Name),
			tracing.OIProvider.String(s.backend.provider), tracing.OIPromptTokens.Int64(usage.InputTokens),
			tracing.OICompletionTokens.Int64(usage.OutputTokens), tracing.OITotalTokens.Int64(usage.InputTokens+usage.OutputTokens))
		if usage.CachedInputTokens > 0 {
			s.span.SetAttributes(tracing.CachedInputTokens.Int64(usage.CachedInputTokens))
		}
		if usage.ReasoningTokens > 0 {
			s.span.SetAttributes(tracing.ReasoningTokens.Int64(usage.ReasoningTokens))
		}
	}
	if r := s.reasons; r != nil {
		if len(r.reasons) > 0 {
			s.span.SetAttributes(tracing.FinishReasons.StringSlice(r.reasons))
		}
		if r.output && len(r.captured) > 0 {
			mime := mimeType(s.respContentType)
			s.span.SetAttributes(tracing.OIOutputValue.String(tracing.Clip(string(r.captured), maxTracedContent)),
				tracing.OIOutputMimeType.String(mime))
			if !s.rt.p.traceContent.HideOutputMessages && hasMessages(s.op) && status < 300 {
				s.span.SetAttributes(outputMessages(r.captured, mime == "text/event-stream")...)
			}
		}
	}
	if s.err != nil || status >= 500 {
		typ := strconv.Itoa(status)
		if s.err != nil {
			typ = string(apierror.Classify(s.err).Type)
		}
		s.span.SetStatus(codes.Error, typ)
		s.span.SetAttributes(tracing.ErrorType.String(typ))
	}
	s.span.End(trace.WithTimestamp(s.end))
}

// finishScanner finds the finish reasons in a response as it passes, in
// any of the client schemas (OpenAI's finish_reason, Anthropic's
// stop_reason, Gemini's finishReason), holding back only a key's length
// across chunks; with output it also keeps the response's first
// maxTracedContent bytes.
type finishScanner struct {
	output   bool
	captured []byte
	tail     []byte
	reasons  []string
}

// finishKeys are the keys whose string values are finish reasons.
var finishKeys = [...][]byte{[]byte(`"finish_reason":"`), []byte(`"stop_reason":"`), []byte(`"finishReason":"`)}

// maxReasonLen bounds one finish reason; a longer value is not one.
const maxReasonLen = 32

// scanCarry is how much of a chunk's end is carried to the next: a key
// and a value split across chunks are still found.
const scanCarry = len(`"finish_reason":"`) + maxReasonLen + 1

func (f *finishScanner) feed(chunk []byte) {
	if f.output && len(f.captured) < maxTracedContent {
		f.captured = append(f.captured, chunk[:min(len(chunk), maxTracedContent-len(f.captured))]...)
	}
	if len(f.reasons) >= maxFinishReasons {
		return
	}
	data := chunk
	if len(f.tail) > 0 {
		data = append(f.tail, chunk...)
	}
	// A reason wholly in the carried tail is found twice: reasons are a
	// set.
	for _, key := range finishKeys {
		rest := data
		for {
			i := bytes.Index(rest, key)
			if i < 0 {
				break
			}
			rest = rest[i+len(key):]
			end := bytes.IndexByte(rest[:min(len(rest), maxReasonLen+1)], '"')
			if end < 0 {
				if len(rest) <= maxReasonLen {
					break // cut: found again with the next chunk
				}
				continue // too long to be a reason
			}
			f.addReason(string(rest[:end]))
			rest = rest[end:]
		}
	}
	keep := min(len(data), scanCarry)
	f.tail = append(f.tail[:0], data[len(data)-keep:]...)
}

func (f *finishScanner) addReason(r string) {
	if r == "" || len(f.reasons) >= maxFinishReasons {
		return
	}
	for _, have := range f.reasons {
		if have == r {
			return
		}
	}
	f.reasons = append(f.reasons, r)
}

// inputMessages are OpenInference's llm.input_messages attributes of an
// OpenAI chat or Anthropic Messages body: each message's role and text.
func inputMessages(body []byte) []attribute.KeyValue {
	var req struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if json.Unmarshal(body, &req) != nil {
		return nil
	}
	attrs := make([]attribute.KeyValue, 0, 2*min(len(req.Messages), maxTracedMessages))
	for i, m := range req.Messages[:min(len(req.Messages), maxTracedMessages)] {
		prefix := tracing.OIInputMessagePrefix + strconv.Itoa(i) + ".message."
		attrs = append(attrs, attribute.String(prefix+"role", tracing.Clip(m.Role, tracing.MaxName)))
		if text := messageText(m.Content); text != "" {
			attrs = append(attrs, attribute.String(prefix+"content", tracing.Clip(text, maxTracedContent)))
		}
	}
	return attrs
}

// messageText is a message content's text: the string, or its text parts
// joined.
func messageText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var b bytes.Buffer
	for _, p := range parts {
		if p.Type == "text" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// mimeType is a Content-Type without its parameters, application/json
// when unset.
func mimeType(ct string) string {
	if i := bytes.IndexByte([]byte(ct), ';'); i >= 0 {
		ct = ct[:i]
	}
	if ct == "" {
		return "application/json"
	}
	return ct
}
