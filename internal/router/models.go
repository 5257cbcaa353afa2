package router

import (
	"slices"
	"strings"

	"github.com/aigw-dev/aigw/internal/config"
)

// modelIndex answers /v1/models, scoped by host as Envoy AI Gateway does:
// when no route has hostnames every model is listed for every host;
// otherwise a host sees the models of routes with an equal hostname, or else
// of the longest "*.suffix" wildcard matching exactly one label, plus the
// models of routes without hostnames.
type modelIndex struct {
	unscoped []Model
	exact    map[string][]Model
	wildcard map[string][]Model // key: suffix including the leading dot
	seen     map[string]bool    // "host\x00model" to drop duplicates
}

func (m *modelIndex) add(route *Route, rule *config.Rule, id string) {
	if m.seen == nil {
		m.seen = map[string]bool{}
		m.exact = map[string][]Model{}
		m.wildcard = map[string][]Model{}
	}
	model := Model{ID: id, OwnedBy: rule.ModelsOwnedBy, Created: rule.ModelsCreatedAt.Unix()}
	if len(route.Hostnames) == 0 {
		if key := "\x00" + id; !m.seen[key] {
			m.seen[key] = true
			m.unscoped = append(m.unscoped, model)
		}
		return
	}
	for _, hn := range route.Hostnames {
		key := hn + "\x00" + id
		if m.seen[key] {
			continue
		}
		m.seen[key] = true
		if suffix, ok := strings.CutPrefix(hn, "*"); ok {
			m.wildcard[suffix] = append(m.wildcard[suffix], model)
		} else {
			m.exact[hn] = append(m.exact[hn], model)
		}
	}
}

func (m *modelIndex) list(host string) []Model {
	if len(m.exact) == 0 && len(m.wildcard) == 0 {
		return m.unscoped
	}
	var scoped []Model
	if l, ok := m.exact[host]; ok {
		scoped = l
	} else if i := strings.IndexByte(host, '.'); i > 0 {
		// "*" stands for exactly one label here.
		scoped = m.wildcard[host[i:]]
	}
	out := make([]Model, 0, len(scoped)+len(m.unscoped))
	out = append(out, scoped...)
	for _, u := range m.unscoped {
		if !slices.ContainsFunc(out, func(x Model) bool { return x.ID == u.ID }) {
			out = append(out, u)
		}
	}
	return out
}
