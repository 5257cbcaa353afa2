package dataplane

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aigw-dev/aigw/internal/config"
)

// fakeEnvoy plays, for the ext_proc transport's data-plane tests, the part
// of Envoy that Envoy AI Gateway configures (no Envoy binary can be had
// here): the router-level ext_proc filter in the connection manager, route
// matching on x-ai-eg-model after the route cache is cleared, the route's
// retry policy across priorities, and the upstream-level ext_proc filter
// on every attempt, with the per-rule backend name as a request
// attribute. It speaks the real protocol to the real `aigw extproc`.
type fakeEnvoy struct {
	cfg    *config.Config
	client extprocv3.ExternalProcessorClient

	mu       sync.Mutex
	metadata []*structpb.Struct
}

// headerList is an ordered header map as Envoy keeps it (lower-case names,
// pseudo-headers included).
type headerList struct {
	names  []string
	values map[string]string
}

func newHeaderList() *headerList { return &headerList{values: map[string]string{}} }

func (h *headerList) set(name, value string) {
	name = strings.ToLower(name)
	if _, ok := h.values[name]; !ok {
		h.names = append(h.names, name)
	}
	h.values[name] = value
}

func (h *headerList) del(name string) {
	delete(h.values, name)
	h.names = slices.DeleteFunc(h.names, func(n string) bool { return n == name })
}

func (h *headerList) apply(m *extprocv3.HeaderMutation) {
	for _, name := range m.GetRemoveHeaders() {
		h.del(name)
	}
	for _, sv := range m.GetSetHeaders() {
		h.set(sv.GetHeader().GetKey(), string(sv.GetHeader().GetRawValue()))
	}
}

func (h *headerList) proto() *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for _, n := range h.names {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: n, RawValue: []byte(h.values[n])})
	}
	return m
}

func (h *headerList) clone() *headerList {
	c := newHeaderList()
	for _, n := range h.names {
		c.set(n, h.values[n])
	}
	return c
}

// immediateError writes an ImmediateResponse to the client.
func writeImmediate(w http.ResponseWriter, ir *extprocv3.ImmediateResponse) {
	for _, sv := range ir.GetHeaders().GetSetHeaders() {
		w.Header().Set(sv.GetHeader().GetKey(), string(sv.GetHeader().GetRawValue()))
	}
	w.WriteHeader(int(ir.GetStatus().GetCode()))
	_, _ = w.Write(ir.GetBody())
}

func (e *fakeEnvoy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, _ := io.ReadAll(r.Body)
	router, err := e.client.Process(ctx)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer func() { _ = router.CloseSend() }()
	req := newHeaderList()
	req.set(":method", r.Method)
	req.set(":path", r.URL.RequestURI())
	req.set(":authority", r.Host)
	req.set(":scheme", "http")
	for name, values := range r.Header {
		req.set(name, values[0])
	}
	wroteHeader := false
	exchange := func(m *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, bool) {
		if err := router.Send(m); err != nil {
			if !wroteHeader {
				http.Error(w, err.Error(), http.StatusBadGateway)
			}
			return nil, false
		}
		resp, err := router.Recv()
		if err != nil {
			if !wroteHeader {
				http.Error(w, err.Error(), http.StatusBadGateway)
			}
			return nil, false
		}
		if ir := resp.GetImmediateResponse(); ir != nil {
			if !wroteHeader { // after the status, Envoy resets the stream
				writeImmediate(w, ir)
			}
			return nil, false
		}
		return resp, true
	}
	// The router-level filter asks for the client's address
	// (request_attributes: [source.address]).
	resp, ok := exchange(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: req.proto(), EndOfStream: len(body) == 0}},
		Attributes: map[string]*structpb.Struct{"envoy.filters.http.ext_proc": {Fields: map[string]*structpb.Value{"source.address": structpb.NewStringValue(r.RemoteAddr)}}}})
	if !ok {
		return
	}
	req.apply(resp.GetRequestHeaders().GetResponse().GetHeaderMutation())
	if len(body) > 0 {
		if resp, ok = exchange(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: body, EndOfStream: true}}}); !ok {
			return
		}
		req.apply(resp.GetRequestBody().GetResponse().GetHeaderMutation())
	}

	route, ruleIndex, rule := e.match(req.values["x-ai-eg-model"])
	if rule == nil {
		http.Error(w, "no route", http.StatusNotFound) // Envoy's own 404
		return
	}
	up := e.attempts(w, r, route, ruleIndex, rule, req, body)
	if up == nil {
		return
	}
	defer up.Body.Close()

	// The router level's response phase.
	respHeaders := newHeaderList()
	respHeaders.set(":status", strconv.Itoa(up.StatusCode))
	for name, values := range up.Header {
		respHeaders.set(name, values[0])
	}
	if resp, ok = exchange(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: respHeaders.proto()}}}); !ok {
		return
	}
	respHeaders.apply(resp.GetResponseHeaders().GetResponse().GetHeaderMutation())
	streamed := resp.GetModeOverride().GetResponseBodyMode() == filterv3.ProcessingMode_STREAMED
	for _, n := range respHeaders.names {
		if !strings.HasPrefix(n, ":") {
			w.Header().Set(n, respHeaders.values[n])
		}
	}
	w.WriteHeader(up.StatusCode)
	wroteHeader = true
	bodyChunk := func(chunk []byte, eos bool) bool {
		resp, ok := exchange(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: chunk, EndOfStream: eos}}})
		if !ok {
			return false
		}
		if md := resp.GetDynamicMetadata(); md != nil {
			e.mu.Lock()
			e.metadata = append(e.metadata, md)
			e.mu.Unlock()
		}
		out := chunk
		if m := resp.GetResponseBody().GetResponse().GetBodyMutation(); m != nil {
			out = m.GetBody()
		}
		_, _ = w.Write(out)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		return true
	}
	if !streamed {
		whole, _ := io.ReadAll(up.Body)
		bodyChunk(whole, true)
		return
	}
	buf := make([]byte, 4<<10)
	for {
		n, err := up.Body.Read(buf)
		if n > 0 && !bodyChunk(bytes.Clone(buf[:n]), false) {
			return
		}
		if err != nil {
			bodyChunk(nil, true)
			return
		}
	}
}

// match finds the AIGatewayRoute rule whose exact x-ai-eg-model match is
// model, as the routes Envoy AI Gateway generates do.
func (e *fakeEnvoy) match(model string) (*config.Route, int, *config.Rule) {
	for i := range e.cfg.Routes {
		route := &e.cfg.Routes[i]
		for j := range route.Rules {
			for _, m := range route.Rules[j].Matches {
				for _, h := range m.Headers {
					if h.Name == "x-ai-eg-model" && h.Type == config.HeaderMatchExact && h.Value == model {
						return route, j, &route.Rules[j]
					}
				}
			}
		}
	}
	return nil, 0, nil
}

// attempts sends the request to the rule's backends as Envoy's router
// does: priority tiers in order, the route's retry budget, each attempt
// through the upstream-level filter. It returns the response taken, or
// nil after answering the client itself.
func (e *fakeEnvoy) attempts(w http.ResponseWriter, r *http.Request, route *config.Route, ruleIndex int, rule *config.Rule, req *headerList, body []byte) *http.Response {
	refs := make([]int, len(rule.BackendRefs))
	for i := range refs {
		refs[i] = i
	}
	slices.SortStableFunc(refs, func(a, b int) int { return int(rule.BackendRefs[a].Priority) - int(rule.BackendRefs[b].Priority) })
	maxAttempts := int(rule.Retry.NumRetries) + 1
	var last *http.Response
	for attempt := range maxAttempts {
		refIndex := refs[min(attempt, len(refs)-1)]
		ref := rule.BackendRefs[refIndex]
		ns, routeName, _ := strings.Cut(route.Name, "/")
		_, backendName, _ := strings.Cut(ref.Backend, "/")
		perRule := fmt.Sprintf("%s/%s/route/%s/rule/%d/ref/%d", ns, backendName, routeName, ruleIndex, refIndex)

		up, err := e.client.Process(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return nil
		}
		attemptHeaders := req.clone()
		// The cluster rewrites the authority to the backend's (Envoy
		// Gateway's Backend hostname), before the upstream filter.
		attemptHeaders.set(":authority", e.endpoint(ref.Backend))
		err = up.Send(&extprocv3.ProcessingRequest{
			Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: attemptHeaders.proto()}},
			Attributes: map[string]*structpb.Struct{"envoy.filters.http.ext_proc": {Fields: map[string]*structpb.Value{
				"xds.cluster_metadata.filter_metadata['aigateway.envoy.io']['per_route_rule_backend_name']": structpb.NewStringValue(perRule),
			}}},
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return nil
		}
		resp, err := up.Recv()
		_ = up.CloseSend()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return nil
		}
		if ir := resp.GetImmediateResponse(); ir != nil {
			writeImmediate(w, ir)
			return nil
		}
		common := resp.GetRequestHeaders().GetResponse()
		attemptHeaders.apply(common.GetHeaderMutation())
		attemptBody := body
		if common.GetStatus() == extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
			attemptBody = common.GetBodyMutation().GetBody()
		}
		out, err := e.send(r, ref.Backend, attemptHeaders, attemptBody)
		if err != nil {
			if attempt+1 < maxAttempts {
				continue
			}
			http.Error(w, "upstream connect error or disconnect/reset before headers", http.StatusServiceUnavailable)
			return nil
		}
		if attempt+1 < maxAttempts && (out.StatusCode >= 500 || slices.Contains(rule.Retry.StatusCodes, int32(out.StatusCode))) {
			_, _ = io.Copy(io.Discard, out.Body)
			out.Body.Close()
			continue
		}
		last = out
		break
	}
	return last
}

// endpoint is the address of the backend's first endpoint.
func (e *fakeEnvoy) endpoint(backend string) string {
	for _, b := range e.cfg.Backends {
		if b.Name == backend && len(b.Endpoints) > 0 {
			return net.JoinHostPort(b.Endpoints[0].Host, strconv.Itoa(int(b.Endpoints[0].Port)))
		}
	}
	return ""
}

// send is the attempt on the backend's first endpoint, with the authority
// the upstream filter saw.
func (e *fakeEnvoy) send(r *http.Request, backend string, h *headerList, body []byte) (*http.Response, error) {
	out, err := http.NewRequestWithContext(r.Context(), h.values[":method"], "http://"+e.endpoint(backend)+h.values[":path"], bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out.Host = h.values[":authority"]
	for _, n := range h.names {
		if !strings.HasPrefix(n, ":") && n != "content-length" {
			out.Header.Set(n, h.values[n])
		}
	}
	return http.DefaultTransport.RoundTrip(out)
}

// lastMetadata returns the io.envoy.ai_gateway metadata of the last
// response.
func (e *fakeEnvoy) lastMetadata() map[string]*structpb.Value {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.metadata) == 0 {
		return nil
	}
	return e.metadata[len(e.metadata)-1].GetFields()["io.envoy.ai_gateway"].GetStructValue().GetFields()
}
