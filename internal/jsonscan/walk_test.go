package jsonscan

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// walkAll descends into every object and array, taking scalars whole
// (mode 0), takes the top-level object's member values whole (mode 1), or
// leaves every value (mode 2); it returns the values taken and member
// names met, in order.
func walkAll(b []byte, mode int) ([]string, error) {
	var got []string
	raw := func(v Value) error {
		r, err := v.Raw()
		if err == nil {
			got = append(got, string(r))
		}
		return err
	}
	switch mode {
	case 1:
		return got, Walk(b, func(v Value) error {
			if v.Kind() != '{' {
				return raw(v)
			}
			return v.Object(func(k []byte, v Value) error {
				got = append(got, "key:"+string(k))
				return raw(v)
			})
		})
	case 2:
		return got, Walk(b, func(Value) error { return nil })
	}
	var visit func(v Value) error
	visit = func(v Value) error {
		switch {
		case v.Kind() == '{':
			return v.Object(func(k []byte, v Value) error {
				got = append(got, "key:"+string(k))
				return visit(v)
			})
		case v.Kind() == '[':
			return v.Array(visit)
		default:
			return raw(v)
		}
	}
	return got, Walk(b, visit)
}

func TestWalk(t *testing.T) {
	doc := []byte(` {"a" : [1, {"b":"x\"y"}, [] ,null], "c\u0041":{"d":-1.5e3,"e":true}, "f":{}} `)
	got, err := walkAll(doc, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"key:a", "1", "key:b", `"x\"y"`, "null", "key:cA", "key:d", "-1.5e3", "key:e", "true", "key:f"}, got)
	got, err = walkAll(doc, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"key:a", `[1, {"b":"x\"y"}, [] ,null]`, "key:cA", `{"d":-1.5e3,"e":true}`, "key:f", `{}`}, got)
	for _, mode := range []int{0, 1, 2} {
		for _, bad := range []string{``, `{`, `{"a":[1,]}`, `{"a":{"b":1 "c":2}}`, `[1]x`, `{"a":"\x01"}`, `{"a":tru}`, strings.Repeat("[", maxDepth+1)} {
			_, err := walkAll([]byte(bad), mode)
			var syn *SyntaxError
			require.True(t, errors.As(err, &syn), "mode %d: %q: %v", mode, bad, err)
		}
	}
	stop := errors.New("stop")
	require.ErrorIs(t, Walk([]byte(`{"a":1}`), func(v Value) error {
		return v.Object(func([]byte, Value) error { return stop })
	}), stop)
	require.ErrorIs(t, Walk([]byte(`[1]`), func(v Value) error {
		return v.Object(func([]byte, Value) error { return nil })
	}), ErrNotObject)
	require.ErrorIs(t, Walk([]byte(`{}`), func(v Value) error { return v.Array(func(Value) error { return nil }) }), ErrNotArray)
}

// FuzzWalk checks Walk's verdict against encoding/json's, however deep the
// callbacks descend, and that what they take whole is valid JSON.
func FuzzWalk(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"x\"y"},[],null],"c":{"d":-1.5e3,"e":true}}`), uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, mode uint8) {
		got, err := walkAll(b, int(mode%3))
		require.Equal(t, json.Valid(b), err == nil, "%q: %v", b, err)
		for _, v := range got {
			if !strings.HasPrefix(v, "key:") {
				require.True(t, json.Valid([]byte(v)), "%q", v)
			}
		}
	})
}
