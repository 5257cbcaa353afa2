package jsonscan

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// members collects what a member scan reports, as key=value lines.
func members(scan func([]byte, func(string, []byte) error) error, b []byte) ([]string, error) {
	var got []string
	err := scan(b, func(k string, v []byte) error {
		got = append(got, k+"="+string(v))
		return nil
	})
	return got, err
}

func elements(scan func([]byte, func([]byte) error) error, b []byte) ([]string, error) {
	var got []string
	err := scan(b, func(v []byte) error {
		got = append(got, string(v))
		return nil
	})
	return got, err
}

func TestMembers(t *testing.T) {
	for _, doc := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"a" : "x\"}]" , "b":{"c":[1,{"d":"\\"}]},"e\u0041":null,"f":-1.5e3,"g":true}`,
		`{"a":"\\\\\"","b":[]}`, `{"a":[[],[[]]],"b":{}}`,
	} {
		want, err := members(Object, []byte(doc))
		require.NoError(t, err, doc)
		got, err := members(Members, []byte(doc))
		require.NoError(t, err, doc)
		require.Equal(t, want, got, doc)
	}
	require.ErrorIs(t, Members([]byte(`[1]`), nil), ErrNotObject)
	stop := errors.New("stop")
	require.ErrorIs(t, Members([]byte(`{"a":1,"b":2}`), func(string, []byte) error { return stop }), stop)
	for _, bad := range []string{``, `{`, `{"a"`, `{"a":`, `{"a":1`, `{"a":"x`, `{"a" 1}`, `{1:2}`, `{"a":1 "b":2}`, `{"a":}`} {
		var syn *SyntaxError
		require.True(t, errors.As(Members([]byte(bad), func(string, []byte) error { return nil }), &syn), bad)
	}
}

func TestElements(t *testing.T) {
	for _, doc := range []string{`[]`, `[1, "a" ,{"b":[2]}, [] ,null]`, `["]","\"",["[",{"}":"{"}]]`} {
		want, err := elements(Array, []byte(doc))
		require.NoError(t, err, doc)
		got, err := elements(Elements, []byte(doc))
		require.NoError(t, err, doc)
		require.Equal(t, want, got, doc)
	}
	require.ErrorIs(t, Elements([]byte(`{"a":1}`), nil), ErrNotArray)
	for _, bad := range []string{``, `[`, `[1,`, `[1 2]`, `[,]`, `["a]`} {
		var syn *SyntaxError
		require.True(t, errors.As(Elements([]byte(bad), func([]byte) error { return nil }), &syn), bad)
	}
}

// FuzzMembers checks that Members and Elements report what the validating
// scans report on valid JSON, and stay in bounds on anything else.
func FuzzMembers(f *testing.F) {
	f.Add([]byte(`{"a":"x\"}]","b":{"c":[1,{"d":"\\"}]},"e":null}`))
	f.Add([]byte(`[1,"a",{"b":[2]},[],null]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		gotM, errM := members(Members, b)
		gotE, errE := elements(Elements, b)
		if !json.Valid(b) {
			return // any verdict, as long as nothing panicked
		}
		if wantM, err := members(Object, b); err == nil {
			require.NoError(t, errM, "%q", b)
			require.Equal(t, wantM, gotM, "%q", b)
		}
		if wantE, err := elements(Array, b); err == nil {
			require.NoError(t, errE, "%q", b)
			require.Equal(t, wantE, gotE, "%q", b)
		}
	})
}
