package k8s

// A minimal ext_proc client, the gateway's side of gaie-protocol.md §5: just
// enough steps to drive a picker from a test. The production client lives in
// internal/epp.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
)

// Protocol keys (gaie-protocol.md §5.1).
const (
	lbNamespace           = "envoy.lb"
	destinationKey        = "x-gateway-destination-endpoint"
	servedKey             = "x-gateway-destination-endpoint-served"
	steeringHeader        = "test-epp-endpoint-selection"
	conformanceHeader     = "x-conformance-test-served-endpoint"
	maxStreamedBodyChunk  = 62000
	extProcStreamDeadline = 30 * time.Second
)

// header is one HTTP header as the gateway hands it over: lower-case key.
type header struct{ key, value string }

var requestIDs atomic.Int64

// chatHeaders returns the request headers of a chat completion as Envoy sends
// them: HTTP/2 pseudo-headers first, then the rest, plus extra.
func chatHeaders(extra ...header) []header {
	hs := []header{
		{":method", "POST"},
		{":path", "/v1/chat/completions"},
		{":authority", "gateway.test"},
		{":scheme", "http"},
		{"content-type", "application/json"},
		{"x-request-id", "k8s-test-" + strconv.FormatInt(requestIDs.Add(1), 10)},
	}
	return append(hs, extra...)
}

// chatBody returns an OpenAI chat completion request body.
func chatBody(t testing.TB, model, content string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"model":      model,
		"messages":   []map[string]string{{"role": "user", "content": content}},
		"max_tokens": 8,
	})
	require.NoError(t, err)
	return b
}

// extProcStream is one ext_proc stream: one HTTP request as the gateway sees it.
type extProcStream struct {
	stream extprocv3.ExternalProcessor_ProcessClient
	cancel context.CancelFunc
}

func openStream(ctx context.Context, conn *grpc.ClientConn) (*extProcStream, error) {
	ctx, cancel := context.WithTimeout(ctx, extProcStreamDeadline)
	s, err := extprocv3.NewExternalProcessorClient(conn).Process(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open ext_proc stream: %w", err)
	}
	return &extProcStream{stream: s, cancel: cancel}, nil
}

func headerMap(hs []header) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for _, h := range hs {
		// GAIE reads raw_value first (gaie-protocol.md §5.4).
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: h.key, RawValue: []byte(h.value)})
	}
	return m
}

// lbMetadata returns metadata_context with filter_metadata["envoy.lb"] = fields.
func lbMetadata(t testing.TB, fields map[string]any) *corev3.Metadata {
	t.Helper()
	s, err := structpb.NewStruct(fields)
	require.NoError(t, err)
	return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{lbNamespace: s}}
}

func (s *extProcStream) sendRequestHeaders(hs []header, endOfStream bool) error {
	return s.stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{
		RequestHeaders: &extprocv3.HttpHeaders{Headers: headerMap(hs), EndOfStream: endOfStream},
	}})
}

func (s *extProcStream) sendRequestBody(chunk []byte, endOfStream bool) error {
	return s.stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{
		RequestBody: &extprocv3.HttpBody{Body: chunk, EndOfStream: endOfStream},
	}})
}

func (s *extProcStream) sendResponseHeaders(hs []header, md *corev3.Metadata) error {
	return s.stream.Send(&extprocv3.ProcessingRequest{
		Request: &extprocv3.ProcessingRequest_ResponseHeaders{
			ResponseHeaders: &extprocv3.HttpHeaders{Headers: headerMap(hs)},
		},
		MetadataContext: md,
	})
}

func (s *extProcStream) sendResponseBody(chunk []byte, endOfStream bool, md *corev3.Metadata) error {
	return s.stream.Send(&extprocv3.ProcessingRequest{
		Request: &extprocv3.ProcessingRequest_ResponseBody{
			ResponseBody: &extprocv3.HttpBody{Body: chunk, EndOfStream: endOfStream},
		},
		MetadataContext: md,
	})
}

// finish half-closes the stream and expects the picker to end it cleanly.
func (s *extProcStream) finish() error {
	defer s.cancel()
	if err := s.stream.CloseSend(); err != nil {
		return err
	}
	resp, err := s.stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("end of stream: %w", err)
	}
	return fmt.Errorf("unexpected answer after the last message: %v", resp)
}

// requestPhase is what a picker answered to the request phase.
type requestPhase struct {
	// headers is the (deferred) HeadersResponse and metadata its message carried.
	headers  *extprocv3.HeadersResponse
	metadata *structpb.Struct
	// bodies are the BodyResponses in arrival order.
	bodies []*extprocv3.BodyResponse
	// bodiesBeforeHeaders counts BodyResponses that arrived before headers.
	bodiesBeforeHeaders int
}

// readRequestPhase reads until the picker has answered the headers and the
// whole body, which went out in bodyChunks messages: either a streamed
// replacement ending with end_of_stream (GAIE's EPP) or one answer per chunk
// without a mutation (lwepp). An ImmediateResponse is an error.
func (s *extProcStream) readRequestPhase(bodyChunks int) (requestPhase, error) {
	var p requestPhase
	acks, streamedEnd := 0, false
	for p.headers == nil || (!streamedEnd && acks < bodyChunks) {
		resp, err := s.stream.Recv()
		if err != nil {
			return p, fmt.Errorf("request phase: %w", err)
		}
		switch r := resp.Response.(type) {
		case *extprocv3.ProcessingResponse_RequestHeaders:
			if p.headers != nil {
				return p, errors.New("request phase: two headers responses")
			}
			p.headers, p.metadata = r.RequestHeaders, resp.DynamicMetadata
			p.bodiesBeforeHeaders = len(p.bodies)
		case *extprocv3.ProcessingResponse_RequestBody:
			p.bodies = append(p.bodies, r.RequestBody)
			if sr := r.RequestBody.GetResponse().GetBodyMutation().GetStreamedResponse(); sr != nil {
				streamedEnd = sr.EndOfStream
			} else {
				acks++
			}
		case *extprocv3.ProcessingResponse_ImmediateResponse:
			return p, fmt.Errorf("request phase: ImmediateResponse %v: %s",
				r.ImmediateResponse.GetStatus().GetCode(), r.ImmediateResponse.GetBody())
		default:
			return p, fmt.Errorf("request phase: unexpected answer %T", r)
		}
	}
	return p, nil
}

// metadataPick returns dynamic_metadata["envoy.lb"]["x-gateway-destination-endpoint"].
func (p requestPhase) metadataPick() string {
	return p.metadata.GetFields()[lbNamespace].GetStructValue().GetFields()[destinationKey].GetStringValue()
}

// setHeader returns the value the headers response sets for key (any case).
func (p requestPhase) setHeader(key string) (string, bool) {
	return setHeaderValue(p.headers.GetResponse().GetHeaderMutation(), key)
}

func setHeaderValue(m *extprocv3.HeaderMutation, key string) (string, bool) {
	for _, h := range m.GetSetHeaders() {
		if strings.EqualFold(h.GetHeader().GetKey(), key) {
			if raw := h.GetHeader().GetRawValue(); raw != nil {
				return string(raw), true
			}
			return h.GetHeader().GetValue(), true
		}
	}
	return "", false
}

// replacement returns the streamed body replacement chunks.
func (p requestPhase) replacement() [][]byte {
	var chunks [][]byte
	for _, b := range p.bodies {
		if sr := b.GetResponse().GetBodyMutation().GetStreamedResponse(); sr != nil {
			chunks = append(chunks, sr.Body)
		}
	}
	return chunks
}

// request is one request the test sends through a picker.
type request struct {
	headers []header
	body    []byte
	// chunks splits the body into that many request_body messages (at least 1).
	chunks int
}

// exchange opens a stream and runs the request phase: headers, then the
// body in r.chunks messages, the last with end_of_stream, sent without
// waiting for answers (full duplex); then reads the answers. The stream stays
// open for a response phase; finish it.
func exchange(ctx context.Context, conn *grpc.ClientConn, r request) (*extProcStream, requestPhase, error) {
	s, err := openStream(ctx, conn)
	if err != nil {
		return nil, requestPhase{}, err
	}
	fail := func(err error) (*extProcStream, requestPhase, error) {
		s.cancel()
		return nil, requestPhase{}, err
	}
	if err := s.sendRequestHeaders(r.headers, false); err != nil {
		return fail(fmt.Errorf("send request headers: %w", err))
	}
	chunks := max(r.chunks, 1)
	size := (len(r.body) + chunks - 1) / chunks
	for i := range chunks {
		lo, hi := min(i*size, len(r.body)), min((i+1)*size, len(r.body))
		if err := s.sendRequestBody(r.body[lo:hi], i == chunks-1); err != nil {
			return fail(fmt.Errorf("send request body chunk %d: %w", i, err))
		}
	}
	p, err := s.readRequestPhase(chunks)
	if err != nil {
		return fail(err)
	}
	return s, p, nil
}

// mustPick runs the request phase of r and ends the stream; it fails the
// test on any error and returns the answers.
func mustPick(t testing.TB, conn *grpc.ClientConn, r request) requestPhase {
	t.Helper()
	s, p, err := exchange(t.Context(), conn, r)
	require.NoError(t, err)
	require.NoError(t, s.finish())
	return p
}

// waitForEndpoints waits until the picker can pick each endpoint ("ip:port")
// when steered to its IP with test-epp-endpoint-selection, i.e. until it has
// seen the Pods. Only for pickers that honour the header (lwepp).
func waitForEndpoints(t testing.TB, conn *grpc.ClientConn, model string, endpoints ...string) {
	t.Helper()
	body := chatBody(t, model, "ready?")
	for _, ep := range endpoints {
		ip := ep[:strings.LastIndexByte(ep, ':')]
		require.EventuallyWithTf(t, func(c *assert.CollectT) {
			r := request{headers: chatHeaders(header{steeringHeader, ip}), body: body}
			s, p, err := exchange(t.Context(), conn, r)
			require.NoError(c, err)
			require.NoError(c, s.finish())
			require.Equal(c, ep, p.metadataPick())
		}, 30*time.Second, 100*time.Millisecond, "the picker never picked %s", ep)
	}
}
