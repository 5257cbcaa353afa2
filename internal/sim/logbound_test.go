package sim

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// lockedBuilder is a goroutine-safe strings.Builder for captured logs.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFailureLogIsBounded: a server error that quotes the client's model
// name (an injected failure) logs a bounded line.
func TestFailureLogIsBounded(t *testing.T) {
	var logs lockedBuilder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	in, err := NewInstance(t.Context(), testOptions(), "test-instance", logger)
	require.NoError(t, err)
	huge := strings.Repeat("m", 1<<20)
	w := call(t, in, http.MethodPost, "/v1/chat/completions", chatBody(huge, "hi", 1, ""), faultHeader, "type=model_not_found,status=503")
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Contains(t, w.Body.String(), huge, "the client still gets its answer")
	require.Contains(t, logs.String(), "request failed")
	require.Less(t, len(logs.String()), 4<<10)
}
