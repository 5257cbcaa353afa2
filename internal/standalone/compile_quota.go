package standalone

import (
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	aigv1a1 "github.com/aigw-dev/aigw/api/v1alpha1"
	"github.com/aigw-dev/aigw/internal/config"
)

// quotaDurationOf maps a QuotaValue duration (validated: 1s, 1m, 1h, 1d).
var quotaDurationOf = map[string]time.Duration{"1s": time.Second, "1m": time.Minute, "1h": time.Hour, "1d": 24 * time.Hour}

// quotas compiles the valid QuotaPolicies into the quota of each
// AIServiceBackend they target. When two define the service quota or the
// same model of one backend, the policy whose namespace/name sorts first
// wins (as in Envoy AI Gateway) and the other is reported.
func (c *compiler) quotas() map[nsName]*config.BackendQuota {
	out := map[nsName]*config.BackendQuota{}
	serviceOwner := map[nsName]nsName{}
	modelOwner := map[nsName]map[string]nsName{}
	for _, q := range byName(c.s.quotaPolicies) {
		if q.invalid {
			continue
		}
		spec := &q.obj.Spec
		for i, t := range spec.TargetRefs {
			tp := field.NewPath("spec", "targetRefs").Index(i)
			key := nsName{q.src.Namespace, string(t.Name)}
			if _, ok := c.s.backends[key]; !ok {
				c.d.warnf(q.src, tp, "ignored: AIServiceBackend %s not found", key)
				continue
			}
			bq := out[key]
			if bq == nil {
				bq = &config.BackendQuota{Policy: q.key().String()}
				out[key] = bq
				modelOwner[key] = map[string]nsName{}
			}
			if sq := spec.ServiceQuota; sq != nil {
				if other, dup := serviceOwner[key]; dup {
					c.d.warnf(q.src, field.NewPath("spec", "serviceQuota"), "ignored: QuotaPolicy %s sets the service quota of %s", other, key)
				} else {
					serviceOwner[key] = q.key()
					b := quotaBucket(sq.Quota)
					if sq.CostExpression != nil {
						b.CostExpression = *sq.CostExpression
					}
					bq.Service = &b
				}
			}
			for j := range spec.PerModelQuotas {
				m := &spec.PerModelQuotas[j]
				mp := field.NewPath("spec", "perModelQuotas").Index(j)
				if other, dup := modelOwner[key][*m.ModelName]; dup {
					c.d.warnf(q.src, mp, "ignored: QuotaPolicy %s sets the quota of model %s on %s", other, *m.ModelName, key)
					continue
				}
				modelOwner[key][*m.ModelName] = q.key()
				if mq, ok := c.modelQuota(q.src, mp, m); ok {
					bq.Models = append(bq.Models, mq)
				}
			}
		}
	}
	return out
}

func (c *compiler) modelQuota(src Source, p *field.Path, m *aigv1a1.PerModelQuota) (config.ModelQuota, bool) {
	out := config.ModelQuota{Model: *m.ModelName}
	if e := m.Quota.CostExpression; e != nil {
		out.CostExpression = *e
	}
	if d := m.Quota.DefaultBucket; d != nil {
		b := quotaBucket(*d)
		out.Default = &b
	}
	ok := true
	for i := range m.Quota.BucketRules {
		r := &m.Quota.BucketRules[i]
		rp := p.Child("quota", "bucketRules").Index(i)
		b := quotaBucket(r.Quota)
		if r.ShadowMode != nil {
			b.Shadow = *r.ShadowMode
		}
		for j := range r.ClientSelectors {
			s, sok := c.rateLimitSelector(src, rp.Child("clientSelectors").Index(j), &r.ClientSelectors[j])
			ok = ok && sok
			b.Selectors = append(b.Selectors, s)
		}
		out.Rules = append(out.Rules, b)
	}
	if out.Default == nil && len(out.Rules) == 0 {
		c.d.warnf(src, p.Child("quota"), "ignored: neither a default bucket nor bucket rules")
		return out, false
	}
	return out, ok
}

func quotaBucket(v aigv1a1.QuotaValue) config.QuotaBucket {
	return config.QuotaBucket{Limit: uint64(v.Limit), Window: config.Duration(quotaDurationOf[v.Duration])}
}
