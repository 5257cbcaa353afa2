package httpproxy

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/epp/epptest"
	"github.com/aigw-dev/aigw/internal/tracing"
)

// tracedGateway is a gateway whose spans go to an in-memory recorder.
func tracedGateway(t *testing.T, cfg *config.Config, content tracing.Content, sampler sdktrace.Sampler) (*testGateway, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sampler))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	g := New(Options{Tracing: tp, TraceContent: content, AccessLog: slog.New(slog.DiscardHandler)})
	require.NoError(t, g.Apply(cfg))
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	t.Cleanup(g.Close)
	return &testGateway{Gateway: g, srv: srv}, rec
}

// clientTrace is the trace context of a client's own span.
var clientTrace = trace.NewSpanContext(trace.SpanContextConfig{
	TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
	SpanID:  trace.SpanID{1, 1, 1, 1, 1, 1, 1, 1}, TraceFlags: trace.FlagsSampled,
})

const clientTraceparent = "00-0102030405060708090a0b0c0d0e0f10-0101010101010101-01"

func attrsOf(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// spanTree is the ended spans of one request: its span and their
// children by parent.
type spanTree struct {
	req      sdktrace.ReadOnlySpan
	all      []sdktrace.ReadOnlySpan
	children map[trace.SpanID][]sdktrace.ReadOnlySpan
}

// ended waits until n spans have ended (the request's ends after the
// client has its last byte) and returns them as a tree.
func ended(t *testing.T, rec *tracetest.SpanRecorder, n int) spanTree {
	t.Helper()
	require.Eventually(t, func() bool { return len(rec.Ended()) >= n }, 5*time.Second, 5*time.Millisecond)
	tree := spanTree{all: rec.Ended(), children: map[trace.SpanID][]sdktrace.ReadOnlySpan{}}
	for _, s := range tree.all {
		if s.SpanKind() == trace.SpanKindServer {
			tree.req = s
		}
		tree.children[s.Parent().SpanID()] = append(tree.children[s.Parent().SpanID()], s)
	}
	require.NotNil(t, tree.req, "no request span among %d", len(tree.all))
	return tree
}

func (tr spanTree) childrenOf(s sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	return tr.children[s.SpanContext().SpanID()]
}

// TestTraceOfStreamedChatThroughPicker checks the span tree of a streamed
// chat through a pool whose picker is reached over ext_proc: the client's
// trace continues in the gateway's request span, whose attempt span is the
// parent of the pick's; the picker gets the pick span's traceparent and the
// model server the attempt's. No message content is recorded by default.
func TestTraceOfStreamedChatThroughPicker(t *testing.T) {
	a := newFakeOpenAI(t, "a")
	var mu sync.Mutex
	var pickerSaw string
	picker := epptest.Start(t, epptest.Replace, func(h map[string]string, _ []byte) epptest.Decision {
		mu.Lock()
		pickerSaw = h["traceparent"]
		mu.Unlock()
		return epptest.Decision{Pick: addrOf(a)}
	})
	tg, rec := tracedGateway(t, poolConfig(poolOf("default/pool", pickerAt(picker, config.FailClose), a)), tracing.Content{}, sdktrace.AlwaysSample())

	c := tg.client(option.WithHeader("traceparent", clientTraceparent))
	s := c.Chat.Completions.NewStreaming(context.Background(), chatParams("m"))
	for s.Next() {
	}
	require.NoError(t, s.Err())

	tree := ended(t, rec, 3)
	req := tree.req
	require.Equal(t, "chat m", req.Name())
	require.Len(t, tree.childrenOf(req), 1)
	attempt := tree.childrenOf(req)[0]
	require.Equal(t, "chat m", attempt.Name())
	require.Len(t, tree.childrenOf(attempt), 1)
	pick := tree.childrenOf(attempt)[0]
	require.Equal(t, "pick default/pool", pick.Name())

	require.Equal(t, clientTrace.TraceID(), req.SpanContext().TraceID(), "the client's trace continues")
	require.Equal(t, clientTrace.SpanID(), req.Parent().SpanID())
	require.Equal(t, trace.SpanKindServer, req.SpanKind())
	require.Equal(t, req.SpanContext().SpanID(), attempt.Parent().SpanID())
	require.Equal(t, trace.SpanKindClient, attempt.SpanKind())
	require.Equal(t, attempt.SpanContext().SpanID(), pick.Parent().SpanID())

	ra := attrsOf(req)
	require.Equal(t, "chat", ra[tracing.OperationName].AsString())
	require.Equal(t, "m", ra[tracing.RequestModel].AsString())
	require.Equal(t, "openai", ra[tracing.ProviderName].AsString())
	require.Equal(t, "m", ra[tracing.ResponseModel].AsString())
	require.Equal(t, int64(5), ra[tracing.InputTokens].AsInt64())
	require.Equal(t, int64(3), ra[tracing.OutputTokens].AsInt64())
	require.Equal(t, []string{"stop"}, ra[tracing.FinishReasons].AsStringSlice())
	require.Equal(t, int64(200), ra[tracing.HTTPStatusCode].AsInt64())
	require.Equal(t, "LLM", ra[tracing.OISpanKind].AsString())
	require.Equal(t, int64(8), ra[tracing.OITotalTokens].AsInt64())
	for _, key := range []attribute.Key{tracing.OIInputValue, tracing.OIOutputValue, tracing.OIInputMessagePrefix + "0.message.content"} {
		require.NotContains(t, ra, key, "no content is recorded by default")
	}

	aa := attrsOf(attempt)
	require.Equal(t, "default/pool", aa[tracing.Pool].AsString())
	require.Equal(t, addrOf(a), aa[tracing.Endpoint].AsString())
	require.Equal(t, int64(200), aa[tracing.HTTPStatusCode].AsInt64())
	pa := attrsOf(pick)
	require.Equal(t, "picked", pa[tracing.Outcome].AsString())
	require.Equal(t, []string{addrOf(a)}, pa[tracing.Endpoints].AsStringSlice())

	mu.Lock()
	require.Equal(t, "00-"+req.SpanContext().TraceID().String()+"-"+pick.SpanContext().SpanID().String()+"-01", pickerSaw, "the picker continues from the pick span")
	mu.Unlock()
	got := a.requests()[0].Header.Get("traceparent")
	require.Equal(t, "00-"+req.SpanContext().TraceID().String()+"-"+attempt.SpanContext().SpanID().String()+"-01", got, "the model server continues from the attempt span")
}

// TestTraceOfFallback checks each attempt has its span, the failed one
// with its status and error, and that content is recorded, bounded, when
// the switches allow.
func TestTraceOfFallback(t *testing.T) {
	primary, secondary := newFakeOpenAI(t, "primary"), newFakeOpenAI(t, "secondary")
	primary.setFault("status=503")
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{backendOf("default/primary", primary), backendOf("default/secondary", secondary)},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ref("default/primary", 0), ref("default/secondary", 1))}}},
	}
	tg, rec := tracedGateway(t, cfg, tracing.Content{Inputs: true, Outputs: true}, sdktrace.AlwaysSample())
	c := tg.client()
	_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
	require.NoError(t, err)

	tree := ended(t, rec, 3)
	req := tree.req
	attempts := tree.childrenOf(req)
	require.Len(t, attempts, 2)
	first, second := attrsOf(attempts[0]), attrsOf(attempts[1])
	require.Equal(t, "default/primary", first[tracing.Backend].AsString())
	require.Equal(t, int64(503), first[tracing.HTTPStatusCode].AsInt64())
	require.Equal(t, codes.Error, attempts[0].Status().Code)
	require.Equal(t, "default/secondary", second[tracing.Backend].AsString())
	require.Equal(t, codes.Unset, attempts[1].Status().Code)

	ra := attrsOf(req)
	require.Equal(t, "default/secondary", ra[tracing.Backend].AsString())
	require.Equal(t, []string{"stop"}, ra[tracing.FinishReasons].AsStringSlice())
	require.Equal(t, int64(2), ra[tracing.CachedInputTokens].AsInt64())
	require.Contains(t, ra[tracing.OIInputValue].AsString(), `"messages"`)
	require.Equal(t, "user", ra[tracing.OIInputMessagePrefix+"0.message.role"].AsString())
	require.Equal(t, "hi", ra[tracing.OIInputMessagePrefix+"0.message.content"].AsString())
	require.Contains(t, ra[tracing.OIOutputValue].AsString(), "hello from secondary")
	require.Equal(t, "application/json", ra[tracing.OIOutputMimeType].AsString())
	require.Equal(t, "assistant", ra[tracing.OIOutputMessagePrefix+"0.message.role"].AsString())
	require.Contains(t, ra[tracing.OIOutputMessagePrefix+"0.message.content"].AsString(), "hello from secondary")
}

// TestTraceSampledOut checks a sampler at 0 records nothing while the
// client's trace context still reaches the upstream, and that a
// client-chosen model name is bounded in the span.
func TestTraceSampledOut(t *testing.T) {
	a := newFakeOpenAI(t, "a")
	rule := modelRule(".*", ref("default/a", 0))
	rule.Matches[0].Headers[0].Type = config.HeaderMatchRegularExpression
	cfg := &config.Config{Version: config.Version, Backends: []config.Backend{backendOf("default/a", a)},
		Routes: []config.Route{{Name: "default/r", Rules: []config.Rule{rule}}}}
	tg, rec := tracedGateway(t, cfg, tracing.Content{}, sdktrace.NeverSample())
	c := tg.client(option.WithHeader("traceparent", clientTraceparent))
	_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
	require.NoError(t, err)
	require.Empty(t, rec.Ended())
	got := a.requests()[0].Header.Get("traceparent")
	require.True(t, strings.HasPrefix(got, "00-0102030405060708090a0b0c0d0e0f10-"), "the client's trace reaches the upstream: %q", got)

	long := strings.Repeat("é", 1000)
	tg, rec = tracedGateway(t, cfg, tracing.Content{}, sdktrace.AlwaysSample())
	c = tg.client()
	_, err = c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: long, Messages: chatParams("m").Messages})
	require.NoError(t, err)
	for _, sp := range ended(t, rec, 2).all {
		require.LessOrEqual(t, len(sp.Name()), tracing.MaxName+len("chat "))
		for _, kv := range sp.Attributes() {
			if kv.Value.Type() == attribute.STRING {
				require.LessOrEqual(t, len(kv.Value.AsString()), tracing.MaxName, kv.Key)
			}
		}
	}
}
