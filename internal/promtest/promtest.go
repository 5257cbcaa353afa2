// Package promtest reads Prometheus metrics from a running process's
// /metrics endpoint for tests, with the exposition parser of
// prometheus/common.
package promtest

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Sum fetches url and returns the sum of the samples of the counter, gauge
// or untyped family name whose labels include every pair of labels
// (name, value, name, value, …); 0 if none match.
func Sum(t testing.TB, url, name string, labels ...string) float64 {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("promtest.Sum: labels must be name/value pairs, got %q", labels)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("promtest.Sum: %v", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("promtest.Sum: parsing %s: %v", url, err)
	}
	sum := 0.0
	for _, m := range families[name].GetMetric() {
		if matches(m, labels) {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
		}
	}
	return sum
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
