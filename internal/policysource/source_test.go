package policysource_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	infv1a2 "github.com/aigw-dev/aigw/api/inferencev1alpha2"
	"github.com/aigw-dev/aigw/internal/policysource"
	"github.com/aigw-dev/aigw/internal/scheduler"
	"github.com/aigw-dev/aigw/internal/testenv"
)

const waitTimeout = 30 * time.Second

// TestSourceFollowsTheCluster runs the source against a real kube-apiserver
// with GAIE v1.5.0's InferenceObjective and InferenceModelRewrite CRDs, and
// changes the objects under it.
func TestSourceFollowsTheCluster(t *testing.T) {
	env := testenv.StartEnv(t)
	installed, err := policysource.Installed(env.Config)
	require.NoError(t, err)
	require.False(t, installed, "GAIE v1.6.0's CRDs do not include the objectives and rewrites")
	c := installCRDs(t, env)
	installed, err = policysource.Installed(env.Config)
	require.NoError(t, err)
	require.True(t, installed)
	ctx := t.Context()
	const ns = "team-a"
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))

	prio := func(p int) *int { return &p }
	chat := &infv1a2.InferenceObjective{
		ObjectMeta: metav1.ObjectMeta{Name: "chat", Namespace: ns},
		Spec:       infv1a2.InferenceObjectiveSpec{Priority: prio(10), PoolRef: infv1a2.PoolObjectReference{Name: "pool"}},
	}
	require.NoError(t, c.Create(ctx, chat))
	require.NoError(t, c.Create(ctx, &infv1a2.InferenceObjective{
		ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: ns},
		Spec:       infv1a2.InferenceObjectiveSpec{Priority: prio(5), PoolRef: infv1a2.PoolObjectReference{Name: "other"}},
	}))

	rec := &recorder{changed: make(chan struct{}, 1)}
	src, err := policysource.New(env.Config, policysource.Options{
		PoolNamespace: ns, PoolName: "pool", OnChange: rec.onChange,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done, "Run")
	})

	rec.waitFor(t, scheduler.Policy{Objectives: map[string]int{"chat": 10}})
	require.Eventually(t, src.Synced, waitTimeout, time.Millisecond, "Synced after the first delivery")

	// A rewrite as GAIE documents it (the CRD defaults group, kind and
	// match type), and a second one holding an unusable rule.
	canary := &infv1a2.InferenceModelRewrite{}
	require.NoError(t, yaml.UnmarshalStrict([]byte(`apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModelRewrite
metadata: {name: canary, namespace: team-a}
spec:
  poolRef: {name: pool}
  rules:
    - matches: [{model: {value: food-review}}]
      targets: [{modelRewrite: food-review-v1, weight: 90}, {modelRewrite: food-review-v2, weight: 10}]
    - targets: [{modelRewrite: base}]
`), canary))
	require.NoError(t, c.Create(ctx, canary))
	canaryRules := []scheduler.RewriteRule{
		{Models: []string{"food-review"}, Targets: []scheduler.WeightedModel{{Model: "food-review-v1", Weight: 90}, {Model: "food-review-v2", Weight: 10}}, Source: "InferenceModelRewrite team-a/canary rules[0]"},
		{Targets: []scheduler.WeightedModel{{Model: "base"}}, Source: "InferenceModelRewrite team-a/canary rules[1]"},
	}
	rec.waitFor(t, scheduler.Policy{Objectives: map[string]int{"chat": 10}, Rewrites: canaryRules})

	// The API server admits weights on some targets only; the rule is left
	// out, the rest of the policy applies.
	require.NoError(t, c.Create(ctx, &infv1a2.InferenceModelRewrite{
		ObjectMeta: metav1.ObjectMeta{Name: "zz-mixed", Namespace: ns},
		Spec: infv1a2.InferenceModelRewriteSpec{PoolRef: &infv1a2.PoolObjectReference{Name: "pool"}, Rules: []infv1a2.InferenceModelRewriteRule{
			{Targets: []infv1a2.TargetModel{{ModelRewrite: "a", Weight: 1}, {ModelRewrite: "b"}}},
			{Matches: []infv1a2.Match{{Model: &infv1a2.ModelMatch{Value: "x"}}}, Targets: []infv1a2.TargetModel{{ModelRewrite: "y"}}},
		}},
	}))
	withMixed := append(append([]scheduler.RewriteRule(nil), canaryRules...),
		scheduler.RewriteRule{Models: []string{"x"}, Targets: []scheduler.WeightedModel{{Model: "y"}}, Source: "InferenceModelRewrite team-a/zz-mixed rules[1]"})
	rec.waitFor(t, scheduler.Policy{Objectives: map[string]int{"chat": 10}, Rewrites: withMixed})

	// Priority changed, objective re-pointed to another pool, rewrite
	// deleted.
	require.NoError(t, c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "chat"}, chat))
	chat.Spec.Priority = prio(-3)
	require.NoError(t, c.Update(ctx, chat))
	rec.waitFor(t, scheduler.Policy{Objectives: map[string]int{"chat": -3}, Rewrites: withMixed})
	require.NoError(t, c.Delete(ctx, canary))
	rec.waitFor(t, scheduler.Policy{Objectives: map[string]int{"chat": -3}, Rewrites: withMixed[2:]})
	require.NoError(t, c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "chat"}, chat))
	chat.Spec.PoolRef.Name = "other"
	require.NoError(t, c.Update(ctx, chat))
	rec.waitFor(t, scheduler.Policy{Objectives: map[string]int{}, Rewrites: withMixed[2:]})

	// Nothing changes the policy: no more deliveries.
	n := rec.count()
	require.NoError(t, c.Create(ctx, &infv1a2.InferenceObjective{
		ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: ns},
		Spec:       infv1a2.InferenceObjectiveSpec{PoolRef: infv1a2.PoolObjectReference{Name: "other"}},
	}))
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, n, rec.count(), "an unrelated object caused a delivery")
}

// installCRDs installs GAIE v1.5.0's CRDs and returns a client that knows
// their types.
func installCRDs(t *testing.T, env *testenv.Env) client.Client {
	t.Helper()
	env.InstallV1Alpha2CRDs(t)
	scheme, err := testenv.NewScheme()
	require.NoError(t, err)
	require.NoError(t, infv1a2.AddToScheme(scheme))
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	return c
}

// recorder collects the policies a Source delivers.
type recorder struct {
	mu       sync.Mutex
	policies []scheduler.Policy
	changed  chan struct{}
}

func (r *recorder) onChange(p scheduler.Policy) {
	r.mu.Lock()
	r.policies = append(r.policies, p)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.policies)
}

func (r *recorder) last() (scheduler.Policy, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.policies) == 0 {
		return scheduler.Policy{}, false
	}
	return r.policies[len(r.policies)-1], true
}

func (r *recorder) waitFor(t *testing.T, want scheduler.Policy) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		got, ok := r.last()
		diff := cmp.Diff(want, got)
		if ok && diff == "" {
			return
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("after %v the last policy is not the expected one (-want +got):\n%s", waitTimeout, diff)
		}
	}
}
