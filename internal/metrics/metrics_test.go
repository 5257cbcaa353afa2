package metrics

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/llm"
)

// TestExposition checks the Prometheus exposition against
// testdata/exposition.golden (names, labels, buckets).
func TestExposition(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, err := NewPrometheus(reg, Options{})
	require.NoError(t, err)
	a := Attributes{Operation: "chat", Provider: "openai", OriginalModel: "gpt", RequestModel: "gpt-override", ResponseModel: "gpt-2025"}
	p.RequestDone(a, "", 300*time.Millisecond)
	p.RequestDone(a, ErrorTypeOther, 20*time.Millisecond)
	p.Tokens(a, llm.Usage{InputTokens: 10, OutputTokens: 5, TotalTokens: 15, CachedInputTokens: 2})
	p.StreamTimings(a, 50*time.Millisecond, 250*time.Millisecond, 5)
	p.Tokens(Attributes{Operation: "embeddings", Provider: "openai", OriginalModel: "e", RequestModel: "e", ResponseModel: "e"}, llm.Usage{InputTokens: 3, TotalTokens: 3})

	f, err := os.Open(filepath.Join("testdata", "exposition.golden"))
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, testutil.GatherAndCompare(reg, f))
}

func TestRegisterTwiceFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := NewPrometheus(reg, Options{})
	require.NoError(t, err)
	_, err = NewPrometheus(reg, Options{})
	require.Error(t, err)
}
