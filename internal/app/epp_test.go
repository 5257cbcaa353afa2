package app

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// TestWhenInstalled checks that the policy source starts once the CRDs
// appear, keeps asking while the API server fails, and gives up quietly
// when the context ends first.
func TestWhenInstalled(t *testing.T) {
	answers := []error{errors.New("connection refused"), nil, nil, nil}
	installedAt := 3 // the fourth lookup finds the CRDs
	lookups := 0
	lookup := func() (bool, error) {
		i := lookups
		lookups++
		return i >= installedAt, answers[min(i, len(answers)-1)]
	}
	ran := false
	err := whenInstalled(t.Context(), lookup, func(context.Context) error { ran = true; return nil }, time.Millisecond, slog.New(slog.DiscardHandler))
	if err != nil || !ran || lookups != 4 {
		t.Fatalf("err %v, ran %v after %d lookups; want the source run after the 4th", err, ran, lookups)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	never := func() (bool, error) { return false, nil }
	run := func(context.Context) error { t.Error("ran without the CRDs"); return nil }
	if err := whenInstalled(ctx, never, run, time.Millisecond, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("err %v when the context ended", err)
	}
}
