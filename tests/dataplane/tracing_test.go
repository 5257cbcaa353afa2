package dataplane

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP trace receiver over gRPC or HTTP: the collector
// protocol's own protobuf service, keeping every span with the service
// that sent it.
type otlpReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []receivedSpan
}

type receivedSpan struct {
	service string
	*tracepb.Span
}

func (r *otlpReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, receivedSpan{service: service, Span: s})
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *otlpReceiver) received() []receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedSpan(nil), r.spans...)
}

// startOTLP serves r over protocol ("grpc" or "http/protobuf") and returns
// the endpoint URL.
func (r *otlpReceiver) start(t *testing.T, protocol string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if protocol == "grpc" {
		gs := grpc.NewServer()
		coltracepb.RegisterTraceServiceServer(gs, r)
		go func() { _ = gs.Serve(l) }()
		t.Cleanup(gs.Stop)
		return "http://" + l.Addr().String()
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var msg coltracepb.ExportTraceServiceRequest
		if err != nil || req.URL.Path != "/v1/traces" || proto.Unmarshal(body, &msg) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		resp, _ := r.Export(req.Context(), &msg)
		out, _ := proto.Marshal(resp)
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String()
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			v := kv.GetValue()
			switch {
			case v.GetStringValue() != "":
				return v.GetStringValue()
			case v.GetArrayValue() != nil:
				out := ""
				for _, e := range v.GetArrayValue().GetValues() {
					out += e.GetStringValue() + ","
				}
				return out
			default:
				return strconv.FormatInt(v.GetIntValue(), 10)
			}
		}
	}
	return ""
}

// TestTraceAcrossGatewayAndPicker runs `aigw run` and `aigw epp` with the
// OTLP exporter the OTEL_* environment configures (over gRPC, then HTTP)
// against a real OTLP receiver, streams a chat through the pool with the
// client's traceparent, and checks the span tree the receiver got: the
// client's trace → the gateway's request span → its attempt → the pool
// pick → the picker's own span, exported by aigw epp.
func TestTraceAcrossGatewayAndPicker(t *testing.T) {
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(protocol, func(t *testing.T) {
			rcv := &otlpReceiver{}
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.start(t, protocol))
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
			t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
			t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")

			sims := startSims(t, 2, model)
			_, rank0, _ := net.SplitHostPort(sims[0])
			_, rank1, _ := net.SplitHostPort(sims[1])
			e := startEPP(t, "--endpoints="+sims[0]+","+sims[1], "--secure-serving=false")
			port := freePort(t)
			cfg := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, eppPoolTemplate, port, model, rank0, rank1, e.grpcPort, "false"), 0o600))
			g := startGateway(t, cfg, port)

			const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
			c := g.client()
			params := chat(model)
			params.StreamOptions.IncludeUsage = openai.Bool(true)
			stream := c.Chat.Completions.NewStreaming(context.Background(), params,
				option.WithHeader("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01"))
			for stream.Next() {
			}
			require.NoError(t, stream.Err())

			var req, attempt, pick, picker receivedSpan
			require.Eventually(t, func() bool {
				for _, s := range rcv.received() {
					switch {
					case s.service == "aigw" && s.GetKind() == tracepb.Span_SPAN_KIND_SERVER:
						req = s
					case s.service == "aigw" && s.GetName() == "pick default/vllm":
						pick = s
					case s.service == "aigw" && s.GetKind() == tracepb.Span_SPAN_KIND_CLIENT:
						attempt = s
					case s.service == "aigw-epp":
						picker = s
					}
				}
				return req.Span != nil && attempt.Span != nil && pick.Span != nil && picker.Span != nil
			}, 10*time.Second, 20*time.Millisecond, "spans received: %v\ngateway:\n%s", rcv.received(), g.stderr)

			for _, s := range []receivedSpan{req, attempt, pick, picker} {
				require.Equal(t, traceID, fmt.Sprintf("%x", s.GetTraceId()), "%s is in the client's trace", s.GetName())
			}
			require.Equal(t, "00f067aa0ba902b7", fmt.Sprintf("%x", req.GetParentSpanId()))
			require.Equal(t, req.GetSpanId(), attempt.GetParentSpanId())
			require.Equal(t, attempt.GetSpanId(), pick.GetParentSpanId())
			require.Equal(t, pick.GetSpanId(), picker.GetParentSpanId(), "aigw epp continues the pick's trace")

			require.Equal(t, "chat "+model, req.GetName())
			require.Equal(t, "chat", attr(req.Span, "gen_ai.operation.name"))
			require.Equal(t, model, attr(req.Span, "gen_ai.request.model"))
			require.Equal(t, model, attr(req.Span, "gen_ai.response.model"))
			require.NotEqual(t, "0", attr(req.Span, "gen_ai.usage.output_tokens"))
			require.Contains(t, []string{"stop,", "length,"}, attr(req.Span, "gen_ai.response.finish_reasons"))
			require.Empty(t, attr(req.Span, "input.value"), "no prompt is recorded by default")
			require.Regexp(t, `^127\.0\.0\.1:(`+rank0+`|`+rank1+`)$`, attr(attempt.Span, "aigw.endpoint"))
			require.Equal(t, "picked", attr(picker.Span, "aigw.picker.outcome"))
			require.Equal(t, attr(attempt.Span, "aigw.endpoint"), attr(picker.Span, "aigw.endpoint"))
			require.Equal(t, tracepb.Span_SPAN_KIND_SERVER, picker.GetKind())
		})
	}
}
