package eppserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/epp"
	"github.com/aigw-dev/aigw/internal/labels"
	"github.com/aigw-dev/aigw/internal/modelname"
	"github.com/aigw-dev/aigw/internal/pool"
	"github.com/aigw-dev/aigw/internal/scheduler"
	"github.com/aigw-dev/aigw/internal/tracing"
)

// DefaultMaxRequestBodyBytes bounds a request body held for scheduling, as
// GAIE's lwepp does (10 MiB).
const DefaultMaxRequestBodyBytes = 10 << 20

// maxChunk is the largest streamed body replacement, as GAIE's EPP sends.
const maxChunk = 62000

// headerRequestID is the proxy's request id, for the logs (the protocol's
// own headers are named in internal/epp).
const headerRequestID = "x-request-id"

// Options configures a [Server].
type Options struct {
	// Scheduler picks endpoints; required. The caller feeds its endpoints
	// and runs its scraper.
	Scheduler *scheduler.Scheduler
	// Logger receives per-request failures at debug level and protocol
	// errors at warn; nil discards.
	Logger *slog.Logger
	// Metrics records decisions; nil records nothing.
	Metrics *Metrics
	// AckRequestBody answers request body chunks with empty
	// acknowledgements (lwepp's style, for proxies that keep their copy of
	// the body, as aigw does) instead of echoing the body back as streamed
	// replacements (GAIE's EPP, which Envoy's FULL_DUPLEX_STREAMED mode
	// needs). A request whose model is rewritten is always echoed.
	AckRequestBody bool
	// MaxRequestBodyBytes bounds a request body; larger ones get 413.
	// 0 means [DefaultMaxRequestBodyBytes].
	MaxRequestBodyBytes int64
	// Policy holds the objectives' priorities and the model rewrite rules
	// the server starts with; [Server.SetPolicy] replaces them. A matching
	// rewrite rule overrides the x-gateway-model-name-rewrite header, as in
	// GAIE's EPP.
	Policy scheduler.Policy
	// Rand returns uniformly random uint64s for weighted rewrites; nil
	// means math/rand/v2.
	Rand func() uint64
	// Tracing makes a span per pick, continuing the trace of the request's
	// traceparent header; nil records nothing.
	Tracing trace.TracerProvider
}

// Server is GAIE's endpoint picker protocol over the scheduler: an
// Envoy ext_proc service. Create it with [New] and register it on a gRPC
// server with extprocv3.RegisterExternalProcessorServer.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer

	opts   Options
	logger *slog.Logger
	tracer trace.Tracer
	policy atomic.Pointer[scheduler.CompiledPolicy]
}

var _ extprocv3.ExternalProcessorServer = (*Server)(nil)

// New returns a server for opts.
func New(opts Options) (*Server, error) {
	if opts.Scheduler == nil {
		return nil, errors.New("eppserver: Options.Scheduler is required")
	}
	if opts.MaxRequestBodyBytes <= 0 {
		opts.MaxRequestBodyBytes = DefaultMaxRequestBodyBytes
	}
	if opts.Rand == nil {
		opts.Rand = rand.Uint64
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tp := opts.Tracing
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	s := &Server{opts: opts, logger: logger, tracer: tp.Tracer(tracing.InstrumentationName)}
	if err := s.SetPolicy(opts.Policy); err != nil {
		return nil, err
	}
	return s, nil
}

// SetPolicy validates p and makes it the policy of requests that start
// from now on; on error the current policy stays. It is safe to call while
// requests are served.
func (s *Server) SetPolicy(p scheduler.Policy) error {
	c, err := scheduler.CompilePolicy(p)
	if err != nil {
		return fmt.Errorf("eppserver: policy: %w", err)
	}
	s.policy.Store(c)
	return nil
}

// Process serves one request's stream: the request phase ends with the
// pick (or an immediate response), the response phase reports the served
// endpoint, restores the client's model name and captures usage.
func (s *Server) Process(st extprocv3.ExternalProcessor_ProcessServer) error {
	x := &exchange{srv: s, policy: s.policy.Load(), st: st, ctx: st.Context(), start: time.Now(), headers: map[string]string{}}
	defer x.finish()
	for {
		req, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err // finish counts an undecided request as cancelled
		}
		if err := x.handle(req); err != nil {
			if errors.Is(err, errStreamDone) {
				return nil
			}
			return err
		}
	}
}

// errStreamDone ends a stream after an immediate response.
var errStreamDone = errors.New("stream answered")

// Outcomes of a request, the label of the decisions metric.
const (
	outcomePicked     = "picked"
	outcomeBadRequest = "bad_request"
	outcomeTooLarge   = "too_large"
	outcomeSaturated  = "saturated"
	outcomeQueueFull  = "queue_full"
	outcomeQueueTTL   = "queue_timeout"
	outcomeNoEndpoint = "no_endpoint"
	outcomeCancelled  = "cancelled"
)

// exchange is one stream's state.
type exchange struct {
	srv    *Server
	policy *scheduler.CompiledPolicy // the server's policy when the stream began
	st     extprocv3.ExternalProcessor_ProcessServer
	ctx    context.Context
	start  time.Time

	headers map[string]string // lower-case names; pseudo-headers included
	subset  []string
	hinted  bool // a subset hint arrived (possibly empty)
	body    []byte
	chunks  int
	echo    bool // answer the request body with replacements
	picked  bool

	incoming, target string              // model names; differ when rewritten
	restorer         *modelname.Restorer // set when the body's model was rewritten
	primary          string
	served           string
	done             func() // ends the in-flight count
	outcome          string

	sse       bool
	usage     usageScanner
	firstByte time.Duration
}

func (x *exchange) handle(req *extprocv3.ProcessingRequest) error {
	switch r := req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		for _, h := range r.RequestHeaders.GetHeaders().GetHeaders() {
			v := string(h.GetRawValue())
			if v == "" {
				v = h.GetValue()
			}
			x.headers[strings.ToLower(h.GetKey())] = v
		}
		x.readSubset(req.GetMetadataContext())
		x.echo = !x.srv.opts.AckRequestBody || x.policy.HasRewrites() || x.headers[epp.ModelRewriteHeader] != ""
		if r.RequestHeaders.GetEndOfStream() {
			return x.decide(nil)
		}
	case *extprocv3.ProcessingRequest_RequestBody:
		if x.picked {
			return status.Error(codes.FailedPrecondition, "request body after the end of the request")
		}
		x.readSubset(req.GetMetadataContext()) // GAIE's EPP uses the last chunk's hint
		chunk, eos := r.RequestBody.GetBody(), r.RequestBody.GetEndOfStream()
		if int64(len(x.body)+len(chunk)) > x.srv.opts.MaxRequestBodyBytes {
			x.outcome = outcomeTooLarge
			return x.immediate(apierror.BodyTooLarge(x.srv.opts.MaxRequestBodyBytes))
		}
		switch {
		case x.body == nil && eos:
			// The whole body in one message: it belongs to this request
			// alone (unmarshalled afresh), so no copy.
			x.body = chunk
		case x.body == nil:
			// Sized once from the request's content-length when it is
			// plausible (proxies send it), instead of growing by doubling.
			x.body = make([]byte, 0, max(x.declaredLength(), 2*len(chunk)))
			fallthrough
		default:
			x.body = append(x.body, chunk...)
		}
		x.chunks++
		if !eos {
			if !x.echo {
				return x.send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}})
			}
			return nil
		}
		return x.decide(x.body)
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return x.send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}})
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return x.responseHeaders(r.ResponseHeaders, req.GetMetadataContext())
	case *extprocv3.ProcessingRequest_ResponseBody:
		return x.responseBody(r.ResponseBody.GetBody(), r.ResponseBody.GetEndOfStream())
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return x.send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}})
	default:
		return status.Errorf(codes.InvalidArgument, "unexpected ext_proc message %T", r)
	}
	return nil
}

// declaredLength is the request's content-length header when it is a
// size the server accepts, else 0.
func (x *exchange) declaredLength() int {
	n, err := strconv.ParseInt(x.headers["content-length"], 10, 64)
	if err != nil || n <= 0 || n > x.srv.opts.MaxRequestBodyBytes {
		return 0
	}
	return int(n)
}

// readSubset reads the subset hint: a list of endpoints (GAIE) or a
// comma-separated string (lwepp accepts both).
func (x *exchange) readSubset(md *corev3.Metadata) {
	v := md.GetFilterMetadata()[epp.SubsetNamespace].GetFields()[epp.SubsetKey]
	var subset []string
	switch k := v.GetKind().(type) {
	case *structpb.Value_ListValue:
		for _, e := range k.ListValue.GetValues() {
			if s := strings.TrimSpace(e.GetStringValue()); s != "" {
				subset = append(subset, s)
			}
		}
	case *structpb.Value_StringValue:
		for _, s := range strings.Split(k.StringValue, ",") {
			if s = strings.TrimSpace(s); s != "" {
				subset = append(subset, s)
			}
		}
	default: // absent, or a kind no picker reads: no hint
		return
	}
	x.hinted, x.subset = true, subset
}

// decide runs the request phase's end: parse, then the scheduler's admit →
// rewrite → pick sequence, then answer.
func (x *exchange) decide(body []byte) error {
	x.picked = true
	_, span := x.srv.tracer.Start(tracing.Propagator.Extract(context.Background(), propagation.MapCarrier(x.headers)),
		"endpoint pick", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(x.start))
	defer x.endSpan(span)
	in := scheduler.Incoming{
		Objective: x.headers[epp.ObjectiveHeader], FairnessID: x.headers[epp.FairnessIDHeader],
		RewriteHeader: x.headers[epp.ModelRewriteHeader], Bytes: int64(len(body)), Rand: x.srv.opts.Rand(),
	}
	var parsed parsedRequest
	if body != nil {
		var err error
		parsed, err = parseRequest(x.path(), body, x.srv.opts.Scheduler.PromptLimit())
		if err != nil {
			x.outcome = outcomeBadRequest
			return x.immediate(apierror.InvalidRequest("", "%s", strings.TrimPrefix(err.Error(), errBadRequest.Error()+": ")))
		}
		x.incoming = parsed.model
		in.Model, in.Prompt, in.CacheSalt = parsed.model, parsed.prompt, parsed.cacheSalt
	}
	if x.hinted {
		in.Subset = x.subset
		if in.Subset == nil {
			in.Subset = []string{}
		}
	}
	sched, err := x.srv.opts.Scheduler.Schedule(x.ctx, x.policy, in)
	x.target = sched.Model
	if !sched.Admitted || sched.AdmitWait > time.Millisecond { // only requests that waited
		var admitErr error
		if !sched.Admitted {
			admitErr = err
		}
		x.srv.opts.Metrics.observeAdmission(sched.AdmitWait, admissionOutcome(admitErr))
	}
	if sched.Admitted {
		x.srv.opts.Metrics.observePick(sched.PickTime, sched.Result)
	}
	if sched.Done != nil {
		x.done = sched.Done
	}
	switch {
	case !sched.Admitted, errors.Is(err, scheduler.ErrSaturated):
		return x.admissionFailed(err)
	case errors.Is(err, scheduler.ErrNoEndpoints):
		x.outcome = outcomeNoEndpoint
		msg := "no ready endpoint in the inference pool"
		if x.hinted {
			msg = "no ready endpoint in the inference pool matches the subset hint"
		}
		return x.immediate(apierror.Unavailable(msg, err))
	case err != nil:
		x.outcome = outcomeCancelled
		return status.Error(codes.Canceled, err.Error())
	}
	res := sched.Result
	x.outcome = outcomePicked
	x.primary = res.Endpoints[0]

	out := body
	if body != nil && x.target != x.incoming {
		out = withModel(body, &parsed, x.target)
		x.restorer = modelname.NewRestorer(x.target, x.incoming)
	}
	dest := strings.Join(res.Endpoints, ",")
	set := []*corev3.HeaderValueOption{header(epp.DestinationKey, dest)}
	if body != nil && x.echo {
		set = append(set, header("content-length", strconv.Itoa(len(out))))
	}
	if err := x.send(&extprocv3.ProcessingResponse{
		Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{Response: &extprocv3.CommonResponse{
			ClearRouteCache: true,
			HeaderMutation:  &extprocv3.HeaderMutation{SetHeaders: set},
		}}},
		DynamicMetadata: &structpb.Struct{Fields: map[string]*structpb.Value{epp.MetadataNamespace: structpb.NewStructValue(&structpb.Struct{
			Fields: map[string]*structpb.Value{epp.DestinationKey: structpb.NewStringValue(dest)},
		})}},
	}); err != nil {
		return err
	}
	switch {
	case body == nil:
		return nil
	case x.echo:
		return x.sendBody(out, true, true)
	default: // the last chunk's acknowledgement
		return x.send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}})
	}
}

// path is the API path the parser selects by: :path, then the proxies'
// original-path headers.
func (x *exchange) path() string {
	for _, h := range [...]string{":path", "x-original-path", "x-forwarded-path"} {
		if v := x.headers[h]; v != "" {
			return v
		}
	}
	return ""
}

// responseHeaders reads the served endpoint and moves the in-flight count
// to it when the proxy fell back from the primary.
func (x *exchange) responseHeaders(h *extprocv3.HttpHeaders, md *corev3.Metadata) error {
	x.firstByte = time.Since(x.start)
	x.served = md.GetFilterMetadata()[epp.MetadataNamespace].GetFields()[epp.ServedKey].GetStringValue()
	if x.served != "" && x.served != x.primary && x.primary != "" {
		x.done()
		x.done = x.srv.opts.Scheduler.Started(x.served)
		x.srv.opts.Metrics.servedElsewhere()
	}
	for _, hv := range h.GetHeaders().GetHeaders() {
		if strings.EqualFold(hv.GetKey(), "content-type") {
			v := string(hv.GetRawValue())
			if v == "" {
				v = hv.GetValue()
			}
			x.sse = strings.Contains(v, "text/event-stream")
		}
	}
	x.usage.sse = x.sse
	resp := &extprocv3.HeadersResponse{}
	if x.restorer != nil { // the restored model name changes the body's length
		resp.Response = &extprocv3.CommonResponse{HeaderMutation: &extprocv3.HeaderMutation{RemoveHeaders: []string{"content-length"}}}
	}
	return x.send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: resp}})
}

// responseBody echoes each chunk at once, restoring the client's model
// name when it was rewritten (the restorer holds back at most the start of
// a name that straddles two chunks).
func (x *exchange) responseBody(chunk []byte, eos bool) error {
	x.usage.feed(chunk, eos)
	if x.restorer != nil {
		chunk = x.restorer.Restore(chunk, eos)
	}
	if err := x.sendBody(chunk, eos, false); err != nil {
		return err
	}
	if eos {
		x.srv.opts.Metrics.observeUsage(x.usage.prompt, x.usage.completion)
	}
	return nil
}

// admissionFailed answers a request flow control or the saturation check
// turned away ([pool.RefusalError]); a cancelled request ends the stream.
func (x *exchange) admissionFailed(err error) error {
	refusal := pool.RefusalError(err)
	switch {
	case refusal == nil:
		x.outcome = outcomeCancelled
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, scheduler.ErrQueueFull):
		x.outcome = outcomeQueueFull
	case errors.Is(err, scheduler.ErrQueueTimeout):
		x.outcome = outcomeQueueTTL
	default:
		x.outcome = outcomeSaturated
	}
	return x.immediate(refusal)
}

// admissionOutcome labels a wait in flow control's queue.
func admissionOutcome(err error) string {
	switch {
	case err == nil:
		return "dispatched"
	case scheduler.Refused(err):
		return "rejected"
	default:
		return "cancelled"
	}
}

func (x *exchange) send(resp *extprocv3.ProcessingResponse) error {
	if err := x.st.Send(resp); err != nil {
		return fmt.Errorf("eppserver: send: %w", err)
	}
	return nil
}

// sendBody sends body as streamed replacements of at most maxChunk bytes,
// end_of_stream on the last when eos.
func (x *exchange) sendBody(body []byte, eos, request bool) error {
	for off := 0; ; off += maxChunk {
		end := min(off+maxChunk, len(body))
		last := end == len(body)
		br := &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{
			Mutation: &extprocv3.BodyMutation_StreamedResponse{StreamedResponse: &extprocv3.StreamedBodyResponse{Body: body[off:end], EndOfStream: eos && last}},
		}}}
		resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: br}}
		if request {
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: br}}
		}
		if err := x.send(resp); err != nil {
			return err
		}
		if last {
			return nil
		}
	}
}

// immediate answers the client with an OpenAI-shaped error and ends the
// stream.
func (x *exchange) immediate(e *apierror.Error) error {
	code, body := apierror.Render(e)
	// The request ID and the message may carry what the client sent: cut.
	x.srv.logger.Debug("endpoint picker answered the client", "status", code,
		"request_id", labels.Truncate(x.headers[headerRequestID], labels.MaxLogValueBytes), "error", labels.Truncate(e.Message, labels.MaxLogErrorBytes))
	err := x.send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
		Status: &typev3.HttpStatus{Code: typev3.StatusCode(code)},
		Headers: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{
			header("content-type", "application/json"),
		}},
		Body:    body,
		Details: "inference error: " + e.Message,
	}}})
	if err != nil {
		return err
	}
	return errStreamDone
}

// endSpan ends a pick's span with its decision.
func (x *exchange) endSpan(span trace.Span) {
	if span.IsRecording() {
		span.SetAttributes(tracing.Outcome.String(x.outcome))
		if x.incoming != "" {
			span.SetAttributes(tracing.RequestModel.String(tracing.Clip(x.incoming, tracing.MaxName)), tracing.TargetModel.String(tracing.Clip(x.target, tracing.MaxName)))
		}
		if x.primary != "" {
			span.SetAttributes(tracing.Endpoint.String(x.primary))
		}
		if x.outcome != outcomePicked {
			span.SetStatus(otelcodes.Error, x.outcome)
		}
	}
	span.End()
}

// finish ends the in-flight count and records the request.
func (x *exchange) finish() {
	if x.done != nil {
		x.done()
	}
	if x.outcome == "" {
		x.outcome = outcomeCancelled
	}
	x.srv.opts.Metrics.observeRequest(x.outcome, x.incoming, x.target, x.firstByte)
}

func header(name, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: name, RawValue: []byte(value)}}
}
