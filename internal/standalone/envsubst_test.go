package standalone

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSubstituteEnv(t *testing.T) {
	env := map[string]string{"A": "alpha", "EMPTY": "", "N": "1", "HAS_BRACE": "x}y", "DOLLAR": "${A}"}
	for _, tc := range []struct {
		name, in, want string
		issues         []envIssue
		wantErr        string
		errLine        int
	}{
		{name: "no reference", in: "plain: text\n", want: "plain: text\n"},
		{name: "set", in: "v: ${A}", want: "v: alpha"},
		{name: "twice on a line", in: "${A}-${N}", want: "alpha-1"},
		{name: "value is not re-expanded", in: "${DOLLAR}", want: "${A}"},
		{name: "value with brace", in: "${HAS_BRACE}", want: "x}y"},
		{
			name: "unset becomes empty with a warning", in: "a: 1\nb: ${MISSING}\n", want: "a: 1\nb: \n",
			issues: []envIssue{{line: 2, msg: "environment variable MISSING is not set; substituted the empty string (use ${MISSING:=default} for a default)"}},
		},
		{name: "set but empty, no warning", in: "[${EMPTY}]", want: "[]"},
		{name: ":= default when unset", in: "${MISSING:=d}", want: "d"},
		{name: ":= default when empty", in: "${EMPTY:=d}", want: "d"},
		{name: ":= value when set", in: "${A:=d}", want: "alpha"},
		{name: "= default only when unset", in: "${MISSING=d}|${EMPTY=d}", want: "d|"},
		{name: ":- default", in: "${EMPTY:-d}", want: "d"},
		{name: "- default", in: "${EMPTY-d}${MISSING-e}", want: "e"},
		{name: "empty default", in: "${MISSING:=}", want: ""},
		{name: "default with spaces and colons", in: "${MISSING:=http://x:80/a b}", want: "http://x:80/a b"},
		{name: "nested default", in: "${MISSING:=${A}}", want: "alpha"},
		{name: "nested default twice", in: "${MISSING:=${ALSO_MISSING:=${N}}}", want: "1"},
		{name: "unused default is not expanded", in: "${A:=${MISSING}}", want: "alpha"},
		{
			name: "unset inside a used default warns on the line", in: "\n\n${MISSING:=x${INNER}}", want: "\n\nx",
			issues: []envIssue{{line: 3, msg: "environment variable INNER is not set; substituted the empty string (use ${INNER:=default} for a default)"}},
		},
		{name: "escape", in: "$${A} and $${", want: "${A} and ${"},
		{name: "lone dollar", in: "price: 5$ and $ and $1", want: "price: 5$ and $ and $1"},
		{name: "regex end anchor", in: "^gpt-4o$", want: "^gpt-4o$"},
		{
			name: "bare name warns", in: "key: $A\n", want: "key: $A\n",
			issues: []envIssue{{line: 1, msg: "$A is not substituted; write ${A} to use the environment variable"}},
		},
		{name: "double dollar name does not warn", in: "$$A", want: "$$A"},
		{name: "line counting across multi-line default", in: "${MISSING:=a\nb}\n${B}", want: "a\nb\n", issues: []envIssue{{line: 3, msg: "environment variable B is not set; substituted the empty string (use ${B:=default} for a default)"}}},
		{name: "empty name", in: "a\n${}", wantErr: "invalid variable reference: \"${\" must be followed by a name ([A-Za-z_][A-Za-z0-9_]*)", errLine: 2},
		{name: "name starting with a digit", in: "${1A}", wantErr: "invalid variable reference: \"${\" must be followed by a name ([A-Za-z_][A-Za-z0-9_]*)", errLine: 1},
		{name: "unterminated", in: "\n\nx: ${A", wantErr: "unterminated variable reference ${A", errLine: 3},
		{name: "unterminated default", in: "${A:=x", wantErr: "unterminated variable reference ${A:=…", errLine: 1},
		{name: "unknown operator", in: "${A:+x}", wantErr: "invalid variable reference ${A…}: expected \"}\", \":=\", \"=\", \":-\" or \"-\" after the name", errLine: 1},
		{name: "error inside default", in: "\n${MISSING:=${}}", wantErr: "invalid variable reference: \"${\" must be followed by a name ([A-Za-z_][A-Za-z0-9_]*)", errLine: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, issues, err := substituteEnv([]byte(tc.in), lookupIn(env))
			if tc.wantErr != "" {
				require.Error(t, err)
				var se *envSyntaxError
				require.ErrorAs(t, err, &se)
				require.Equal(t, tc.wantErr, se.msg)
				require.Equal(t, tc.errLine, se.line)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(out))
			require.Equal(t, tc.issues, issues)
		})
	}
}

// TestSubstituteEnvNeverPrintsValues checks that issues and errors name
// variables, never their values.
func TestSubstituteEnvNeverPrintsValues(t *testing.T) {
	env := map[string]string{"KEY": "SENTINEL-VALUE"}
	for _, in := range []string{"${KEY} ${MISSING}", "${KEY", "${KEY:+x}", "$KEY", "${MISSING:=${KEY}${NOPE}}"} {
		_, issues, err := substituteEnv([]byte(in), lookupIn(env))
		if err != nil {
			require.NotContains(t, err.Error(), "SENTINEL")
		}
		for _, is := range issues {
			require.NotContains(t, is.msg, "SENTINEL")
		}
	}
}
