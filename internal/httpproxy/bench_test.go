package httpproxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/epp/epptest"
	"github.com/aigw-dev/aigw/internal/eppserver"
	"github.com/aigw-dev/aigw/internal/metrics"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

const benchChat = `{"model":"m","messages":[{"role":"user","content":"Say hello."}],"max_tokens":8}`

var benchAnswer = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, friend!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}`)

func benchUpstream(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(benchAnswer)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func runBench(b *testing.B, h http.Handler) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(benchChat))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}

// BenchmarkProxy compares the gateway's handler with a plain
// httputil.ReverseProxy in front of the same upstream; compare the two
// sub-benchmarks of one run.
func BenchmarkProxy(b *testing.B) {
	up := benchUpstream(b)
	target, _ := url.Parse(up.URL)
	b.Run("reverseproxy", func(b *testing.B) {
		rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }}
		rp.Transport = &http.Transport{MaxIdleConnsPerHost: 1024}
		runBench(b, rp)
	})
	b.Run("gateway", func(b *testing.B) {
		host, port := target.Hostname(), target.Port()
		var p int32
		for _, c := range port {
			p = p*10 + c - '0'
		}
		m, _ := metrics.NewPrometheus(prometheus.NewRegistry(), metrics.Options{})
		g := New(Options{Metrics: m})
		cfg := &config.Config{Version: config.Version,
			Backends: []config.Backend{{Name: "default/a", Schema: config.Schema{Name: config.SchemaOpenAI}, Endpoints: []config.Endpoint{{Host: host, Port: p}}}},
			Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ref("default/a", 0))}, RequestCosts: tokenCosts}},
		}
		if err := g.Apply(cfg); err != nil {
			b.Fatal(err)
		}
		runBench(b, g)
	})
}

// BenchmarkPoolPick measures what asking an external endpoint picker costs
// per request: the same pool served with the gateway's own pick and through
// an ext_proc picker on loopback in each style; compare the sub-benchmarks
// of one run (ns/op is the whole request, serially).
func BenchmarkPoolPick(b *testing.B) {
	up := benchUpstream(b)
	target, _ := url.Parse(up.URL)
	var port int32
	for _, c := range target.Port() {
		port = port*10 + c - '0'
	}
	addr := target.Host
	run := func(b *testing.B, picker *config.EndpointPicker) {
		g := New(Options{})
		b.Cleanup(g.Close)
		pool := &config.Pool{Name: "default/pool", TargetPorts: []int32{port}, Endpoints: []config.PoolEndpoint{{IP: target.Hostname(), Port: port}}, EndpointPicker: picker}
		cfg := &config.Config{Version: config.Version,
			Backends: []config.Backend{{Name: "default/pool", Schema: config.Schema{Name: config.SchemaOpenAI}, Pool: pool}},
			Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ref("default/pool", 0))}}},
		}
		if err := g.Apply(cfg); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(benchChat))
			w := httptest.NewRecorder()
			g.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	}
	b.Run("own-pick", func(b *testing.B) { run(b, nil) })
	b.Run("aigw-epp-echo", func(b *testing.B) { run(b, startAigwPicker(b, addr, false)) })
	b.Run("aigw-epp-ack", func(b *testing.B) { run(b, startAigwPicker(b, addr, true)) })
	for _, style := range []struct {
		name  string
		style epptest.Style
	}{{"epp-replace", epptest.Replace}, {"epp-ack", epptest.Ack}} {
		b.Run(style.name, func(b *testing.B) {
			s := epptest.Start(b, style.style, func(map[string]string, []byte) epptest.Decision { return epptest.Decision{Pick: addr} })
			run(b, &config.EndpointPicker{Name: "default/epp", Address: s.Addr, FailureMode: config.FailClose})
		})
	}
}

// BenchmarkLargePrompt sends 220 KB prompts from 150 concurrent clients
// (GAIE issue #2928's case) through a pool with the gateway's own pick and
// through a picker that streams the body back (GAIE EPP style); the
// difference is what the picker's body path costs.
func BenchmarkLargePrompt(b *testing.B) {
	up := benchUpstream(b)
	target, _ := url.Parse(up.URL)
	var port int32
	for _, c := range target.Port() {
		port = port*10 + c - '0'
	}
	body := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum ", 220<<10/12) + `"}]}`
	run := func(b *testing.B, picker *config.EndpointPicker, passThrough bool) {
		g := New(Options{})
		b.Cleanup(g.Close)
		pool := &config.Pool{Name: "default/pool", TargetPorts: []int32{port}, Endpoints: []config.PoolEndpoint{{IP: target.Hostname(), Port: port}}, EndpointPicker: picker}
		rule := modelRule("m", ref("default/pool", 0))
		if passThrough {
			// An HTTPRoute to the pool: no model routing, so no body parsing.
			rule.Matches = []config.Match{{Path: &config.PathMatch{Type: config.PathMatchPathPrefix, Value: "/"}}}
		}
		cfg := &config.Config{Version: config.Version,
			Backends: []config.Backend{{Name: "default/pool", Schema: config.Schema{Name: config.SchemaOpenAI}, Pool: pool}},
			Routes:   []config.Route{{Name: "default/r", PassThrough: passThrough, Rules: []config.Rule{rule}}},
		}
		if err := g.Apply(cfg); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(body)))
		b.SetParallelism(75) // 150 goroutines on 2 CPUs
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
				w := httptest.NewRecorder()
				g.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Errorf("status %d: %s", w.Code, w.Body)
					return
				}
			}
		})
	}
	newPicker := func(b *testing.B) *config.EndpointPicker {
		s := epptest.Start(b, epptest.Replace, func(map[string]string, []byte) epptest.Decision { return epptest.Decision{Pick: target.Host} })
		return &config.EndpointPicker{Name: "default/epp", Address: s.Addr, FailureMode: config.FailClose}
	}
	b.Run("parsed/own-pick", func(b *testing.B) { run(b, nil, false) })
	b.Run("no-parse/own-pick", func(b *testing.B) { run(b, nil, true) })
	b.Run("parsed/epp-replace", func(b *testing.B) { run(b, newPicker(b), false) })
	b.Run("no-parse/epp-replace", func(b *testing.B) { run(b, newPicker(b), true) })
	b.Run("parsed/aigw-epp-echo", func(b *testing.B) { run(b, startAigwPicker(b, target.Host, false), false) })
	b.Run("parsed/aigw-epp-ack", func(b *testing.B) { run(b, startAigwPicker(b, target.Host, true), false) })
}

// startAigwPicker serves aigw's own endpoint picker (internal/eppserver)
// for one endpoint on loopback, with aigw epp's gRPC settings.
func startAigwPicker(b *testing.B, endpoint string, ack bool) *config.EndpointPicker {
	sched, err := scheduler.New(scheduler.DefaultConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	sched.SetEndpoints([]scheduler.Endpoint{{Address: endpoint}})
	srv, err := eppserver.New(eppserver.Options{Scheduler: sched, AckRequestBody: ack})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gs := grpc.NewServer(eppserver.ServerOptions()...)
	extprocv3.RegisterExternalProcessorServer(gs, srv)
	go func() { _ = gs.Serve(ln) }()
	b.Cleanup(gs.Stop)
	return &config.EndpointPicker{Name: "default/aigw-epp", Address: ln.Addr().String(), FailureMode: config.FailClose}
}
