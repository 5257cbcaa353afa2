package processor

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/aigw-dev/aigw/internal/apierror"
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

// models answers /v1/models from the routes that serve the request's host.
func (s *Session) models() (*LocalResponse, error) {
	if s.info.Method != http.MethodGet && s.info.Method != http.MethodHead {
		return nil, apierror.MethodNotAllowed(s.info.Method, "GET, HEAD")
	}
	models := s.rt.table.Models(s.info.Host)
	out := modelList{Object: "list", Data: make([]modelInfo, 0, len(models))}
	for _, m := range models {
		out.Data = append(out.Data, modelInfo{ID: m.ID, Object: "model", OwnedBy: m.OwnedBy, Created: m.Created})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, apierror.Internal(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	s.status = http.StatusOK
	return &LocalResponse{Status: http.StatusOK, Header: h, Body: b}, nil
}
