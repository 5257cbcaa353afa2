package gemini

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGenerationConfigEmpty: Empty agrees with encoding/json's omitempty,
// field by field.
func TestGenerationConfigEmpty(t *testing.T) {
	require.True(t, (&GenerationConfig{}).Empty())
	require.True(t, (&GenerationConfig{StopSequences: []string{}, ResponseJSONSchema: json.RawMessage{}}).Empty(), "empty slices are omitted")
	typ := reflect.TypeFor[GenerationConfig]()
	for i := range typ.NumField() {
		var g GenerationConfig
		f := reflect.ValueOf(&g).Elem().Field(i)
		switch f.Kind() {
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Slice:
			if f.Type() == reflect.TypeFor[json.RawMessage]() {
				f.SetBytes([]byte(`{}`))
			} else {
				f.Set(reflect.ValueOf([]string{"x"}))
			}
		case reflect.Bool:
			f.SetBool(true)
		case reflect.String:
			f.SetString("x")
		default:
			t.Fatalf("field %s: kind %s not covered", typ.Field(i).Name, f.Kind())
		}
		enc, err := json.Marshal(&g)
		require.NoError(t, err)
		require.NotEqual(t, "{}", string(enc), typ.Field(i).Name)
		require.False(t, g.Empty(), "field %s set: %s", typ.Field(i).Name, enc)
	}
}
