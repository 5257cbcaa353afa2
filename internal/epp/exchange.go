package epp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// bodyChunkSize is the largest body chunk sent in one message; GAIE's EPP
// answers with chunks of at most 62 000 bytes, and gRPC servers default to
// 4 MiB messages. A little under 64 KiB, so that a message with its
// framing fits a 64 KiB receive buffer.
const bodyChunkSize = 64<<10 - 256

// Request is what the picker sees of one request.
type Request struct {
	Method    string
	Path      string
	Authority string
	Scheme    string
	// Header is sent with lower-case names; pseudo-headers come from the
	// fields above.
	Header http.Header
	Body   []byte
	// Subset, when non-nil, restricts the pick to these "ip:port" endpoints.
	Subset []string
}

// HeaderMutation is a set of header edits from the picker, to apply as
// Envoy does: removes first, then sets (overwriting).
type HeaderMutation struct {
	Set    []HeaderValue
	Remove []string
}

// HeaderValue is one header to set.
type HeaderValue struct {
	Name, Value string
}

// Apply edits h. Pseudo-headers are skipped, and so are content-length
// and host, which the transport owns.
func (m HeaderMutation) Apply(h http.Header) {
	for _, name := range m.Remove {
		if settable(name) {
			h.Del(name)
		}
	}
	for _, hv := range m.Set {
		if settable(hv.Name) {
			h.Set(hv.Name, hv.Value)
		}
	}
}

func settable(name string) bool {
	n := strings.ToLower(name)
	return !strings.HasPrefix(n, ":") && n != "content-length" && n != "host" && n != "transfer-encoding"
}

// ImmediateResponse is the picker's answer for the client, sent instead of
// calling any model server.
type ImmediateResponse struct {
	Status  int
	Body    []byte
	Details string
}

// Decision is the outcome of the request phase.
type Decision struct {
	// Endpoints are the primary pick followed by fallbacks.
	Endpoints []Endpoint
	// RequestHeaders are the picker's edits of the request headers.
	RequestHeaders HeaderMutation
	// Body is the replacement request body, or nil to keep the original.
	Body []byte
	// Immediate, when set, answers the client; Endpoints is then empty.
	Immediate *ImmediateResponse
}

// Exchange is one request's stream to a picker. Its methods are called in
// protocol order from one goroutine, except Close, which may come at any
// time; the response body it returns reads on the caller's goroutine.
type Exchange struct {
	p      *Picker
	stream extprocv3.ExternalProcessor_ProcessClient
	cancel context.CancelFunc
	recv   chan recvResult
	once   sync.Once
	sendMu sync.Mutex // serialises Send and CloseSend
}

type recvResult struct {
	resp *extprocv3.ProcessingResponse
	err  error
}

// Start opens a stream and runs the request phase. A nil error with a
// Decision whose Immediate is set means the picker answered the client.
func (p *Picker) Start(ctx context.Context, req *Request) (*Exchange, *Decision, error) {
	if p.conn == nil {
		return nil, nil, fmt.Errorf("%w: %s has no resolvable address", ErrPickerFailed, p.cfg.Name)
	}
	if p.notServing.Load() {
		return nil, nil, fmt.Errorf("%w: %s reports NOT_SERVING", ErrPickerFailed, p.cfg.Name)
	}
	// The stream outlives the request phase: it carries the response too,
	// and ends with the request's context or Close.
	sctx, cancel := context.WithCancel(ctx)
	p.acquire()
	stream, err := extprocv3.NewExternalProcessorClient(p.conn).Process(sctx)
	if err != nil {
		cancel()
		p.release()
		return nil, nil, fmt.Errorf("%w: %s: opening stream: %w", ErrPickerFailed, p.cfg.Name, err)
	}
	x := &Exchange{p: p, stream: stream, cancel: cancel, recv: make(chan recvResult, 16)}
	go x.receive()
	d, err := x.requestPhase(req)
	if err != nil {
		x.Close()
		return nil, nil, err
	}
	if d.Immediate != nil {
		x.Close()
		return nil, d, nil
	}
	return x, d, nil
}

// receive forwards every message of the stream until it ends.
func (x *Exchange) receive() {
	for {
		resp, err := x.stream.Recv()
		x.recv <- recvResult{resp, err}
		if err != nil {
			close(x.recv)
			return
		}
	}
}

// next waits for the picker's next message for at most the message timeout.
func (x *Exchange) next(what string) (*extprocv3.ProcessingResponse, error) {
	t := time.NewTimer(x.p.timeout)
	defer t.Stop()
	select {
	case r, ok := <-x.recv:
		if !ok {
			return nil, fmt.Errorf("%w: %s: stream closed while waiting for %s", ErrPickerFailed, x.p.cfg.Name, what)
		}
		if r.err != nil {
			if errors.Is(r.err, io.EOF) {
				return nil, fmt.Errorf("%w: %s: stream ended while waiting for %s", ErrPickerFailed, x.p.cfg.Name, what)
			}
			return nil, fmt.Errorf("%w: %s: %s: %w", ErrPickerFailed, x.p.cfg.Name, what, r.err)
		}
		return r.resp, nil
	case <-t.C:
		return nil, fmt.Errorf("%w: %s: no %s within %s", ErrPickerFailed, x.p.cfg.Name, what, x.p.timeout)
	}
}

func (x *Exchange) send(req *extprocv3.ProcessingRequest, what string) error {
	x.sendMu.Lock()
	defer x.sendMu.Unlock()
	if err := x.stream.Send(req); err != nil {
		return fmt.Errorf("%w: %s: sending %s: %w", ErrPickerFailed, x.p.cfg.Name, what, err)
	}
	return nil
}

// requestPhase sends headers and body, then collects the picker's answers:
// the (deferred) headers response with the pick, and the body answers,
// which are either streamed replacements or empty acknowledgements, in any
// order relative to the headers response.
func (x *Exchange) requestPhase(req *Request) (*Decision, error) {
	meta := subsetMetadata(req.Subset)
	headers := requestHeaderMap(req)
	if err := x.send(&extprocv3.ProcessingRequest{
		Request:         &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: headers, EndOfStream: len(req.Body) == 0}},
		MetadataContext: meta,
	}, "request headers"); err != nil {
		return nil, err
	}
	chunks := 0
	for off := 0; off < len(req.Body); off += bodyChunkSize {
		end := min(off+bodyChunkSize, len(req.Body))
		chunks++
		if err := x.send(&extprocv3.ProcessingRequest{
			Request:         &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: req.Body[off:end], EndOfStream: end == len(req.Body)}},
			MetadataContext: meta,
		}, "request body"); err != nil {
			return nil, err
		}
	}

	d := &Decision{}
	var (
		haveHeaders bool
		acked       int
		replaced    []byte
		replacing   bool
		bodyDone    = chunks == 0
	)
	for !haveHeaders || !bodyDone {
		resp, err := x.next("the pick")
		if err != nil {
			return nil, err
		}
		if ir := resp.GetImmediateResponse(); ir != nil {
			d.Immediate = &ImmediateResponse{Status: int(ir.GetStatus().GetCode()), Body: ir.GetBody(), Details: ir.GetDetails()}
			if d.Immediate.Status == 0 {
				d.Immediate.Status = http.StatusInternalServerError
			}
			return d, nil
		}
		switch r := resp.GetResponse().(type) {
		case *extprocv3.ProcessingResponse_RequestHeaders:
			haveHeaders = true
			common := r.RequestHeaders.GetResponse()
			d.RequestHeaders = mutation(common.GetHeaderMutation())
			pick := metadataString(resp.GetDynamicMetadata(), MetadataNamespace, DestinationKey)
			if pick == "" {
				pick = headerValue(d.RequestHeaders.Set, DestinationKey)
			}
			if pick == "" {
				return nil, fmt.Errorf("%w: %s: the headers response carries no %s", ErrPickerFailed, x.p.cfg.Name, DestinationKey)
			}
			eps, err := ParseEndpoints(pick)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", x.p.cfg.Name, err)
			}
			d.Endpoints = eps
			if sr := common.GetBodyMutation().GetStreamedResponse(); sr != nil {
				// A body carried on the headers response (not seen in GAIE's
				// pickers, allowed by the protocol).
				replacing = true
				replaced = append(replaced, sr.GetBody()...)
				bodyDone = bodyDone || sr.GetEndOfStream()
			}
		case *extprocv3.ProcessingResponse_RequestBody:
			common := r.RequestBody.GetResponse()
			if sr := common.GetBodyMutation().GetStreamedResponse(); sr != nil {
				replacing = true
				replaced = append(replaced, sr.GetBody()...)
				if sr.GetEndOfStream() {
					bodyDone = true
				}
				continue
			}
			if b := common.GetBodyMutation().GetBody(); b != nil {
				replacing = true
				replaced = append(replaced, b...)
				bodyDone = true
				continue
			}
			// An empty answer keeps the original chunk.
			acked++
			if acked >= chunks && !replacing {
				bodyDone = true
			}
		case *extprocv3.ProcessingResponse_RequestTrailers:
		default:
			return nil, fmt.Errorf("%w: %s: unexpected %T in the request phase", ErrPickerFailed, x.p.cfg.Name, r)
		}
	}
	if replacing {
		d.Body = replaced
	}
	return d, nil
}

// ResponseHeaders sends the upstream response's status and headers with the
// served endpoint, and returns the picker's edits of the response headers.
func (x *Exchange) ResponseHeaders(status int, h http.Header, served string) (HeaderMutation, error) {
	hm := &corev3.HeaderMap{Headers: make([]*corev3.HeaderValue, 0, len(h)+1)}
	hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: ":status", RawValue: []byte(strconv.Itoa(status))})
	for name, vals := range h {
		for _, v := range vals {
			hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: strings.ToLower(name), RawValue: []byte(v)})
		}
	}
	meta := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		MetadataNamespace: {Fields: map[string]*structpb.Value{ServedKey: structpb.NewStringValue(served)}},
	}}
	if err := x.send(&extprocv3.ProcessingRequest{
		Request:         &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: hm}},
		MetadataContext: meta,
	}, "response headers"); err != nil {
		return HeaderMutation{}, err
	}
	for {
		resp, err := x.next("the response headers answer")
		if err != nil {
			return HeaderMutation{}, err
		}
		if r, ok := resp.GetResponse().(*extprocv3.ProcessingResponse_ResponseHeaders); ok {
			return mutation(r.ResponseHeaders.GetResponse().GetHeaderMutation()), nil
		}
		// Late request-phase acknowledgements may still arrive; skip them.
		if _, ok := resp.GetResponse().(*extprocv3.ProcessingResponse_RequestBody); ok {
			continue
		}
		return HeaderMutation{}, fmt.Errorf("%w: %s: unexpected %T waiting for the response headers answer", ErrPickerFailed, x.p.cfg.Name, resp.GetResponse())
	}
}

// Close ends the stream. It is safe to call more than once.
func (x *Exchange) Close() {
	x.once.Do(func() {
		// gRPC forbids CloseSend concurrently with SendMsg: half-close only
		// when no send is in progress (the response body's sender may be
		// blocked on flow control); the cancel ends the stream either way.
		if x.sendMu.TryLock() {
			_ = x.stream.CloseSend()
			x.sendMu.Unlock()
		}
		x.cancel()
		x.p.release()
	})
}

func requestHeaderMap(req *Request) *corev3.HeaderMap {
	hm := &corev3.HeaderMap{Headers: make([]*corev3.HeaderValue, 0, len(req.Header)+5)}
	add := func(k, v string) { hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)}) }
	add(":method", req.Method)
	add(":path", req.Path)
	add(":authority", req.Authority)
	add(":scheme", req.Scheme)
	for name, vals := range req.Header {
		n := strings.ToLower(name)
		if strings.HasPrefix(n, ":") || n == "content-length" || n == "host" {
			continue
		}
		for _, v := range vals {
			add(n, v)
		}
	}
	if len(req.Body) > 0 {
		add("content-length", strconv.Itoa(len(req.Body)))
	}
	return hm
}

func subsetMetadata(subset []string) *corev3.Metadata {
	if subset == nil {
		return nil
	}
	vals := make([]*structpb.Value, len(subset))
	for i, s := range subset {
		vals[i] = structpb.NewStringValue(s)
	}
	return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		SubsetNamespace: {Fields: map[string]*structpb.Value{SubsetKey: structpb.NewListValue(&structpb.ListValue{Values: vals})}},
	}}
}

func mutation(m *extprocv3.HeaderMutation) HeaderMutation {
	var out HeaderMutation
	for _, o := range m.GetSetHeaders() {
		h := o.GetHeader()
		v := string(h.GetRawValue())
		if v == "" {
			v = h.GetValue()
		}
		out.Set = append(out.Set, HeaderValue{Name: h.GetKey(), Value: v})
	}
	out.Remove = append(out.Remove, m.GetRemoveHeaders()...)
	return out
}

func headerValue(set []HeaderValue, name string) string {
	for _, h := range set {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func metadataString(s *structpb.Struct, ns, key string) string {
	inner := s.GetFields()[ns].GetStructValue()
	return inner.GetFields()[key].GetStringValue()
}
