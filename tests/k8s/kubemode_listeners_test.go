package k8s

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
	"github.com/aigw-dev/aigw/internal/testcert"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// tlsSecret is a kubernetes.io/tls Secret holding a self-signed
// certificate for 127.0.0.1 named cn.
func tlsSecret(t *testing.T, name, cn string) *corev1.Secret {
	certPEM, keyPEM := testcert.SelfSigned(t, cn)
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}}
}

// updateGateway reads gw again, applies edit and updates it, again on a
// conflict (the gateway writes its status meanwhile).
func updateGateway(t *testing.T, c client.Client, gw *gwapiv1.Gateway, edit func()) {
	t.Helper()
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(gw), gw); err != nil {
			return err
		}
		edit()
		return c.Update(context.Background(), gw)
	}))
}

// TestKubernetesModeListeners: a Gateway's listeners edited in the API
// server are served without a restart (a port moved, an HTTPS listener
// added), and a rotated certificate Secret is served to the next
// handshakes.
func TestKubernetesModeListeners(t *testing.T) {
	env, c := kubeEnv(t)
	ctx := context.Background()
	sim := testenv.StartSim(t, "127.0.0.1:18680", simOptions())
	const first, moved, https = 18600, 18601, 18602
	for _, o := range kubeObjects(first, sim.Addr) {
		require.NoError(t, c.Create(ctx, o), "%T %s", o, o.GetName())
	}
	stderr, _ := startKubeGateway(t, env, "127.0.0.1", 18610, "replica-a")
	chat := func(port int) error {
		oc := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
		_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model, MaxTokens: openai.Int(4),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		return err
	}
	require.NoError(t, chat(first), "gateway:\n%s", stderr)

	// The listener moves to another port, and an HTTPS one joins.
	secret := tlsSecret(t, "gateway-tls", "first-certificate")
	require.NoError(t, c.Create(ctx, secret))
	gw := &gwapiv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ai"}}
	updateGateway(t, c, gw, func() {
		gw.Spec.Listeners = []gwapiv1.Listener{
			{Name: "http", Protocol: gwapiv1.HTTPProtocolType, Port: moved},
			{Name: "https", Protocol: gwapiv1.HTTPSProtocolType, Port: https, TLS: &gwapiv1.ListenerTLSConfig{
				Mode: ptr.To(gwapiv1.TLSModeTerminate), CertificateRefs: []gwapiv1.SecretObjectReference{{Name: "gateway-tls"}}}},
		}
	})
	require.Eventually(t, func() bool { return chat(moved) == nil }, 15*time.Second, 50*time.Millisecond, "the moved listener is not served:\n%s", stderr)
	require.Eventually(t, func() bool { return chat(first) != nil }, 15*time.Second, 50*time.Millisecond, "the old port still serves")
	served := func() string {
		conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", https), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test reads the certificate served
		if err != nil {
			return err.Error()
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	require.Eventually(t, func() bool { return served() == "first-certificate" }, 15*time.Second, 50*time.Millisecond, "HTTPS: %s\n%s", served(), stderr)
	require.Eventually(t, func() bool {
		if c.Get(ctx, client.ObjectKeyFromObject(gw), gw) != nil || len(gw.Status.Listeners) != 2 {
			return false
		}
		for _, l := range gw.Status.Listeners {
			if !meta.IsStatusConditionTrue(l.Conditions, string(gwapiv1.ListenerConditionProgrammed)) {
				return false
			}
		}
		return true
	}, 15*time.Second, 50*time.Millisecond, "both listeners Programmed: %+v", gw.Status.Listeners)

	// The Secret rotated: new handshakes get the new certificate.
	rotated := tlsSecret(t, "gateway-tls", "rotated-certificate")
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(secret), secret))
	secret.Data = rotated.Data
	require.NoError(t, c.Update(ctx, secret))
	require.Eventually(t, func() bool { return served() == "rotated-certificate" }, 15*time.Second, 50*time.Millisecond, "HTTPS: %s\n%s", served(), stderr)
	require.NoError(t, chat(moved))

	// A listener on a port another process holds: it says so in its
	// status, and the others serve on.
	const busy = 18603
	holder, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", busy))
	require.NoError(t, err)
	t.Cleanup(func() { _ = holder.Close() })
	updateGateway(t, c, gw, func() {
		gw.Spec.Listeners = append(gw.Spec.Listeners, gwapiv1.Listener{Name: "busy", Protocol: gwapiv1.HTTPProtocolType, Port: busy})
	})
	listener := func(name string) *gwapiv1.ListenerStatus {
		if c.Get(ctx, client.ObjectKeyFromObject(gw), gw) != nil {
			return nil
		}
		for i := range gw.Status.Listeners {
			if string(gw.Status.Listeners[i].Name) == name {
				return &gw.Status.Listeners[i]
			}
		}
		return nil
	}
	require.Eventually(t, func() bool {
		l := listener("busy")
		if l == nil {
			return false
		}
		accepted := meta.FindStatusCondition(l.Conditions, string(gwapiv1.ListenerConditionAccepted))
		return accepted != nil && accepted.Status == metav1.ConditionFalse && accepted.Reason == string(gwapiv1.ListenerReasonPortUnavailable) &&
			meta.IsStatusConditionFalse(l.Conditions, string(gwapiv1.ListenerConditionProgrammed))
	}, 15*time.Second, 50*time.Millisecond, "the busy listener's status: %+v\n%s", gw.Status.Listeners, stderr)
	require.True(t, meta.IsStatusConditionTrue(listener("http").Conditions, string(gwapiv1.ListenerConditionProgrammed)))
	require.NoError(t, chat(moved))
	// The port freed: the listener is bound on a retry, with no change.
	require.NoError(t, holder.Close())
	require.Eventually(t, func() bool { return chat(busy) == nil }, 15*time.Second, 50*time.Millisecond, "the freed port is not served:\n%s", stderr)
	require.Eventually(t, func() bool {
		l := listener("busy")
		return l != nil && meta.IsStatusConditionTrue(l.Conditions, string(gwapiv1.ListenerConditionProgrammed)) &&
			meta.IsStatusConditionTrue(l.Conditions, string(gwapiv1.ListenerConditionAccepted))
	}, 15*time.Second, 50*time.Millisecond, "the busy listener's status: %+v", gw.Status.Listeners)
	require.NotContains(t, stderr.String(), "PRIVATE KEY")
}

// TestKubernetesModeSeveralGateways: one process serves every Gateway of
// its class: a second Gateway created while it runs is served on its own
// port with its own routes, and a third that would share a port and
// hostname with the first is refused in its status while the others
// serve on.
func TestKubernetesModeSeveralGateways(t *testing.T) {
	env, c := kubeEnv(t)
	ctx := context.Background()
	sim := testenv.StartSim(t, "127.0.0.1:18780", simOptions())
	const first, second = 18700, 18701
	for _, o := range kubeObjects(first, sim.Addr) {
		require.NoError(t, c.Create(ctx, o), "%T %s", o, o.GetName())
	}
	stderr, _ := startKubeGateway(t, env, "127.0.0.1", 18710, "replica-a")
	chat := func(port int, m string) error {
		oc := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
		_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: m, MaxTokens: openai.Int(4),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		return err
	}
	require.NoError(t, chat(first, model), "gateway:\n%s", stderr)

	edge := &gwapiv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "edge", Namespace: "default"}, Spec: gwapiv1.GatewaySpec{GatewayClassName: "aigw",
		Listeners: []gwapiv1.Listener{{Name: "http", Protocol: gwapiv1.HTTPProtocolType, Port: second}}}}
	require.NoError(t, c.Create(ctx, edge))
	require.NoError(t, c.Create(ctx, &aigv1b1.AIGatewayRoute{ObjectMeta: metav1.ObjectMeta{Name: "edge-chat", Namespace: "default"}, Spec: aigv1b1.AIGatewayRouteSpec{
		ParentRefs: []gwapiv1.ParentReference{{Name: "edge"}},
		Rules:      []aigv1b1.AIGatewayRouteRule{modelRule("edge-model", model)}}}))
	require.Eventually(t, func() bool { return chat(second, "edge-model") == nil }, 15*time.Second, 50*time.Millisecond, "the second Gateway is not served:\n%s", stderr)
	require.Error(t, chat(second, model), "the first Gateway's route is not the second's")
	require.Error(t, chat(first, "edge-model"), "the second Gateway's route is not the first's")
	require.NoError(t, chat(first, model))
	programmed := func(name string) *metav1.Condition {
		gw := &gwapiv1.Gateway{}
		if c.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, gw) != nil {
			return nil
		}
		return meta.FindStatusCondition(gw.Status.Conditions, string(gwapiv1.GatewayConditionProgrammed))
	}
	require.Eventually(t, func() bool {
		a, b := programmed("ai"), programmed("edge")
		return a != nil && a.Status == metav1.ConditionTrue && b != nil && b.Status == metav1.ConditionTrue
	}, 15*time.Second, 50*time.Millisecond, "both Gateways Programmed")

	// A third Gateway with a listener on the first one's port, without a
	// hostname (requests could not be told apart), and one of its own:
	// the first is Conflicted and left out, the second served.
	const third = 18702
	clash := &gwapiv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "clash", Namespace: "default"}, Spec: gwapiv1.GatewaySpec{GatewayClassName: "aigw",
		Listeners: []gwapiv1.Listener{{Name: "taken", Protocol: gwapiv1.HTTPProtocolType, Port: first}, {Name: "own", Protocol: gwapiv1.HTTPProtocolType, Port: third}}}}
	require.NoError(t, c.Create(ctx, clash))
	require.NoError(t, c.Create(ctx, &aigv1b1.AIGatewayRoute{ObjectMeta: metav1.ObjectMeta{Name: "clash-chat", Namespace: "default"}, Spec: aigv1b1.AIGatewayRouteSpec{
		ParentRefs: []gwapiv1.ParentReference{{Name: "clash"}},
		Rules:      []aigv1b1.AIGatewayRouteRule{modelRule("clash-model", model)}}}))
	listener := func(gw *gwapiv1.Gateway, name string) []metav1.Condition {
		for _, l := range gw.Status.Listeners {
			if string(l.Name) == name {
				return l.Conditions
			}
		}
		return nil
	}
	require.Eventually(t, func() bool {
		gw := &gwapiv1.Gateway{}
		if c.Get(ctx, client.ObjectKeyFromObject(clash), gw) != nil {
			return false
		}
		accepted := meta.FindStatusCondition(gw.Status.Conditions, string(gwapiv1.GatewayConditionAccepted))
		conflicted := meta.FindStatusCondition(listener(gw, "taken"), string(gwapiv1.ListenerConditionConflicted))
		return accepted != nil && accepted.Status == metav1.ConditionTrue && accepted.Reason == string(gwapiv1.GatewayReasonListenersNotValid) &&
			conflicted != nil && conflicted.Status == metav1.ConditionTrue && conflicted.Reason == string(gwapiv1.ListenerReasonHostnameConflict) &&
			strings.Contains(conflicted.Message, "requests could not be told apart") &&
			meta.IsStatusConditionFalse(listener(gw, "taken"), string(gwapiv1.ListenerConditionProgrammed)) &&
			meta.IsStatusConditionTrue(listener(gw, "own"), string(gwapiv1.ListenerConditionProgrammed)) &&
			meta.IsStatusConditionFalse(listener(gw, "own"), string(gwapiv1.ListenerConditionConflicted))
	}, 15*time.Second, 50*time.Millisecond, "the conflicting listener is not reported:\n%s", stderr)
	require.Eventually(t, func() bool { return chat(third, "clash-model") == nil }, 15*time.Second, 50*time.Millisecond,
		"the listener without conflict is not served:\n%s", stderr)
	require.Error(t, chat(first, "clash-model"), "the conflicting listener is not served")
	require.NoError(t, chat(first, model))
	require.NoError(t, chat(second, "edge-model"))
}
