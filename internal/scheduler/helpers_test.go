package scheduler

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// newTestScheduler returns a scheduler over addrs with cfg's profile.
func newTestScheduler(t testing.TB, cfg Config, addrs ...string) *Scheduler {
	t.Helper()
	s, err := New(cfg, nil)
	require.NoError(t, err)
	eps := make([]Endpoint, len(addrs))
	for i, a := range addrs {
		eps[i] = Endpoint{Address: a}
	}
	s.SetEndpoints(eps)
	return s
}

// setMetrics stores fresh metrics for addr as if scraped now.
func setMetrics(t testing.TB, s *Scheduler, addr string, m Metrics) {
	t.Helper()
	st := s.snap.Load().get(addr)
	require.NotNil(t, st, addr)
	m.UpdateTime = time.Now()
	s.observe(st, &m, st.picks.Load()) // as a scrape starting now
}

// golden compares got (as indented JSON) with testdata/name, or rewrites it
// with -update.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	b = append(b, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, b, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(b))
}
