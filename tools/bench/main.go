// Command bench measures the gateway side by side with its baselines in one
// run: the same load goes direct to a local upstream, through a plain
// httputil.ReverseProxy and through the gateway (`aigw run`, a child
// process of this program, as is the reverse proxy), and the report gives
// ratios. Absolute numbers from different runs are not comparable on a
// shared machine; ratios within one run are.
//
//	go run ./tools/bench [-duration 5s] [-concurrency 32] [-rate 500] [-streams 1000]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/aigw-dev/aigw/internal/app"
	"github.com/aigw-dev/aigw/tools/internal/procstat"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "child" {
		if err := child(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// child runs one proxy under test: "gateway CONFIG" or "reverseproxy PORT UPSTREAM".
func child(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if cpu := os.Getenv("BENCH_PIN_CPU"); cpu != "" {
		if err := pinTo(cpu); err != nil {
			return err
		}
	}
	if dir := os.Getenv("BENCH_CPUPROFILE_DIR"); dir != "" {
		f, err := os.Create(filepath.Join(dir, args[0]+".pprof"))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	switch args[0] {
	case "gateway":
		return app.Main(ctx, []string{"run", "--access-log=off", "--log-level=warn", "--watch=false", "--drain-delay=0", "--admin-port=" + args[2], args[1]}, os.Stdout, os.Stderr)
	case "reverseproxy":
		target, err := url.Parse(args[2])
		if err != nil {
			return err
		}
		rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }}
		rp.Transport = &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}
		srv := &http.Server{Addr: "127.0.0.1:" + args[1], Handler: rp, ReadHeaderTimeout: 10 * time.Second}
		go func() { <-ctx.Done(); _ = srv.Close() }()
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	return fmt.Errorf("unknown child %q", args[0])
}

type options struct {
	pin         bool
	duration    time.Duration
	concurrency int
	rate        int
	streams     int
	warmup      time.Duration
}

func run() error {
	var o options
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "duration of each measurement")
	flag.IntVar(&o.concurrency, "concurrency", 32, "closed-loop concurrency for the throughput test")
	flag.IntVar(&o.rate, "rate", 500, "requests per second for the fixed-rate latency tests")
	flag.IntVar(&o.streams, "streams", 1000, "concurrent open streams for the memory test")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each measurement")
	flag.BoolVar(&o.pin, "pin", false, "pin the proxies to the last CPU and the load generator and upstream to the others, so the proxy under test does not share a core with the load")
	flag.Parse()
	if o.pin {
		last := runtime.NumCPU() - 1
		if err := pinTo(fmt.Sprintf("0-%d", last-1)); err != nil {
			return err
		}
		os.Setenv("BENCH_PIN_CPU", strconv.Itoa(last))
	}

	up, err := startUpstream()
	if err != nil {
		return err
	}
	defer up.close()
	tmp, err := os.MkdirTemp("", "aigw-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	gwPort, adminPort, rpPort := procstat.FreePort(), procstat.FreePort(), procstat.FreePort()
	cfgPath := filepath.Join(tmp, "bench.yaml")
	if err := os.WriteFile(cfgPath, []byte(benchConfig(gwPort, up.port)), 0o644); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	gw, err := startChild(self, "http://127.0.0.1:"+strconv.Itoa(gwPort), "gateway", cfgPath, strconv.Itoa(adminPort))
	if err != nil {
		return err
	}
	defer gw.stop()
	rp, err := startChild(self, "http://127.0.0.1:"+strconv.Itoa(rpPort), "reverseproxy", strconv.Itoa(rpPort), up.url)
	if err != nil {
		return err
	}
	defer rp.stop()

	targets := []target{
		{name: "direct", url: up.url},
		{name: "reverseproxy", url: rp.url},
		{name: "gateway", url: gw.url},
	}
	fmt.Printf("aigw benchmark: %d CPUs, pinned: %v (proxies on their own CPU), duration %s per case\n\n", procstat.NumCPU(), o.pin, o.duration)

	fmt.Printf("1. Throughput, non-streaming chat completions, closed loop, concurrency %d\n", o.concurrency)
	tput := map[string]result{}
	cpuPerReq := map[string]time.Duration{}
	procs := map[string]*childProc{"reverseproxy": rp, "gateway": gw}
	for _, t := range targets {
		_ = closedLoop(t.url, chatBody, o.concurrency, o.warmup)
		var before time.Duration
		if c := procs[t.name]; c != nil {
			before = procstat.CPUTime(c.cmd.Process.Pid)
		}
		tput[t.name] = closedLoop(t.url, chatBody, o.concurrency, o.duration)
		if c := procs[t.name]; c != nil {
			cpuPerReq[t.name] = (procstat.CPUTime(c.cmd.Process.Pid) - before) / time.Duration(max(tput[t.name].count, 1))
		}
		printResult(t.name, tput[t.name])
	}
	fmt.Printf("   gateway / reverseproxy throughput: %.2f\n   gateway / direct throughput:       %.2f\n",
		tput["gateway"].rps()/tput["reverseproxy"].rps(), tput["gateway"].rps()/tput["direct"].rps())
	fmt.Printf("   proxy CPU per request: reverseproxy %s, gateway %s (ratio %.2f)\n\n",
		cpuPerReq["reverseproxy"], cpuPerReq["gateway"], float64(cpuPerReq["gateway"])/float64(max(cpuPerReq["reverseproxy"], 1)))

	fmt.Printf("2. Latency at a fixed rate of %d req/s, non-streaming\n", o.rate)
	lat := map[string]result{}
	for _, t := range targets {
		_ = openLoop(t.url, chatBody, o.rate, o.warmup, false)
		lat[t.name] = openLoop(t.url, chatBody, o.rate, o.duration, false)
		printResult(t.name, lat[t.name])
	}
	printAdded("latency", lat)

	fmt.Printf("3. Time to first byte at %d req/s, streaming (SSE)\n", o.rate)
	ttfb := map[string]result{}
	for _, t := range targets {
		_ = openLoop(t.url, streamBody, o.rate, o.warmup, true)
		ttfb[t.name] = openLoop(t.url, streamBody, o.rate, o.duration, true)
		printResult(t.name, ttfb[t.name])
	}
	printAdded("TTFB", ttfb)

	fmt.Printf("4. Memory with %d concurrent open streams (RSS of the proxy process)\n", o.streams)
	for _, c := range []*childProc{rp, gw} {
		before := procstat.RSS(c.cmd.Process.Pid)
		release, opened, err := holdStreams(c.url, o.streams, up)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		during := procstat.RSS(c.cmd.Process.Pid)
		release()
		fmt.Printf("   %-13s opened %d streams: RSS %6.1f MiB idle -> %6.1f MiB (%.1f KiB per stream)\n",
			c.name, opened, mib(before), mib(during), float64(during-before)/1024/float64(max(opened, 1)))
	}
	return nil
}

type target struct{ name, url string }

func printAdded(what string, m map[string]result) {
	d, r, g := m["direct"], m["reverseproxy"], m["gateway"]
	fmt.Printf("   added %s p50: gateway %+.3f ms vs direct, %+.3f ms vs reverseproxy (reverseproxy %+.3f ms vs direct)\n",
		what, ms(g.pct(50)-d.pct(50)), ms(g.pct(50)-r.pct(50)), ms(r.pct(50)-d.pct(50)))
	fmt.Printf("   added %s p99: gateway %+.3f ms vs direct, %+.3f ms vs reverseproxy (reverseproxy %+.3f ms vs direct)\n\n",
		what, ms(g.pct(99)-d.pct(99)), ms(g.pct(99)-r.pct(99)), ms(r.pct(99)-d.pct(99)))
}

func printResult(name string, r result) {
	fmt.Printf("   %-13s %8.0f req/s  p50 %7.3f ms  p90 %7.3f ms  p99 %7.3f ms  errors %d/%d\n",
		name, r.rps(), ms(r.pct(50)), ms(r.pct(90)), ms(r.pct(99)), r.errors, r.count+r.errors)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func mib(b int64) float64        { return float64(b) / (1 << 20) }

type childProc struct {
	name string
	url  string
	cmd  *exec.Cmd
}

func startChild(self, url string, args ...string) (*childProc, error) {
	cmd := exec.Command(self, append([]string{"child"}, args...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &childProc{name: args[0], url: url, cmd: cmd}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.stop()
	return nil, fmt.Errorf("%s did not come up on %s", args[0], url)
}

func (c *childProc) stop() { procstat.Stop(c.cmd) }

func benchConfig(port, upstreamPort int) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bench}
spec:
  gatewayClassName: aigw
  listeners: [{name: http, protocol: HTTP, port: %d}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: bench}
spec:
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: other-model}]}]
      backendRefs: [{name: upstream}]
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: bench-model}]}]
      backendRefs: [{name: upstream}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: upstream}
spec:
  schema: {name: OpenAI}
  backendRef: {name: upstream, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: upstream}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: %d}}]
`, port, upstreamPort)
}

// pinTo restricts this process (all its threads, and children it starts
// afterwards) to the CPUs of a list such as "1" or "0-2".
func pinTo(cpus string) error {
	var set unix.CPUSet
	lo, hi, found := strings.Cut(cpus, "-")
	a, err := strconv.Atoi(lo)
	if err != nil {
		return fmt.Errorf("cpu list %q: %w", cpus, err)
	}
	b := a
	if found {
		if b, err = strconv.Atoi(hi); err != nil {
			return fmt.Errorf("cpu list %q: %w", cpus, err)
		}
	}
	for c := a; c <= b; c++ {
		set.Set(c)
	}
	// Threads that exist already keep their mask; set it on each.
	tids, _ := os.ReadDir("/proc/self/task")
	for _, t := range tids {
		tid, _ := strconv.Atoi(t.Name())
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			return fmt.Errorf("pinning to CPUs %s: %w", cpus, err)
		}
	}
	return nil
}
