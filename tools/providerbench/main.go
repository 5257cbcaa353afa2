// Command providerbench measures what each provider translation costs the
// gateway, end to end: the real gateway (`aigw run`, a child process) serves
// a streamed 4 KB chat request to every schema — OpenAI passthrough,
// Anthropic, Bedrock's ConverseStream signed with SigV4, and Vertex AI's
// Gemini with a Google service-account token — from fake providers in
// another child process that stream each event on its own, as model
// servers do. The load comes from this process over loopback HTTP, in
// interleaved rounds (each round sends a batch to every schema in turn, in
// a rotating order), and each batch is charged the gateway process's CPU
// time, so that a noisy neighbour weighs on every schema alike. The report
// gives each schema's gateway CPU per request as a ratio to passthrough;
// then, in as many rounds of a few streams at a time (the gateway not
// saturated), each schema's time to first byte.
//
//	go run ./tools/providerbench [-rounds 12] [-requests 300] [-concurrency 32] [-event-gap 1ms] [-burst] [-schemas a,b] [-cpuprofile FILE]
//
// -burst writes each stream whole at once instead (no model streams so;
// it leaves the translation's share largest).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aigw-dev/aigw/internal/app"
	"github.com/aigw-dev/aigw/internal/providertest"
	"github.com/aigw-dev/aigw/tools/internal/procstat"
)

// profileEnv names the file the gateway child writes its CPU profile to.
const profileEnv = "AIGW_PROVIDERBENCH_CPUPROFILE"

// stdin is the child's standard input, whose end stops it.
var stdin io.Reader = os.Stdin

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		if err := child(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "providerbench child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "providerbench:", err)
		os.Exit(1)
	}
}

// child runs "gateway CONFIG ADMINPORT" or "upstream PORT GAP BURST".
func child(args []string) error {
	switch {
	case len(args) == 3 && args[0] == "gateway":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		if path := os.Getenv(profileEnv); path != "" {
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		return app.Main(ctx, []string{"run", "--access-log=off", "--log-level=warn", "--watch=false", "--drain-delay=0", "--admin-port=" + args[2], args[1]}, os.Stdout, os.Stderr)
	case len(args) == 4 && args[0] == "upstream":
		gap, err := time.ParseDuration(args[2])
		if err != nil {
			return err
		}
		return serveUpstream(args[1], gap, args[3] == "true")
	}
	return fmt.Errorf("unknown child %q", args)
}

// schema is one route of the benchmark: its model and what its stream
// must end with.
type schema struct {
	name, model, end string
}

var schemas = []schema{
	{"openai-passthrough", "gpt-bench", "data: [DONE]\n\n"},
	{"anthropic", "claude-bench", "data: [DONE]\n\n"},
	{"bedrock-converse-sigv4", "bedrock-bench", "data: [DONE]\n\n"},
	{"gcp-gemini", "gemini-bench", "data: [DONE]\n\n"},
}

func run() error {
	rounds := flag.Int("rounds", 12, "interleaved rounds")
	requests := flag.Int("requests", 300, "requests per schema per round")
	concurrency := flag.Int("concurrency", 32, "requests in flight while the CPU is measured")
	ttfbRequests := flag.Int("ttfb-requests", 25, "requests per schema per round while the time to first byte is measured")
	gap := flag.Duration("event-gap", time.Millisecond, "time between two events of a stream")
	burst := flag.Bool("burst", false, "write each stream whole at once")
	only := flag.String("schemas", "", "comma-separated schemas to measure (passthrough is always measured)")
	profile := flag.String("cpuprofile", "", "write the gateway's CPU profile to this file")
	flag.Parse()
	if *only != "" {
		keep := strings.Split(*only, ",")
		schemas = slices.DeleteFunc(schemas, func(s schema) bool { return s.name != schemas[0].name && !slices.Contains(keep, s.name) })
	}
	if *profile != "" {
		os.Setenv(profileEnv, *profile)
	}

	tmp, err := os.MkdirTemp("", "aigw-providerbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	upPort, gwPort, adminPort := procstat.FreePort(), procstat.FreePort(), procstat.FreePort()
	up, err := startChild(self, "upstream", strconv.Itoa(upPort), gap.String(), strconv.FormatBool(*burst))
	if err != nil {
		return err
	}
	defer up.stop()
	cfg, err := benchConfig(gwPort, upPort)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(tmp, "providers.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	gw, err := startChild(self, "gateway", cfgPath, strconv.Itoa(adminPort))
	if err != nil {
		return err
	}
	defer gw.stop()

	url := "http://127.0.0.1:" + strconv.Itoa(gwPort) + "/v1/chat/completions"
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}}
	if err := waitReady(client, url); err != nil {
		return err
	}
	fmt.Printf("aigw provider benchmark: %d CPUs, %d rounds of %d streamed 4 KB chat requests per schema, concurrency %d, ", procstat.NumCPU(), *rounds, *requests, *concurrency)
	if *burst {
		fmt.Printf("each stream written at once\n\n")
	} else {
		fmt.Printf("%d events per stream, %s apart\n\n", providertest.StreamWords+2, *gap)
	}
	// A warm-up round, not counted.
	for _, s := range schemas {
		if _, err := batch(client, url, s, *requests/4, *concurrency); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	// CPU: closed loop at the given concurrency, the gateway saturated.
	cpu := make([]time.Duration, len(schemas))
	pid := gw.cmd.Process.Pid
	for r := range *rounds {
		for k := range schemas {
			i := (k + r) % len(schemas)
			before := procstat.CPUTime(pid)
			if _, err := batch(client, url, schemas[i], *requests, *concurrency); err != nil {
				return fmt.Errorf("%s: %w", schemas[i].name, err)
			}
			cpu[i] += procstat.CPUTime(pid) - before
		}
	}
	// Time to first byte: a few streams at a time, the gateway not
	// saturated, so that it is the translation's latency and not a queue's.
	ttfb := make([][]time.Duration, len(schemas))
	for r := range *rounds {
		for k := range schemas {
			i := (k + r) % len(schemas)
			lat, err := batch(client, url, schemas[i], *ttfbRequests, ttfbConcurrency)
			if err != nil {
				return fmt.Errorf("%s: %w", schemas[i].name, err)
			}
			ttfb[i] = append(ttfb[i], lat...)
		}
	}
	n := time.Duration(*rounds * *requests)
	fmt.Printf("   %-24s %16s %21s   %-26s\n", "schema", "gateway CPU/req", "ratio to passthrough", fmt.Sprintf("TTFB p50 / p99 (%d streams)", ttfbConcurrency))
	for i, s := range schemas {
		slices.Sort(ttfb[i])
		fmt.Printf("   %-24s %14.1fµs %21.3f   %.3f / %.3f ms\n", s.name, float64((cpu[i]/n).Nanoseconds())/1000,
			float64(cpu[i])/float64(max(cpu[0], 1)), ms(pct(ttfb[i], 50)), ms(pct(ttfb[i], 99)))
	}
	p50 := pct(ttfb[0], 50)
	fmt.Printf("\n   TTFB p50 over passthrough:")
	for i, s := range schemas[1:] {
		fmt.Printf(" %s %+.3f ms;", s.name, ms(pct(ttfb[i+1], 50)-p50))
	}
	fmt.Println()
	return nil
}

// ttfbConcurrency is how many streams the time-to-first-byte phase keeps
// open at once.
const ttfbConcurrency = 4

// batch sends n streamed requests for s, c at a time, reads each stream
// whole and checks its end; it returns their times to first byte.
func batch(client *http.Client, url string, s schema, n, c int) ([]time.Duration, error) {
	body := chatBody(s.model)
	lat := make([]time.Duration, n)
	errs := make([]error, c)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			buf := make([]byte, 32<<10)
			for {
				next.Lock()
				k := i
				i++
				next.Unlock()
				if k >= n {
					return
				}
				start := time.Now()
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					errs[w] = err
					return
				}
				got, first, err := readAll(resp.Body, buf)
				resp.Body.Close()
				lat[k] = first.Sub(start)
				if err != nil || resp.StatusCode != http.StatusOK || !bytes.HasSuffix(got, []byte(s.end)) {
					errs[w] = fmt.Errorf("status %d, %v: %.300s", resp.StatusCode, err, got)
					return
				}
			}
		})
	}
	wg.Wait()
	return lat, errors.Join(errs...)
}

// readAll reads r to its end into buf (growing it), noting when the first
// bytes came.
func readAll(r io.Reader, buf []byte) ([]byte, time.Time, error) {
	var first time.Time
	n := 0
	for {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		m, err := r.Read(buf[n:])
		if m > 0 && first.IsZero() {
			first = time.Now()
		}
		n += m
		if errors.Is(err, io.EOF) {
			return buf[:n], first, nil
		}
		if err != nil {
			return buf[:n], first, err
		}
	}
}

// chatBody is the 4 KB streamed chat request: a system prompt and five
// turns of about 800 bytes.
func chatBody(model string) []byte {
	turn := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 18)
	return fmt.Appendf(nil, `{"model":%q,"stream":true,"max_tokens":256,"messages":[{"role":"system","content":"You are a helpful assistant."},`+
		`{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q}]}`,
		model, turn, turn, turn, turn, turn)
}

func waitReady(client *http.Client, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if _, last = batch(client, url, schemas[len(schemas)-1], 1, 1); last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the gateway did not serve: %w", last)
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)*p/100, len(d)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type childProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startChild(self string, args ...string) (*childProc, error) {
	cmd := exec.Command(self, append([]string{"child"}, args...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &childProc{cmd: cmd, stdin: in}, nil
}

func (c *childProc) stop() {
	_ = c.stdin.Close()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
	}
}

// benchConfig is the gateway's configuration: a route per schema, AWS keys
// in a credentials file and a Google service-account key whose token
// endpoint is the fake providers'.
func benchConfig(port, upstreamPort int) (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	sa, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "bench", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "bench@bench.iam.gserviceaccount.com", "client_id": "1",
		"token_uri": fmt.Sprintf("http://127.0.0.1:%d/token", upstreamPort),
	})
	if err != nil {
		return "", err
	}
	saJSON, err := json.Marshal(string(sa)) // a YAML (JSON) string
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bench}
spec:
  gatewayClassName: aigw
  addresses: [{type: IPAddress, value: 127.0.0.1}]
  listeners: [{name: http, protocol: HTTP, port: %d}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: bench}
spec:
  parentRefs: [{name: bench}]
  llmRequestCosts:
    - {metadataKey: llm_input_token, type: InputToken}
    - {metadataKey: llm_output_token, type: OutputToken}
  rules:
`, port)
	backends := map[string]string{"gpt-bench": "openai", "claude-bench": "anthropic", "bedrock-bench": "bedrock", "gemini-bench": "gemini"}
	for _, s := range schemas {
		fmt.Fprintf(&b, "    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: %s}]}]\n      backendRefs: [{name: %s}]\n", s.model, backends[s.model])
	}
	for _, be := range []struct{ name, schema string }{{"openai", "{name: OpenAI, prefix: v1}"}, {"anthropic", "{name: Anthropic, prefix: v1}"},
		{"bedrock", "{name: AWSBedrock}"}, {"gemini", "{name: GCPVertexAI}"}} {
		fmt.Fprintf(&b, `---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: %[1]s}
spec:
  schema: %[2]s
  backendRef: {name: %[1]s, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: %[1]s}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: %[3]d}}]
`, be.name, be.schema, upstreamPort)
	}
	fmt.Fprintf(&b, `---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: bedrock}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: bedrock}]
  type: AWSCredentials
  awsCredentials: {region: us-east-1, credentialsFile: {secretRef: {name: aws}}}
---
apiVersion: v1
kind: Secret
metadata: {name: aws}
stringData:
  credentials: |
    [default]
    aws_access_key_id = AKIDBENCH
    aws_secret_access_key = bench-secret
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: gemini}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: gemini}]
  type: GCPCredentials
  gcpCredentials: {projectName: bench, region: us-central1, credentialsFile: {secretRef: {name: gcp}}}
---
apiVersion: v1
kind: Secret
metadata: {name: gcp}
stringData:
  service_account.json: %s
`, saJSON)
	return b.String(), nil
}
