package k8s

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
	"github.com/aigw-dev/aigw/internal/app"
	"github.com/aigw-dev/aigw/internal/kube"
	"github.com/aigw-dev/aigw/internal/syncbuf"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// kubeObjects are a GatewayClass of ours and one of another controller,
// their Gateways on port, and a route of model to an AIServiceBackend on
// a Backend at simAddr.
func kubeObjects(port int, simAddr string) []client.Object {
	host, p, _ := net.SplitHostPort(simAddr)
	simPort, _ := strconv.Atoi(p)
	ns := "default"
	return []client.Object{
		&gwapiv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "aigw"}, Spec: gwapiv1.GatewayClassSpec{ControllerName: kube.DefaultControllerName}},
		&gwapiv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Spec: gwapiv1.GatewayClassSpec{ControllerName: "example.com/other"}},
		&gwapiv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "ai", Namespace: ns}, Spec: gwapiv1.GatewaySpec{GatewayClassName: "aigw",
			Listeners: []gwapiv1.Listener{{Name: "http", Protocol: gwapiv1.HTTPProtocolType, Port: gwapiv1.PortNumber(port)}}}},
		// Another controller's Gateway on the same port: not ours, not bound.
		&gwapiv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: gwapiv1.GatewaySpec{GatewayClassName: "other",
			Listeners: []gwapiv1.Listener{{Name: "http", Protocol: gwapiv1.HTTPProtocolType, Port: gwapiv1.PortNumber(port)}}}},
		&egv1a1.Backend{ObjectMeta: metav1.ObjectMeta{Name: "sim", Namespace: ns}, Spec: egv1a1.BackendSpec{
			Endpoints: []egv1a1.BackendEndpoint{{IP: &egv1a1.IPEndpoint{Address: host, Port: int32(simPort)}}}}},
		&aigv1b1.AIServiceBackend{ObjectMeta: metav1.ObjectMeta{Name: "sim", Namespace: ns}, Spec: aigv1b1.AIServiceBackendSpec{
			APISchema:  aigv1b1.VersionedAPISchema{Name: aigv1b1.APISchemaOpenAI},
			BackendRef: gwapiv1.BackendObjectReference{Name: "sim", Kind: ptr.To(gwapiv1.Kind("Backend")), Group: ptr.To(gwapiv1.Group("gateway.envoyproxy.io"))}}},
		&aigv1b1.AIGatewayRoute{ObjectMeta: metav1.ObjectMeta{Name: "chat", Namespace: ns}, Spec: aigv1b1.AIGatewayRouteSpec{
			ParentRefs: []gwapiv1.ParentReference{{Name: "ai"}},
			Rules:      []aigv1b1.AIGatewayRouteRule{modelRule(model, model)}}},
	}
}

// modelRule routes the client's model alias to the AIServiceBackend "sim"
// as model.
func modelRule(alias, model string) aigv1b1.AIGatewayRouteRule {
	return aigv1b1.AIGatewayRouteRule{
		Matches:     []aigv1b1.AIGatewayRouteRuleMatch{{Headers: []gwapiv1.HTTPHeaderMatch{{Name: "x-ai-eg-model", Value: alias}}}},
		BackendRefs: []aigv1b1.AIGatewayRouteRuleBackendRef{{Name: "sim", ModelNameOverride: model}},
	}
}

// corsPolicy is a SecurityPolicy on Gateway "ai" that the gateway cannot
// enforce (CORS).
func corsPolicy() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "SecurityPolicy",
		"metadata": map[string]any{"name": "cors", "namespace": "default"},
		"spec": map[string]any{
			"targetRefs": []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "ai"}},
			"cors":       map[string]any{"allowOrigins": []any{"https://example.com"}},
		},
	}}
}

// kubeEnv starts an API server with every CRD the gateway reads, and
// returns it with a client of the gateway's scheme.
func kubeEnv(t testing.TB) (*testenv.Env, client.Client) {
	t.Helper()
	env := testenv.StartEnv(t)
	env.InstallGatewayCRDs(t)
	scheme, err := kube.NewScheme()
	require.NoError(t, err)
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	return env, c
}

// startKubeGateway runs `aigw run --kubernetes` on envtest's API server,
// its listeners on host, until the test ends or stop is called, and
// waits until it is ready.
func startKubeGateway(t testing.TB, env *testenv.Env, host string, adminPort int, name string) (stderr *syncbuf.Buffer, stop func()) {
	t.Helper()
	return startKubeGatewayAs(t, env.Kubeconfig, host, adminPort, name)
}

// startKubeGatewayAs is [startKubeGateway] with the credentials of
// kubeconfig and further flags.
func startKubeGatewayAs(t testing.TB, kubeconfig, host string, adminPort int, name string, flags ...string) (stderr *syncbuf.Buffer, stop func()) {
	t.Helper()
	stdout := &syncbuf.Buffer{}
	stderr = &syncbuf.Buffer{}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Main(runCtx, append([]string{"run", "--kubernetes", "--kubeconfig=" + kubeconfig, "--listen-address=" + host,
			"--admin-address=" + host, fmt.Sprintf("--admin-port=%d", adminPort), "--drain-delay=0", "--shutdown-timeout=5s",
			"--replica-name=" + name, "--access-log=off"}, flags...), stdout, stderr)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	require.Eventually(t, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://%s:%d/readyz", host, adminPort))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "the gateway did not become ready:\n%s", stderr)
	return stderr, stop
}

// TestKubernetesMode runs `aigw run --kubernetes` against envtest's API
// server: the resources applied there are served through the gateway with
// the openai-go client, another controller's Gateway is left alone, and a
// route edit and a deleted backend are each seen by the data plane without
// a restart.
func TestKubernetesMode(t *testing.T) {
	env, c := kubeEnv(t)

	simOpts := simOptions()
	sim := testenv.StartSim(t, "127.0.0.1:18080", simOpts)
	port := 18000
	ctx := context.Background()
	for _, o := range kubeObjects(port, sim.Addr) {
		require.NoError(t, c.Create(ctx, o), "%T %s", o, o.GetName())
	}

	stderr, _ := startKubeGateway(t, env, "127.0.0.1", 18001, "replica-a")

	oc := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	chat := func(m string) error {
		_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: m, MaxTokens: openai.Int(4),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		return err
	}
	require.NoError(t, chat(model), "gateway:\n%s", stderr)
	require.NotContains(t, stderr.String(), "Gateway default/web", "another controller's Gateway is not ours")

	// Status, from the replica holding the Lease: the route and backend
	// Accepted, our Gateway Accepted and Programmed, the other untouched.
	condition := func(o client.Object, conds func() []metav1.Condition) func() *metav1.Condition {
		return func() *metav1.Condition {
			if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil || len(conds()) == 0 {
				return nil
			}
			return &conds()[len(conds())-1]
		}
	}
	routeObj := &aigv1b1.AIGatewayRoute{ObjectMeta: metav1.ObjectMeta{Name: "chat", Namespace: "default"}}
	routeCond := condition(routeObj, func() []metav1.Condition { return routeObj.Status.Conditions })
	require.Eventually(t, func() bool {
		c := routeCond()
		return c != nil && c.Type == "Accepted" && c.Status == metav1.ConditionTrue
	},
		15*time.Second, 50*time.Millisecond, "no Accepted condition on the route:\n%s", stderr)
	ours := &gwapiv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "ai", Namespace: "default"}}
	require.Eventually(t, func() bool {
		return c.Get(ctx, client.ObjectKeyFromObject(ours), ours) == nil && len(ours.Status.Conditions) == 2 &&
			ours.Status.Conditions[1].Type == "Programmed" && ours.Status.Conditions[1].Status == metav1.ConditionTrue
	}, 15*time.Second, 50*time.Millisecond)
	require.Len(t, ours.Status.Listeners, 1)
	listener := ours.Status.Listeners[0]
	require.Equal(t, gwapiv1.SectionName("http"), listener.Name)
	require.Equal(t, int32(1), listener.AttachedRoutes, "the AIGatewayRoute")
	require.Equal(t, []gwapiv1.RouteGroupKind{{Group: ptr.To(gwapiv1.Group(gwapiv1.GroupName)), Kind: "HTTPRoute"}}, listener.SupportedKinds)
	for _, typ := range []gwapiv1.ListenerConditionType{gwapiv1.ListenerConditionAccepted, gwapiv1.ListenerConditionProgrammed, gwapiv1.ListenerConditionResolvedRefs} {
		require.True(t, meta.IsStatusConditionTrue(listener.Conditions, string(typ)), "listener %s: %+v", typ, listener.Conditions)
	}
	other := &gwapiv1.Gateway{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "web"}, other))
	for _, cond := range other.Status.Conditions {
		require.Equal(t, "Pending", cond.Reason, "another controller's Gateway keeps the API server's defaults: %+v", cond)
	}

	// An HTTPRoute to an InferencePool that does not exist: left out, its
	// parent status says why, the rest serves.
	httpRoute := &gwapiv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "pool-route", Namespace: "default"}, Spec: gwapiv1.HTTPRouteSpec{
		CommonRouteSpec: gwapiv1.CommonRouteSpec{ParentRefs: []gwapiv1.ParentReference{{Name: "ai"}}},
		Rules: []gwapiv1.HTTPRouteRule{{BackendRefs: []gwapiv1.HTTPBackendRef{{BackendRef: gwapiv1.BackendRef{BackendObjectReference: gwapiv1.BackendObjectReference{
			Group: ptr.To(gwapiv1.Group("inference.networking.k8s.io")), Kind: ptr.To(gwapiv1.Kind("InferencePool")), Name: "nope"}}}}}},
	}}
	require.NoError(t, c.Create(ctx, httpRoute))
	require.Eventually(t, func() bool {
		if c.Get(ctx, client.ObjectKeyFromObject(httpRoute), httpRoute) != nil || len(httpRoute.Status.Parents) != 1 {
			return false
		}
		ps := httpRoute.Status.Parents[0]
		cond := meta.FindStatusCondition(ps.Conditions, string(gwapiv1.RouteConditionResolvedRefs))
		return string(ps.ControllerName) == kube.DefaultControllerName && cond != nil && cond.Status == metav1.ConditionFalse &&
			cond.Reason == string(gwapiv1.RouteReasonBackendNotFound)
	}, 15*time.Second, 50*time.Millisecond, "HTTPRoute status: %+v\n%s", httpRoute.Status, stderr)
	require.NoError(t, chat(model), "the rest serves")

	// The pool created, its picker's Service missing: the pool's parent
	// status says ResolvedRefs=False, InvalidExtensionRef, until the
	// Service exists.
	pool := &gaiev1.InferencePool{ObjectMeta: metav1.ObjectMeta{Name: "nope", Namespace: "default"}, Spec: gaiev1.InferencePoolSpec{
		Selector:          gaiev1.LabelSelector{MatchLabels: map[gaiev1.LabelKey]gaiev1.LabelValue{"app": "nope"}},
		TargetPorts:       []gaiev1.Port{{Number: 8000}},
		EndpointPickerRef: &gaiev1.EndpointPickerRef{Name: "nope-epp", Port: &gaiev1.Port{Number: 9002}},
	}}
	require.NoError(t, c.Create(ctx, pool))
	poolResolved := func() *metav1.Condition {
		if c.Get(ctx, client.ObjectKeyFromObject(pool), pool) != nil || len(pool.Status.Parents) != 1 {
			return nil
		}
		ps := pool.Status.Parents[0]
		if string(ps.ControllerName) != kube.DefaultControllerName || ps.ParentRef.Name != "ai" {
			return nil
		}
		return meta.FindStatusCondition(ps.Conditions, string(gaiev1.InferencePoolConditionResolvedRefs))
	}
	require.Eventually(t, func() bool {
		cond := poolResolved()
		return cond != nil && cond.Status == metav1.ConditionFalse && cond.Reason == string(gaiev1.InferencePoolReasonInvalidExtensionRef)
	}, 15*time.Second, 50*time.Millisecond, "pool status: %+v\n%s", pool.Status, stderr)
	require.NoError(t, c.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nope-epp", Namespace: "default"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.50", Ports: []corev1.ServicePort{{Port: 9002}}}}))
	require.Eventually(t, func() bool {
		cond := poolResolved()
		return cond != nil && cond.Status == metav1.ConditionTrue
	}, 15*time.Second, 50*time.Millisecond, "pool status: %+v\n%s", pool.Status, stderr)
	require.NoError(t, c.Delete(ctx, httpRoute))
	require.Eventually(t, func() bool {
		return c.Get(ctx, client.ObjectKeyFromObject(pool), pool) == nil && len(pool.Status.Parents) == 0
	}, 15*time.Second, 50*time.Millisecond, "our parent entry stays on a pool no route of ours uses: %+v", pool.Status)

	// A route edit: a new alias is served.
	route := &aigv1b1.AIGatewayRoute{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "chat"}, route))
	route.Spec.Rules = append(route.Spec.Rules, modelRule("alias", model))
	require.NoError(t, c.Update(ctx, route))
	require.Eventually(t, func() bool { return chat("alias") == nil }, 10*time.Second, 50*time.Millisecond, "the edited route is not served:\n%s", stderr)

	// A client policy the gateway cannot enforce fails the whole load
	// (skipping it would leave the Gateway open): the running
	// configuration stays.
	policy := corsPolicy()
	require.NoError(t, c.Create(ctx, policy))
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "SecurityPolicy default/cors") }, 10*time.Second, 50*time.Millisecond, stderr.String())
	require.Contains(t, stderr.String(), "configuration rejected: keeping the running configuration")
	require.NoError(t, chat("alias"), "the running configuration still serves")
	require.NoError(t, c.Delete(ctx, policy))

	// The backend deleted: the route's requests fail, the gateway serves on.
	require.NoError(t, c.Delete(ctx, &aigv1b1.AIServiceBackend{ObjectMeta: metav1.ObjectMeta{Name: "sim", Namespace: "default"}}))
	require.Eventually(t, func() bool {
		var apiErr *openai.Error
		return errors.As(chat(model), &apiErr) && apiErr.StatusCode >= 400
	}, 10*time.Second, 50*time.Millisecond, "the deleted backend still serves:\n%s", stderr)
	require.Eventually(t, func() bool {
		c := routeCond()
		return c != nil && c.Type == "NotAccepted" && strings.Contains(c.Message, "AIServiceBackend default/sim not found")
	}, 15*time.Second, 50*time.Millisecond, "the route's status does not say why: %+v", routeCond())
	require.True(t, strings.Contains(stderr.String(), "configuration reloaded"), stderr.String())
}

// statusManagers returns the field managers of o's status.
func statusManagers(o client.Object) []string {
	var out []string
	for _, m := range o.GetManagedFields() {
		if m.Subresource == "status" {
			out = append(out, m.Manager)
		}
	}
	return out
}

// TestKubernetesModeReplicas runs two replicas on one API server: both
// serve every change, exactly one (the Lease holder) writes status, and
// when it stops the other takes the Lease over and writes the next.
func TestKubernetesModeReplicas(t *testing.T) {
	env, c := kubeEnv(t)
	sim := testenv.StartSim(t, "127.0.0.1:18180", simOptions())
	const port = 18100
	ctx := context.Background()
	for _, o := range kubeObjects(port, sim.Addr) {
		require.NoError(t, c.Create(ctx, o))
	}
	hosts := map[string]string{"replica-a": "127.0.0.1", "replica-b": "127.0.0.2"}
	stops := map[string]func(){}
	for i, name := range []string{"replica-a", "replica-b"} {
		_, stops[name] = startKubeGateway(t, env, hosts[name], 18101+i, name)
	}
	chatVia := func(host, m string) error {
		oc := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://%s:%d/v1", host, port)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
		_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: m, MaxTokens: openai.Int(4),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		return err
	}
	for name, host := range hosts {
		require.NoError(t, chatVia(host, model), name)
	}

	lease := &coordinationv1.Lease{}
	holder := func() string {
		if c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "aigw-status"}, lease) != nil || lease.Spec.HolderIdentity == nil {
			return ""
		}
		return *lease.Spec.HolderIdentity
	}
	require.Eventually(t, func() bool { return holder() != "" }, 20*time.Second, 50*time.Millisecond)
	leader := holder()
	follower := "replica-a"
	if leader == follower {
		follower = "replica-b"
	}
	route := &aigv1b1.AIGatewayRoute{}
	key := client.ObjectKey{Namespace: "default", Name: "chat"}
	require.Eventually(t, func() bool {
		return c.Get(ctx, key, route) == nil && len(route.Status.Conditions) == 1
	}, 15*time.Second, 50*time.Millisecond)
	require.Equal(t, []string{"aigw/" + leader}, statusManagers(route), "only the Lease holder writes status")

	// Both replicas serve a change.
	route.Spec.Rules = append(route.Spec.Rules, modelRule("alias", model))
	require.NoError(t, c.Update(ctx, route))
	for name, host := range hosts {
		require.Eventually(t, func() bool { return chatVia(host, "alias") == nil }, 10*time.Second, 50*time.Millisecond, "%s does not serve the change", name)
	}

	// The leader stops: the follower takes the Lease and writes the next
	// status.
	stops[leader]()
	require.Eventually(t, func() bool { return holder() == follower }, 20*time.Second, 50*time.Millisecond, "the Lease was not handed over")
	require.NoError(t, c.Get(ctx, key, route))
	route.Spec.Rules = append(route.Spec.Rules, modelRule("alias-2", model))
	require.NoError(t, c.Update(ctx, route))
	require.Eventually(t, func() bool {
		return c.Get(ctx, key, route) == nil && len(route.Status.Conditions) == 1 &&
			route.Status.Conditions[0].ObservedGeneration == route.Generation && slices.Contains(statusManagers(route), "aigw/"+follower)
	}, 15*time.Second, 50*time.Millisecond, "the new leader did not write status: %v", statusManagers(route))
	require.NoError(t, chatVia(hosts[follower], "alias-2"))
}

// TestKubernetesModeGatewaysNarrowed runs one replica per Gateway of our
// GatewayClass (--gateway), as Envoy Gateway runs a proxy fleet per
// Gateway: each serves its Gateway's routes and no listener of the other,
// elects its own status writer, and writes the status of its Gateway and
// its routes only.
func TestKubernetesModeGatewaysNarrowed(t *testing.T) {
	env, c := kubeEnv(t)
	sim := testenv.StartSim(t, "127.0.0.1:18280", simOptions())
	const port, port2 = 18200, 18201
	ctx := context.Background()
	objs := kubeObjects(port, sim.Addr)
	objs = append(objs,
		&gwapiv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "ai2", Namespace: "default"}, Spec: gwapiv1.GatewaySpec{GatewayClassName: "aigw",
			Listeners: []gwapiv1.Listener{{Name: "http", Protocol: gwapiv1.HTTPProtocolType, Port: port2}}}},
		&aigv1b1.AIGatewayRoute{ObjectMeta: metav1.ObjectMeta{Name: "chat2", Namespace: "default"}, Spec: aigv1b1.AIGatewayRouteSpec{
			ParentRefs: []gwapiv1.ParentReference{{Name: "ai2"}}, Rules: []aigv1b1.AIGatewayRouteRule{modelRule("m2", model)}}})
	for _, o := range objs {
		require.NoError(t, c.Create(ctx, o))
	}
	replicas := []struct{ name, host, gateway, route, model string }{
		{"replica-a", "127.0.0.1", "default/ai", "chat", model},
		{"replica-b", "127.0.0.2", "default/ai2", "chat2", "m2"},
	}
	logs := map[string]*syncbuf.Buffer{}
	for i, r := range replicas {
		logs[r.name], _ = startKubeGatewayAs(t, env.Kubeconfig, r.host, 18202+i, r.name, "--gateway="+r.gateway)
	}
	chatVia := func(host string, p int, m string) error {
		oc := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://%s:%d/v1", host, p)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
		_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: m, MaxTokens: openai.Int(4),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		return err
	}
	require.NoError(t, chatVia("127.0.0.1", port, model), "replica-a serves Gateway ai:\n%s", logs["replica-a"])
	require.NoError(t, chatVia("127.0.0.2", port2, "m2"), "replica-b serves Gateway ai2:\n%s", logs["replica-b"])
	require.Error(t, chatVia("127.0.0.1", port2, "m2"), "replica-a has no listener of Gateway ai2")
	require.Error(t, chatVia("127.0.0.2", port, model), "replica-b has no listener of Gateway ai")

	for _, r := range replicas {
		route := &aigv1b1.AIGatewayRoute{}
		require.Eventually(t, func() bool {
			return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: r.route}, route) == nil && len(route.Status.Conditions) == 1 &&
				route.Status.Conditions[0].Type == "Accepted"
		}, 15*time.Second, 50*time.Millisecond, "%s: route %s status:\n%s", r.name, r.route, logs[r.name])
		require.Equal(t, []string{"aigw/" + r.name}, statusManagers(route), "only the replicas serving the route's Gateway write its status")
		gw := &gwapiv1.Gateway{}
		name := strings.TrimPrefix(r.gateway, "default/")
		require.Eventually(t, func() bool {
			return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, gw) == nil &&
				meta.IsStatusConditionTrue(gw.Status.Conditions, string(gwapiv1.GatewayConditionProgrammed))
		}, 15*time.Second, 50*time.Millisecond)
		require.Equal(t, []string{"aigw/" + r.name}, statusManagers(gw))
	}
	var leases coordinationv1.LeaseList
	require.NoError(t, c.List(ctx, &leases, client.InNamespace("default")))
	holders := map[string]string{}
	for _, l := range leases.Items {
		if strings.HasPrefix(l.Name, "aigw-status-") && l.Spec.HolderIdentity != nil {
			holders[*l.Spec.HolderIdentity] = l.Name
		}
	}
	require.Len(t, holders, 2, "one status writer per Gateway set: %v", holders)

	err := app.Main(ctx, []string{"run", "--gateway=ai"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "want namespace/name")
}
