package processor

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/clientauth"
	"github.com/aigw-dev/aigw/internal/router"
)

// modelList is the /v1/models answer.
type modelList struct {
	Object string      `json:"object"`
	Data   []modelInfo `json:"data"`
}

type modelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	OwnedBy string `json:"owned_by"`
	Created int64  `json:"created"`
}

// anthropicModelsPath lists the models in Anthropic's shape, for Anthropic
// clients of the /anthropic front door.
const anthropicModelsPath = "/anthropic/v1/models"

// anthropicModelList is the answer of Anthropic's List Models.
type anthropicModelList struct {
	Data    []anthropicModel `json:"data"`
	HasMore bool             `json:"has_more"`
	FirstID *string          `json:"first_id"`
	LastID  *string          `json:"last_id"`
}

type anthropicModel struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

// anthropicModels pages the models as Anthropic's API does: limit (default
// 20, at most 1000) after after_id or before before_id.
func anthropicModels(models []router.Model, uri string) anthropicModelList {
	q := url.Values{}
	if u, err := url.Parse(uri); err == nil {
		q = u.Query()
	}
	limit := 20
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n >= 1 {
		limit = min(n, 1000)
	}
	start, end := 0, len(models)
	if id := q.Get("after_id"); id != "" {
		start = len(models)
		for i, m := range models {
			if m.ID == id {
				start = i + 1
			}
		}
	}
	if id := q.Get("before_id"); id != "" {
		end = 0
		for i, m := range models {
			if m.ID == id {
				end = i
			}
		}
		start = max(start, end-limit)
	}
	out := anthropicModelList{Data: []anthropicModel{}}
	for i := start; i < end && len(out.Data) < limit; i++ {
		m := models[i]
		out.Data = append(out.Data, anthropicModel{Type: "model", ID: m.ID, DisplayName: m.ID,
			CreatedAt: time.Unix(m.Created, 0).UTC().Format(time.RFC3339)})
	}
	out.HasMore = start+len(out.Data) < end
	if n := len(out.Data); n > 0 {
		out.FirstID, out.LastID = &out.Data[0].ID, &out.Data[n-1].ID
	}
	return out
}

// visibleModels leaves out the models whose every route has a client
// policy of its own that the request does not pass, so a listing names no
// model the client could not call. (The Gateway's policy, if any, was
// checked already.)
func (s *Session) visibleModels(models []router.Model) []router.Model {
	if len(s.v.routeAuth) == 0 {
		return models
	}
	passed := map[*clientauth.Checker]bool{}
	if s.checked != nil {
		passed[s.checked] = true
	}
	callable := func(r *router.Route) bool {
		c := s.v.routeAuth[r]
		if c == nil {
			return true
		}
		ok, seen := passed[c]
		if !seen {
			_, err := c.Check(&clientauth.Request{Header: s.info.Header, RemoteAddr: s.info.RemoteAddr})
			ok = err == nil
			passed[c] = ok
		}
		return ok
	}
	out := make([]router.Model, 0, len(models))
	for _, m := range models {
		if slices.ContainsFunc(m.Routes, callable) {
			out = append(out, m)
		}
	}
	return out
}

// models answers /v1/models from the routes that serve the request's host,
// as far as the client may call them.
func (s *Session) models() (*LocalResponse, error) {
	if s.info.Method != http.MethodGet && s.info.Method != http.MethodHead {
		return nil, apierror.MethodNotAllowed(s.info.Method, "GET, HEAD")
	}
	models := s.visibleModels(s.v.table.Models(s.info.Host))
	var v any
	if s.info.Path == anthropicModelsPath {
		v = anthropicModels(models, s.info.URI)
	} else {
		out := modelList{Object: "list", Data: make([]modelInfo, 0, len(models))}
		for _, m := range models {
			out.Data = append(out.Data, modelInfo{ID: m.ID, Object: "model", OwnedBy: m.OwnedBy, Created: m.Created})
		}
		v = out
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, apierror.Internal(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	s.status = http.StatusOK
	return &LocalResponse{Status: http.StatusOK, Header: h, Body: b}, nil
}
