package cli

import (
	"bytes"
	"flag"
	"testing"

	"github.com/stretchr/testify/require"
)

// testFlags is a flag set with a string, an int and a bool flag.
func testFlags() (*flag.FlagSet, *string, *int, *bool) {
	fs := flag.NewFlagSet("aigw test", flag.ContinueOnError)
	s := fs.String("name", "", "a string")
	n := fs.Int("port", 0, "an int")
	b := fs.Bool("watch", true, "a bool")
	return fs, s, n, b
}

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		positional []string
		str        string
		port       int
		watch      bool
	}{
		{name: "flags first", args: []string{"--port", "1999", "a.yaml"}, positional: []string{"a.yaml"}, port: 1999, watch: true},
		{name: "flags after the file", args: []string{"a.yaml", "--port", "1999", "b.yaml", "-name=x"}, positional: []string{"a.yaml", "b.yaml"}, str: "x", port: 1999, watch: true},
		{name: "bool flag takes no value", args: []string{"--watch", "a.yaml"}, positional: []string{"a.yaml"}, watch: true},
		{name: "bool flag with value", args: []string{"a.yaml", "--watch=false"}, positional: []string{"a.yaml"}, watch: false},
		{name: "terminator", args: []string{"a.yaml", "--", "--port", "7"}, positional: []string{"a.yaml", "--port", "7"}, watch: true},
		{name: "value that looks like a terminator", args: []string{"--name", "--", "a.yaml", "--port=3"}, positional: []string{"a.yaml"}, str: "--", port: 3, watch: true},
		{name: "value that looks like a flag", args: []string{"--name", "-x", "a.yaml"}, positional: []string{"a.yaml"}, str: "-x", watch: true},
		{name: "dash alone is positional", args: []string{"-", "--port=2"}, positional: []string{"-"}, port: 2, watch: true},
		{name: "nothing", args: nil, positional: nil, watch: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, s, n, b := testFlags()
			var stdout bytes.Buffer
			pos, err := Parse(fs, "head\n", tc.args, &stdout)
			require.NoError(t, err)
			require.Equal(t, tc.positional, pos)
			require.Equal(t, tc.str, *s)
			require.Equal(t, tc.port, *n)
			require.Equal(t, tc.watch, *b)
			require.Empty(t, stdout.String())
		})
	}
}

func TestParseHelpGoesToStdout(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		fs, _, _, _ := testFlags()
		var stdout bytes.Buffer
		_, err := Parse(fs, "Usage: aigw test [flags] FILE\n", []string{"a.yaml", arg}, &stdout)
		require.ErrorIs(t, err, ErrHelp)
		require.NotErrorIs(t, err, ErrUsage)
		require.Contains(t, stdout.String(), "Usage: aigw test [flags] FILE\n")
		require.Contains(t, stdout.String(), "-port int")
	}
}

func TestParseErrorsAreUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"a.yaml", "--nope"}, "flag provided but not defined: -nope (see 'aigw test -h')"},
		{[]string{"--port", "many"}, `invalid value "many" for flag -port`},
		{[]string{"a.yaml", "--port"}, "flag needs an argument: -port"},
		{[]string{"---port=1"}, "bad flag syntax"},
	} {
		fs, _, _, _ := testFlags()
		var stdout bytes.Buffer
		_, err := Parse(fs, "head\n", tc.args, &stdout)
		require.ErrorIs(t, err, ErrUsage, "%v", tc.args)
		require.ErrorContains(t, err, tc.want)
		require.Empty(t, stdout.String())
	}
}
