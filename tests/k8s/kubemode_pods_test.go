package k8s

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
	"github.com/aigw-dev/aigw/internal/kube"
	"github.com/aigw-dev/aigw/internal/promtest"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// poolRouteObjects are our GatewayClass, Gateway "ai" listening on port,
// and a route of the model to the pool poolName, which the gateway picks
// for (no endpoint picker).
func poolRouteObjects(port gwapiv1.PortNumber) []client.Object {
	return []client.Object{
		&gwapiv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "aigw"}, Spec: gwapiv1.GatewayClassSpec{ControllerName: kube.DefaultControllerName}},
		&gwapiv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "ai", Namespace: "default"}, Spec: gwapiv1.GatewaySpec{GatewayClassName: "aigw",
			Listeners: []gwapiv1.Listener{{Name: "http", Protocol: gwapiv1.HTTPProtocolType, Port: port}}}},
		&aigv1b1.AIGatewayRoute{ObjectMeta: metav1.ObjectMeta{Name: "chat", Namespace: "default"}, Spec: aigv1b1.AIGatewayRouteSpec{
			ParentRefs: []gwapiv1.ParentReference{{Name: "ai"}},
			Rules: []aigv1b1.AIGatewayRouteRule{{
				Matches: []aigv1b1.AIGatewayRouteRuleMatch{{Headers: []gwapiv1.HTTPHeaderMatch{{Name: "x-ai-eg-model", Value: model}}}},
				BackendRefs: []aigv1b1.AIGatewayRouteRuleBackendRef{{Name: poolName, Group: ptr.To("inference.networking.k8s.io"),
					Kind: ptr.To("InferencePool")}},
			}}}},
	}
}

// TestKubernetesModePodEndpoints: in Kubernetes mode a pool's Pods going
// unready, ready again or coming new reach the data plane's endpoints
// without a compilation of the configuration (no "configuration reloaded"),
// Pods no compiled resource selects change nothing, and an edit of a
// route still compiles.
func TestKubernetesModePodEndpoints(t *testing.T) {
	env, c := kubeEnv(t)
	ctx := context.Background()

	ips := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	sims := map[string]*testenv.Sim{}
	for _, ip := range ips {
		sims[ip] = testenv.StartSim(t, endpoint(ip), simOptions())
	}
	for i, ip := range ips[:2] {
		env.CreateReadyPod(t, testenv.Pod{Name: fmt.Sprintf("vllm-%d", i), Labels: poolLabels, IP: ip, Port: serverPort})
	}
	env.CreatePool(t, testenv.Pool{Name: poolName, Selector: poolLabels, TargetPorts: []int32{serverPort}}) // the gateway picks
	const port = 18300
	for _, o := range poolRouteObjects(port) {
		require.NoError(t, c.Create(ctx, o), "%T", o)
	}
	stderr, _ := startKubeGateway(t, env, "127.0.0.1", 18301, "replica-a")
	reloads := func() int { return strings.Count(stderr.String(), "configuration reloaded") }

	oc := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	served := func(ip string) float64 {
		return promtest.Sum(t, sims[ip].URL+"/metrics", "vllm:request_success_total")
	}
	// send sends n chats and returns how many each model server took.
	seq := 0
	send := func(n int) map[string]float64 {
		before := map[string]float64{}
		for _, ip := range ips {
			before[ip] = served(ip)
		}
		for range n {
			seq++ // distinct prompts: no prefix-cache affinity to one Pod
			_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model, MaxTokens: openai.Int(2),
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("%d: hello", seq))}})
			require.NoError(t, err, "gateway:\n%s", stderr)
		}
		out := map[string]float64{}
		for _, ip := range ips {
			out[ip] = served(ip) - before[ip]
		}
		return out
	}
	require.Eventually(t, func() bool {
		got := send(10)
		return got[ips[0]] > 0 && got[ips[1]] > 0
	}, 15*time.Second, 100*time.Millisecond, "both Pods serve")
	settled := reloads()

	setReady := func(name string, ready corev1.ConditionStatus) {
		pod := &corev1.Pod{}
		require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, pod))
		for i := range pod.Status.Conditions {
			if pod.Status.Conditions[i].Type == corev1.PodReady {
				pod.Status.Conditions[i].Status = ready
			}
		}
		require.NoError(t, c.Status().Update(ctx, pod))
	}
	// Pod 1 goes unready: no request reaches it, with no compilation.
	setReady("vllm-1", corev1.ConditionFalse)
	require.Eventually(t, func() bool { return send(10)[ips[1]] == 0 }, 10*time.Second, 100*time.Millisecond, "the unready Pod still serves")
	require.Zero(t, send(20)[ips[1]])
	// A new ready Pod joins; Pod 1 comes back.
	env.CreateReadyPod(t, testenv.Pod{Name: "vllm-2", Labels: poolLabels, IP: ips[2], Port: serverPort})
	setReady("vllm-1", corev1.ConditionTrue)
	require.Eventually(t, func() bool {
		got := send(15)
		return got[ips[0]] > 0 && got[ips[1]] > 0 && got[ips[2]] > 0
	}, 10*time.Second, 100*time.Millisecond, "all three Pods serve")
	// A Pod that no compiled resource selects.
	env.CreateReadyPod(t, testenv.Pod{Name: "unrelated", Labels: map[string]string{"app": "other"}, IP: "127.0.0.9", Port: serverPort})
	time.Sleep(300 * time.Millisecond) // past the debounce: a compilation would have happened
	require.Equal(t, settled, reloads(), "Pod changes compiled the configuration again:\n%s", stderr)

	// Anything else still compiles: a route edit.
	route := &aigv1b1.AIGatewayRoute{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "chat"}, route))
	route.Spec.Rules[0].Matches = append(route.Spec.Rules[0].Matches, aigv1b1.AIGatewayRouteRuleMatch{
		Headers: []gwapiv1.HTTPHeaderMatch{{Name: "x-ai-eg-model", Value: "alias"}}})
	require.NoError(t, c.Update(ctx, route))
	require.Eventually(t, func() bool { return reloads() > settled }, 10*time.Second, 50*time.Millisecond)
}

// TestKubernetesModeAPIServerRestart: while the API server is down the
// gateway serves its last configuration and stays ready; once the server
// is back, the informers resync and a change made then is served.
func TestKubernetesModeAPIServerRestart(t *testing.T) {
	env, c := kubeEnv(t)
	sim := testenv.StartSim(t, "127.0.0.1:18680", simOptions())
	const port = 18600
	ctx := context.Background()
	for _, o := range kubeObjects(port, sim.Addr) {
		require.NoError(t, c.Create(ctx, o))
	}
	stderr, _ := startKubeGateway(t, env, "127.0.0.1", 18601, "replica-a")
	oc := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	chat := func(m string) error {
		_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: m, MaxTokens: openai.Int(2),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		return err
	}
	require.NoError(t, chat(model), "gateway:\n%s", stderr)

	env.StopAPIServer(t)
	for range 20 {
		require.NoError(t, chat(model), "served while the API server is down")
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Get("http://127.0.0.1:18601/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "still ready: the data plane does not need the API server")

	env.StartAPIServer(t)
	route := &aigv1b1.AIGatewayRoute{}
	require.Eventually(t, func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "chat"}, route) == nil
	}, 60*time.Second, 100*time.Millisecond, "the API server did not come back")
	route.Spec.Rules = append(route.Spec.Rules, modelRule("after-restart", model))
	require.NoError(t, c.Update(ctx, route))
	require.Eventually(t, func() bool { return chat("after-restart") == nil }, 60*time.Second, 100*time.Millisecond,
		"the change made after the restart is not served:\n%s", stderr)
	require.NoError(t, chat(model))
}

// TestKubernetesModeReferenceGrant: an HTTPRoute to an InferencePool of
// another namespace is refused (ResolvedRefs=False, RefNotPermitted; its
// requests fail) until a ReferenceGrant there allows it; then it serves.
func TestKubernetesModeReferenceGrant(t *testing.T) {
	env, c := kubeEnv(t)
	ctx := context.Background()
	testenv.StartSim(t, endpoint(podIPs[0]), simOptions())
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "models"}}))
	env.CreateReadyPod(t, testenv.Pod{Name: "vllm-0", Namespace: "models", Labels: poolLabels, IP: podIPs[0], Port: serverPort})
	env.CreatePool(t, testenv.Pool{Name: poolName, Namespace: "models", Selector: poolLabels, TargetPorts: []int32{serverPort}})
	const port = 18700
	route := &gwapiv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "to-models", Namespace: "default"}, Spec: gwapiv1.HTTPRouteSpec{
		CommonRouteSpec: gwapiv1.CommonRouteSpec{ParentRefs: []gwapiv1.ParentReference{{Name: "ai"}}},
		Rules: []gwapiv1.HTTPRouteRule{{BackendRefs: []gwapiv1.HTTPBackendRef{{BackendRef: gwapiv1.BackendRef{BackendObjectReference: gwapiv1.BackendObjectReference{
			Group: ptr.To(gwapiv1.Group("inference.networking.k8s.io")), Kind: ptr.To(gwapiv1.Kind("InferencePool")), Name: poolName,
			Namespace: ptr.To(gwapiv1.Namespace("models"))}}}}}},
	}}
	for _, o := range []client.Object{
		&gwapiv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "aigw"}, Spec: gwapiv1.GatewayClassSpec{ControllerName: kube.DefaultControllerName}},
		&gwapiv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "ai", Namespace: "default"}, Spec: gwapiv1.GatewaySpec{GatewayClassName: "aigw",
			Listeners: []gwapiv1.Listener{{Name: "http", Protocol: gwapiv1.HTTPProtocolType, Port: port}}}},
		route,
	} {
		require.NoError(t, c.Create(ctx, o), "%T", o)
	}
	stderr, _ := startKubeGateway(t, env, "127.0.0.1", 18701, "replica-a")
	oc := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	chat := func() error {
		_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model, MaxTokens: openai.Int(2),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		return err
	}
	resolved := func() *metav1.Condition {
		if c.Get(ctx, client.ObjectKeyFromObject(route), route) != nil || len(route.Status.Parents) != 1 {
			return nil
		}
		return meta.FindStatusCondition(route.Status.Parents[0].Conditions, string(gwapiv1.RouteConditionResolvedRefs))
	}
	require.Eventually(t, func() bool {
		cond := resolved()
		return cond != nil && cond.Status == metav1.ConditionFalse && cond.Reason == string(gwapiv1.RouteReasonRefNotPermitted)
	}, 15*time.Second, 50*time.Millisecond, "status: %+v\n%s", route.Status, stderr)
	require.Error(t, chat(), "a reference not permitted is not served")

	require.NoError(t, c.Create(ctx, &gwapiv1.ReferenceGrant{ObjectMeta: metav1.ObjectMeta{Name: "routes", Namespace: "models"},
		Spec: gwapiv1.ReferenceGrantSpec{
			From: []gwapiv1.ReferenceGrantFrom{{Group: gwapiv1.GroupName, Kind: "HTTPRoute", Namespace: "default"}},
			To:   []gwapiv1.ReferenceGrantTo{{Group: "inference.networking.k8s.io", Kind: "InferencePool"}},
		}}))
	require.Eventually(t, func() bool { return chat() == nil }, 15*time.Second, 50*time.Millisecond, "granted, not served:\n%s", stderr)
	require.Eventually(t, func() bool {
		cond := resolved()
		return cond != nil && cond.Status == metav1.ConditionTrue
	}, 15*time.Second, 50*time.Millisecond)
}

// TestKubernetesModeClosedStart: a client policy the gateway cannot
// enforce at start does not make it exit (which would take every replica
// down): it serves no route, its Gateway says Programmed=False, and once
// the policy is fixed the routes are served.
func TestKubernetesModeClosedStart(t *testing.T) {
	env, c := kubeEnv(t)
	sim := testenv.StartSim(t, "127.0.0.1:18880", simOptions())
	const port = 18800
	ctx := context.Background()
	for _, o := range kubeObjects(port, sim.Addr) {
		require.NoError(t, c.Create(ctx, o))
	}
	policy := corsPolicy()
	require.NoError(t, c.Create(ctx, policy))
	stderr, _ := startKubeGateway(t, env, "127.0.0.1", 18801, "replica-a")
	require.Contains(t, stderr.String(), "serving no route until it is fixed")
	oc := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	chat := func() error {
		_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model, MaxTokens: openai.Int(2),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		return err
	}
	var apiErr *openai.Error
	require.ErrorAs(t, chat(), &apiErr)
	require.Equal(t, http.StatusNotFound, apiErr.StatusCode, "no route is served")
	gw := &gwapiv1.Gateway{}
	programmed := func() *metav1.Condition {
		if c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "ai"}, gw) != nil {
			return nil
		}
		return meta.FindStatusCondition(gw.Status.Conditions, string(gwapiv1.GatewayConditionProgrammed))
	}
	require.Eventually(t, func() bool { p := programmed(); return p != nil && p.Status == metav1.ConditionFalse }, 15*time.Second, 50*time.Millisecond)

	require.NoError(t, c.Delete(ctx, policy))
	require.Eventually(t, func() bool { return chat() == nil }, 15*time.Second, 50*time.Millisecond, "not served once the policy is gone:\n%s", stderr)
	require.Eventually(t, func() bool { p := programmed(); return p != nil && p.Status == metav1.ConditionTrue }, 15*time.Second, 50*time.Millisecond)
}
