package promtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestSum(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# TYPE req_total counter\nreq_total{outcome=\"ok\",model=\"a\"} 2\nreq_total{outcome=\"ok\",model=\"b\"} 3\nreq_total{outcome=\"bad\",model=\"a\"} 7\n# TYPE up gauge\nup 1\n")
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"req_total", nil, 12},
		{"req_total", []string{"outcome", "ok"}, 5},
		{"req_total", []string{"outcome", "ok", "model", "b"}, 3},
		{"req_total", []string{"outcome", "none"}, 0},
		{"up", nil, 1},
		{"absent", nil, 0},
	} {
		if got := Sum(t, srv.URL, tc.name, tc.labels...); got != tc.want {
			t.Errorf("Sum(%s, %q) = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}
