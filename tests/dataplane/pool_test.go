package dataplane

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/epp/epptest"
)

const poolTemplate = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: %[2]s}]}]
      backendRefs:
        - {group: inference.networking.k8s.io, kind: InferencePool, name: vllm, priority: 0}
        - {name: provider, priority: 1}
---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata:
  name: vllm
  annotations: {aigw.dev/endpoint-picker-tls: "false", aigw.dev/endpoint-picker-timeout: 2s}
spec:
  selector: {matchLabels: {app: vllm}}
  targetPorts: [{number: %[3]s}, {number: %[4]s}]
  endpointPickerRef: {name: vllm-epp, port: {number: %[5]s}, failureMode: %[6]s}
---
apiVersion: v1
kind: Pod
metadata: {name: vllm-0, labels: {app: vllm}}
spec: {containers: [{name: vllm, image: sim}]}
status: {phase: Running, podIP: 127.0.0.1, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Service
metadata: {name: vllm-epp}
spec:
  clusterIP: 127.0.0.1
  ports: [{name: grpc, port: %[5]s, targetPort: %[5]s}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: vllm-key}
spec:
  targetRefs: [{group: inference.networking.k8s.io, kind: InferencePool, name: vllm}]
  type: APIKey
  apiKey: {secretRef: {name: vllm-key}}
---
apiVersion: v1
kind: Secret
metadata: {name: vllm-key}
stringData: {apiKey: sk-vllm-pod-key}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: provider}
spec:
  schema: {name: OpenAI}
  backendRef: {name: provider, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: provider}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: %[7]s}}]
`

// TestInferencePoolFromYAML runs an InferencePool declared with Pods, an
// endpoint picker Service, a BackendSecurityPolicy on the pool (applied
// after the pick) and a provider fallback tier, exactly as a user writes
// the YAML.
func TestInferencePoolFromYAML(t *testing.T) {
	sims := startSims(t, 3, model)
	_, rank0, _ := net.SplitHostPort(sims[0])
	_, rank1, _ := net.SplitHostPort(sims[1])
	_, providerPort, _ := net.SplitHostPort(sims[2])

	var mu sync.Mutex
	var auth []string
	down := false
	picker := epptest.Start(t, epptest.Replace, func(h map[string]string, _ []byte) epptest.Decision {
		mu.Lock()
		defer mu.Unlock()
		auth = append(auth, h["authorization"])
		if down {
			return epptest.Decision{Immediate: http.StatusServiceUnavailable}
		}
		return epptest.Decision{Pick: sims[1]}
	})
	_, pickerPort, _ := net.SplitHostPort(picker.Addr)

	port := freePort(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, poolTemplate, port, model, rank0, rank1, pickerPort, "FailClose", providerPort), 0o600))
	g := startGateway(t, cfg, port)
	c := g.client()

	for range 3 {
		_, err := c.Chat.Completions.New(context.Background(), chat(model))
		require.NoError(t, err)
	}
	require.Equal(t, []string{sims[1], sims[1], sims[1]}, picker.Served(), "the picker's pick serves")
	mu.Lock()
	// Credentials go on after the pick (a signature must cover the picker's
	// edits), so the picker sees neither the pool's key nor the client's.
	require.Empty(t, auth[0], "the pool's BackendSecurityPolicy applies after the pick")
	down = true
	mu.Unlock()

	// The pool sheds the request: the provider tier answers.
	_, err := c.Chat.Completions.New(context.Background(), chat(model))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return strings.Contains(g.stdout.String(), `"backend":"default/provider"`)
	}, 5*time.Second, 10*time.Millisecond)
	require.NotContains(t, g.stdout.String()+g.stderr.String(), "sk-vllm-pod-key")
	require.Contains(t, g.stdout.String(), fmt.Sprintf(`"endpoint":%q`, sims[1]))
}

// TestInferencePoolFailOpenFromYAML stops the picker of a FailOpen pool:
// requests still reach a pod.
func TestInferencePoolFailOpenFromYAML(t *testing.T) {
	sims := startSims(t, 2, model)
	_, rank0, _ := net.SplitHostPort(sims[0])
	_, rank1, _ := net.SplitHostPort(sims[1])
	picker := epptest.Start(t, epptest.Ack, func(map[string]string, []byte) epptest.Decision { return epptest.Decision{Pick: sims[0]} })
	_, pickerPort, _ := net.SplitHostPort(picker.Addr)
	picker.Stop()
	port := freePort(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, poolTemplate, port, model, rank0, rank1, pickerPort, "FailOpen", rank1), 0o600))
	g := startGateway(t, cfg, port)
	c := g.client()
	for range 4 {
		_, err := c.Chat.Completions.New(context.Background(), chat(model))
		require.NoError(t, err)
	}
	require.NotContains(t, g.stdout.String(), `"backend":"default/provider"`, "fail-open serves from the pool itself")
	require.Contains(t, g.stderr.String(), "failing open")
}

const ownPickRewriteTemplate = gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: assistant}]}]
      backendRefs: [{group: inference.networking.k8s.io, kind: InferencePool, name: vllm}]
---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: {name: vllm}
spec:
  selector: {matchLabels: {app: vllm}}
  targetPorts: [{number: %[2]s}, {number: %[3]s}]
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModelRewrite
metadata: {name: assistant}
spec:
  poolRef: {name: vllm}
  rules:
    - matches: [{model: {value: assistant}}]
      targets: [{modelRewrite: %[4]s}]
---
apiVersion: v1
kind: Pod
metadata: {name: vllm-0, labels: {app: vllm}}
status: {phase: Running, podIP: 127.0.0.1, conditions: [{type: Ready, status: "True"}]}
`

// TestInferencePoolOwnPickRewritesModel runs a pool the gateway picks for
// itself with an InferenceModelRewrite: the servers only know the target
// model, and the client (openai-go) gets the name it asked for back, in a
// response and in every chunk of a stream, as GAIE's picker restores it.
func TestInferencePoolOwnPickRewritesModel(t *testing.T) {
	sims := startSims(t, 2, model)
	_, rank0, _ := net.SplitHostPort(sims[0])
	_, rank1, _ := net.SplitHostPort(sims[1])
	port := freePort(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, ownPickRewriteTemplate, port, rank0, rank1, model), 0o600))
	g := startGateway(t, cfg, port)
	c := g.client()
	ctx := context.Background()

	resp, err := c.Chat.Completions.New(ctx, chat("assistant"))
	require.NoError(t, err, "the simulators answer 404 to a model they do not serve")
	require.Equal(t, "assistant", resp.Model)
	require.NotEmpty(t, resp.Choices[0].Message.Content)

	p := chat("assistant")
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	s := c.Chat.Completions.NewStreaming(ctx, p)
	chunks := 0
	for s.Next() {
		chunks++
		require.Equal(t, "assistant", s.Current().Model, "chunk %d", chunks)
	}
	require.NoError(t, s.Err())
	require.Greater(t, chunks, 2)
}
