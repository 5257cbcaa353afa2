package scheduler

import (
	"strings"
	"testing"
)

func TestPolicyRulePrecedence(t *testing.T) {
	w := func(models ...string) []WeightedModel {
		out := make([]WeightedModel, len(models))
		for i, m := range models {
			out[i] = WeightedModel{Model: m}
		}
		return out
	}
	p := Policy{Rewrites: []RewriteRule{
		{Targets: w("generic-old"), Source: "oldest generic"},
		{Models: []string{"a", "b"}, Targets: w("a-old")},
		{Models: []string{"a"}, Targets: w("a-new")}, // younger: loses to a-old
		{Targets: w("generic-new")},
		{Models: []string{"c"}, Targets: w("c1")},
	}}
	c, err := CompilePolicy(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ model, want string }{
		{"a", "a-old"},
		{"b", "a-old"},
		{"c", "c1"},
		{"other", "generic-old"}, // exact rules beat generic ones, else the first generic
	} {
		if got := c.rule(tc.model).choose(0); got != tc.want {
			t.Errorf("model %q → %q, want %q", tc.model, got, tc.want)
		}
	}
	if !c.HasRewrites() {
		t.Error("hasRewrites = false")
	}
	empty, _ := CompilePolicy(Policy{})
	var none *CompiledPolicy
	if empty.HasRewrites() || empty.rule("a") != nil || none.HasRewrites() || none.Priority("x") != 0 {
		t.Error("an empty policy rewrites")
	}
}

func TestRuleChooseFollowsWeights(t *testing.T) {
	weighted, err := compileRule(RewriteRule{Targets: []WeightedModel{{Model: "v1", Weight: 90}, {Model: "v2", Weight: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	equal, err := compileRule(RewriteRule{Targets: []WeightedModel{{Model: "x"}, {Model: "y"}, {Model: "z"}}})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for n := range uint64(300) {
		count[weighted.choose(n)]++
		count[equal.choose(n)]++
	}
	// 300 consecutive numbers cover each residue evenly: exact shares.
	want := map[string]int{"v1": 270, "v2": 30, "x": 100, "y": 100, "z": 100}
	for m, n := range want {
		if count[m] != n {
			t.Errorf("%s chosen %d times of 300, want %d", m, count[m], n)
		}
	}
}

func TestPolicyRejectsBadRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
		want string
	}{
		{"no targets", Policy{Rewrites: []RewriteRule{{Models: []string{"a"}, Source: "InferenceModelRewrite ns/r rules[0]"}}}, "InferenceModelRewrite ns/r rules[0]: no targets"},
		{"mixed weights", Policy{Rewrites: []RewriteRule{{Targets: []WeightedModel{{Model: "x", Weight: 1}, {Model: "y"}}}}}, `rewrite rule 0: target "y": either every target has a weight or none does`},
		{"negative weight", Policy{Rewrites: []RewriteRule{{Targets: []WeightedModel{{Model: "x", Weight: -1}}}}}, "negative weight"},
		{"empty target", Policy{Rewrites: []RewriteRule{{Targets: []WeightedModel{{}}}}}, "needs a model name"},
		{"empty match", Policy{Rewrites: []RewriteRule{{Models: []string{""}, Targets: []WeightedModel{{Model: "x"}}}}}, "a model match needs a name"},
		{"unnamed objective", Policy{Objectives: map[string]int{"": 1}}, "an objective needs a name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompilePolicy(tc.p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
