package k8s

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/aigw-dev/aigw/internal/kube"
	"github.com/aigw-dev/aigw/internal/sim"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// The namespaces and Gateways of GAIE's conformance suite.
const (
	infraNS     = "gateway-conformance-infra"
	appNS       = "gateway-conformance-app-backend"
	primaryGW   = "conformance-primary-gateway"
	secondaryGW = "conformance-secondary-gateway"
)

// conformance is the cluster GAIE's conformance tests run against: the
// suite's two Gateways, each served by a gateway process of its own
// narrowed to it (as the Helm chart deploys one release per Gateway), and
// model-server Pods stood in by simulators on loopback addresses.
type conformance struct {
	env *testenv.Env
	c   client.Client
	// addr is each Gateway's "host:port", read from its status.
	addr map[string]string
}

// TestGAIEConformance reproduces the status and traffic checks of GAIE's
// conformance tests (conformance/tests/basic, v1.x), one subtest per test,
// named after its ShortName, against the gateway in Kubernetes mode. The
// suite's manifests are followed with two adaptations: model servers are
// simulators (their Pods carry loopback IPs), so routes match /v1 on a
// hostname of their own instead of the suite's echo paths; and pools
// without a picker in the test's purpose are picked for by the gateway
// (endpointPickerRef is optional since GAIE v1.6.0) rather than by an EPP
// Deployment.
func TestGAIEConformance(t *testing.T) {
	env, c := kubeEnv(t)
	ctx := t.Context()
	for _, ns := range []string{infraNS, appNS} {
		require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	require.NoError(t, c.Create(ctx, &gwapiv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "aigw"},
		Spec: gwapiv1.GatewayClassSpec{ControllerName: kube.DefaultControllerName}}))
	gateways := map[string]struct {
		host       string
		port       int
		adminPort  int
		replicaArg string
	}{
		primaryGW:   {"127.0.0.1", 18500, 18510, "primary"},
		secondaryGW: {"127.0.1.1", 18501, 18511, "secondary"},
	}
	for name, g := range gateways {
		require.NoError(t, c.Create(ctx, &gwapiv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: infraNS},
			Spec: gwapiv1.GatewaySpec{GatewayClassName: "aigw", Listeners: []gwapiv1.Listener{{
				Name: "http", Protocol: gwapiv1.HTTPProtocolType, Port: gwapiv1.PortNumber(g.port),
				AllowedRoutes: &gwapiv1.AllowedRoutes{Namespaces: &gwapiv1.RouteNamespaces{From: ptr.To(gwapiv1.NamespacesFromAll)}},
			}}}}))
	}
	modelServers(t, simOptions())
	for i, ip := range podIPs {
		env.CreateReadyPod(t, testenv.Pod{Name: "infra-backend-" + strconv.Itoa(i), Namespace: appNS,
			Labels: map[string]string{"app": "infra-backend"}, IP: ip, Port: serverPort})
	}
	for name, g := range gateways {
		stderr, _ := startKubeGatewayAs(t, env.Kubeconfig, g.host, g.adminPort, g.replicaArg, "--gateway="+infraNS+"/"+name)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("gateway of %s:\n%s", name, stderr)
			}
		})
	}
	cf := &conformance{env: env, c: c, addr: map[string]string{}}
	for name, g := range gateways {
		// GetGatewayEndpoint: the suite reaches a Gateway at the address
		// its status reports.
		cf.addr[name] = cf.gatewayEndpoint(t, name)
		require.Equal(t, net.JoinHostPort(g.host, strconv.Itoa(g.port)), cf.addr[name])
	}

	t.Run("InferencePoolAccepted", func(t *testing.T) {
		cf.pool(t, "pool-accepted", map[string]string{"app": "infra-backend"}, "")
		cf.route(t, "httproute-for-inferencepool-accepted", primaryGW, "accepted.example.com", "pool-accepted")
		cf.routeMustBeAcceptedAndResolved(t, "httproute-for-inferencepool-accepted", primaryGW)
		cf.poolMustBeAcceptedByParents(t, "pool-accepted", primaryGW)
	})

	t.Run("InferencePoolResolvedRefsCondition", func(t *testing.T) {
		const pool = "multi-gateway-pool"
		cf.pool(t, pool, map[string]string{"app": "infra-backend"}, "")
		cf.route(t, "httproute-for-primary-gw", primaryGW, "primary.example.com", pool)
		cf.route(t, "httproute-for-secondary-gw", secondaryGW, "secondary.example.com", pool)
		cf.routeMustBeAcceptedAndResolved(t, "httproute-for-primary-gw", primaryGW)
		cf.routeMustBeAcceptedAndResolved(t, "httproute-for-secondary-gw", secondaryGW)
		// Two gateway processes write the pool's parents, each its own.
		cf.poolMustBeAcceptedByParents(t, pool, primaryGW, secondaryGW)
		cf.expectServed(t, primaryGW, "primary.example.com", podIPs)
		cf.expectServed(t, secondaryGW, "secondary.example.com", podIPs)

		require.NoError(t, c.Delete(ctx, &gwapiv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "httproute-for-primary-gw", Namespace: appNS}}))
		cf.poolMustBeAcceptedByParents(t, pool, secondaryGW)
		cf.expectServed(t, secondaryGW, "secondary.example.com", podIPs)
		cf.expectStatus(t, primaryGW, "primary.example.com", http.StatusNotFound)

		require.NoError(t, c.Delete(ctx, &gwapiv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "httproute-for-secondary-gw", Namespace: appNS}}))
		cf.poolMustBeAcceptedByParents(t, pool) // InferencePoolMustHaveNoParents
		cf.expectStatus(t, secondaryGW, "secondary.example.com", http.StatusNotFound)
	})

	t.Run("InferencePoolInvalidEPPService", func(t *testing.T) {
		cf.pool(t, "primary-inference-pool", map[string]string{"app": "infra-backend"}, "non-existent-epp-svc")
		cf.route(t, "httproute-for-invalid-epp-pool", primaryGW, "invalid-epp.example.com", "primary-inference-pool")
		require.Eventually(t, func() bool {
			cond := cf.routeCondition(t, "httproute-for-invalid-epp-pool", primaryGW, gwapiv1.RouteConditionAccepted)
			return cond != nil && cond.Status == metav1.ConditionTrue
		}, 20*time.Second, 50*time.Millisecond, "the route is accepted")
		require.Eventually(t, func() bool {
			cond := cf.poolCondition(t, "primary-inference-pool", primaryGW, gaiev1.InferencePoolConditionResolvedRefs)
			return cond != nil && cond.Status == metav1.ConditionFalse && cond.Reason == string(gaiev1.InferencePoolReasonInvalidExtensionRef)
		}, 20*time.Second, 50*time.Millisecond, "the pool's ResolvedRefs is False (InvalidExtensionRef)")
		require.Eventually(t, func() bool {
			status, _ := cf.send(t, primaryGW, "invalid-epp.example.com", "")
			return status >= 500
		}, 20*time.Second, 50*time.Millisecond, "a request through the pool gets a 5xx")
	})

	t.Run("HTTPRouteInvalidInferencePoolRef", func(t *testing.T) {
		cf.route(t, "httproute-to-non-existent-pool", primaryGW, "missing-pool.example.com", "non-existent-inference-pool")
		require.Eventually(t, func() bool {
			accepted := cf.routeCondition(t, "httproute-to-non-existent-pool", primaryGW, gwapiv1.RouteConditionAccepted)
			resolved := cf.routeCondition(t, "httproute-to-non-existent-pool", primaryGW, gwapiv1.RouteConditionResolvedRefs)
			return accepted != nil && accepted.Status == metav1.ConditionTrue && resolved != nil &&
				resolved.Status == metav1.ConditionFalse && resolved.Reason == string(gwapiv1.RouteReasonBackendNotFound)
		}, 20*time.Second, 50*time.Millisecond, "Accepted=True, ResolvedRefs=False (BackendNotFound)")
	})

	t.Run("InferencePoolHTTPRoutePortValidation", func(t *testing.T) {
		const pool = "target-pool-port-validation"
		cf.pool(t, pool, map[string]string{"app": "infra-backend"}, "")
		for name, port := range map[string]*gwapiv1.PortNumber{
			"httproute-pool-port-unspecified":  nil,
			"httproute-pool-port-matching":     ptr.To(gwapiv1.PortNumber(serverPort)),
			"httproute-pool-port-non-matching": ptr.To(gwapiv1.PortNumber(8888)), // ignored for a pool
		} {
			host := strings.TrimPrefix(name, "httproute-pool-") + ".example.com"
			r := cf.route(t, name, primaryGW, host, pool)
			r.Spec.Rules[0].BackendRefs[0].Port = port
			require.NoError(t, c.Update(ctx, r))
			cf.routeMustBeAcceptedAndResolved(t, name, primaryGW)
			cf.poolMustBeAcceptedByParents(t, pool, primaryGW)
			cf.expectServed(t, primaryGW, host, podIPs)
		}
	})

	t.Run("HTTPRouteMultipleGatewaysDifferentPools", func(t *testing.T) {
		// Each pool selects one model server, so that the traffic check
		// the suite leaves for later (its TODO) can tell them apart.
		for i, side := range []string{"primary", "secondary"} {
			env.CreateReadyPod(t, testenv.Pod{Name: "multi-gw-" + side + "-backend", Namespace: appNS,
				Labels: map[string]string{"app": "multi-gw-" + side + "-backend"}, IP: podIPs[i], Port: serverPort})
			cf.pool(t, side+"-pool", map[string]string{"app": "multi-gw-" + side + "-backend"}, "")
		}
		cf.route(t, "route-for-primary-gateway", primaryGW, "primary-multi.example.com", "primary-pool")
		cf.route(t, "route-for-secondary-gateway", secondaryGW, "secondary-multi.example.com", "secondary-pool")
		cf.routeMustBeAcceptedAndResolved(t, "route-for-primary-gateway", primaryGW)
		cf.routeMustBeAcceptedAndResolved(t, "route-for-secondary-gateway", secondaryGW)
		cf.poolMustBeAcceptedByParents(t, "primary-pool", primaryGW)
		cf.poolMustBeAcceptedByParents(t, "secondary-pool", secondaryGW)
		cf.expectServed(t, primaryGW, "primary-multi.example.com", podIPs[:1])
		cf.expectServed(t, secondaryGW, "secondary-multi.example.com", podIPs[1:])
	})

	t.Run("GatewayFollowingEPPRouting", func(t *testing.T) {
		// GAIE's conformance picker serves the pool from a Deployment
		// behind a Service; its ClusterIP is made reachable on loopback,
		// as kube-proxy would.
		const pool, picker, clusterIP = "epp-routing-pool", "epp-routing-epp", "10.0.0.60"
		testenv.AddLoopbackAddress(t, clusterIP)
		env.CreateService(t, testenv.Service{Name: picker, Namespace: appNS, Selector: map[string]string{"app": picker}, Port: 9002, ClusterIP: clusterIP})
		cf.pool(t, pool, map[string]string{"app": "infra-backend"}, picker)
		lw := testenv.StartLWEPP(t, testenv.PickerOptions{Kubeconfig: env.Kubeconfig, PoolName: pool, PoolNamespace: appNS,
			GRPCPort: 9002, HealthPort: 9003, MetricsPort: 9090, TLS: true})
		waitForEndpoints(t, lw.Dial(t), model, endpoint(podIPs[0]), endpoint(podIPs[1]))
		cf.route(t, "httproute-for-epp-routing", primaryGW, "epp-routing.example.com", pool)
		cf.routeMustBeAcceptedAndResolved(t, "httproute-for-epp-routing", primaryGW)
		cf.poolMustBeAcceptedByParents(t, pool, primaryGW)
		for _, allowed := range [][]string{{podIPs[1]}, {podIPs[0]}, podIPs} {
			steer := strings.Join(allowed, ",")
			for range 20 {
				status, servedBy := cf.send(t, primaryGW, "epp-routing.example.com", steer)
				require.Equal(t, http.StatusOK, status)
				require.Contains(t, allowed, servedBy, "the picker chose among %v", allowed)
			}
		}
	})

	// Gateway API's other route reasons the issue names: a backend of a
	// kind the gateway does not route to, and a parentRef naming no
	// listener.
	t.Run("HTTPRouteReasons", func(t *testing.T) {
		// Its other rule goes to a pool, which is served on.
		r := cf.route(t, "httproute-invalid-kind", primaryGW, "invalid-kind.example.com", "pool-accepted")
		widget := gwapiv1.HTTPRouteRule{
			Matches: []gwapiv1.HTTPRouteMatch{{Path: &gwapiv1.HTTPPathMatch{Type: ptr.To(gwapiv1.PathMatchPathPrefix), Value: ptr.To("/v1")}}},
			BackendRefs: []gwapiv1.HTTPBackendRef{{BackendRef: gwapiv1.BackendRef{BackendObjectReference: gwapiv1.BackendObjectReference{
				Group: ptr.To(gwapiv1.Group("example.com")), Kind: ptr.To(gwapiv1.Kind("Widget")), Name: "w"}}}},
		}
		r.Spec.Rules[0].Matches[0].Path.Value = ptr.To("/other")
		r.Spec.Rules = append(r.Spec.Rules, widget)
		require.NoError(t, c.Update(ctx, r))
		require.Eventually(t, func() bool {
			accepted := cf.routeCondition(t, "httproute-invalid-kind", primaryGW, gwapiv1.RouteConditionAccepted)
			resolved := cf.routeCondition(t, "httproute-invalid-kind", primaryGW, gwapiv1.RouteConditionResolvedRefs)
			return accepted != nil && accepted.Status == metav1.ConditionTrue && resolved != nil &&
				resolved.Status == metav1.ConditionFalse && resolved.Reason == string(gwapiv1.RouteReasonInvalidKind)
		}, 20*time.Second, 50*time.Millisecond, "Accepted=True, ResolvedRefs=False (InvalidKind): %+v", cf.routeStatus(t, "httproute-invalid-kind"))
		cf.expectStatus(t, primaryGW, "invalid-kind.example.com", http.StatusServiceUnavailable)
		// A route to nothing but such a backend is ours all the same.
		only := cf.route(t, "httproute-only-invalid-kind", primaryGW, "only-invalid-kind.example.com", "unused")
		only.Spec.Rules[0].BackendRefs[0].Group = ptr.To(gwapiv1.Group("example.com"))
		only.Spec.Rules[0].BackendRefs[0].Kind = ptr.To(gwapiv1.Kind("Widget"))
		require.NoError(t, c.Update(ctx, only))
		require.Eventually(t, func() bool {
			resolved := cf.routeCondition(t, "httproute-only-invalid-kind", primaryGW, gwapiv1.RouteConditionResolvedRefs)
			return resolved != nil && resolved.Status == metav1.ConditionFalse && resolved.Reason == string(gwapiv1.RouteReasonInvalidKind)
		}, 20*time.Second, 50*time.Millisecond, "ResolvedRefs=False (InvalidKind): %+v", cf.routeStatus(t, "httproute-only-invalid-kind"))
		cf.expectStatus(t, primaryGW, "only-invalid-kind.example.com", http.StatusServiceUnavailable)

		r = cf.route(t, "httproute-no-listener", primaryGW, "no-listener.example.com", "pool-accepted")
		r.Spec.ParentRefs[0].SectionName = ptr.To(gwapiv1.SectionName("https"))
		require.NoError(t, c.Update(ctx, r))
		require.Eventually(t, func() bool {
			accepted := cf.routeCondition(t, "httproute-no-listener", primaryGW, gwapiv1.RouteConditionAccepted)
			return accepted != nil && accepted.Status == metav1.ConditionFalse && accepted.Reason == string(gwapiv1.RouteReasonNoMatchingParent)
		}, 20*time.Second, 50*time.Millisecond, "Accepted=False (NoMatchingParent): %+v", cf.routeStatus(t, "httproute-no-listener"))
	})
}

// gatewayEndpoint waits for the Gateway to be Programmed and returns the
// "host:port" of its first status address and first listener, as the
// suite's GetGatewayEndpoint does.
func (cf *conformance) gatewayEndpoint(t *testing.T, name string) string {
	t.Helper()
	var gw gwapiv1.Gateway
	require.Eventually(t, func() bool {
		if cf.c.Get(t.Context(), client.ObjectKey{Namespace: infraNS, Name: name}, &gw) != nil {
			return false
		}
		return meta.IsStatusConditionTrue(gw.Status.Conditions, string(gwapiv1.GatewayConditionProgrammed)) && len(gw.Status.Addresses) > 0
	}, 30*time.Second, 50*time.Millisecond, "Gateway %s is not Programmed with an address: %+v", name, gw.Status)
	require.Equal(t, gwapiv1.IPAddressType, *gw.Status.Addresses[0].Type)
	return net.JoinHostPort(gw.Status.Addresses[0].Value, strconv.Itoa(int(gw.Spec.Listeners[0].Port)))
}

// pool creates an InferencePool of appNS selecting labels on serverPort,
// with an endpoint picker Service when picker is set.
func (cf *conformance) pool(t *testing.T, name string, labels map[string]string, picker string) {
	t.Helper()
	cf.env.CreatePool(t, testenv.Pool{Name: name, Namespace: appNS, Selector: labels, TargetPorts: []int32{serverPort}, EndpointPicker: picker})
}

// route creates an HTTPRoute of appNS on the Gateway's "http" listener,
// sending hostname's /v1 requests to the pool, and returns it.
func (cf *conformance) route(t *testing.T, name, gateway, hostname, pool string) *gwapiv1.HTTPRoute {
	t.Helper()
	r := &gwapiv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: appNS}, Spec: gwapiv1.HTTPRouteSpec{
		CommonRouteSpec: gwapiv1.CommonRouteSpec{ParentRefs: []gwapiv1.ParentReference{{Name: gwapiv1.ObjectName(gateway),
			Namespace: ptr.To(gwapiv1.Namespace(infraNS)), SectionName: ptr.To(gwapiv1.SectionName("http"))}}},
		Hostnames: []gwapiv1.Hostname{gwapiv1.Hostname(hostname)},
		Rules: []gwapiv1.HTTPRouteRule{{
			Matches: []gwapiv1.HTTPRouteMatch{{Path: &gwapiv1.HTTPPathMatch{Type: ptr.To(gwapiv1.PathMatchPathPrefix), Value: ptr.To("/v1")}}},
			BackendRefs: []gwapiv1.HTTPBackendRef{{BackendRef: gwapiv1.BackendRef{BackendObjectReference: gwapiv1.BackendObjectReference{
				Group: ptr.To(gwapiv1.Group(gaiev1.GroupName)), Kind: ptr.To(gwapiv1.Kind("InferencePool")), Name: gwapiv1.ObjectName(pool)}}}},
		}},
	}}
	require.NoError(t, cf.c.Create(t.Context(), r))
	return r
}

// routeCondition returns the condition of our parent entry for gateway in
// the HTTPRoute's status, nil if there is none yet.
func (cf *conformance) routeCondition(t *testing.T, name, gateway string, typ gwapiv1.RouteConditionType) *metav1.Condition {
	var r gwapiv1.HTTPRoute
	if cf.c.Get(t.Context(), client.ObjectKey{Namespace: appNS, Name: name}, &r) != nil {
		return nil
	}
	for _, ps := range r.Status.Parents {
		if string(ps.ControllerName) == kube.DefaultControllerName && string(ps.ParentRef.Name) == gateway &&
			ps.ParentRef.Namespace != nil && string(*ps.ParentRef.Namespace) == infraNS {
			return meta.FindStatusCondition(ps.Conditions, string(typ))
		}
	}
	return nil
}

// routeStatus returns the HTTPRoute's status, for failure messages.
func (cf *conformance) routeStatus(t *testing.T, name string) gwapiv1.HTTPRouteStatus {
	var r gwapiv1.HTTPRoute
	_ = cf.c.Get(t.Context(), client.ObjectKey{Namespace: appNS, Name: name}, &r)
	return r.Status
}

// routeMustBeAcceptedAndResolved waits for Accepted and ResolvedRefs True
// in the route's entry for gateway (HTTPRouteMustBeAcceptedAndResolved).
func (cf *conformance) routeMustBeAcceptedAndResolved(t *testing.T, name, gateway string) {
	t.Helper()
	require.Eventually(t, func() bool {
		accepted := cf.routeCondition(t, name, gateway, gwapiv1.RouteConditionAccepted)
		resolved := cf.routeCondition(t, name, gateway, gwapiv1.RouteConditionResolvedRefs)
		return accepted != nil && accepted.Status == metav1.ConditionTrue && resolved != nil && resolved.Status == metav1.ConditionTrue
	}, 20*time.Second, 50*time.Millisecond, "HTTPRoute %s/%s is not accepted and resolved on %s", appNS, name, gateway)
}

// poolCondition returns the condition of the pool's parent entry for
// gateway, nil if there is none.
func (cf *conformance) poolCondition(t *testing.T, name, gateway string, typ gaiev1.InferencePoolConditionType) *metav1.Condition {
	var p gaiev1.InferencePool
	if cf.c.Get(t.Context(), client.ObjectKey{Namespace: appNS, Name: name}, &p) != nil {
		return nil
	}
	for _, ps := range p.Status.Parents {
		if string(ps.ControllerName) == kube.DefaultControllerName && string(ps.ParentRef.Name) == gateway && string(ps.ParentRef.Namespace) == infraNS {
			return meta.FindStatusCondition(ps.Conditions, string(typ))
		}
	}
	return nil
}

// poolMustBeAcceptedByParents waits until the pool's status.parents are
// exactly gateways (Gateways of infraNS), each Accepted and ResolvedRefs
// True (InferencePoolMustBeAcceptedByParent; none: InferencePoolMustHave
// NoParents).
func (cf *conformance) poolMustBeAcceptedByParents(t *testing.T, name string, gateways ...string) {
	t.Helper()
	var p gaiev1.InferencePool
	require.Eventually(t, func() bool {
		if cf.c.Get(t.Context(), client.ObjectKey{Namespace: appNS, Name: name}, &p) != nil || len(p.Status.Parents) != len(gateways) {
			return false
		}
		for _, gw := range gateways {
			accepted := cf.poolCondition(t, name, gw, gaiev1.InferencePoolConditionAccepted)
			resolved := cf.poolCondition(t, name, gw, gaiev1.InferencePoolConditionResolvedRefs)
			if accepted == nil || accepted.Status != metav1.ConditionTrue || resolved == nil || resolved.Status != metav1.ConditionTrue {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "InferencePool %s/%s parents are not %v, all accepted: %+v", appNS, name, gateways, p.Status)
	for _, ps := range p.Status.Parents {
		require.Equal(t, "Gateway", string(ps.ParentRef.Kind))
		require.Equal(t, gwapiv1.GroupName, string(*ps.ParentRef.Group))
	}
}

// send sends a completion to the Gateway for hostname, with the conformance
// picker's steering header when steer is set, and returns the status and
// the IP of the model server that answered.
func (cf *conformance) send(t *testing.T, gateway, hostname, steer string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+cf.addr[gateway]+"/v1/completions",
		strings.NewReader(fmt.Sprintf(`{"model":%q,"prompt":"Write as if you were a critic: San Francisco","max_tokens":2}`, model)))
	require.NoError(t, err)
	req.Host = hostname
	req.Header.Set("Content-Type", "application/json")
	if steer != "" {
		req.Header.Set(steeringHeader, steer)
	}
	resp, err := conformanceClient.Do(req)
	if err != nil {
		t.Logf("%s through %s: %v", hostname, gateway, err)
		return 0, ""
	}
	resp.Body.Close()
	host, _, _ := net.SplitHostPort(resp.Header.Get(sim.HeaderInstance))
	return resp.StatusCode, host
}

// conformanceClient sends the suite's requests; a request that hangs fails.
var conformanceClient = &http.Client{Timeout: 10 * time.Second}

// expectServed waits until the Gateway serves hostname, then checks that
// ten requests succeed, each answered by a model server of allowed
// (MakeRequestAndExpectSuccess).
func (cf *conformance) expectServed(t *testing.T, gateway, hostname string, allowed []string) {
	t.Helper()
	cf.expectStatus(t, gateway, hostname, http.StatusOK)
	for range 10 {
		status, servedBy := cf.send(t, gateway, hostname, "")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, allowed, servedBy)
	}
}

// expectStatus waits until a request for hostname through the Gateway
// gets status (MakeRequestAndExpectEventuallyConsistentResponse).
func (cf *conformance) expectStatus(t *testing.T, gateway, hostname string, status int) {
	t.Helper()
	got := 0
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, _ = cf.send(t, gateway, hostname, ""); got == status {
			return
		}
	}
	require.Equal(t, status, got, "%s through %s", hostname, gateway)
}
