package extproc

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aigw-dev/aigw/internal/bodybudget"
	"github.com/aigw-dev/aigw/internal/processor"
	"github.com/aigw-dev/aigw/internal/standalone"
	"github.com/aigw-dev/aigw/internal/syncbuf"
)

// harness is an ext_proc server on a loopback port with an Envoy-like
// client: each test replays the messages Envoy sends for one request.
type harness struct {
	srv       *Server
	client    extprocv3.ExternalProcessorClient
	accessLog *syncbuf.Buffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	data, err := os.ReadFile("testdata/config.yaml")
	require.NoError(t, err)
	res, err := standalone.LoadBytes(t.Context(), "config.yaml", data)
	require.NoError(t, err)
	h := &harness{accessLog: &syncbuf.Buffer{}}
	p := processor.New(processor.Options{AccessLog: slog.New(slog.NewJSONHandler(h.accessLog, nil))})
	t.Cleanup(p.Close)
	rt, err := p.Compile(res.Config)
	require.NoError(t, err)
	h.srv = New(Options{Runtime: func() *processor.Runtime { return rt }})
	gs := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(gs, h.srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	h.client = extprocv3.NewExternalProcessorClient(conn)
	return h
}

// stream opens a stream as one of Envoy's filters.
func (h *harness) stream(t *testing.T) extprocv3.ExternalProcessor_ProcessClient {
	t.Helper()
	st, err := h.client.Process(t.Context())
	require.NoError(t, err)
	return st
}

func headerMap(kv ...string) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for i := 0; i < len(kv); i += 2 {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return m
}

func requestHeaders(eos bool, kv ...string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: headerMap(kv...), EndOfStream: eos}}}
}

func requestBody(body string, eos bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(body), EndOfStream: eos}}}
}

func responseHeaders(eos bool, kv ...string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: headerMap(kv...), EndOfStream: eos}}}
}

func responseBody(body string, eos bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: []byte(body), EndOfStream: eos}}}
}

// upstreamHeaders is the upstream filter's first message for an attempt on
// the per-rule backend name, with the request headers as Envoy has them.
func upstreamHeaders(backend string, kv ...string) *extprocv3.ProcessingRequest {
	req := requestHeaders(false, kv...)
	req.Attributes = map[string]*structpb.Struct{AttributesKey: {Fields: map[string]*structpb.Value{
		attrHostBackend: structpb.NewStringValue(backend),
	}}}
	return req
}

func send(t *testing.T, st extprocv3.ExternalProcessor_ProcessClient, req *extprocv3.ProcessingRequest) {
	t.Helper()
	require.NoError(t, st.Send(req))
}

func recv(t *testing.T, st extprocv3.ExternalProcessor_ProcessClient) *extprocv3.ProcessingResponse {
	t.Helper()
	resp, err := st.Recv()
	require.NoError(t, err)
	return resp
}

// sets returns the headers a mutation sets, and removes those it removes
// (as "-name").
func sets(m *extprocv3.HeaderMutation) map[string]string {
	out := map[string]string{}
	for _, h := range m.GetSetHeaders() {
		out[h.GetHeader().GetKey()] = string(h.GetHeader().GetRawValue())
	}
	for _, name := range m.GetRemoveHeaders() {
		out["-"+name] = ""
	}
	return out
}

// envoyHeaders applies a mutation to kv, as Envoy would, returning the
// list again.
func envoyHeaders(kv []string, m *extprocv3.HeaderMutation) []string {
	h := map[string]string{}
	var order []string
	for i := 0; i < len(kv); i += 2 {
		if _, ok := h[kv[i]]; !ok {
			order = append(order, kv[i])
		}
		h[kv[i]] = kv[i+1]
	}
	for _, name := range m.GetRemoveHeaders() {
		delete(h, name)
	}
	for _, sv := range m.GetSetHeaders() {
		k := sv.GetHeader().GetKey()
		if _, ok := h[k]; !ok {
			order = append(order, k)
		}
		h[k] = string(sv.GetHeader().GetRawValue())
	}
	var out []string
	for _, k := range order {
		if v, ok := h[k]; ok {
			out = append(out, k, v)
		}
	}
	return out
}

const chatBody = `{"model":"m","messages":[{"role":"user","content":"hi"}]}`

var clientHeaders = []string{
	":method", "POST", ":path", "/v1/chat/completions", ":authority", "gateway.example", ":scheme", "http",
	"content-type", "application/json", "content-length", strconv.Itoa(len(chatBody)),
	"authorization", "Bearer client-key", "x-ai-eg-model", "spoofed", "x-request-id", "req-1",
}

// routed replays the router level's request phase of a buffered chat
// request and returns the stream and the headers as Envoy then has them.
func routed(t *testing.T, h *harness, body string) (extprocv3.ExternalProcessor_ProcessClient, []string) {
	t.Helper()
	router := h.stream(t)
	send(t, router, requestHeaders(false, clientHeaders...))
	hr := recv(t, router).GetRequestHeaders()
	require.NotNil(t, hr, "the router level answers the headers before Envoy buffers the body")
	got := sets(hr.GetResponse().GetHeaderMutation())
	require.True(t, strings.HasPrefix(got[HeaderInternalRequestID], "req-1-"), "the internal ID correlates the upstream filter: %v", got)
	headers := envoyHeaders(clientHeaders, hr.GetResponse().GetHeaderMutation())

	send(t, router, requestBody(body, true))
	br := recv(t, router).GetRequestBody()
	require.NotNil(t, br)
	require.True(t, br.GetResponse().GetClearRouteCache(), "Envoy matches routes again on the model header")
	got = sets(br.GetResponse().GetHeaderMutation())
	require.Equal(t, "m", got["x-ai-eg-model"], "the model header comes from the body, never the client")
	require.Equal(t, "/v1/chat/completions", got[HeaderOriginalPath])
	require.Nil(t, br.GetResponse().GetBodyMutation(), "the router level leaves the body to the upstream level")
	return router, envoyHeaders(headers, br.GetResponse().GetHeaderMutation())
}

func TestBufferedChat(t *testing.T) {
	h := newHarness(t)
	router, headers := routed(t, h, chatBody)

	up := h.stream(t)
	send(t, up, upstreamHeaders("default/primary/route/chat/rule/0/ref/0", headers...))
	ur := recv(t, up).GetRequestHeaders().GetResponse()
	require.Equal(t, extprocv3.CommonResponse_CONTINUE, ur.GetStatus(), "an unchanged body is not replaced")
	require.Nil(t, ur.GetBodyMutation())
	got := sets(ur.GetHeaderMutation())
	require.Equal(t, "Bearer sk-primary", got["authorization"], "the backend's key replaces the client's")
	require.Contains(t, got, "-"+HeaderInternalRequestID, "the internal ID never reaches the upstream")
	require.NotContains(t, got, ":path", "the primary's path is the client's")
	require.NoError(t, up.CloseSend())

	respBody := `{"id":"c1","object":"chat.completion","model":"m-2025","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}`
	send(t, router, responseHeaders(false, ":status", "200", "content-type", "application/json", "content-length", strconv.Itoa(len(respBody))))
	rh := recv(t, router)
	require.NotNil(t, rh.GetResponseHeaders())
	require.Nil(t, rh.GetModeOverride(), "a JSON body stays buffered")
	send(t, router, responseBody(respBody, true))
	rb := recv(t, router)
	require.Nil(t, rb.GetResponseBody().GetResponse().GetBodyMutation(), "an OpenAI body reaches the client as it is")
	md := rb.GetDynamicMetadata().GetFields()[MetadataNamespace].GetStructValue().GetFields()
	require.InDelta(t, 3, md["llm_input_token"].GetNumberValue(), 0)
	require.InDelta(t, 5, md["llm_output_token"].GetNumberValue(), 0)
	require.InDelta(t, 8, md["llm_total_token"].GetNumberValue(), 0)
	require.Equal(t, "default/primary/route/chat/rule/0/ref/0", md["backend_name"].GetStringValue())
	require.Equal(t, "default/primary", md["ai_service_backend_name"].GetStringValue())
	require.Equal(t, "default/chat", md["route_name"].GetStringValue())
	require.Equal(t, "m-2025", md["response_model"].GetStringValue())
	require.NotContains(t, md, "model_name_override")
	require.NoError(t, router.CloseSend())
	_, err := router.Recv()
	require.Error(t, err, "the server ends the stream")

	line := accessLine(t, h)
	require.InDelta(t, 200, line["status"], 0)
	require.Equal(t, "default/primary", line["backend"])
	require.InDelta(t, 8, line["total_tokens"], 0)
	require.InDelta(t, 8, line["llm_total_token"], 0)
	require.Eventually(t, func() bool { return h.srv.Sessions() == 0 }, 5*time.Second, time.Millisecond, "the request's state is gone")
}

// TestCredentialFromMetadata: the upstream filter reads the dynamic
// metadata Envoy forwards; a policy's credentialOverride takes the key a
// trusted ext_authz filter set there instead of its own.
func TestCredentialFromMetadata(t *testing.T) {
	h := newHarness(t)
	_, headers := routed(t, h, chatBody)
	up := h.stream(t)
	req := upstreamHeaders("default/primary/route/chat/rule/0/ref/0", headers...)
	authz, err := structpb.NewStruct(map[string]any{"x-aigw-api-key": "sk-tenant-7"})
	require.NoError(t, err)
	req.MetadataContext = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"envoy.filters.http.ext_authz": authz}}
	send(t, up, req)
	got := sets(recv(t, up).GetRequestHeaders().GetResponse().GetHeaderMutation())
	require.Equal(t, "Bearer sk-tenant-7", got["authorization"])
	require.NoError(t, up.CloseSend())
}

// TestRetryReentersUpstreamFilter: Envoy retries below the router, so the
// upstream filter runs once per attempt; each attempt is built from the
// client's original body for its own backend.
func TestRetryReentersUpstreamFilter(t *testing.T) {
	h := newHarness(t)
	router, headers := routed(t, h, chatBody)

	first := h.stream(t)
	send(t, first, upstreamHeaders("default/primary/route/chat/rule/0/ref/0", headers...))
	require.Equal(t, extprocv3.CommonResponse_CONTINUE, recv(t, first).GetRequestHeaders().GetResponse().GetStatus())
	require.NoError(t, first.CloseSend())

	// The primary answered 503; Envoy's retry policy moves to the next
	// priority, whose backend overrides the model and has another prefix.
	second := h.stream(t)
	send(t, second, upstreamHeaders("default/fallback/route/chat/rule/0/ref/1", headers...))
	ur := recv(t, second).GetRequestHeaders().GetResponse()
	require.Equal(t, extprocv3.CommonResponse_CONTINUE_AND_REPLACE, ur.GetStatus())
	var body map[string]any
	require.NoError(t, json.Unmarshal(ur.GetBodyMutation().GetBody(), &body))
	require.Equal(t, "m-fallback", body["model"], "the override applies to the original body")
	got := sets(ur.GetHeaderMutation())
	require.Equal(t, "/openai/v1/chat/completions", got[":path"])
	require.Equal(t, strconv.Itoa(len(ur.GetBodyMutation().GetBody())), got["content-length"])
	require.NotContains(t, got, "authorization", "a backend without credentials gets the client's headers")
	require.NoError(t, second.CloseSend())

	respBody := `{"id":"c1","object":"chat.completion","model":"m-fallback","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}`
	send(t, router, responseHeaders(false, ":status", "200", "content-type", "application/json"))
	recv(t, router)
	send(t, router, responseBody(respBody, true))
	md := recv(t, router).GetDynamicMetadata().GetFields()[MetadataNamespace].GetStructValue().GetFields()
	require.Equal(t, "default/fallback", md["ai_service_backend_name"].GetStringValue())
	require.Equal(t, "m-fallback", md["model_name_override"].GetStringValue())
	require.InDelta(t, 3, md["llm_total_token"].GetNumberValue(), 0)
	require.NoError(t, router.CloseSend())
	_, _ = router.Recv()
	line := accessLine(t, h)
	require.InDelta(t, 2, line["attempts"], 0)
	require.Equal(t, "m-fallback", line["request_model"])
}

// TestStreamedResponse: an event stream switches the response body to
// STREAMED and each chunk goes back with the whole events it completes.
func TestStreamedResponse(t *testing.T) {
	h := newHarness(t)
	router, headers := routed(t, h, `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	up := h.stream(t)
	send(t, up, upstreamHeaders("default/primary/route/chat/rule/0/ref/0", headers...))
	ur := recv(t, up).GetRequestHeaders().GetResponse()
	require.Equal(t, extprocv3.CommonResponse_CONTINUE_AND_REPLACE, ur.GetStatus(), "costs need usage: the stream asks for it")
	require.Contains(t, string(ur.GetBodyMutation().GetBody()), `"include_usage":true`)
	require.NoError(t, up.CloseSend())

	send(t, router, responseHeaders(false, ":status", "200", "content-type", "text/event-stream", "content-length", "999"))
	rh := recv(t, router)
	require.Equal(t, filterv3.ProcessingMode_STREAMED, rh.GetModeOverride().GetResponseBodyMode())
	require.Contains(t, sets(rh.GetResponseHeaders().GetResponse().GetHeaderMutation()), "-content-length")

	ev1 := `data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"he"}}]}` + "\n\n"
	ev2 := `data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"llo"}}]}` + "\n\n"
	usage := `data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}` + "\n\n"
	done := "data: [DONE]\n\n"
	split := len(ev2) / 2

	send(t, router, responseBody(ev1+ev2[:split], false))
	b1 := recv(t, router).GetResponseBody().GetResponse().GetBodyMutation().GetBody()
	require.Equal(t, ev1, string(b1), "the whole event goes on, the partial one waits")
	send(t, router, responseBody(ev2[split:]+usage+done, true))
	last := recv(t, router)
	require.Equal(t, ev2+done, string(last.GetResponseBody().GetResponse().GetBodyMutation().GetBody()), "the usage chunk the client did not ask for is dropped")
	md := last.GetDynamicMetadata().GetFields()[MetadataNamespace].GetStructValue().GetFields()
	require.InDelta(t, 6, md["llm_total_token"].GetNumberValue(), 0)
	require.Contains(t, md, "token_latency_ttft")
	require.Contains(t, md, "token_latency_itl")
	require.NoError(t, router.CloseSend())
	_, _ = router.Recv()
	require.InDelta(t, 200, accessLine(t, h)["status"], 0)
}

// TestFullDuplexRequest: in FULL_DUPLEX_STREAMED mode Envoy streams the
// body without waiting; the server answers the headers once the body is
// whole, then sends the body back.
func TestFullDuplexRequest(t *testing.T) {
	h := newHarness(t)
	router := h.stream(t)
	first := requestHeaders(false, clientHeaders...)
	first.ProtocolConfig = &extprocv3.ProtocolConfiguration{RequestBodyMode: filterv3.ProcessingMode_FULL_DUPLEX_STREAMED, ResponseBodyMode: filterv3.ProcessingMode_FULL_DUPLEX_STREAMED}
	send(t, router, first)
	half := len(chatBody) / 2
	send(t, router, requestBody(chatBody[:half], false))
	send(t, router, requestBody(chatBody[half:], true))
	hr := recv(t, router).GetRequestHeaders()
	require.NotNil(t, hr, "the headers are answered after the whole body")
	require.True(t, hr.GetResponse().GetClearRouteCache())
	require.Equal(t, "m", sets(hr.GetResponse().GetHeaderMutation())["x-ai-eg-model"])
	var echoed strings.Builder
	for {
		br := recv(t, router).GetRequestBody().GetResponse().GetBodyMutation().GetStreamedResponse()
		require.NotNil(t, br)
		echoed.Write(br.GetBody())
		if br.GetEndOfStream() {
			break
		}
	}
	require.Equal(t, chatBody, echoed.String())

	headers := envoyHeaders(clientHeaders, hr.GetResponse().GetHeaderMutation())
	up := h.stream(t)
	send(t, up, upstreamHeaders("default/primary/route/chat/rule/0/ref/0", headers...))
	recv(t, up)
	require.NoError(t, up.CloseSend())

	send(t, router, responseHeaders(false, ":status", "200", "content-type", "application/json"))
	rh := recv(t, router)
	require.Nil(t, rh.GetModeOverride(), "full duplex needs no mode override")
	send(t, router, responseBody(`{"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`, true))
	sb := recv(t, router).GetResponseBody().GetResponse().GetBodyMutation().GetStreamedResponse()
	require.True(t, sb.GetEndOfStream())
	require.Contains(t, string(sb.GetBody()), `"total_tokens":2`)
	md := recv(t, router).GetDynamicMetadata().GetFields()[MetadataNamespace].GetStructValue().GetFields()
	require.InDelta(t, 2, md["llm_total_token"].GetNumberValue(), 0)
}

func TestHeadersOnlyModels(t *testing.T) {
	h := newHarness(t)
	router := h.stream(t)
	send(t, router, requestHeaders(true, ":method", "GET", ":path", "/v1/models", ":authority", "gateway.example"))
	ir := recv(t, router).GetImmediateResponse()
	require.NotNil(t, ir)
	require.Equal(t, 200, int(ir.GetStatus().GetCode()))
	var list struct {
		Data []struct{ ID string } `json:"data"`
	}
	require.NoError(t, json.Unmarshal(ir.GetBody(), &list))
	require.Len(t, list.Data, 1)
	require.Equal(t, "m", list.Data[0].ID)
}

// TestImmediateErrors: what the router level refuses is answered at once,
// OpenAI-shaped, with the right status.
func TestImmediateErrors(t *testing.T) {
	tests := []struct {
		name   string
		msgs   []*extprocv3.ProcessingRequest
		status int
		code   string
		allow  string
	}{
		{name: "unknown model", msgs: []*extprocv3.ProcessingRequest{
			requestHeaders(false, ":method", "POST", ":path", "/v1/chat/completions"), requestBody(`{"model":"nope","messages":[]}`, true),
		}, status: 404, code: "model_not_found"},
		{name: "malformed JSON", msgs: []*extprocv3.ProcessingRequest{
			requestHeaders(false, ":method", "POST", ":path", "/v1/chat/completions"), requestBody(`{"model":`, true),
		}, status: 400, code: "invalid_request"},
		{name: "unknown path", msgs: []*extprocv3.ProcessingRequest{
			requestHeaders(true, ":method", "GET", ":path", "/v1/unknown"),
		}, status: 404, code: "unsupported_path"},
		{name: "wrong method", msgs: []*extprocv3.ProcessingRequest{
			requestHeaders(true, ":method", "GET", ":path", "/v1/chat/completions"),
		}, status: 405, code: "method_not_allowed", allow: "POST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			router := h.stream(t)
			var ir *extprocv3.ImmediateResponse
			for _, m := range tc.msgs {
				send(t, router, m)
				if _, isBody := m.GetRequest().(*extprocv3.ProcessingRequest_RequestBody); isBody || m.GetRequestHeaders().GetEndOfStream() {
					ir = recv(t, router).GetImmediateResponse()
				} else {
					recv(t, router) // the headers' answer
				}
			}
			require.NotNil(t, ir)
			require.Equal(t, tc.status, int(ir.GetStatus().GetCode()))
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			require.NoError(t, json.Unmarshal(ir.GetBody(), &e), "%s", ir.GetBody())
			require.Equal(t, tc.code, e.Error.Code)
			got := sets(ir.GetHeaders())
			require.Equal(t, "application/json", got["content-type"])
			if tc.allow != "" {
				require.Equal(t, tc.allow, got["allow"])
			}
			require.Eventually(t, func() bool { return h.srv.Sessions() == 0 }, 5*time.Second, time.Millisecond)
		})
	}
}

// TestClientCancelsMidStream: Envoy resets the router stream when the
// client goes away; the request is recorded as cancelled and its state
// released.
func TestClientCancelsMidStream(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(t.Context())
	router, err := h.client.Process(ctx)
	require.NoError(t, err)
	send(t, router, requestHeaders(false, clientHeaders...))
	hr := recv(t, router).GetRequestHeaders()
	headers := envoyHeaders(clientHeaders, hr.GetResponse().GetHeaderMutation())
	send(t, router, requestBody(`{"model":"m","stream":true,"messages":[]}`, true))
	br := recv(t, router).GetRequestBody()
	headers = envoyHeaders(headers, br.GetResponse().GetHeaderMutation())
	up := h.stream(t)
	send(t, up, upstreamHeaders("default/primary/route/chat/rule/0/ref/0", headers...))
	recv(t, up)
	send(t, router, responseHeaders(false, ":status", "200", "content-type", "text/event-stream"))
	recv(t, router)
	send(t, router, responseBody(`data: {"choices":[{"index":0,"delta":{"content":"a"}}]}`+"\n\n", false))
	recv(t, router)
	require.Equal(t, 1, h.srv.Sessions())
	cancel()
	require.Eventually(t, func() bool { return h.srv.Sessions() == 0 }, 5*time.Second, time.Millisecond)
	require.InDelta(t, 499, accessLine(t, h)["status"], 0)
}

// TestUpstreamWithoutRouterState: an upstream-level stream whose request
// the router level never saw is refused, not served blind.
func TestUpstreamWithoutRouterState(t *testing.T) {
	h := newHarness(t)
	up := h.stream(t)
	send(t, up, upstreamHeaders("default/primary/route/chat/rule/0/ref/0", ":method", "POST", ":path", "/v1/chat/completions", HeaderInternalRequestID, "forged"))
	ir := recv(t, up).GetImmediateResponse()
	require.NotNil(t, ir)
	require.Equal(t, 500, int(ir.GetStatus().GetCode()))

	up = h.stream(t)
	send(t, up, upstreamHeaders("not-a-backend-name", ":method", "POST", ":path", "/v1/chat/completions"))
	require.Equal(t, 500, int(recv(t, up).GetImmediateResponse().GetStatus().GetCode()))
}

func TestBackendNameAttributes(t *testing.T) {
	name := "default/primary/route/chat/rule/0/ref/2"
	text := `filter_metadata { key: "aigateway.envoy.io" value { fields { key: "per_route_rule_backend_name" value { string_value: "` + name + `" } } } }`
	for label, fields := range map[string]map[string]*structpb.Value{
		"host":    {attrHostBackend: structpb.NewStringValue(name)},
		"cluster": {attrClusterBackend: structpb.NewStringValue(name)},
		"text":    {attrHostMetadata: structpb.NewStringValue(text)},
	} {
		t.Run(label, func(t *testing.T) {
			got := backendName(&structpb.Struct{Fields: fields})
			require.Equal(t, name, got)
			b, ref, err := parseBackendName(got)
			require.NoError(t, err)
			require.Equal(t, "default/primary", b)
			require.Equal(t, 2, ref)
		})
	}
	for _, bad := range []string{"", "default/primary", "default/primary/route/r/rule/0/ref/x", "/p/route/r/rule/0/ref/0"} {
		_, _, err := parseBackendName(bad)
		require.Error(t, err, bad)
	}
}

// accessLine waits for the access log's line and decodes it.
func accessLine(t *testing.T, h *harness) map[string]any {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(h.accessLog.String(), "\n") }, 5*time.Second, time.Millisecond)
	var line map[string]any
	first, _, _ := strings.Cut(h.accessLog.String(), "\n")
	require.NoError(t, json.Unmarshal([]byte(first), &line))
	return line
}

// TestBodyBudget: request bodies held across streams are bounded: a body
// that does not fit is answered 503 overloaded, and a finished request
// returns what it held.
func TestBodyBudget(t *testing.T) {
	h := newHarness(t)
	budget := bodybudget.New(int64(len(chatBody)) + 10)
	h.srv.budget = budget

	// One request holds most of the budget while it waits for its answer.
	router, _ := routed(t, h, chatBody)
	require.Equal(t, int64(len(chatBody)), budget.Used())

	// Another one does not fit.
	other := h.stream(t)
	send(t, other, requestHeaders(false, clientHeaders...))
	recv(t, other)
	send(t, other, requestBody(chatBody, true))
	ir := recv(t, other).GetImmediateResponse()
	require.NotNil(t, ir)
	require.Equal(t, 503, int(ir.GetStatus().GetCode()))
	require.Contains(t, string(ir.GetBody()), `"overloaded"`)

	require.NoError(t, router.CloseSend())
	_, _ = router.Recv()
	require.Eventually(t, func() bool { return budget.Used() == 0 }, 5*time.Second, time.Millisecond, "the charge is returned")
}
