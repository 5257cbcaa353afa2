package translator

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/sse"
)

// arrayElements feeds b to an arrayStream in pieces of step bytes.
func arrayElements(b []byte, step, limit int) ([]string, bool, error) {
	a := newArrayStream(limit)
	var got []string
	for i := 0; i < len(b); i += step {
		if err := a.feed(b[i:min(i+step, len(b))], func(e []byte) { got = append(got, string(e)) }); err != nil {
			return got, false, err
		}
	}
	return got, a.done(), nil
}

func TestArrayStream(t *testing.T) {
	doc := []byte("[{\"a\":\"}]\\\"{\"},\r\n{\"b\":[1,{\"c\":[]}]}\n,\n{}\n]\n")
	for step := 1; step <= len(doc); step++ {
		got, done, err := arrayElements(doc, step, 0)
		require.NoError(t, err)
		require.True(t, done)
		require.Equal(t, []string{`{"a":"}]\"{"}`, `{"b":[1,{"c":[]}]}`, `{}`}, got, "step %d", step)
	}
	got, done, err := arrayElements([]byte(" [ ] "), 1, 0)
	require.NoError(t, err)
	require.True(t, done)
	require.Empty(t, got)
	for _, bad := range []string{`{}`, `[,{}]`, `[{},]`, `[{}{}]`, `[1]`, `[{}]x`, `[]]`} {
		_, _, err := arrayElements([]byte(bad), 1, 0)
		require.ErrorIs(t, err, errArray, bad)
	}
	_, _, err = arrayElements([]byte(`[{"a":"0123456789"}]`), 3, 10)
	require.ErrorIs(t, err, sse.ErrEventTooLarge)
}

// FuzzArrayStream: a valid array of objects is cut into its elements
// however it is split; anything else stays in bounds.
func FuzzArrayStream(f *testing.F) {
	f.Add([]byte("[{\"a\":\"}]\\\"{\"},\r\n{\"b\":[1,{\"c\":[]}]}]"), uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, step uint8) {
		got, done, err := arrayElements(b, int(step)+1, 1<<16)
		var want []json.RawMessage
		if json.Unmarshal(b, &want) != nil {
			return
		}
		for _, e := range want {
			if len(e) == 0 || e[0] != '{' {
				return // arrays of objects only
			}
		}
		require.NoError(t, err, "%q", b)
		require.True(t, done)
		require.Len(t, got, len(want))
		for i := range want {
			var x, y bytes.Buffer
			require.NoError(t, json.Compact(&x, want[i]))
			require.NoError(t, json.Compact(&y, []byte(got[i])))
			require.Equal(t, x.String(), y.String())
		}
	})
}
