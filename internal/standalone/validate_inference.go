package standalone

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	infv1a2 "github.com/aigw-dev/aigw/api/inferencev1alpha2"
)

// Kinds of GAIE v1.5's request policy, inference.networking.x-k8s.io/v1alpha2.
const (
	kindInferenceObjective    = "InferenceObjective"
	kindInferenceModelRewrite = "InferenceModelRewrite"
)

// validateObjective mirrors GAIE v1.5.0's InferenceObjective CRD.
func validateObjective(c checker, o *infv1a2.InferenceObjective) {
	c.poolObjectRef(field.NewPath("spec", "poolRef"), &o.Spec.PoolRef)
}

// validateModelRewrite mirrors GAIE v1.5.0's InferenceModelRewrite CRD,
// and also rejects what the CRD admits but GAIE's documentation forbids
// or no picker can use: a weight on some targets of a rule only, and an
// empty target model name.
func validateModelRewrite(c checker, r *infv1a2.InferenceModelRewrite) {
	spec := field.NewPath("spec")
	if ref := r.Spec.PoolRef; c.required(spec.Child("poolRef"), ref != nil) {
		c.poolObjectRef(spec.Child("poolRef"), ref)
	}
	rp := spec.Child("rules")
	c.required(rp, r.Spec.Rules != nil)
	for i, rule := range r.Spec.Rules {
		p := rp.Index(i)
		for j, m := range rule.Matches {
			mp := p.Child("matches").Index(j).Child("model")
			if !c.required(mp, m.Model != nil) {
				continue
			}
			if m.Model.Type != nil {
				c.enum(mp.Child("type"), string(*m.Model.Type), string(infv1a2.MatchExact))
			}
			c.length(mp.Child("value"), m.Model.Value, 1, -1)
		}
		tp := p.Child("targets")
		if len(rule.Targets) == 0 {
			c.errorf(tp, "must have at least 1 item")
		}
		weighted := len(rule.Targets) > 0 && rule.Targets[0].Weight != 0
		for j, t := range rule.Targets {
			if t.ModelRewrite == "" {
				c.errorf(tp.Index(j).Child("modelRewrite"), "required")
			}
			switch {
			case t.Weight != 0 && (t.Weight < 1 || t.Weight > 1000000):
				c.errorf(tp.Index(j).Child("weight"), "must be between 1 and 1000000 (is %d)", t.Weight)
			case (t.Weight != 0) != weighted:
				c.errorf(tp.Index(j).Child("weight"), "if a weight is set for any target, it must be set for all targets")
			}
		}
	}
}

// poolObjectRef checks GAIE's PoolObjectReference: a name, and a group and
// kind that, when given, name an InferencePool.
func (c checker) poolObjectRef(p *field.Path, ref *infv1a2.PoolObjectReference) {
	if ref.Group != "" {
		c.group(p.Child("group"), ptr(gwapiv1.Group(ref.Group)))
	}
	if ref.Kind != "" {
		c.kind(p.Child("kind"), ptr(gwapiv1.Kind(ref.Kind)))
	}
	c.length(p.Child("name"), string(ref.Name), 1, 253)
}
