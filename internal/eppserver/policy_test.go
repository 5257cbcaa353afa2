package eppserver

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
	c, err := compile(p)
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
	if !c.hasRewrites() {
		t.Error("hasRewrites = false")
	}
	empty, _ := compile(Policy{})
	if empty.hasRewrites() || empty.rule("a") != nil {
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
			_, err := compile(tc.p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestSetPolicyWhileServing swaps the policy between streams: a new stream
// sees the new rules and objectives, a rejected policy leaves the old one,
// and a rule for the body's model beats the rewrite header (GAIE's order).
func TestSetPolicyWhileServing(t *testing.T) {
	f := newFixture(t, Options{AckRequestBody: true}, noFallbacks(), "10.0.0.1:8000")
	send := func(hdr map[string]string) pick {
		t.Helper()
		s, err := f.client.Process(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = s.CloseSend() }()
		return requestPhase(t, s, headersMsg("/v1/completions", false, hdr, nil), bodyMsg(`{"model":"llama","prompt":"x"}`, true))
	}
	if p := send(nil); p.body != "" || p.acks == 0 {
		t.Fatalf("without rules the ack-mode server echoed %q", p.body)
	}
	if err := f.srv.SetPolicy(Policy{Rewrites: []RewriteRule{{Models: []string{"llama"}, Targets: []WeightedModel{{Model: "llama-v3"}}}}}); err != nil {
		t.Fatal(err)
	}
	if p := send(map[string]string{headerModelRewrite: "mistral"}); !strings.Contains(p.body, `"llama-v3"`) {
		t.Fatalf("body %q: want the rule's target over the header", p.body)
	}
	if err := f.srv.SetPolicy(Policy{Rewrites: []RewriteRule{{Models: []string{"llama"}}}}); err == nil {
		t.Fatal("a rule without targets was accepted")
	}
	if p := send(nil); !strings.Contains(p.body, `"llama-v3"`) {
		t.Fatalf("body %q: the rejected policy replaced the running one", p.body)
	}
	if err := f.srv.SetPolicy(Policy{}); err != nil {
		t.Fatal(err)
	}
	if p := send(map[string]string{headerModelRewrite: "mistral"}); !strings.Contains(p.body, `"mistral"`) {
		t.Fatalf("body %q: without rules the header applies", p.body)
	}
}
