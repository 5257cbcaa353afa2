package standalone

import (
	"fmt"

	"github.com/aigw-dev/aigw/internal/config"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// refTarget is what a cross-namespace reference points at.
type refTarget struct {
	group, kind string
	key         nsName
}

// permitted reports whether src may reference to. A reference within its
// namespace always may. Across namespaces, a cluster's object needs a
// ReferenceGrant in the target's namespace that lets src's group, kind and
// namespace reach the target's group, kind (and name, when the grant names
// one), as Gateway API defines; files may reference any namespace (they
// are one author's). A refused reference is reported at src/p, as an error
// unless warn (an HTTPRoute keeps such a backend, whose requests fail).
func (c *compiler) permitted(src Source, p *field.Path, to refTarget, warn bool) bool {
	if to.key.namespace == src.Namespace || !c.s.cluster {
		return true
	}
	fromGroup := ""
	if gv, err := schema.ParseGroupVersion(src.APIVersion); err == nil {
		fromGroup = gv.Group
	}
	for _, g := range c.s.referenceGrants {
		if g.src.Namespace != to.key.namespace || g.invalid {
			continue
		}
		from, target := false, false
		for _, f := range g.obj.Spec.From {
			from = from || (string(f.Group) == fromGroup && string(f.Kind) == src.Kind && string(f.Namespace) == src.Namespace)
		}
		for _, t := range g.obj.Spec.To {
			target = target || (string(t.Group) == to.group && string(t.Kind) == to.kind && (t.Name == nil || string(*t.Name) == to.key.name))
		}
		if from && target {
			return true
		}
	}
	msg := fmt.Sprintf("reference to %s %s not permitted (RefNotPermitted): no ReferenceGrant in namespace %s lets %s of namespace %s refer to it",
		to.kind, to.key, to.key.namespace, src.Kind, src.Namespace)
	if warn {
		c.d.reasonf(src, p, ReasonRefNotPermitted, "%s: requests to this backend fail", msg)
	} else {
		c.d.errorf(src, p, "%s", msg)
	}
	return false
}

// unservedBackend is the backend of a reference the gateway keeps but does
// not serve (why: "refused", "invalid"): an endpoint-less pool of its own,
// so its requests get 503 and the other references to the same target
// keep their backend.
func (c *compiler) unservedBackend(why, kind string, key nsName) string {
	name := why + "/" + kind + "/" + key.String()
	if _, done := c.direct[name]; !done {
		c.direct[name] = &config.Backend{Name: name, Schema: passThroughSchema(), Pool: &config.Pool{Name: name}}
	}
	return name
}
