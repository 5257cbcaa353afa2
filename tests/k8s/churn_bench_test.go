package k8s

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aigw-dev/aigw/internal/testenv"
)

// BenchmarkKubernetesEndpointChurn is #14's endpoint churn case: a
// 200-Pod InferencePool whose Pods flip between ready and unready at 1,000
// flips a minute for 30 s, under a gateway in Kubernetes mode. It reports
// the compilations the flips caused (the goal: none; the endpoints are
// updated in place) and the pool endpoint updates applied. (The CPU the
// flips cost was below the noise of the pool's own metric scraping of its
// 200 endpoints here.) Run it
// with
//
//	go test ./tests/k8s -run '^$' -bench KubernetesEndpointChurn -benchtime 1x
func BenchmarkKubernetesEndpointChurn(b *testing.B) {
	env, c := kubeEnv(b)
	ctx := context.Background()
	const pods = 200
	for i := range pods {
		env.CreateReadyPod(b, testenv.Pod{Name: fmt.Sprintf("vllm-%d", i), Labels: poolLabels, IP: fmt.Sprintf("127.0.%d.%d", 10+i/200, 1+i%200), Port: serverPort})
	}
	env.CreatePool(b, testenv.Pool{Name: poolName, Selector: poolLabels, TargetPorts: []int32{serverPort}})
	const port = 18500
	for _, o := range poolRouteObjects(port) {
		if err := c.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	stderr, _ := startKubeGatewayAs(b, env.Kubeconfig, "127.0.0.1", 18501, "replica-a", "--log-level=debug")
	time.Sleep(time.Second) // the status writes and their echoes settle
	reloadsBefore := strings.Count(stderr.String(), "configuration reloaded")
	updatesBefore := strings.Count(stderr.String(), "pool endpoints updated")

	ready := make([]bool, pods)
	for i := range ready {
		ready[i] = true
	}
	const flips, every = 500, 60 * time.Millisecond // 1,000 a minute
	tick := time.NewTicker(every)
	defer tick.Stop()
	for range flips {
		<-tick.C
		i := rand.IntN(pods)
		ready[i] = !ready[i]
		pod := &corev1.Pod{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: fmt.Sprintf("vllm-%d", i)}, pod); err != nil {
			b.Fatal(err)
		}
		status := corev1.ConditionFalse
		if ready[i] {
			status = corev1.ConditionTrue
		}
		for j := range pod.Status.Conditions {
			if pod.Status.Conditions[j].Type == corev1.PodReady {
				pod.Status.Conditions[j].Status = status
			}
		}
		if err := c.Status().Update(ctx, pod); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	b.ReportMetric(flips, "flips")
	b.ReportMetric(float64(strings.Count(stderr.String(), "configuration reloaded")-reloadsBefore), "compilations")
	b.ReportMetric(float64(strings.Count(stderr.String(), "pool endpoints updated")-updatesBefore), "endpoint-updates")
}
