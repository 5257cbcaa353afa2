package policysource

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	infv1a2 "github.com/aigw-dev/aigw/api/inferencev1alpha2"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

func objective(name string, prio *int, ref infv1a2.PoolObjectReference) *infv1a2.InferenceObjective {
	return &infv1a2.InferenceObjective{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec:       infv1a2.InferenceObjectiveSpec{Priority: prio, PoolRef: ref},
	}
}

func rewrite(name string, created time.Time, ref infv1a2.PoolObjectReference, rules ...infv1a2.InferenceModelRewriteRule) *infv1a2.InferenceModelRewrite {
	return &infv1a2.InferenceModelRewrite{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", CreationTimestamp: metav1.NewTime(created)},
		Spec:       infv1a2.InferenceModelRewriteSpec{PoolRef: &ref, Rules: rules},
	}
}

func rule(match []string, targets ...infv1a2.TargetModel) infv1a2.InferenceModelRewriteRule {
	r := infv1a2.InferenceModelRewriteRule{Targets: targets}
	for _, m := range match {
		r.Matches = append(r.Matches, infv1a2.Match{Model: &infv1a2.ModelMatch{Value: m}})
	}
	return r
}

func target(model string, weight int32) infv1a2.TargetModel {
	return infv1a2.TargetModel{ModelRewrite: model, Weight: weight}
}

// TestCompute checks which objects apply to the pool and the order of the
// rewrite rules, from a fake client (creation timestamps to the second, as
// the API server keeps them, are set by hand here).
func TestCompute(t *testing.T) {
	pool := infv1a2.PoolObjectReference{Name: "pool"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	two, minus := 2, -1
	scheme := mustScheme(t)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		objective("chat", &two, pool),
		objective("batch", &minus, infv1a2.PoolObjectReference{Name: "pool", Group: "inference.networking.k8s.io", Kind: "InferencePool"}),
		objective("unset", nil, pool),
		objective("other-pool", &two, infv1a2.PoolObjectReference{Name: "other"}),
		objective("other-group", &two, infv1a2.PoolObjectReference{Name: "pool", Group: "inference.networking.x-k8s.io"}),
		objective("other-kind", &two, infv1a2.PoolObjectReference{Name: "pool", Kind: "Service"}),

		rewrite("young", t0.Add(time.Hour), pool,
			rule([]string{"llama"}, target("llama-young", 0)),
			rule(nil, target("generic-young", 0))),
		rewrite("old", t0, pool,
			rule([]string{"llama", "alias"}, target("llama-v1", 90), target("llama-v2", 10)),
			rule([]string{"broken"}), // no targets: left out
			rule(nil, target("fallback", 0))),
		rewrite("b-tie", t0.Add(time.Hour), pool, rule([]string{"tie"}, target("from-b", 0))),
		rewrite("a-tie", t0.Add(time.Hour), pool, rule([]string{"tie"}, target("from-a", 0))),
		rewrite("elsewhere", t0.Add(-time.Hour), infv1a2.PoolObjectReference{Name: "other"}, rule(nil, target("never", 0))),
	).Build()

	s, err := New(&rest.Config{}, Options{PoolNamespace: "ns", PoolName: "pool", OnChange: func(scheduler.Policy) {}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.compute(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	want := scheduler.Policy{
		Objectives: map[string]int{"chat": 2, "batch": -1, "unset": 0},
		Rewrites: []scheduler.RewriteRule{
			{Models: []string{"llama", "alias"}, Targets: []scheduler.WeightedModel{{Model: "llama-v1", Weight: 90}, {Model: "llama-v2", Weight: 10}}, Source: "InferenceModelRewrite ns/old rules[0]"},
			{Targets: []scheduler.WeightedModel{{Model: "fallback"}}, Source: "InferenceModelRewrite ns/old rules[2]"},
			{Models: []string{"tie"}, Targets: []scheduler.WeightedModel{{Model: "from-a"}}, Source: "InferenceModelRewrite ns/a-tie rules[0]"},
			{Models: []string{"tie"}, Targets: []scheduler.WeightedModel{{Model: "from-b"}}, Source: "InferenceModelRewrite ns/b-tie rules[0]"},
			{Models: []string{"llama"}, Targets: []scheduler.WeightedModel{{Model: "llama-young"}}, Source: "InferenceModelRewrite ns/young rules[0]"},
			{Targets: []scheduler.WeightedModel{{Model: "generic-young"}}, Source: "InferenceModelRewrite ns/young rules[1]"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("policy (-want +got):\n%s", diff)
	}
}

func TestConvertRule(t *testing.T) {
	prefix := infv1a2.MatchValidationType("Prefix")
	for _, tc := range []struct {
		name    string
		rule    infv1a2.InferenceModelRewriteRule
		wantErr bool
		models  []string
	}{
		{"exact", rule([]string{"a", "b"}, target("x", 0)), false, []string{"a", "b"}},
		{"generic", rule(nil, target("x", 0)), false, nil},
		{"only an unknown match type", infv1a2.InferenceModelRewriteRule{
			Matches: []infv1a2.Match{{Model: &infv1a2.ModelMatch{Type: &prefix, Value: "a"}}},
			Targets: []infv1a2.TargetModel{target("x", 0)},
		}, true, nil},
		{"a match without a model", infv1a2.InferenceModelRewriteRule{Matches: []infv1a2.Match{{}}, Targets: []infv1a2.TargetModel{target("x", 0)}}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr, err := convertRule(tc.rule, "src")
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && !cmp.Equal(rr.Models, tc.models) {
				t.Fatalf("models %q, want %q", rr.Models, tc.models)
			}
		})
	}
}

func mustScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := infv1a2.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}
