package jsonobj

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseEditBytes(t *testing.T) {
	in := `{ "model" : "a", "messages":[{"role":"user","content":"hi \"x\""}], "n": 1 }`
	o, err := Parse([]byte(in))
	require.NoError(t, err)
	v, ok := o.Get("messages")
	require.True(t, ok)
	require.JSONEq(t, `[{"role":"user","content":"hi \"x\""}]`, string(v))
	o.Set("model", json.RawMessage(`"b"`))
	o.Remove("n")
	o.Set("stream_options", json.RawMessage(`{"include_usage":true}`))
	require.Equal(t, `{"model":"b","messages":[{"role":"user","content":"hi \"x\""}],"stream_options":{"include_usage":true}}`, string(o.Bytes()))
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{``, `[]`, `"x"`, `{"a":}`, `{"a":1} {}`, `{"a":1`, `{"a" 1}`} {
		_, err := Parse([]byte(in))
		require.Error(t, err, in)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"model":"m","x":[1,2,{"y":null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := Parse(data)
		if err != nil {
			return
		}
		out := o.Bytes()
		require.True(t, json.Valid(out), "re-encoded object must be valid JSON: %q", out)
		var a, b any
		require.NoError(t, json.Unmarshal(data, &a))
		require.NoError(t, json.Unmarshal(out, &b))
		require.Equal(t, a, b)
	})
}

func TestSetReplacesDuplicates(t *testing.T) {
	o, err := Parse([]byte(`{"model":"a","x":1,"model":"b"}`))
	require.NoError(t, err)
	o.Set("model", json.RawMessage(`"c"`))
	require.Equal(t, `{"model":"c","x":1}`, string(o.Bytes()))
}
