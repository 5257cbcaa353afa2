package pool

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBodyModel(t *testing.T) {
	for body, want := range map[string]string{
		`{"model":"m"}`: "m",
		`{"x":[1,{"model":"inner"}],"model":"outer"}`: "outer",
		`{"model":"first","model":"second"}`:          "first",
		`{"model":42}`:                                "",
		`{"model":"caf\u00e9"}`:                       "café",
		`not json`:                                    "",
		`{"x":1}`:                                     "",
	} {
		require.Equal(t, want, bodyModel([]byte(body)), body)
	}
}
