package k8s

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/cli"
	"helm.sh/helm/v4/pkg/kube"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
	"github.com/aigw-dev/aigw/charts"
	aigwkube "github.com/aigw-dev/aigw/internal/kube"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// loadChart loads a chart of package charts, as shipped.
func loadChart(t *testing.T, name string) *chartv2.Chart {
	t.Helper()
	sub, err := fs.Sub(charts.FS, name)
	require.NoError(t, err)
	var files []*archive.BufferedFile
	require.NoError(t, fs.WalkDir(sub, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, path)
		files = append(files, &archive.BufferedFile{Name: path, Data: data})
		return err
	}))
	c, err := loader.LoadFiles(files)
	require.NoError(t, err)
	return c
}

// helmInstall installs chart name as release into namespace ns of the API
// server kubeconfig reaches, as `helm install --create-namespace` does
// (server-side apply, the release stored in a Secret); dryRun renders it
// only.
func helmInstall(t *testing.T, kubeconfig, name, release, ns string, values map[string]any, dryRun bool) *releasev1.Release {
	t.Helper()
	settings := cli.New()
	settings.KubeConfig = kubeconfig
	settings.SetNamespace(ns)
	cfg := new(action.Configuration)
	require.NoError(t, cfg.Init(settings.RESTClientGetter(), ns, "secret"))
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace, in.CreateNamespace = release, ns, true
	in.WaitStrategy, in.Timeout = kube.HookOnlyStrategy, time.Minute
	if dryRun {
		in.DryRunStrategy = action.DryRunClient
	}
	rel, err := in.RunWithContext(context.Background(), loadChart(t, name), values)
	require.NoError(t, err, "helm install %s", name)
	r, ok := rel.(*releasev1.Release)
	require.True(t, ok, "%T", rel)
	return r
}

// manifestKinds are the kinds of a rendered manifest's objects.
func manifestKinds(t *testing.T, manifest string) []string {
	t.Helper()
	var kinds []string
	for _, doc := range strings.Split(manifest, "\n---") {
		var o struct{ Kind string }
		require.NoError(t, yaml.Unmarshal([]byte(doc), &o))
		if o.Kind != "" {
			kinds = append(kinds, o.Kind)
		}
	}
	return kinds
}

// TestHelmCharts installs the two charts with Helm's Go library into an
// API server that has only the CRDs other projects provide (Gateway API's,
// Envoy Gateway's): every object of both charts is accepted, the CRDs are
// served, and the gateway, running with the
// credentials of the chart's ServiceAccount (impersonated), watches,
// serves and writes status with nothing more than the chart's RBAC grants,
// which refuse it what it does not need.
func TestHelmCharts(t *testing.T) {
	env := testenv.StartBareEnv(t)
	env.InstallUpstreamGatewayCRDs(t)
	const ns = "aigw-system"
	ctx := context.Background()

	crdsRelease := helmInstall(t, env.Kubeconfig, "aigw-crds", "aigw-crds", ns, nil, false)
	crdNames := map[string]bool{}
	for _, doc := range strings.Split(crdsRelease.Manifest, "\n---") {
		var o struct {
			Kind     string
			Metadata struct{ Name string }
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &o))
		if o.Kind != "" {
			require.Equal(t, "CustomResourceDefinition", o.Kind)
			crdNames[o.Metadata.Name] = true
		}
	}
	for _, want := range []string{"aigatewayroutes.aigateway.envoyproxy.io", "aiservicebackends.aigateway.envoyproxy.io",
		"backendsecuritypolicies.aigateway.envoyproxy.io", "gatewayconfigs.aigateway.envoyproxy.io", "quotapolicies.aigateway.envoyproxy.io",
		"inferencepools.inference.networking.k8s.io"} {
		require.True(t, crdNames[want], "the CRD chart installs %s", want)
	}
	require.Eventually(t, func() bool {
		for name := range crdNames {
			var crd apiextensionsv1.CustomResourceDefinition
			if env.Client.Get(ctx, client.ObjectKey{Name: name}, &crd) != nil {
				return false
			}
			established := slices.ContainsFunc(crd.Status.Conditions, func(c apiextensionsv1.CustomResourceDefinitionCondition) bool {
				return c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue
			})
			if !established {
				return false
			}
		}
		return true
	}, time.Minute, 100*time.Millisecond, "every CRD of the chart established")
	// Values choose the CRD sets: without GAIE's (a cluster that has them).
	onlyOurs := helmInstall(t, env.Kubeconfig, "aigw-crds", "aigw-crds-only", ns,
		map[string]any{"inferenceExtension": map[string]any{"enabled": false}}, true)
	require.Len(t, manifestKinds(t, onlyOurs.Manifest), 5, "aigateway.envoyproxy.io's five CRDs")

	scheme, err := aigwkube.NewScheme()
	require.NoError(t, err)
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.List(ctx, &gwapiv1.GatewayClassList{}) == nil }, 30*time.Second, 100*time.Millisecond)

	rel := helmInstall(t, env.Kubeconfig, "aigw", "aigw", ns, map[string]any{"replicaCount": 3, "gateways": []any{"default/ai"}}, false)
	require.ElementsMatch(t, []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service",
		"Deployment", "PodDisruptionBudget", "GatewayClass"}, manifestKinds(t, rel.Manifest))
	var deploy appsv1.Deployment
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "aigw"}, &deploy))
	require.Equal(t, int32(3), *deploy.Spec.Replicas)
	pod := deploy.Spec.Template.Spec
	require.True(t, *pod.SecurityContext.RunAsNonRoot)
	ctr := pod.Containers[0]
	require.True(t, *ctr.SecurityContext.ReadOnlyRootFilesystem)
	require.False(t, *ctr.SecurityContext.AllowPrivilegeEscalation)
	require.Equal(t, []corev1.Capability{"ALL"}, ctr.SecurityContext.Capabilities.Drop)
	require.Equal(t, "/readyz", ctr.ReadinessProbe.HTTPGet.Path)
	require.Equal(t, "admin", ctr.ReadinessProbe.HTTPGet.Port.String())
	require.Contains(t, ctr.Args, "--kubernetes")
	require.Contains(t, ctr.Args, "--gateway=default/ai")
	require.Contains(t, ctr.Args, "--status-address=aigw."+ns+".svc.cluster.local", "the Service's name is the Gateways' address")
	require.Equal(t, "ghcr.io/aigw-dev/aigw:0.1.0", ctr.Image)
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "aigw"}, &policyv1.PodDisruptionBudget{}))
	var class gwapiv1.GatewayClass
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: "aigw"}, &class))
	require.Equal(t, gwapiv1.GatewayController(aigwkube.DefaultControllerName), class.Spec.ControllerName)
	var role rbacv1.ClusterRole
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: "aigw"}, &role))

	// Rendered with the ServiceMonitor (its CRD is prometheus-operator's,
	// not installed here): the admin port gets a Service of its own.
	monitored := helmInstall(t, env.Kubeconfig, "aigw", "aigw-monitored", ns, map[string]any{"serviceMonitor": map[string]any{"enabled": true}}, true)
	kinds := manifestKinds(t, monitored.Manifest)
	require.Contains(t, kinds, "ServiceMonitor")
	require.Equal(t, 2, strings.Count(strings.Join(kinds, " "), "Service "), "the traffic Service and the admin one")

	// The chart's ServiceAccount may read what is watched, and no more.
	const sa = "system:serviceaccount:" + ns + ":aigw"
	asSA := rest.CopyConfig(env.Config)
	asSA.Impersonate = rest.ImpersonationConfig{UserName: sa}
	saClient, err := client.New(asSA, client.Options{Scheme: scheme})
	require.NoError(t, err)
	require.NoError(t, saClient.List(ctx, &corev1.SecretList{}))
	err = saClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default"}})
	require.True(t, apierrors.IsForbidden(err), "the gateway writes no Secret: %v", err)
	err = saClient.List(ctx, &appsv1.DeploymentList{})
	require.True(t, apierrors.IsForbidden(err), "the gateway reads no Deployment: %v", err)
	err = saClient.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default"}})
	require.True(t, apierrors.IsForbidden(err), "Leases only in its own namespace: %v", err)

	// The gateway with those credentials: it serves the resources applied
	// and writes their status.
	kc, err := clientcmd.LoadFromFile(env.Kubeconfig)
	require.NoError(t, err)
	for _, auth := range kc.AuthInfos {
		auth.Impersonate = sa
	}
	saKubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*kc, saKubeconfig))

	sim := testenv.StartSim(t, "127.0.0.1:18080", simOptions())
	port := 18000
	for _, o := range kubeObjects(port, sim.Addr) {
		if err := c.Create(ctx, o); !apierrors.IsAlreadyExists(err) { // the chart made GatewayClass aigw
			require.NoError(t, err, "%T %s", o, o.GetName())
		}
	}
	t.Setenv("POD_NAMESPACE", ns) // as the chart's downward API sets it
	stderr, _ := startKubeGatewayAs(t, saKubeconfig, "127.0.0.1", 18001, "aigw-0")
	oc := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	_, err = oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model, MaxTokens: openai.Int(4),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
	require.NoError(t, err, "gateway:\n%s", stderr)
	route := &aigv1b1.AIGatewayRoute{}
	require.Eventually(t, func() bool {
		if c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "chat"}, route) != nil || len(route.Status.Conditions) == 0 {
			return false
		}
		return route.Status.Conditions[0].Type == "Accepted"
	}, 30*time.Second, 100*time.Millisecond, "status written as the ServiceAccount:\n%s", stderr)
	require.Eventually(t, func() bool {
		return c.Get(ctx, client.ObjectKey{Name: "aigw"}, &class) == nil &&
			meta.IsStatusConditionTrue(class.Status.Conditions, string(gwapiv1.GatewayClassConditionStatusAccepted))
	}, 30*time.Second, 100*time.Millisecond, "the chart's GatewayClass accepted: %+v", class.Status.Conditions)
	var lease coordinationv1.Lease
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "aigw-status"}, &lease))
	require.Equal(t, "aigw-0", *lease.Spec.HolderIdentity)
	require.NotContains(t, strings.ToLower(stderr.String()), "forbidden", "the chart's RBAC grants all the gateway does")
}
