// Package epptest is an in-process endpoint picker for tests: a gRPC
// ext_proc server that behaves, by option, like GAIE's v1.5.0 EPP (deferred
// pick, body echoed back as streamed replacements, SSE chunks echoed at
// once, non-streamed bodies answered at their end) or like lwepp (empty
// acknowledgements), and can fail on demand. Interoperability with the real
// pickers is tested against their binaries (tests/k8s); this double serves
// the unit and data-plane tiers.
package epptest

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// Style is how the picker answers bodies.
type Style int

// Styles of the two GAIE pickers.
const (
	// Replace answers with streamed body replacements (GAIE's EPP).
	Replace Style = iota
	// Ack answers each body chunk with an empty response (lwepp).
	Ack
)

// Decision is what the picker does with one request.
type Decision struct {
	// Pick is the destination value, e.g. "10.0.0.1:8000,10.0.0.2:8000".
	Pick string
	// HeaderOnly puts the pick only in the header mutation, not metadata.
	HeaderOnly bool
	// Immediate, when non-zero, answers the client with this status.
	Immediate int
	// Fail ends the stream with a gRPC error.
	Fail bool
	// Hang never answers.
	Hang bool
	// RewriteModel replaces the body's model (as x-gateway-model-name-rewrite does).
	RewriteModel string
}

// Server is a running test picker.
type Server struct {
	Addr  string
	Style Style
	// Decide chooses per request from its headers and body.
	Decide func(headers map[string]string, body []byte) Decision

	mu     sync.Mutex
	served []string
	subset [][]string
	reqs   int
	srv    *grpc.Server
	health *health.Server
}

// HealthService is the gRPC health service name the server reports, GAIE
// EPP's.
const HealthService = "envoy.service.ext_proc.v3.ExternalProcessor"

// SetServing sets what the gRPC health service (on Addr) reports.
func (s *Server) SetServing(serving bool) {
	st := healthpb.HealthCheckResponse_SERVING
	if !serving {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	s.health.SetServingStatus(HealthService, st)
}

// Start serves on a loopback port until the test ends.
func Start(t testing.TB, style Style, decide func(map[string]string, []byte) Decision) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), Style: style, Decide: decide, srv: grpc.NewServer(), health: health.NewServer()}
	extprocv3.RegisterExternalProcessorServer(s.srv, s)
	healthpb.RegisterHealthServer(s.srv, s.health)
	s.SetServing(true)
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the server; streams in progress fail.
func (s *Server) Stop() { s.srv.Stop() }

// Served returns the served endpoints reported on response paths.
func (s *Server) Served() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.served...)
}

// Subsets returns the subset hints received, one per request.
func (s *Server) Subsets() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.subset...)
}

// Requests returns how many request phases started.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs
}

// Process implements the ext_proc service.
func (s *Server) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	var (
		headers  = map[string]string{}
		body     []byte
		decision Decision
		sse      bool
		respBody []byte
	)
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch r := req.GetRequest().(type) {
		case *extprocv3.ProcessingRequest_RequestHeaders:
			s.mu.Lock()
			s.reqs++
			s.subset = append(s.subset, subsetOf(req.GetMetadataContext()))
			s.mu.Unlock()
			for _, h := range r.RequestHeaders.GetHeaders().GetHeaders() {
				headers[h.GetKey()] = string(h.GetRawValue())
			}
			if r.RequestHeaders.GetEndOfStream() {
				if err := s.decideAndAnswer(stream, headers, nil, &decision, 0); err != nil {
					return err
				}
			}
		case *extprocv3.ProcessingRequest_RequestBody:
			body = append(body, r.RequestBody.GetBody()...)
			eos := r.RequestBody.GetEndOfStream()
			if s.Style == Ack && !eos {
				if err := stream.Send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}}); err != nil {
					return err
				}
			}
			if eos {
				if err := s.decideAndAnswer(stream, headers, body, &decision, 1); err != nil {
					return err
				}
			}
		case *extprocv3.ProcessingRequest_ResponseHeaders:
			served := metadataString(req.GetMetadataContext(), "envoy.lb", "x-gateway-destination-endpoint-served")
			s.mu.Lock()
			s.served = append(s.served, served)
			s.mu.Unlock()
			for _, h := range r.ResponseHeaders.GetHeaders().GetHeaders() {
				if h.GetKey() == "content-type" && strings.Contains(string(h.GetRawValue()), "text/event-stream") {
					sse = true
				}
			}
			set := []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-went-into-resp-headers", RawValue: []byte("true")}}}
			if s.Style == Ack {
				set = append(set, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "x-conformance-test-served-endpoint", RawValue: []byte(served)}})
			}
			if err := stream.Send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{
				Response: &extprocv3.CommonResponse{HeaderMutation: &extprocv3.HeaderMutation{SetHeaders: set}},
			}}}); err != nil {
				return err
			}
		case *extprocv3.ProcessingRequest_ResponseBody:
			chunk, eos := r.ResponseBody.GetBody(), r.ResponseBody.GetEndOfStream()
			if s.Style == Ack {
				if err := stream.Send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}}); err != nil {
					return err
				}
				continue
			}
			if sse {
				if err := sendStreamed(stream, chunk, eos, false); err != nil {
					return err
				}
				continue
			}
			respBody = append(respBody, chunk...)
			if eos {
				if err := sendStreamed(stream, respBody, true, false); err != nil {
					return err
				}
			}
		}
	}
}

func (s *Server) decideAndAnswer(stream extprocv3.ExternalProcessor_ProcessServer, headers map[string]string, body []byte, d *Decision, chunks int) error {
	*d = s.Decide(headers, body)
	switch {
	case d.Hang:
		<-stream.Context().Done()
		return stream.Context().Err()
	case d.Fail:
		return status.Error(codes.Internal, "picker failure injected")
	case d.Immediate != 0:
		return stream.Send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode(d.Immediate)},
			Body:   []byte("inference error: injected"),
		}}})
	}
	set := []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-gateway-destination-endpoint", RawValue: []byte(d.Pick)}}}
	resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{
		Response: &extprocv3.CommonResponse{ClearRouteCache: true, HeaderMutation: &extprocv3.HeaderMutation{SetHeaders: set}},
	}}}
	if !d.HeaderOnly {
		resp.DynamicMetadata = &structpb.Struct{Fields: map[string]*structpb.Value{"envoy.lb": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"x-gateway-destination-endpoint": structpb.NewStringValue(d.Pick),
		}})}}
	}
	if err := stream.Send(resp); err != nil {
		return err
	}
	if chunks == 0 {
		return nil
	}
	if s.Style == Ack {
		return stream.Send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}})
	}
	if d.RewriteModel != "" {
		body = rewriteModel(body, d.RewriteModel)
	}
	return sendStreamed(stream, body, true, true)
}

// sendStreamed sends body as streamed replacements of at most 62 000 bytes.
func sendStreamed(stream extprocv3.ExternalProcessor_ProcessServer, body []byte, eos, request bool) error {
	const max = 62000
	for off := 0; ; off += max {
		end := min(off+max, len(body))
		last := end == len(body)
		br := &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_StreamedResponse{
			StreamedResponse: &extprocv3.StreamedBodyResponse{Body: body[off:end], EndOfStream: eos && last},
		}}}}
		resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: br}}
		if request {
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: br}}
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
		if last {
			return nil
		}
	}
}

func rewriteModel(body []byte, model string) []byte {
	i := strings.Index(string(body), `"model":"`)
	if i < 0 {
		return body
	}
	j := strings.IndexByte(string(body[i+9:]), '"')
	if j < 0 {
		return body
	}
	return []byte(string(body[:i+9]) + model + string(body[i+9+j:]))
}

func subsetOf(md *corev3.Metadata) []string {
	v := md.GetFilterMetadata()["envoy.lb.subset_hint"].GetFields()["x-gateway-destination-endpoint-subset"]
	if v == nil {
		return nil
	}
	var out []string
	for _, e := range v.GetListValue().GetValues() {
		out = append(out, e.GetStringValue())
	}
	return out
}

func metadataString(md *corev3.Metadata, ns, key string) string {
	return md.GetFilterMetadata()[ns].GetFields()[key].GetStringValue()
}
