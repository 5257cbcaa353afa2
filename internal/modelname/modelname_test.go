package modelname

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRestoreWholeBodies(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"compact", `{"id":"x","model":"llama-v2","choices":[]}`, `{"id":"x","model":"alias","choices":[]}`},
		{"spaced", `{"id": "x", "model": "llama-v2"}`, `{"id": "x", "model": "alias"}`},
		{"every occurrence", `data: {"model":"llama-v2"}` + "\n\n" + `data: {"model": "llama-v2"}` + "\n\n", `data: {"model":"alias"}` + "\n\n" + `data: {"model": "alias"}` + "\n\n"},
		{"a longer name is another model", `{"model":"llama-v2-chat"}`, `{"model":"llama-v2-chat"}`},
		{"a name inside content stays", `{"content":"llama-v2","model":"other"}`, `{"content":"llama-v2","model":"other"}`},
		{"key without the name", `{"model":`, `{"model":`},
		{"empty", ``, ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, string(NewRestorer("llama-v2", "alias").Restore([]byte(tc.body), true)))
		})
	}
}

func TestRestoreEscapesNames(t *testing.T) {
	r := NewRestorer(`a"b`, `c\d`)
	assert.Equal(t, `{"model":"c\\d"}`, string(r.Restore([]byte(`{"model":"a\"b"}`), true)))
	r = NewRestorer("org/m<1>&x", "alias")
	assert.Equal(t, `{"model":"alias"}`, string(r.Restore([]byte(`{"model":"org/m<1>&x"}`), true)), "written unescaped, as servers do")
}

// Split at every byte, a body comes out as if restored whole, and only a
// possible start of the name is ever held back.
func TestRestoreAcrossEverySplit(t *testing.T) {
	body := `data: {"id":"1","model":"llama-v2","choices":[{"delta":{"content":"model"}}]}` + "\n\n" +
		`data: {"id":"2","model": "llama-v2","usage":{}}` + "\n\n" + "data: [DONE]\n\n"
	want := string(NewRestorer("llama-v2", "alias").Restore([]byte(body), true))
	require.Equal(t, 2, strings.Count(want, `"alias"`))
	for i := 0; i <= len(body); i++ {
		for j := i; j <= len(body); j++ {
			r := NewRestorer("llama-v2", "alias")
			var got []byte
			got = append(got, r.Restore([]byte(body[:i]), false)...)
			got = append(got, r.Restore([]byte(body[i:j]), false)...)
			got = append(got, r.Restore([]byte(body[j:]), true)...)
			require.Equal(t, want, string(got), "split at %d and %d", i, j)
		}
	}
}

func TestRestoreHoldsOnlyAPossibleStart(t *testing.T) {
	r := NewRestorer("llama-v2", "alias")
	event := `data: {"model":"llama-v2"}` + "\n\n"
	assert.Equal(t, `data: {"model":"alias"}`+"\n\n", string(r.Restore([]byte(event), false)), "a whole event is not held")
	assert.Equal(t, `data: {`, string(r.Restore([]byte(`data: {"mod`), false)))
	assert.Equal(t, `"model":"alias"}`, string(r.Restore([]byte(`el":"llama-v2"}`), false)))
	assert.Equal(t, `{`, string(r.Restore([]byte(`{"model":"llama`), false)))
	assert.Equal(t, `"model":"llama`, string(r.Restore(nil, true)), "the end flushes what was held")
}

func TestReader(t *testing.T) {
	body := strings.Repeat(`{"model":"llama-v2","x":"`+strings.Repeat("y", 1000)+`"}`, 100)
	want := strings.ReplaceAll(body, `"llama-v2"`, `"alias"`)
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"whole":      func(r io.Reader) io.Reader { return r },
		"one byte":   iotest.OneByteReader,
		"half reads": iotest.HalfReader,
		"data+EOF":   iotest.DataErrReader,
	} {
		t.Run(name, func(t *testing.T) {
			rc := Reader(io.NopCloser(wrap(strings.NewReader(body))), NewRestorer("llama-v2", "alias"))
			got, err := io.ReadAll(iotest.OneByteReader(rc))
			require.NoError(t, err)
			assert.Equal(t, want, string(got))
			require.NoError(t, rc.Close())
		})
	}
}

func TestReaderPassesErrorsAfterData(t *testing.T) {
	boom := io.ErrUnexpectedEOF
	rc := Reader(io.NopCloser(io.MultiReader(strings.NewReader(`{"model":"llama`), iotest.ErrReader(boom))), NewRestorer("llama-v2", "alias"))
	got, err := io.ReadAll(rc)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, `{"model":"llama`, string(got), "what was held comes out before the error")
}

func FuzzRestore(f *testing.F) {
	f.Add([]byte(`{"model":"llama-v2"}`), "llama-v2", uint8(5))
	f.Add([]byte(`data: {"model": "llama-v2"}`+"\n\n"), "llama-v2", uint8(17))
	f.Add([]byte(`{"model":"a\"b","model":"a\"b"}`), `a"b`, uint8(12))
	f.Fuzz(func(t *testing.T, body []byte, served string, split uint8) {
		q := quote(served)
		want := bytes.ReplaceAll(body, append([]byte(`"model":`), q...), []byte(`"model":"alias"`))
		want = bytes.ReplaceAll(want, append([]byte(`"model": `), q...), []byte(`"model": "alias"`))
		i := min(int(split), len(body))
		r := NewRestorer(served, "alias")
		got := append(append([]byte(nil), r.Restore(body[:i], false)...), r.Restore(body[i:], true)...)
		if !bytes.Equal(got, want) {
			t.Fatalf("split at %d: got %q, want %q", i, got, want)
		}
	})
}
