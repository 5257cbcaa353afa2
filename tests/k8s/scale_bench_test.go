package k8s

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwapiv1a2 "sigs.k8s.io/gateway-api/apis/v1alpha2"

	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
	"github.com/aigw-dev/aigw/internal/kube"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// BenchmarkKubernetesScale is #14's scale case: N AIGatewayRoutes (2,000
// unless AIGW_SCALE_ROUTES says otherwise), each with its own
// AIServiceBackend, Envoy Gateway Backend, BackendSecurityPolicy and
// Secret, created on a running gateway in Kubernetes mode. It reports the
// time from the first creation to every route served, the gateway's heap
// once they are (in-process: the heap after GC beside the one before the
// gateway started), and the time from one route's edit to the edit being
// served, p50/p99 over 30 edits, while a client keeps calling the other
// routes (their failures are reported too). Run it with
//
//	go test ./tests/k8s -run '^$' -bench KubernetesScale -benchtime 1x -timeout 30m
func BenchmarkKubernetesScale(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("AIGW_SCALE_ROUTES")); err == nil && v > 0 {
		n = v
	}
	env, c := kubeEnv(b)
	ctx := context.Background()
	sim := testenv.StartSim(b, "127.0.0.1:18480", simOptions())
	const port = 18400
	for _, o := range []client.Object{
		&gwapiv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "aigw"}, Spec: gwapiv1.GatewayClassSpec{ControllerName: kube.DefaultControllerName}},
		&gwapiv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "ai", Namespace: "default"}, Spec: gwapiv1.GatewaySpec{GatewayClassName: "aigw",
			Listeners: []gwapiv1.Listener{{Name: "http", Protocol: gwapiv1.HTTPProtocolType, Port: port}}}},
	} {
		if err := c.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	stderr, _ := startKubeGateway(b, env, "127.0.0.1", 18401, "replica-a")

	host, p, _ := strings.Cut(sim.Addr, ":")
	simPort, _ := strconv.Atoi(p)
	objectsOf := func(i int) []client.Object {
		name := fmt.Sprintf("r-%d", i)
		meta := metav1.ObjectMeta{Name: name, Namespace: "default"}
		return []client.Object{
			&corev1.Secret{ObjectMeta: meta, StringData: map[string]string{"apiKey": "sk-" + name}},
			&egv1a1.Backend{ObjectMeta: meta, Spec: egv1a1.BackendSpec{
				Endpoints: []egv1a1.BackendEndpoint{{IP: &egv1a1.IPEndpoint{Address: host, Port: int32(simPort)}}}}},
			&aigv1b1.AIServiceBackend{ObjectMeta: meta, Spec: aigv1b1.AIServiceBackendSpec{
				APISchema:  aigv1b1.VersionedAPISchema{Name: aigv1b1.APISchemaOpenAI},
				BackendRef: gwapiv1.BackendObjectReference{Name: gwapiv1.ObjectName(name), Kind: ptr.To(gwapiv1.Kind("Backend")), Group: ptr.To(gwapiv1.Group("gateway.envoyproxy.io"))}}},
			&aigv1b1.BackendSecurityPolicy{ObjectMeta: meta, Spec: aigv1b1.BackendSecurityPolicySpec{
				TargetRefs: []gwapiv1a2.LocalPolicyTargetReference{{Group: "aigateway.envoyproxy.io", Kind: "AIServiceBackend", Name: gwapiv1.ObjectName(name)}},
				Type:       aigv1b1.BackendSecurityPolicyTypeAPIKey,
				APIKey:     &aigv1b1.BackendSecurityPolicyAPIKey{SecretRef: &gwapiv1.SecretObjectReference{Name: gwapiv1.ObjectName(name)}}}},
			&aigv1b1.AIGatewayRoute{ObjectMeta: meta, Spec: aigv1b1.AIGatewayRouteSpec{
				ParentRefs: []gwapiv1.ParentReference{{Name: "ai"}},
				Rules: []aigv1b1.AIGatewayRouteRule{{
					Matches:     []aigv1b1.AIGatewayRouteRuleMatch{{Headers: []gwapiv1.HTTPHeaderMatch{{Name: "x-ai-eg-model", Value: "m-" + strconv.Itoa(i)}}}},
					BackendRefs: []aigv1b1.AIGatewayRouteRuleBackendRef{{Name: name, ModelNameOverride: model}},
				}}}},
		}
	}
	oc := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	chat := func(m string) error {
		_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: m, MaxTokens: openai.Int(1),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		return err
	}

	start := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				for _, o := range objectsOf(i) {
					if err := c.Create(ctx, o); err != nil {
						b.Error(err)
					}
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	created := time.Since(start)
	for chat(fmt.Sprintf("m-%d", n-1)) != nil || chat("m-0") != nil {
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("not served after 10 minutes:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	allServed := time.Since(start)
	for i := 0; i < n; i += max(1, n/50) {
		if err := chat(fmt.Sprintf("m-%d", i)); err != nil {
			b.Fatalf("route %d: %v", i, err)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	// Edits while the other routes serve.
	var calls, failures atomic.Int64
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			calls.Add(1)
			if chat(fmt.Sprintf("m-%d", 100+rand.IntN(n-100))) != nil {
				failures.Add(1)
			}
		}
	}()
	var lat []time.Duration
	for i := range 30 {
		route := &aigv1b1.AIGatewayRoute{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: fmt.Sprintf("r-%d", i)}, route); err != nil {
			b.Fatal(err)
		}
		alias := fmt.Sprintf("edit-%d", i)
		route.Spec.Rules[0].Matches = append(route.Spec.Rules[0].Matches, aigv1b1.AIGatewayRouteRuleMatch{
			Headers: []gwapiv1.HTTPHeaderMatch{{Name: "x-ai-eg-model", Value: alias}}})
		t0 := time.Now()
		if err := c.Update(ctx, route); err != nil {
			b.Fatal(err)
		}
		for chat(alias) != nil {
			if time.Since(t0) > time.Minute {
				b.Fatalf("edit %d not served after a minute", i)
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(t0))
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	bg.Wait()
	slices.Sort(lat)
	pct := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	b.ReportMetric(float64(n), "routes")
	b.ReportMetric(created.Seconds(), "create-s")
	b.ReportMetric(allServed.Seconds(), "all-served-s")
	b.ReportMetric(float64(after.HeapInuse-min(before.HeapInuse, after.HeapInuse))/(1<<20), "heap-MiB")
	b.ReportMetric(float64(pct(0.5).Milliseconds()), "edit-p50-ms")
	b.ReportMetric(float64(pct(0.99).Milliseconds()), "edit-p99-ms")
	b.ReportMetric(float64(calls.Load()), "other-calls")
	b.ReportMetric(float64(failures.Load()), "other-failures")
	b.Logf("reloads: %d", strings.Count(stderr.String(), "configuration reloaded"))
}
