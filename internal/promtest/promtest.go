// Package promtest reads Prometheus metrics from a running process's
// /metrics endpoint for tests, with the exposition parser of
// prometheus/common.
package promtest

import (
	"bytes"
	"io"
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
	families := Scrape(t, url).Families
	sum := 0.0
	for _, m := range families[name].GetMetric() {
		if matches(m, labels) {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
		}
	}
	return sum
}

// Exposition is one scrape of a /metrics endpoint.
type Exposition struct {
	// Bytes is the size of the text exposition.
	Bytes int
	// Families are the metric families by name.
	Families map[string]*dto.MetricFamily
}

// Series returns the number of series of family name (a histogram or
// summary counts once per label set).
func (e Exposition) Series(name string) int { return len(e.Families[name].GetMetric()) }

// LabelValues returns the values of label in the series of family name.
func (e Exposition) LabelValues(name, label string) []string {
	var out []string
	for _, m := range e.Families[name].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label {
				out = append(out, lp.GetValue())
			}
		}
	}
	return out
}

// Scrape fetches url and parses its text exposition.
func Scrape(t testing.TB, url string) Exposition {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("promtest: reading %s: %v", url, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("promtest: parsing %s: %v", url, err)
	}
	return Exposition{Bytes: len(body), Families: families}
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
