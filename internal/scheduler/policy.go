package scheduler

import (
	"errors"
	"fmt"
	"slices"
)

// Policy is what a picker applies to a pool's requests besides picking:
// the priorities of InferenceObjectives (a negative one makes the request
// sheddable: [ErrSaturated] when the pool is saturated) and the
// InferenceModelRewrite rules. Both the EPP server (internal/eppserver) and
// the gateway's own picking apply it; [CompilePolicy] validates and
// indexes it.
type Policy struct {
	// Objectives maps InferenceObjective names (the
	// x-gateway-inference-objective header) to priorities; unknown or
	// absent objectives have priority 0. Negative priorities are sheddable.
	Objectives map[string]int
	// Rewrites are the model rewrite rules in precedence order: the
	// oldest InferenceModelRewrite's rules first, each resource's rules in
	// list order. A rule naming the request's model exactly beats a generic
	// rule wherever they stand; among rules of the same kind, the first
	// wins. A matching rule overrides the x-gateway-model-name-rewrite
	// header, as in GAIE's EPP.
	Rewrites []RewriteRule
}

// RewriteRule is one model rewrite rule.
type RewriteRule struct {
	// Models are the incoming model names the rule matches exactly; empty
	// makes a generic rule, which matches any model no exact rule names.
	Models []string
	// Targets are the models requests are sent to. Either every weight is
	// positive (shares in proportion) or every weight is 0 (equal shares).
	Targets []WeightedModel
	// Source names where the rule comes from, for logs and errors (e.g.
	// "InferenceModelRewrite default/canary rules[0]").
	Source string
}

// WeightedModel is one target of a model rewrite.
type WeightedModel struct {
	// Model is the name sent to the model server.
	Model string
	// Weight is the relative share of requests (see [RewriteRule.Targets]).
	Weight int
}

// CompiledPolicy is a validated [Policy] indexed for lookups; it is
// read-only and safe for concurrent use. A nil *CompiledPolicy is the empty
// policy.
type CompiledPolicy struct {
	objectives map[string]int
	exact      map[string]*compiledRule
	generic    *compiledRule
}

// compiledRule is a rule with its weights summed.
type compiledRule struct {
	targets []WeightedModel
	total   int // sum of the weights; 0 means equal shares
}

// CompilePolicy validates p and indexes its rules by precedence. Errors
// name the rule by its Source.
func CompilePolicy(p Policy) (*CompiledPolicy, error) {
	c := &CompiledPolicy{objectives: make(map[string]int, len(p.Objectives)), exact: map[string]*compiledRule{}}
	for name, prio := range p.Objectives {
		if name == "" {
			return nil, errors.New("an objective needs a name")
		}
		c.objectives[name] = prio
	}
	for i, r := range p.Rewrites {
		src := r.Source
		if src == "" {
			src = fmt.Sprintf("rewrite rule %d", i)
		}
		cr, err := compileRule(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		if len(r.Models) == 0 {
			if c.generic == nil {
				c.generic = cr
			}
			continue
		}
		for _, m := range r.Models {
			if _, taken := c.exact[m]; !taken {
				c.exact[m] = cr
			}
		}
	}
	return c, nil
}

// Validate reports what makes r unusable (an empty model match, no
// targets, a target without a name, a negative weight, weights set on some
// targets only), the checks [CompilePolicy] makes on every rule; sources
// that gather rules from several owners use it to drop one bad rule
// instead of the whole policy.
func (r RewriteRule) Validate() error {
	_, err := compileRule(r)
	return err
}

func compileRule(r RewriteRule) (*compiledRule, error) {
	if slices.Contains(r.Models, "") {
		return nil, errors.New("a model match needs a name")
	}
	if len(r.Targets) == 0 {
		return nil, errors.New("no targets")
	}
	cr := &compiledRule{targets: append([]WeightedModel(nil), r.Targets...)}
	weighted := r.Targets[0].Weight != 0
	for _, t := range r.Targets {
		switch {
		case t.Model == "":
			return nil, errors.New("a target needs a model name")
		case t.Weight < 0:
			return nil, fmt.Errorf("target %q: negative weight %d", t.Model, t.Weight)
		case (t.Weight != 0) != weighted:
			return nil, fmt.Errorf("target %q: either every target has a weight or none does", t.Model)
		}
		cr.total += t.Weight
	}
	return cr, nil
}

// HasRewrites reports whether any request may be rewritten by a rule.
func (c *CompiledPolicy) HasRewrites() bool {
	return c != nil && (c.generic != nil || len(c.exact) > 0)
}

// Priority returns the priority of the named objective: 0 when it is
// unknown or the name is empty.
func (c *CompiledPolicy) Priority(objective string) int {
	if c == nil {
		return 0
	}
	return c.objectives[objective]
}

// Rewrite returns the model to send for an incoming model and whether a
// rule matched; n, a uniformly random number, chooses among weighted
// targets.
func (c *CompiledPolicy) Rewrite(model string, n uint64) (string, bool) {
	r := c.rule(model)
	if r == nil {
		return model, false
	}
	return r.choose(n), true
}

// rule returns the rule for an incoming model: an exact one, else the
// generic one, else nil.
func (c *CompiledPolicy) rule(model string) *compiledRule {
	if c == nil {
		return nil
	}
	if r := c.exact[model]; r != nil {
		return r
	}
	return c.generic
}

// choose picks a target with n, a uniformly random number.
func (r *compiledRule) choose(n uint64) string {
	if r.total == 0 {
		return r.targets[n%uint64(len(r.targets))].Model
	}
	k := int(n % uint64(r.total))
	for _, t := range r.targets {
		if k < t.Weight {
			return t.Model
		}
		k -= t.Weight
	}
	return r.targets[len(r.targets)-1].Model
}
