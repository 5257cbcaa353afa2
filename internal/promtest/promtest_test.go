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

func TestScrape(t *testing.T) {
	const text = "# TYPE h histogram\nh_bucket{m=\"a\",le=\"1\"} 1\nh_bucket{m=\"a\",le=\"+Inf\"} 1\nh_sum{m=\"a\"} 1\nh_count{m=\"a\"} 1\n" +
		"h_bucket{m=\"b\",le=\"1\"} 0\nh_bucket{m=\"b\",le=\"+Inf\"} 1\nh_sum{m=\"b\"} 2\nh_count{m=\"b\"} 1\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, text) }))
	defer srv.Close()
	e := Scrape(t, srv.URL)
	if e.Bytes != len(text) {
		t.Errorf("Bytes = %d, want %d", e.Bytes, len(text))
	}
	if got := e.Series("h"); got != 2 {
		t.Errorf("Series(h) = %d, want 2", got)
	}
	if got := e.Series("absent"); got != 0 {
		t.Errorf("Series(absent) = %d, want 0", got)
	}
	if got := fmt.Sprint(e.LabelValues("h", "m")); got != "[a b]" {
		t.Errorf("LabelValues(h, m) = %s, want [a b]", got)
	}
}
