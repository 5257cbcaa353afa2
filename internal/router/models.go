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
	seen     map[string]int     // "host\x00model" → the model's index in its list
}

func (m *modelIndex) add(route *Route, rule *config.Rule, id string) {
	if m.seen == nil {
		m.seen = map[string]int{}
		m.exact = map[string][]Model{}
		m.wildcard = map[string][]Model{}
	}
	model := Model{ID: id, OwnedBy: rule.ModelsOwnedBy, Created: rule.ModelsCreatedAt.Unix(), Routes: []*Route{route}}
	if len(route.Hostnames) == 0 {
		m.unscoped = m.addTo(m.unscoped, "", model)
		return
	}
	for _, hn := range route.Hostnames {
		if suffix, ok := strings.CutPrefix(hn, "*"); ok {
			m.wildcard[suffix] = m.addTo(m.wildcard[suffix], hn, model)
		} else {
			m.exact[hn] = m.addTo(m.exact[hn], hn, model)
		}
	}
}

// addTo appends model to the list of hostname hn, or, when the list has it
// already, adds the model's route to that entry's routes.
func (m *modelIndex) addTo(list []Model, hn string, model Model) []Model {
	key := hn + "\x00" + model.ID
	if i, ok := m.seen[key]; ok {
		if !slices.Contains(list[i].Routes, model.Routes[0]) {
			list[i].Routes = append(list[i].Routes, model.Routes[0])
		}
		return list
	}
	m.seen[key] = len(list)
	return append(list, model)
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
		i := slices.IndexFunc(out, func(x Model) bool { return x.ID == u.ID })
		if i < 0 {
			out = append(out, u)
			continue
		}
		routes := slices.Clip(out[i].Routes)
		for _, r := range u.Routes {
			if !slices.Contains(routes, r) {
				routes = append(routes, r)
			}
		}
		out[i].Routes = routes
	}
	return out
}
