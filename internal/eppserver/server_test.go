package eppserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/epp"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

// fixture is a server on an in-memory listener with its scheduler.
type fixture struct {
	srv     *Server
	client  extprocv3.ExternalProcessorClient
	sched   *scheduler.Scheduler
	metrics *Metrics
	reg     *prometheus.Registry
	dial    func(context.Context, string) (net.Conn, error)
}

func newFixture(t *testing.T, opts Options, cfg scheduler.Config, endpoints ...string) *fixture {
	t.Helper()
	sched, err := scheduler.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	eps := make([]scheduler.Endpoint, len(endpoints))
	for i, e := range endpoints {
		eps[i] = scheduler.Endpoint{Address: e}
	}
	sched.SetEndpoints(eps)
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, "default/pool", sched)
	if err != nil {
		t.Fatal(err)
	}
	opts.Scheduler, opts.Metrics = sched, m
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(gs, srv)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	dial := func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithContextDialer(dial), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &fixture{srv: srv, client: extprocv3.NewExternalProcessorClient(conn), sched: sched, metrics: m, reg: reg, dial: dial}
}

func noFallbacks() scheduler.Config {
	c := scheduler.DefaultConfig()
	c.Profile.Fallbacks = 0
	return c
}

func headersMsg(path string, eos bool, extra map[string]string, subset *structpb.Value) *extprocv3.ProcessingRequest {
	hs := []*corev3.HeaderValue{
		{Key: ":method", RawValue: []byte("POST")},
		{Key: ":path", RawValue: []byte(path)},
		{Key: ":authority", RawValue: []byte("gw")},
		{Key: "content-type", RawValue: []byte("application/json")},
	}
	for k, v := range extra {
		hs = append(hs, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
	}
	req := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{
		Headers: &corev3.HeaderMap{Headers: hs}, EndOfStream: eos,
	}}}
	if subset != nil {
		req.MetadataContext = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			epp.SubsetNamespace: {Fields: map[string]*structpb.Value{epp.SubsetKey: subset}},
		}}
	}
	return req
}

func bodyMsg(b string, eos bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(b), EndOfStream: eos}}}
}

func respHeadersMsg(served, contentType string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{
		Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			{Key: ":status", RawValue: []byte("200")}, {Key: "content-type", RawValue: []byte(contentType)},
		}}}},
		MetadataContext: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			epp.MetadataNamespace: {Fields: map[string]*structpb.Value{epp.ServedKey: structpb.NewStringValue(served)}},
		}},
	}
}

func respBodyMsg(b string, eos bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: []byte(b), EndOfStream: eos}}}
}

// pick is the request phase's answer as the test reads it.
type pick struct {
	header, metadata string
	contentLength    string
	body             string // concatenated replacements
	acks             int    // empty body responses
	acksBeforePick   int
	immediate        int
	immediateBody    string
}

// requestPhase sends msgs and reads until the request phase is answered.
func requestPhase(t *testing.T, s extprocv3.ExternalProcessor_ProcessClient, msgs ...*extprocv3.ProcessingRequest) pick {
	t.Helper()
	for _, m := range msgs {
		if err := s.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	var p pick
	gotHeaders := false
	for {
		resp, err := s.Recv()
		if err != nil {
			t.Fatalf("recv: %v (so far %+v)", err, p)
		}
		switch r := resp.GetResponse().(type) {
		case *extprocv3.ProcessingResponse_ImmediateResponse:
			p.immediate = int(r.ImmediateResponse.GetStatus().GetCode())
			p.immediateBody = string(r.ImmediateResponse.GetBody())
			return p
		case *extprocv3.ProcessingResponse_RequestHeaders:
			gotHeaders = true
			for _, h := range r.RequestHeaders.GetResponse().GetHeaderMutation().GetSetHeaders() {
				switch h.GetHeader().GetKey() {
				case epp.DestinationKey:
					p.header = string(h.GetHeader().GetRawValue())
				case "content-length":
					p.contentLength = string(h.GetHeader().GetRawValue())
				}
			}
			p.metadata = resp.GetDynamicMetadata().GetFields()[epp.MetadataNamespace].GetStructValue().GetFields()[epp.DestinationKey].GetStringValue()
			if isHeaderOnly(msgs) {
				return p
			}
		case *extprocv3.ProcessingResponse_RequestBody:
			sr := r.RequestBody.GetResponse().GetBodyMutation().GetStreamedResponse()
			if sr == nil {
				p.acks++
				if !gotHeaders {
					p.acksBeforePick++
				}
				if gotHeaders && p.acks == countBodies(msgs) {
					return p
				}
				continue
			}
			if len(sr.GetBody()) > maxChunk {
				t.Errorf("replacement chunk of %d bytes > %d", len(sr.GetBody()), maxChunk)
			}
			p.body += string(sr.GetBody())
			if sr.GetEndOfStream() {
				return p
			}
		default:
			t.Fatalf("unexpected response %T", r)
		}
	}
}

func isHeaderOnly(msgs []*extprocv3.ProcessingRequest) bool {
	return len(msgs) == 1 && msgs[0].GetRequestHeaders().GetEndOfStream()
}

func countBodies(msgs []*extprocv3.ProcessingRequest) int {
	n := 0
	for _, m := range msgs {
		if m.GetRequestBody() != nil {
			n++
		}
	}
	return n
}

const chatBody = `{"model":"llama","messages":[{"role":"user","content":"hello"}],"stream":false}`

func TestRequestPhaseEchoAndAck(t *testing.T) {
	eps := []string{"10.0.0.1:8000", "10.0.0.2:8000"}
	for _, ack := range []bool{false, true} {
		t.Run(fmt.Sprintf("ack=%v", ack), func(t *testing.T) {
			f := newFixture(t, Options{AckRequestBody: ack}, noFallbacks(), eps...)
			s, err := f.client.Process(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			p := requestPhase(t, s, headersMsg("/v1/chat/completions", false, nil, nil), bodyMsg(chatBody[:20], false), bodyMsg(chatBody[20:], true))
			if p.header == "" || p.header != p.metadata {
				t.Fatalf("pick header %q, metadata %q: want equal and set", p.header, p.metadata)
			}
			if p.header != eps[0] && p.header != eps[1] {
				t.Fatalf("pick %q is not a pool endpoint", p.header)
			}
			if ack {
				if p.body != "" || p.acks != 2 || p.acksBeforePick != 1 || p.contentLength != "" {
					t.Errorf("ack mode: %+v, want 2 empty acks (1 before the pick), no replacement", p)
				}
			} else if p.body != chatBody || p.contentLength != fmt.Sprint(len(chatBody)) || p.acks != 0 {
				t.Errorf("echo mode: body %q content-length %q acks %d", p.body, p.contentLength, p.acks)
			}
		})
	}
}

func TestLargeBodyIsChunked(t *testing.T) {
	f := newFixture(t, Options{}, noFallbacks(), "10.0.0.1:8000")
	s, err := f.client.Process(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	body := `{"model":"m","prompt":"` + strings.Repeat("x", 200_000) + `"}`
	p := requestPhase(t, s, headersMsg("/v1/completions", false, nil, nil), bodyMsg(body, true))
	if p.body != body {
		t.Fatalf("replacement of %d bytes, want the %d-byte body", len(p.body), len(body))
	}
}

func TestHeaderOnlyRequestPicksAtOnce(t *testing.T) {
	f := newFixture(t, Options{}, noFallbacks(), "10.0.0.1:8000")
	s, err := f.client.Process(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if p := requestPhase(t, s, headersMsg("/v1/models", true, nil, nil)); p.header != "10.0.0.1:8000" {
		t.Fatalf("pick = %+v", p)
	}
}

func TestImmediateResponses(t *testing.T) {
	list := func(v ...string) *structpb.Value {
		l := make([]any, len(v))
		for i := range v {
			l[i] = v[i]
		}
		lv, _ := structpb.NewList(l)
		return structpb.NewListValue(lv)
	}
	tests := []struct {
		name     string
		path     string
		body     string
		subset   *structpb.Value
		noEPs    bool
		maxBody  int64
		status   int
		contains string
	}{
		{name: "not JSON", path: "/v1/chat/completions", body: `{"model":`, status: 400, contains: "not valid JSON"},
		{name: "not an object", path: "/v1/chat/completions", body: `[1]`, status: 400, contains: "must be a JSON object"},
		{name: "missing model", path: "/v1/chat/completions", body: `{"messages":[{"role":"user","content":"x"}]}`, status: 400, contains: "model not found in request body"},
		{name: "model not a string", path: "/v1/completions", body: `{"model":1,"prompt":"x"}`, status: 400, contains: "model not found"},
		{name: "chat without messages", path: "/v1/chat/completions", body: `{"model":"m","prompt":"x"}`, status: 400, contains: `field \"messages\" is required`},
		{name: "chat with empty messages", path: "/v1/chat/completions", body: `{"model":"m","messages":[]}`, status: 400, contains: "non-empty array"},
		{name: "completion without prompt", path: "/v1/completions?x=1", body: `{"model":"m"}`, status: 400, contains: `\"prompt\" is required for /v1/completions`},
		{name: "embeddings without input", path: "/v1/embeddings", body: `{"model":"m","prompt":"x"}`, status: 400, contains: `\"input\"`},
		{name: "body too large", path: "/v1/completions", body: `{"model":"m","prompt":"` + strings.Repeat("x", 100) + `"}`, maxBody: 64, status: 413},
		{name: "empty subset", path: "/v1/completions", body: `{"model":"m","prompt":"x"}`, subset: list(), status: 503, contains: "subset hint"},
		{name: "subset matching nothing", path: "/v1/completions", body: `{"model":"m","prompt":"x"}`, subset: list("10.9.9.9:8000"), status: 503, contains: "subset hint"},
		{name: "empty pool", path: "/v1/completions", body: `{"model":"m","prompt":"x"}`, noEPs: true, status: 503, contains: "no ready endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := []string{"10.0.0.1:8000"}
			if tt.noEPs {
				eps = nil
			}
			f := newFixture(t, Options{MaxRequestBodyBytes: tt.maxBody}, noFallbacks(), eps...)
			s, err := f.client.Process(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			p := requestPhase(t, s, headersMsg(tt.path, false, nil, tt.subset), bodyMsg(tt.body, true))
			if p.immediate != tt.status || !strings.Contains(p.immediateBody, tt.contains) {
				t.Fatalf("immediate %d %s, want %d containing %q", p.immediate, p.immediateBody, tt.status, tt.contains)
			}
			var e struct {
				Error struct {
					Message, Type string
				}
			}
			if err := json.Unmarshal([]byte(p.immediateBody), &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
				t.Errorf("body %s is not an OpenAI error: %v", p.immediateBody, err)
			}
			if _, err := s.Recv(); err != io.EOF {
				t.Errorf("stream after an immediate response: %v, want EOF", err)
			}
		})
	}
}

func TestSubsetHintRestrictsThePick(t *testing.T) {
	eps := []string{"10.0.0.1:8000", "10.0.0.2:8000", "10.0.0.3:8000"}
	f := newFixture(t, Options{}, noFallbacks(), eps...)
	for _, hint := range []*structpb.Value{
		structpb.NewStringValue("10.0.0.3:8000"),
		structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue("10.0.0.3")}}),
	} {
		for range 10 {
			s, err := f.client.Process(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			p := requestPhase(t, s, headersMsg("/v1/completions", false, nil, hint), bodyMsg(`{"model":"m","prompt":"x"}`, true))
			if p.header != "10.0.0.3:8000" {
				t.Fatalf("hint %v: pick %q", hint, p.header)
			}
			_ = s.CloseSend()
		}
	}
}

func TestModelRewriteAndResponsePhase(t *testing.T) {
	f := newFixture(t, Options{
		Policy: scheduler.Policy{Rewrites: []scheduler.RewriteRule{{Models: []string{"llama"}, Targets: []scheduler.WeightedModel{{Model: "llama-v2", Weight: 1}, {Model: "llama-v3", Weight: 3}}}}},
		Rand:   func() uint64 { return 2 }, // 2 % 4 = 2 → second target
	}, noFallbacks(), "10.0.0.1:8000", "10.0.0.2:8000")

	t.Run("rule", func(t *testing.T) {
		s, err := f.client.Process(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		p := requestPhase(t, s, headersMsg("/v1/chat/completions", false, nil, nil), bodyMsg(chatBody, true))
		want := strings.Replace(chatBody, `"llama"`, `"llama-v3"`, 1)
		if p.body != want || p.contentLength != fmt.Sprint(len(want)) {
			t.Fatalf("rewritten body %q (content-length %s), want %q", p.body, p.contentLength, want)
		}
		// Response: served by the other endpoint; non-streamed, two chunks
		// with the model name split between them.
		other := "10.0.0.1:8000"
		if p.header == other {
			other = "10.0.0.2:8000"
		}
		if err := s.Send(respHeadersMsg(other, "application/json")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		inflight := map[string]int64{}
		for _, e := range f.sched.Endpoints() {
			inflight[e.Endpoint.Address] = e.InFlight
		}
		if inflight[other] != 1 || inflight[p.header] != 0 {
			t.Errorf("in-flight after a fallback = %v, want the served endpoint counted", inflight)
		}
		resp := `{"id":"x","model":"llama-v3","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}`
		for _, m := range []*extprocv3.ProcessingRequest{respBodyMsg(resp[:20], false), respBodyMsg(resp[20:], true)} {
			if err := s.Send(m); err != nil {
				t.Fatal(err)
			}
		}
		// The first chunk goes out at once without the start of the name,
		// held until the second shows it is the rewritten one.
		var got []string
		for eos := false; !eos; {
			r, err := s.Recv()
			if err != nil {
				t.Fatal(err)
			}
			sr := r.GetResponseBody().GetResponse().GetBodyMutation().GetStreamedResponse()
			got, eos = append(got, string(sr.GetBody())), sr.GetEndOfStream()
		}
		if want := []string{`{"id":"x",`, strings.Replace(resp[10:], "llama-v3", "llama", 1)}; !slices.Equal(got, want) {
			t.Errorf("response body chunks %q, want %q", got, want)
		}
		_ = s.CloseSend()
		if _, err := s.Recv(); err != io.EOF {
			t.Fatalf("end of stream: %v", err)
		}
		waitFor(t, func() bool { return f.sched.Endpoints()[0].InFlight == 0 && f.sched.Endpoints()[1].InFlight == 0 })
		if got := testutil.ToFloat64(f.metrics.tokens.WithLabelValues("completion")); got != 3 {
			t.Errorf("completion tokens = %v, want 3", got)
		}
		if got := testutil.ToFloat64(f.metrics.servedOther); got != 1 {
			t.Errorf("served elsewhere = %v, want 1", got)
		}
	})

	t.Run("header then SSE", func(t *testing.T) {
		s, err := f.client.Process(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		body := `{"model": "phi","prompt":"hi","stream":true}`
		p := requestPhase(t, s, headersMsg("/v1/completions", false, map[string]string{epp.ModelRewriteHeader: "mistral"}, nil), bodyMsg(body, true))
		if !strings.Contains(p.body, `"model": "mistral"`) {
			t.Fatalf("body %q: want the header's model", p.body)
		}
		if err := s.Send(respHeadersMsg(p.header, "text/event-stream")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		for i, ev := range []string{`data: {"model":"mistral","choices":[{"text":"a"}],"usage":null}` + "\n\n", `data: {"model":"mistral","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":1}}` + "\n\ndata: [DONE]\n\n"} {
			if err := s.Send(respBodyMsg(ev, i == 1)); err != nil {
				t.Fatal(err)
			}
			r, err := s.Recv() // each SSE chunk is echoed at once
			if err != nil {
				t.Fatal(err)
			}
			got := string(r.GetResponseBody().GetResponse().GetBodyMutation().GetStreamedResponse().GetBody())
			if want := strings.ReplaceAll(ev, "mistral", "phi"); got != want {
				t.Errorf("event %d = %q, want %q", i, got, want)
			}
		}
	})
}

func TestSaturationShedsSheddableRequests(t *testing.T) {
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "vllm:num_requests_waiting{model_name=\"m\"} 50\nvllm:num_requests_running{model_name=\"m\"} 8\nvllm:kv_cache_usage_perc{model_name=\"m\"} 0.95")
	}))
	defer busy.Close()
	cfg := noFallbacks()
	cfg.ScrapeInterval = 10 * time.Millisecond
	f := newFixture(t, Options{Policy: scheduler.Policy{Objectives: map[string]int{"batch": -1, "chat": 10}}}, cfg, strings.TrimPrefix(busy.URL, "http://"))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = f.sched.Start(ctx) }()
	waitFor(t, func() bool { return f.sched.Saturation() >= 1 && f.sched.Endpoints()[0].Metrics != nil })

	for _, tc := range []struct {
		objective string
		status    int
	}{{"batch", 429}, {"chat", 0}, {"", 0}, {"unknown", 0}} {
		s, err := f.client.Process(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		p := requestPhase(t, s, headersMsg("/v1/completions", false, map[string]string{epp.ObjectiveHeader: tc.objective}, nil), bodyMsg(`{"model":"m","prompt":"x"}`, true))
		if p.immediate != tc.status {
			t.Errorf("objective %q: immediate %d, want %d", tc.objective, p.immediate, tc.status)
		}
		_ = s.CloseSend()
	}
	if got := settledCount(f.metrics.requests.WithLabelValues(outcomeSaturated, "m", "m"), 1); got != 1 {
		t.Errorf("saturated decisions = %v, want 1", got)
	}
}

func TestPrefixAffinity(t *testing.T) {
	cfg := scheduler.DefaultConfig()
	f := newFixture(t, Options{}, cfg, "10.0.0.1:8000", "10.0.0.2:8000", "10.0.0.3:8000", "10.0.0.4:8000")
	system := strings.Repeat("You are a careful assistant. ", 40)
	first := ""
	for i := range 8 {
		s, err := f.client.Process(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf(`{"model":"m","messages":[{"role":"system","content":%q},{"role":"user","content":"question %d"}]}`, system, i)
		p := requestPhase(t, s, headersMsg("/v1/chat/completions", false, nil, nil), bodyMsg(body, true))
		primary, _, _ := strings.Cut(p.header, ",")
		if first == "" {
			first = primary
		} else if primary != first {
			t.Fatalf("request %d with the shared prefix went to %s, the first to %s", i, primary, first)
		}
		if n := strings.Count(p.header, ",") + 1; n != 3 {
			t.Errorf("pick %q: want the primary plus 2 fallbacks", p.header)
		}
		_ = s.CloseSend()
	}
}

func TestCancellationReleasesInFlight(t *testing.T) {
	f := newFixture(t, Options{}, noFallbacks(), "10.0.0.1:8000")
	ctx, cancel := context.WithCancel(t.Context())
	s, err := f.client.Process(ctx)
	if err != nil {
		t.Fatal(err)
	}
	requestPhase(t, s, headersMsg("/v1/completions", false, nil, nil), bodyMsg(`{"model":"m","prompt":"x"}`, true))
	if got := f.sched.Endpoints()[0].InFlight; got != 1 {
		t.Fatalf("in-flight after the pick = %d", got)
	}
	cancel()
	waitFor(t, func() bool { return f.sched.Endpoints()[0].InFlight == 0 })
	waitFor(t, func() bool {
		return testutil.ToFloat64(f.metrics.requests.WithLabelValues(outcomePicked, "m", "m")) == 1
	})

	// Cancelled in the middle of the body: no pick, nothing counted.
	ctx2, cancel2 := context.WithCancel(t.Context())
	s2, err := f.client.Process(ctx2)
	if err != nil {
		t.Fatal(err)
	}
	_ = s2.Send(headersMsg("/v1/completions", false, nil, nil))
	_ = s2.Send(bodyMsg(`{"model":"m",`, false))
	cancel2()
	waitFor(t, func() bool {
		return testutil.ToFloat64(f.metrics.requests.WithLabelValues(outcomeCancelled, "", "")) == 1
	})
}

// TestGatewayClientInterop drives the server with the gateway's own EPP
// client (internal/epp), full request and response phases.
func TestGatewayClientInterop(t *testing.T) {
	for _, ack := range []bool{false, true} {
		t.Run(fmt.Sprintf("ack=%v", ack), func(t *testing.T) {
			f := newFixture(t, Options{AckRequestBody: ack}, scheduler.DefaultConfig(), "10.0.0.1:8000", "10.0.0.2:8000")
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go proxyTo(ln, f.dial)
			defer ln.Close()
			conns := epp.NewConns(nil)
			defer conns.Close()
			picker, err := conns.Get(&config.EndpointPicker{Name: "default/epp", Address: ln.Addr().String(), FailureMode: config.FailClose})
			if err != nil {
				t.Fatal(err)
			}
			body := []byte(`{"model":"llama","prompt":"` + strings.Repeat("y", 150_000) + `"}`)
			x, d, err := picker.Start(t.Context(), &epp.Request{Method: "POST", Path: "/v1/completions", Authority: "gw", Scheme: "http", Header: http.Header{"Content-Type": {"application/json"}}, Body: body})
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			if len(d.Endpoints) != 3-1 { // two endpoints: primary + one fallback
				t.Fatalf("endpoints %v", d.Endpoints)
			}
			if d.Body != nil && !bytes.Equal(d.Body, body) {
				t.Fatalf("body replaced with %d different bytes", len(d.Body))
			}
			if ack != (d.Body == nil) {
				t.Errorf("ack=%v but body replacement present=%v", ack, d.Body != nil)
			}
			if _, err := x.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}}, d.Endpoints[0].String()); err != nil {
				t.Fatal(err)
			}
			rb := x.ResponseBody(io.NopCloser(strings.NewReader(`{"model":"llama","usage":{"prompt_tokens":1,"completion_tokens":2}}`)))
			got, err := io.ReadAll(rb)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(got), `"completion_tokens":2`) {
				t.Errorf("response body %q", got)
			}
		})
	}
}

// proxyTo forwards TCP connections from ln to the in-memory listener.
func proxyTo(ln net.Listener, dial func(context.Context, string) (net.Conn, error)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			u, err := dial(context.Background(), "")
			if err != nil {
				return
			}
			defer u.Close()
			go func() { _, _ = io.Copy(u, c) }()
			_, _ = io.Copy(c, u)
		}()
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settledCount polls c until it reads want (an exchange records its outcome
// when its stream ends, just after the client got its answer) and returns the
// last value read.
func settledCount(c prometheus.Collector, want float64) float64 {
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := testutil.ToFloat64(c)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSetPolicyWhileServing swaps the policy between streams: a new stream
// sees the new rules and objectives, a rejected policy leaves the old one,
// and a rule for the body's model beats the rewrite header (GAIE's order).
func TestSetPolicyWhileServing(t *testing.T) {
	f := newFixture(t, Options{AckRequestBody: true}, noFallbacks(), "10.0.0.1:8000")
	send := func(hdr map[string]string) pick {
		t.Helper()
		s, err := f.client.Process(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = s.CloseSend() }()
		return requestPhase(t, s, headersMsg("/v1/completions", false, hdr, nil), bodyMsg(`{"model":"llama","prompt":"x"}`, true))
	}
	if p := send(nil); p.body != "" || p.acks == 0 {
		t.Fatalf("without rules the ack-mode server echoed %q", p.body)
	}
	if err := f.srv.SetPolicy(scheduler.Policy{Rewrites: []scheduler.RewriteRule{{Models: []string{"llama"}, Targets: []scheduler.WeightedModel{{Model: "llama-v3"}}}}}); err != nil {
		t.Fatal(err)
	}
	if p := send(map[string]string{epp.ModelRewriteHeader: "mistral"}); !strings.Contains(p.body, `"llama-v3"`) {
		t.Fatalf("body %q: want the rule's target over the header", p.body)
	}
	if err := f.srv.SetPolicy(scheduler.Policy{Rewrites: []scheduler.RewriteRule{{Models: []string{"llama"}}}}); err == nil {
		t.Fatal("a rule without targets was accepted")
	}
	if p := send(nil); !strings.Contains(p.body, `"llama-v3"`) {
		t.Fatalf("body %q: the rejected policy replaced the running one", p.body)
	}
	if err := f.srv.SetPolicy(scheduler.Policy{}); err != nil {
		t.Fatal(err)
	}
	if p := send(map[string]string{epp.ModelRewriteHeader: "mistral"}); !strings.Contains(p.body, `"mistral"`) {
		t.Fatalf("body %q: without rules the header applies", p.body)
	}
}
