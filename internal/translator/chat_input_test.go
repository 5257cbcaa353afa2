package translator

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/apischema/openai"
)

// TestReadTools checks the scanner's reading of tools against
// encoding/json's, and that a malformed tool is a 400 naming it.
func TestReadTools(t *testing.T) {
	for _, doc := range []string{
		`null`, `[]`,
		`[{"type":"function","function":{"name":"w","description":"d","parameters":{"type":"object","properties":{"c":{"type":"string"}}}}}]`,
		`[{"type":"function","function":{"name":"a"}},{"Type":"function","FUNCTION":{"Name":"b","parameters":null}},null]`,
		`[{"type":"function","function":null,"extra":[1,{"x":"}"}]}]`,
	} {
		var want []openai.Tool
		require.NoError(t, json.Unmarshal([]byte(doc), &want), doc)
		got, err := readTools([]byte(doc))
		require.NoError(t, err, doc)
		require.Equal(t, want, got, doc)
	}
	for bad, field := range map[string]string{
		`{"type":"function"}`:                  "tools",
		`[{"type":1}]`:                         "tools[0]",
		`[{"type":"function"},"x"]`:            "tools[1]",
		`[{"function":{"name":["f"]}}]`:        "tools[0]",
		`[{"type":"function","function":"f"}]`: "tools[0]",
	} {
		_, err := readTools([]byte(bad))
		var e *apierror.Error
		require.ErrorAs(t, err, &e, bad)
		require.Equal(t, 400, e.Status, bad)
		require.Contains(t, e.Message, field, bad)
	}
}
