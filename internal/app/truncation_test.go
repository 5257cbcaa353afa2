package app

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/standalone"
)

func TestTruncationGuard(t *testing.T) {
	g := newTruncationGuard(&standalone.Result{Files: []string{"a.yaml", "b.yaml", "notes.yaml"}, EmptyFiles: []string{"notes.yaml"}})
	tests := []struct {
		name    string
		res     standalone.Result
		wantErr string
	}{
		{"unchanged", standalone.Result{Files: []string{"a.yaml", "b.yaml", "notes.yaml"}, EmptyFiles: []string{"notes.yaml"}}, ""},
		{"a file emptied", standalone.Result{Files: []string{"a.yaml", "b.yaml"}, EmptyFiles: []string{"b.yaml"}}, "b.yaml: now empty"},
		{"a file deleted", standalone.Result{Files: []string{"a.yaml"}}, ""},
		{"an empty file stays empty", standalone.Result{Files: []string{"a.yaml", "notes.yaml"}, EmptyFiles: []string{"notes.yaml"}}, ""},
		{"a new empty file", standalone.Result{Files: []string{"a.yaml", "b.yaml", "new.yaml"}, EmptyFiles: []string{"new.yaml"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := g.check(&tc.res)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}

	// Once a file's removal is accepted, an empty file of that name is new.
	g.accept(&standalone.Result{Files: []string{"a.yaml"}})
	require.NoError(t, g.check(&standalone.Result{Files: []string{"a.yaml", "b.yaml"}, EmptyFiles: []string{"b.yaml"}}))
}
