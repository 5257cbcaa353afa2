package jsonscan

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestArray(t *testing.T) {
	var got []string
	require.NoError(t, Array([]byte(` [1, "a" ,{"b":[2]}, [] ,null] `), func(v []byte) error {
		got = append(got, string(v))
		return nil
	}))
	require.Equal(t, []string{`1`, `"a"`, `{"b":[2]}`, `[]`, `null`}, got)
	require.NoError(t, Array([]byte(`[]`), func([]byte) error { t.Fatal("no element"); return nil }))
	require.ErrorIs(t, Array([]byte(`{"a":1}`), func([]byte) error { return nil }), ErrNotArray)
	stop := errors.New("stop")
	require.ErrorIs(t, Array([]byte(`[1,2]`), func([]byte) error { return stop }), stop)
	for _, bad := range []string{``, `[`, `[1,]`, `[1 2]`, `[1]x`} {
		var syn *SyntaxError
		require.True(t, errors.As(Array([]byte(bad), func([]byte) error { return nil }), &syn), bad)
	}
}

func FuzzArray(f *testing.F) {
	f.Add([]byte(`[1,"a",{"b":[2]},[],null]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var n int
		err := Array(b, func(v []byte) error {
			require.True(t, json.Valid(v), "%q", v)
			n++
			return nil
		})
		var ref []json.RawMessage
		refErr := json.Unmarshal(b, &ref)
		if err == nil {
			require.NoError(t, refErr, "%q", b)
			require.Len(t, ref, n)
		} else if !errors.Is(err, ErrNotArray) {
			require.False(t, json.Valid(b), "%q: %v", b, err)
		}
	})
}
