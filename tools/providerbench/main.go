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
	"net"
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

// Client endpoints the benchmark calls, each with its own passthrough
// baseline.
const (
	frontChat     = "/v1/chat/completions"
	frontMessages = "/anthropic/v1/messages"
)

// schema is one route of the benchmark: a client endpoint, the model that
// routes it to a backend, and the backend.
type schema struct {
	name, front, model, backend string
}

// allSchemas are the routes measured: each endpoint's passthrough first
// (its baseline), then its translations.
func allSchemas() []schema {
	return []schema{
		{"openai-passthrough", frontChat, "gpt-bench", "openai"},
		{"anthropic", frontChat, "claude-bench", "anthropic"},
		{"bedrock-converse-sigv4", frontChat, "bedrock-bench", "bedrock"},
		{"gcp-gemini", frontChat, "gemini-bench", "gemini"},
		{"anthropic-passthrough", frontMessages, "msg-claude-bench", "anthropic"},
		{"aws-anthropic-sigv4", frontMessages, "msg-aws-claude-bench", "aws-anthropic"},
		{"bedrock-converse-sigv4", frontMessages, "msg-bedrock-bench", "bedrock"},
		{"openai", frontMessages, "msg-gpt-bench", "openai"},
	}
}

// baseline returns the index of the passthrough schema of s's endpoint.
func baseline(schemas []schema, s schema) int {
	return slices.IndexFunc(schemas, func(b schema) bool { return b.front == s.front })
}

func run() error {
	rounds := flag.Int("rounds", 12, "interleaved rounds")
	requests := flag.Int("requests", 300, "requests per schema per round")
	concurrency := flag.Int("concurrency", 32, "requests in flight while the CPU is measured")
	ttfbRequests := flag.Int("ttfb-requests", 25, "requests per schema per round while the time to first byte is measured")
	gap := flag.Duration("event-gap", time.Millisecond, "time between two events of a stream")
	burst := flag.Bool("burst", false, "write each stream whole at once")
	only := flag.String("schemas", "", "comma-separated schemas to measure, as the report names them (each endpoint's passthrough is always measured)")
	profile := flag.String("cpuprofile", "", "write the gateway's CPU profile to this file")
	flag.Parse()
	all, schemas := allSchemas(), []schema(nil)
	for i, s := range all {
		if *only == "" || baseline(all, s) == i || slices.Contains(strings.Split(*only, ","), s.name) {
			schemas = append(schemas, s)
		}
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
	cfg, err := benchConfig(gwPort, upPort, all)
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

	url := "http://127.0.0.1:" + strconv.Itoa(gwPort)
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}}
	if err := waitReady(client, url, schemas); err != nil {
		return err
	}
	fmt.Printf("aigw provider benchmark: %d CPUs, %d rounds of %d streamed 4 KB requests per schema, concurrency %d, ", procstat.NumCPU(), *rounds, *requests, *concurrency)
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
	for i, s := range schemas {
		b := baseline(schemas, s)
		if b == i {
			fmt.Printf("   %-32s %16s %21s   %-26s %s\n", s.front, "gateway CPU/req", "ratio to passthrough", fmt.Sprintf("TTFB p50 / p99 (%d streams)", ttfbConcurrency), "TTFB p50 over passthrough")
		}
		slices.Sort(ttfb[i])
		fmt.Printf("   %-32s %14.1fµs %21.3f   %-26s %+.3f ms\n", s.name, float64((cpu[i]/n).Nanoseconds())/1000,
			float64(cpu[i])/float64(max(cpu[b], 1)), fmt.Sprintf("%.3f / %.3f ms", ms(pct(ttfb[i], 50)), ms(pct(ttfb[i], 99))),
			ms(pct(ttfb[i], 50)-pct(ttfb[b], 50)))
	}
	return nil
}

// ttfbConcurrency is how many streams the time-to-first-byte phase keeps
// open at once.
const ttfbConcurrency = 4

// batch sends n streamed requests for s, c at a time, reads each stream
// whole and checks its end; it returns their times to first byte.
func batch(client *http.Client, url string, s schema, n, c int) ([]time.Duration, error) {
	body, end := chatBody(s.model), []byte("data: [DONE]\n\n")
	if s.front == frontMessages {
		body, end = messagesBody(s.model), []byte(`{"type":"message_stop"}`+"\n\n")
	}
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
				req, err := http.NewRequest(http.MethodPost, url+s.front, bytes.NewReader(body))
				if err != nil {
					errs[w] = err
					return
				}
				req.Header.Set("Content-Type", "application/json")
				if s.front == frontMessages {
					req.Header.Set("Anthropic-Version", "2023-06-01")
				}
				resp, err := client.Do(req)
				if err != nil {
					errs[w] = err
					return
				}
				got, first, err := readAll(resp.Body, buf)
				resp.Body.Close()
				lat[k] = first.Sub(start)
				if err != nil || resp.StatusCode != http.StatusOK || !bytes.HasSuffix(got, end) {
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

// turn is one turn of the 4 KB conversation, about 800 bytes.
var turn = strings.Repeat("The quick brown fox jumps over the lazy dog. ", 18)

// chatBody is the 4 KB streamed chat request: a system prompt and five
// turns.
func chatBody(model string) []byte {
	return fmt.Appendf(nil, `{"model":%q,"stream":true,"max_tokens":256,"messages":[{"role":"system","content":"You are a helpful assistant."},`+
		`{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q}]}`,
		model, turn, turn, turn, turn, turn)
}

// messagesBody is the same conversation as an Anthropic Messages request.
func messagesBody(model string) []byte {
	return fmt.Appendf(nil, `{"model":%q,"stream":true,"max_tokens":256,"system":"You are a helpful assistant.","messages":[`+
		`{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q}]}`,
		model, turn, turn, turn, turn, turn)
}

// waitReady waits until the gateway serves every schema.
func waitReady(client *http.Client, url string, schemas []schema) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range schemas {
		for {
			_, err := batch(client, url, s, 1, 1)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the gateway did not serve %s%s: %w", s.name, s.front, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
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
	procstat.Stop(c.cmd)
}

// benchConfig is the gateway's configuration: a route per schema, AWS keys
// in a credentials file and a Google service-account key whose token
// endpoint is the fake providers'.
func benchConfig(port, upstreamPort int, schemas []schema) (string, error) {
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
	for _, s := range schemas {
		fmt.Fprintf(&b, "    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: %s}]}]\n      backendRefs: [{name: %s}]\n", s.model, s.backend)
	}
	for _, be := range []struct{ name, schema string }{{"openai", "{name: OpenAI, prefix: v1}"}, {"anthropic", "{name: Anthropic, prefix: v1}"},
		{"bedrock", "{name: AWSBedrock}"}, {"aws-anthropic", "{name: AWSAnthropic}"}, {"gemini", "{name: GCPVertexAI}"}} {
		b.WriteString(providertest.BackendDocs(be.name, be.schema, net.JoinHostPort("127.0.0.1", strconv.Itoa(upstreamPort))))
	}
	fmt.Fprintf(&b, `---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: bedrock}
spec:
  targetRefs:
    - {group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: bedrock}
    - {group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: aws-anthropic}
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
