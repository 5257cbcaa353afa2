package eppserver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/labels"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

func TestModelLabelsAreBounded(t *testing.T) {
	sched, err := scheduler.New(scheduler.DefaultConfig(), nil)
	require.NoError(t, err)
	m, err := NewMetrics(prometheus.NewRegistry(), "default/pool", sched)
	require.NoError(t, err)
	for i := range labels.DefaultMaxValues + 100 {
		name := fmt.Sprintf("model-%d", i)
		m.observeRequest("picked", name, name, 0)
	}
	huge := strings.Repeat("x", 1<<20)
	m.observeRequest("picked", huge, huge, 0)
	require.Equal(t, labels.DefaultMaxValues+1, testutil.CollectAndCount(m.requests), "the first names, then one __other__ series")
	require.InDelta(t, 101, testutil.ToFloat64(m.requests.WithLabelValues("picked", labels.Other, labels.Other)), 0)
	require.InDelta(t, 1, testutil.ToFloat64(m.requests.WithLabelValues("picked", "model-7", "model-7")), 0)
}

func TestLongModelLabelIsCut(t *testing.T) {
	sched, err := scheduler.New(scheduler.DefaultConfig(), nil)
	require.NoError(t, err)
	m, err := NewMetrics(prometheus.NewRegistry(), "default/pool", sched)
	require.NoError(t, err)
	huge := strings.Repeat("x", 1<<20)
	m.observeRequest("picked", huge, "small", 0)
	cut := huge[:labels.MaxValueBytes]
	require.Equal(t, 1, testutil.CollectAndCount(m.requests))
	require.InDelta(t, 1, testutil.ToFloat64(m.requests.WithLabelValues("picked", cut, "small")), 0)
}
