// Command eppbench measures `aigw epp` as a proxy sees it: an open-loop
// load of endpoint-picker streams (request headers, a chat body, the pick,
// the echoed body, then a short response phase with the served endpoint) at
// a fixed rate over a few gRPC connections, as a small proxy fleet sends
// them. In the same run it measures a protocol floor: an ext_proc server
// that answers every stream with a fixed pick without parsing or
// scheduling. Each picker is a child process; the report gives decision
// latency percentiles, the achieved rate and CPU per decision of each.
//
//	go run ./tools/eppbench [-rates 2000,5000,7000] [-duration 10s] [-endpoints 16] [-conns 4]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aigw-dev/aigw/internal/app"
	"github.com/aigw-dev/aigw/internal/eppserver"
	"github.com/aigw-dev/aigw/tools/internal/procstat"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "child" {
		if err := child(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "eppbench child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "eppbench:", err)
		os.Exit(1)
	}
}

// child runs a picker: "epp PORT ENDPOINTS" (aigw epp) or "floor PORT PICK".
func child(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	switch args[0] {
	case "epp":
		return app.Main(ctx, []string{"epp", "--listen-address=127.0.0.1", "--grpc-port=" + args[1], "--grpc-health-port=" + strconv.Itoa(procstat.FreePort()),
			"--metrics-port=0", "--secure-serving=false", "--log-level=warn", "--endpoints=" + args[2]}, os.Stdout, os.Stderr)
	case "floor":
		ln, err := net.Listen("tcp", "127.0.0.1:"+args[1])
		if err != nil {
			return err
		}
		gs := grpc.NewServer(eppserver.ServerOptions()...) // as aigw epp
		extprocv3.RegisterExternalProcessorServer(gs, &floor{pick: args[2]})
		go func() { <-ctx.Done(); gs.Stop() }()
		return gs.Serve(ln)
	}
	return fmt.Errorf("unknown child %q", args[0])
}

// floor answers like a picker that does no work: the pick after the body's
// end, the body echoed, response messages acknowledged.
type floor struct {
	extprocv3.UnimplementedExternalProcessorServer
	pick string
}

func (f *floor) Process(s extprocv3.ExternalProcessor_ProcessServer) error {
	var body []byte
	for {
		req, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var resp *extprocv3.ProcessingResponse
		switch r := req.GetRequest().(type) {
		case *extprocv3.ProcessingRequest_RequestHeaders:
			continue
		case *extprocv3.ProcessingRequest_RequestBody:
			body = append(body, r.RequestBody.GetBody()...)
			if !r.RequestBody.GetEndOfStream() {
				continue
			}
			if err := s.Send(&extprocv3.ProcessingResponse{
				Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{Response: &extprocv3.CommonResponse{
					HeaderMutation: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-gateway-destination-endpoint", RawValue: []byte(f.pick)}}}},
				}}},
				DynamicMetadata: pickMetadata(f.pick),
			}); err != nil {
				return err
			}
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{
				BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_StreamedResponse{StreamedResponse: &extprocv3.StreamedBodyResponse{Body: body, EndOfStream: true}}},
			}}}}
		case *extprocv3.ProcessingRequest_ResponseHeaders:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
		case *extprocv3.ProcessingRequest_ResponseBody:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{
				BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_StreamedResponse{StreamedResponse: &extprocv3.StreamedBodyResponse{Body: r.ResponseBody.GetBody(), EndOfStream: r.ResponseBody.GetEndOfStream()}}},
			}}}}
		}
		if err := s.Send(resp); err != nil {
			return err
		}
	}
}

func pickMetadata(pick string) *structpb.Struct {
	return &structpb.Struct{Fields: map[string]*structpb.Value{"envoy.lb": structpb.NewStructValue(&structpb.Struct{
		Fields: map[string]*structpb.Value{"x-gateway-destination-endpoint": structpb.NewStringValue(pick)},
	})}}
}

type options struct {
	rates     []int
	rate      int
	duration  time.Duration
	warmup    time.Duration
	endpoints int
	conns     int
}

func run() error {
	var o options
	rates := flag.String("rates", "2000,5000,7000", "decision rates to measure, per second (open loop), comma-separated")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measurement duration per picker")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up per picker")
	flag.IntVar(&o.endpoints, "endpoints", 16, "model-server endpoints in the pool (each serves vLLM metrics with varying load)")
	flag.IntVar(&o.conns, "conns", 4, "gRPC connections the load is spread over (a proxy fleet)")
	flag.Parse()
	for _, r := range strings.Split(*rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n <= 0 {
			return fmt.Errorf("-rates: %q is not a positive rate", r)
		}
		o.rates = append(o.rates, n)
	}

	servers, err := startMetricsServers(o.endpoints)
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range servers {
			_ = s.Close()
		}
	}()
	var addrs []string
	for _, s := range servers {
		addrs = append(addrs, s.addr)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("eppbench: %d CPUs, open loop over %d connections, %s per point, %d endpoints; decision = request headers sent → pick received\n\n", procstat.NumCPU(), o.conns, o.duration, o.endpoints)
	fmt.Printf("%-10s %7s %9s %8s %8s %8s %8s %8s %7s %12s\n", "picker", "rate", "achieved", "p50", "p90", "p99", "p99.9", "max", "errors", "CPU/decision")
	for _, rate := range o.rates {
		o.rate = rate
		for _, p := range []struct{ name, arg string }{{"floor", addrs[0]}, {"aigw-epp", strings.Join(addrs, ",")}} {
			port := procstat.FreePort()
			c, err := startChild(self, port, p.name, p.arg)
			if err != nil {
				return err
			}
			res, cpu, err := measure(c, port, o)
			c.stop()
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			fmt.Printf("%-10s %7d %8.0f/s %8s %8s %8s %8s %8s %7d %12s\n", p.name, rate, res.achieved, ms(res.pct(50)), ms(res.pct(90)), ms(res.pct(99)), ms(res.pct(99.9)), ms(res.pct(100)), res.errors, cpu)
		}
	}
	return nil
}

type childProc struct {
	cmd *exec.Cmd
}

func startChild(self string, port int, kind, arg string) (*childProc, error) {
	name := kind
	if kind == "aigw-epp" {
		name = "epp"
	}
	cmd := exec.Command(self, "child", name, strconv.Itoa(port), arg)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return &childProc{cmd: cmd}, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return nil, fmt.Errorf("%s did not come up", kind)
}

func (c *childProc) stop() { procstat.Stop(c.cmd) }

type result struct {
	lat      []time.Duration
	errors   int64
	achieved float64
}

func (r *result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat)-1) * p / 100)
	return r.lat[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

// measure runs the warm-up, then the measured open-loop load, and returns
// decision latencies and the picker's CPU per decision.
func measure(c *childProc, port int, o options) (*result, time.Duration, error) {
	var clients []extprocv3.ExternalProcessorClient
	for range o.conns {
		conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, 0, err
		}
		defer conn.Close()
		clients = append(clients, extprocv3.NewExternalProcessorClient(conn))
	}
	if _, err := decide(clients[0], 0); err != nil {
		return nil, 0, fmt.Errorf("first decision: %w", err)
	}
	_ = openLoop(clients, o.rate, o.warmup)
	before := procstat.CPUTime(c.cmd.Process.Pid)
	res := openLoop(clients, o.rate, o.duration)
	used := procstat.CPUTime(c.cmd.Process.Pid) - before
	return res, used / time.Duration(max(len(res.lat), 1)), nil
}

// openLoop starts decisions at rate for d, never waiting for earlier ones.
func openLoop(clients []extprocv3.ExternalProcessorClient, rate int, d time.Duration) *result {
	var (
		mu     sync.Mutex
		lat    = make([]time.Duration, 0, int(float64(rate)*d.Seconds())+16)
		errs   atomic.Int64
		wg     sync.WaitGroup
		n      int
		start  = time.Now()
		period = time.Second / time.Duration(rate)
	)
	for next := start; time.Since(start) < d; next = next.Add(period) {
		if wait := time.Until(next); wait > 0 {
			time.Sleep(wait)
		}
		c := clients[n%len(clients)]
		i := n
		n++
		wg.Go(func() {
			l, err := decide(c, i)
			if err != nil {
				errs.Add(1)
				return
			}
			mu.Lock()
			lat = append(lat, l)
			mu.Unlock()
		})
	}
	elapsed := time.Since(start)
	wg.Wait()
	slices.Sort(lat)
	return &result{lat: lat, errors: errs.Load(), achieved: float64(len(lat)) / elapsed.Seconds()}
}

// systemPrompts are shared prefixes, so the prefix index does real work.
var systemPrompts = func() []string {
	var out []string
	for i := range 8 {
		out = append(out, fmt.Sprintf("You are assistant number %d. ", i)+strings.Repeat("Answer briefly, cite sources, and never invent facts. ", 12))
	}
	return out
}()

// decide runs one stream and returns the time to the pick.
func decide(c extprocv3.ExternalProcessorClient, i int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body := fmt.Sprintf(`{"model":"llama","messages":[{"role":"system","content":%q},{"role":"user","content":"question %d: what is %d squared?"}],"max_tokens":64}`,
		systemPrompts[i%len(systemPrompts)], i, i)
	t0 := time.Now()
	s, err := c.Process(ctx)
	if err != nil {
		return 0, err
	}
	hdrs := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: ":method", RawValue: []byte("POST")}, {Key: ":path", RawValue: []byte("/v1/chat/completions")},
		{Key: ":authority", RawValue: []byte("gw")}, {Key: "content-type", RawValue: []byte("application/json")},
		{Key: "x-request-id", RawValue: []byte(strconv.Itoa(i))},
	}}}}}
	if err := s.Send(hdrs); err != nil {
		return 0, err
	}
	if err := s.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(body), EndOfStream: true}}}); err != nil {
		return 0, err
	}
	var pick string
	var decided time.Duration
	for {
		resp, err := s.Recv()
		if err != nil {
			return 0, err
		}
		if h := resp.GetRequestHeaders(); h != nil {
			decided = time.Since(t0)
			pick = resp.GetDynamicMetadata().GetFields()["envoy.lb"].GetStructValue().GetFields()["x-gateway-destination-endpoint"].GetStringValue()
			continue
		}
		if ir := resp.GetImmediateResponse(); ir != nil {
			return 0, fmt.Errorf("immediate response %d", ir.GetStatus().GetCode())
		}
		if b := resp.GetRequestBody(); b != nil && b.GetResponse().GetBodyMutation().GetStreamedResponse().GetEndOfStream() {
			break
		}
	}
	if pick == "" {
		return 0, errors.New("no pick")
	}
	primary, _, _ := strings.Cut(pick, ",")
	served := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"envoy.lb": {Fields: map[string]*structpb.Value{
		"x-gateway-destination-endpoint-served": structpb.NewStringValue(primary),
	}}}}
	if err := s.Send(&extprocv3.ProcessingRequest{MetadataContext: served, Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: ":status", RawValue: []byte("200")}, {Key: "content-type", RawValue: []byte("application/json")},
	}}}}}); err != nil {
		return 0, err
	}
	if _, err := s.Recv(); err != nil {
		return 0, err
	}
	if err := s.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{
		Body: []byte(`{"model":"llama","choices":[{"message":{"content":"42"}}],"usage":{"prompt_tokens":180,"completion_tokens":2}}`), EndOfStream: true,
	}}}); err != nil {
		return 0, err
	}
	if _, err := s.Recv(); err != nil {
		return 0, err
	}
	_ = s.CloseSend()
	if _, err := s.Recv(); !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("end of stream: %v", err)
	}
	return decided, nil
}

type metricsServer struct {
	addr string
	srv  *http.Server
}

func (m *metricsServer) Close() error { return m.srv.Close() }

// startMetricsServers serves vLLM metrics with a load that drifts, so the
// scheduler's scores differ between endpoints and over time.
func startMetricsServers(n int) ([]*metricsServer, error) {
	var out []*metricsServer
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "vllm:num_requests_waiting{model_name=\"llama\"} %d\nvllm:num_requests_running{model_name=\"llama\"} %d\nvllm:kv_cache_usage_perc{model_name=\"llama\"} %.3f\n",
				rand.IntN(4), 4+i%4, rand.Float64()*0.7)
		})}
		go func() { _ = srv.Serve(ln) }()
		out = append(out, &metricsServer{addr: ln.Addr().String(), srv: srv})
	}
	return out, nil
}
