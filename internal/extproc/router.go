package extproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/processor"
)

// maxStreamedChunk bounds one body chunk the server sends back in
// FULL_DUPLEX_STREAMED mode (Envoy's default buffer is 64 KiB a message).
const maxStreamedChunk = 64 << 10

// routerStream is the router-level stream of one request: it parses and
// routes the request (the model header Envoy's routes match on) and
// processes the response (translation, model-name restore, usage, costs).
type routerStream struct {
	srv *Server
	st  extprocv3.ExternalProcessor_ProcessServer
	ctx context.Context //nolint:containedctx // the stream's own context

	e   *entry
	id  string
	rt  *processor.Runtime
	req message
	// seen are the request headers as Envoy has them after the last
	// answer: the next answer sends the difference.
	seen http.Header
	body []byte
	// charged is what the body holds of the server's body budget.
	charged int64
	// requestDuplex and responseDuplex mark FULL_DUPLEX_STREAMED bodies:
	// the headers are answered after the body, and the body is sent back.
	requestDuplex, responseDuplex bool
	headersAnswered               bool
	responseEnded                 bool
}

func (r *routerStream) run(first *extprocv3.ProcessingRequest) (err error) {
	if pc := first.GetProtocolConfig(); pc != nil {
		r.requestDuplex = pc.GetRequestBodyMode() == filterv3.ProcessingMode_FULL_DUPLEX_STREAMED
		r.responseDuplex = pc.GetResponseBodyMode() == filterv3.ProcessingMode_FULL_DUPLEX_STREAMED
	}
	defer func() { r.finish() }()
	msg := first
	for {
		if err := r.handle(msg); err != nil {
			if errors.Is(err, errStreamDone) {
				return nil
			}
			return err
		}
		if msg, err = r.st.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// finish ends the request: one record, and its state leaves the table
// and its body the budget.
func (r *routerStream) finish() {
	r.srv.budget.Release(r.charged)
	r.charged = 0
	if r.e == nil {
		return
	}
	r.srv.sessions.remove(r.id)
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	cause := contextCause(r.ctx)
	if cause == nil && !r.responseEnded && r.headersAnswered {
		// Envoy ended the stream before the response did: the client (or
		// Envoy's own timeout) cut the request.
		cause = context.Canceled
	}
	r.e.s.Finish(r.ctx, cause)
}

func (r *routerStream) handle(msg *extprocv3.ProcessingRequest) error {
	switch m := msg.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return r.requestHeaders(m.RequestHeaders, sourceAddress(msg.GetAttributes()))
	case *extprocv3.ProcessingRequest_RequestBody:
		return r.requestBody(m.RequestBody.GetBody(), m.RequestBody.GetEndOfStream())
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return r.send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}})
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return r.responseHeaders(m.ResponseHeaders)
	case *extprocv3.ProcessingRequest_ResponseBody:
		return r.responseBody(m.ResponseBody.GetBody(), m.ResponseBody.GetEndOfStream())
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return r.send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}})
	default:
		return unexpected(fmt.Sprintf("router level: %T", m))
	}
}

func (r *routerStream) send(resp *extprocv3.ProcessingResponse) error { return r.st.Send(resp) }

// fail answers err for the client and ends the stream.
func (r *routerStream) fail(err error) error {
	if r.e != nil {
		r.e.mu.Lock()
		err = r.e.s.Fail(r.ctx, err)
		r.e.mu.Unlock()
	}
	return immediate(r.st, err)
}

func (r *routerStream) requestHeaders(h *extprocv3.HttpHeaders, remote netip.Addr) error {
	if r.e != nil {
		return unexpected("router level: request headers twice")
	}
	r.req = readHeaders(h.GetHeaders())
	r.rt = r.srv.runtime()
	uri := r.req.pseudo[":path"]
	path, _, _ := strings.Cut(uri, "?")
	r.seen = r.req.header.Clone()
	s := r.rt.Start(processor.RequestInfo{
		Method: r.req.pseudo[":method"], Path: path, URI: uri, Host: r.req.pseudo[":authority"],
		Header: r.req.header, Start: time.Now(), RemoteAddr: remote,
	})
	r.req.header.Del(HeaderInternalRequestID) // only this answer sets it
	r.e = &entry{s: s}
	r.id = newInternalID(s.RequestID)
	lr, err := s.RequestHeaders()
	switch {
	case err != nil:
		return r.fail(err)
	case lr != nil:
		s.Finish(r.ctx, nil) // not shared yet: no lock
		r.e = nil
		return local(r.st, lr, r.req.pseudo[":method"] == http.MethodHead)
	}
	if !r.srv.sessions.add(r.id, r.e) {
		r.e = nil // not shared: no lock
		err := s.Fail(r.ctx, apierror.Overloaded("the gateway holds too many requests in progress; retry later"))
		s.Finish(r.ctx, nil)
		return immediate(r.st, err)
	}
	r.req.header.Set(HeaderInternalRequestID, r.id)
	if h.GetEndOfStream() {
		return r.routed(nil)
	}
	if r.requestDuplex {
		return nil // answered with the body
	}
	return r.answerHeaders(false)
}

// answerHeaders answers the request headers with the edits made so far.
func (r *routerStream) answerHeaders(routed bool) error {
	mut := headerDiff(r.seen, r.req.header)
	r.seen = r.req.header.Clone()
	if routed {
		setHeader(mut, HeaderOriginalPath, r.req.pseudo[":path"])
	}
	r.headersAnswered = true
	return r.send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{
		Response: &extprocv3.CommonResponse{HeaderMutation: mut, ClearRouteCache: routed},
	}}})
}

func (r *routerStream) requestBody(chunk []byte, eos bool) error {
	if r.e == nil {
		return unexpected("router level: request body before headers")
	}
	if limit := r.e.s.MaxRequestBodyBytes(); int64(len(r.body)+len(chunk)) > limit {
		return r.fail(apierror.BodyTooLarge(limit))
	}
	if !r.srv.budget.Charge(int64(len(chunk))) {
		return r.fail(apierror.Overloaded("the gateway holds too many request bodies; retry later"))
	}
	r.charged += int64(len(chunk))
	if r.body == nil && eos {
		r.body = chunk // the whole body in one message (BUFFERED)
	} else {
		r.body = append(r.body, chunk...)
	}
	if !eos {
		if !r.requestDuplex {
			// STREAMED: each chunk is acknowledged; the route is known at
			// the end.
			return r.send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}})
		}
		return nil
	}
	return r.routed(r.body)
}

// routed runs the body phase and answers it: the model header Envoy's
// routes match on, with the route cache cleared so that Envoy matches
// again.
func (r *routerStream) routed(body []byte) error {
	r.e.mu.Lock()
	err := r.e.s.RequestBody(body)
	r.e.mu.Unlock()
	if err != nil {
		return r.fail(err)
	}
	switch {
	case body == nil || r.requestDuplex:
		if err := r.answerHeaders(true); err != nil {
			return err
		}
		if body == nil {
			return nil
		}
		return r.sendStreamed(body, true, true)
	default:
		mut := headerDiff(r.seen, r.req.header)
		r.seen = r.req.header.Clone()
		setHeader(mut, HeaderOriginalPath, r.req.pseudo[":path"])
		return r.send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{
			Response: &extprocv3.CommonResponse{HeaderMutation: mut, ClearRouteCache: true},
		}}})
	}
}

// sendStreamed sends body back in FULL_DUPLEX_STREAMED mode, in chunks.
func (r *routerStream) sendStreamed(body []byte, eos, request bool) error {
	for first := true; first || len(body) > 0; first = false {
		n := min(len(body), maxStreamedChunk)
		chunk := body[:n]
		body = body[n:]
		last := eos && len(body) == 0
		br := &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{
			Mutation: &extprocv3.BodyMutation_StreamedResponse{StreamedResponse: &extprocv3.StreamedBodyResponse{Body: chunk, EndOfStream: last}},
		}}}
		resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: br}}
		if request {
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: br}}
		}
		if err := r.send(resp); err != nil {
			return err
		}
	}
	return nil
}

func (r *routerStream) responseHeaders(h *extprocv3.HttpHeaders) error {
	if r.e == nil {
		return unexpected("router level: response headers before the request")
	}
	resp := readHeaders(h.GetHeaders())
	before := resp.header.Clone()
	r.e.mu.Lock()
	err := r.e.s.ResponseHeaders(resp.status(), resp.header)
	streamed := r.e.s.Streamed()
	r.e.mu.Unlock()
	if err != nil {
		return r.fail(err)
	}
	out := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{
		Response: &extprocv3.CommonResponse{HeaderMutation: headerDiff(before, resp.header)},
	}}}
	if streamed && !r.responseDuplex {
		// Each event goes on as it comes instead of the whole body at the
		// end (Envoy AI Gateway's mode_override).
		out.ModeOverride = &filterv3.ProcessingMode{ResponseBodyMode: filterv3.ProcessingMode_STREAMED}
	}
	if h.GetEndOfStream() {
		r.e.mu.Lock()
		_, _ = r.e.s.ResponseBody(nil, true)
		out.DynamicMetadata = metadata(r.e.s.Record(), r.e.backendName)
		r.e.mu.Unlock()
		r.responseEnded = true
	}
	return r.send(out)
}

func (r *routerStream) responseBody(chunk []byte, eos bool) error {
	if r.e == nil {
		return unexpected("router level: response body before the request")
	}
	r.e.mu.Lock()
	out, err := r.e.s.ResponseBody(chunk, eos)
	var md *structpb.Struct
	if eos {
		md = metadata(r.e.s.Record(), r.e.backendName)
	}
	r.e.mu.Unlock()
	if err != nil {
		// A broken body that is not an event stream: the status went out
		// already, so the client's response is reset.
		return immediate(r.st, apierror.Upstream(err))
	}
	if eos {
		r.responseEnded = true
	}
	if r.responseDuplex {
		if err := r.sendStreamed(out, eos, false); err != nil {
			return err
		}
		if md != nil {
			return r.send(&extprocv3.ProcessingResponse{DynamicMetadata: md, Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}})
		}
		return nil
	}
	common := &extprocv3.CommonResponse{}
	if !bytes.Equal(out, chunk) {
		common.BodyMutation = &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: out}}
	}
	return r.send(&extprocv3.ProcessingResponse{DynamicMetadata: md, Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{Response: common}}})
}

// metadata is what a request leaves in Envoy's dynamic metadata, under
// Envoy AI Gateway's names: costs for rate limits, names and latencies
// for access logs.
func metadata(rec processor.Record, backendName string) *structpb.Struct {
	f := map[string]*structpb.Value{}
	for _, c := range rec.Costs {
		f[c.Key] = structpb.NewNumberValue(float64(c.Value))
	}
	str := func(key, v string) {
		if v != "" {
			f[key] = structpb.NewStringValue(v)
		}
	}
	str("route_name", rec.Route)
	str("ai_service_backend_name", rec.Backend)
	str("backend_name", backendName)
	if rec.RequestModel != rec.Model {
		str("model_name_override", rec.RequestModel)
	}
	str("response_model", rec.ResponseModel)
	if rec.Streamed {
		f["token_latency_ttft"] = structpb.NewNumberValue(float64(rec.TTFT.Microseconds()) / 1000)
		f["token_latency_itl"] = structpb.NewNumberValue(float64(rec.ITL.Microseconds()) / 1000)
	}
	return &structpb.Struct{Fields: map[string]*structpb.Value{MetadataNamespace: structpb.NewStructValue(&structpb.Struct{Fields: f})}}
}

// sourceAddress is the client's address among the request attributes
// Envoy sends (source.address, when the filter asks for it), zero when
// absent.
func sourceAddress(attrs map[string]*structpb.Struct) netip.Addr {
	v := attrs[AttributesKey].GetFields()["source.address"].GetStringValue()
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap.Addr()
	}
	a, _ := netip.ParseAddr(v)
	return a
}
