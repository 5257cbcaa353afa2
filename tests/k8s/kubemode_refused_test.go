package k8s

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
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
	gwapiv1a2 "sigs.k8s.io/gateway-api/apis/v1alpha2"

	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
	"github.com/aigw-dev/aigw/internal/kube"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// serviceAccountKey is a GCP service account key file; privateKey is its
// private_key.
func serviceAccountKey(t *testing.T, privateKey string) []byte {
	b, err := json.Marshal(map[string]string{"type": "service_account", "project_id": "p", "private_key_id": "k1",
		"private_key": privateKey, "client_email": "gw@p.iam.gserviceaccount.com", "token_uri": "https://oauth2.googleapis.com/token"})
	require.NoError(t, err)
	return b
}

// TestKubernetesModeDataPlaneRefusal: a resource the compiler accepts but
// the data plane cannot run (a service account key whose private_key is
// no PEM) is left out and reported in its status, and the rest is served,
// later edits included; once its Secret is fixed, it is served again.
func TestKubernetesModeDataPlaneRefusal(t *testing.T) {
	env, c := kubeEnv(t)
	ctx := context.Background()
	sim := testenv.StartSim(t, "127.0.0.1:18880", simOptions())
	const port = 18800
	for _, o := range kubeObjects(port, sim.Addr) {
		require.NoError(t, c.Create(ctx, o), "%T %s", o, o.GetName())
	}
	stderr, _ := startKubeGateway(t, env, "127.0.0.1", 18810, "replica-a")
	chat := func(m string) error {
		oc := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
		_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: m, MaxTokens: openai.Int(4),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		return err
	}
	require.NoError(t, chat(model), "gateway:\n%s", stderr)

	ns := "default"
	key := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gcp-key", Namespace: ns},
		Data: map[string][]byte{"service_account.json": serviceAccountKey(t, "not a PEM key")}}
	policy := &aigv1b1.BackendSecurityPolicy{ObjectMeta: metav1.ObjectMeta{Name: "vertex-creds", Namespace: ns}, Spec: aigv1b1.BackendSecurityPolicySpec{
		TargetRefs: []gwapiv1a2.LocalPolicyTargetReference{{Group: aigv1b1.GroupName, Kind: "AIServiceBackend", Name: "vertex"}},
		Type:       aigv1b1.BackendSecurityPolicyTypeGCPCredentials,
		GCPCredentials: &aigv1b1.BackendSecurityPolicyGCPCredentials{ProjectName: "p", Region: "us-central1",
			CredentialsFile: &aigv1b1.GCPCredentialsFile{SecretRef: &gwapiv1.SecretObjectReference{Name: "gcp-key"}}}}}
	for _, o := range []client.Object{key, policy,
		&aigv1b1.AIServiceBackend{ObjectMeta: metav1.ObjectMeta{Name: "vertex", Namespace: ns}, Spec: aigv1b1.AIServiceBackendSpec{
			APISchema:  aigv1b1.VersionedAPISchema{Name: aigv1b1.APISchemaGCPVertexAI},
			BackendRef: gwapiv1.BackendObjectReference{Name: "sim", Kind: ptr.To(gwapiv1.Kind("Backend")), Group: ptr.To(gwapiv1.Group("gateway.envoyproxy.io"))}}},
		&aigv1b1.AIGatewayRoute{ObjectMeta: metav1.ObjectMeta{Name: "vertex", Namespace: ns}, Spec: aigv1b1.AIGatewayRouteSpec{
			ParentRefs: []gwapiv1.ParentReference{{Name: "ai"}},
			Rules: []aigv1b1.AIGatewayRouteRule{{
				Matches:     []aigv1b1.AIGatewayRouteRuleMatch{{Headers: []gwapiv1.HTTPHeaderMatch{{Name: "x-ai-eg-model", Value: "gemini"}}}},
				BackendRefs: []aigv1b1.AIGatewayRouteRuleBackendRef{{Name: "vertex"}}}}}},
	} {
		require.NoError(t, c.Create(ctx, o), "%T %s", o, o.GetName())
	}
	policyCondition := func() *metav1.Condition {
		var p aigv1b1.BackendSecurityPolicy
		if c.Get(ctx, client.ObjectKeyFromObject(policy), &p) != nil || len(p.Status.Conditions) == 0 {
			return nil
		}
		return &p.Status.Conditions[0]
	}
	require.Eventually(t, func() bool {
		cond := policyCondition()
		return cond != nil && cond.Type == kube.ConditionNotAccepted && strings.Contains(cond.Message, "refused by the data plane") &&
			strings.Contains(cond.Message, "no PEM private_key")
	}, 20*time.Second, 50*time.Millisecond, "the refused policy's status: %+v\n%s", policyCondition(), stderr)

	// The rest is served, and so is an edit made since.
	require.NoError(t, chat(model))
	require.NoError(t, c.Create(ctx, &aigv1b1.AIGatewayRoute{ObjectMeta: metav1.ObjectMeta{Name: "alias", Namespace: ns}, Spec: aigv1b1.AIGatewayRouteSpec{
		ParentRefs: []gwapiv1.ParentReference{{Name: "ai"}},
		Rules:      []aigv1b1.AIGatewayRouteRule{modelRule("alias", model)}}}))
	require.Eventually(t, func() bool { return chat("alias") == nil }, 20*time.Second, 50*time.Millisecond, "a route created while a policy is refused is not served:\n%s", stderr)
	gw := &gwapiv1.Gateway{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ai"}, gw))
	require.True(t, meta.IsStatusConditionTrue(gw.Status.Conditions, string(gwapiv1.GatewayConditionProgrammed)), "%+v", gw.Status.Conditions)

	// The Secret fixed: the policy is taken again.
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	require.NoError(t, err)
	good := serviceAccountKey(t, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(key), key); err != nil {
			return err
		}
		key.Data["service_account.json"] = good
		return c.Update(ctx, key)
	}))
	require.Eventually(t, func() bool {
		cond := policyCondition()
		return cond != nil && cond.Type == kube.ConditionAccepted && cond.Status == metav1.ConditionTrue
	}, 20*time.Second, 50*time.Millisecond, "the fixed policy's status: %+v\n%s", policyCondition(), stderr)
	require.NoError(t, chat("alias"))
	require.NotContains(t, stderr.String(), "PRIVATE KEY")
}
