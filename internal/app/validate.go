package app

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/aigw-dev/aigw/internal/cli"
	"github.com/aigw-dev/aigw/internal/standalone"
)

const validateUsage = `Usage: aigw validate [flags] FILE|DIR...

Checks a configuration as 'aigw run' would load it, without serving it: it
prints the warnings, the errors (the messages 'aigw run' gives) or a summary
of what it would serve. Exit status 0 when valid, 1 when not.
${VAR} references are resolved from the environment, as 'aigw run' does.

Flags:
`

func validateCommand(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("aigw validate", flag.ContinueOnError)
	paths, err := cli.Parse(fs, validateUsage, args, stdout)
	if err != nil {
		return ignoreHelp(err)
	}
	if len(paths) == 0 {
		return cli.Usagef("no configuration given (aigw validate FILE|DIR...)")
	}
	res, err := (&standalone.Loader{LookupEnv: lookupEnv}).Load(ctx, paths...)
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if err != nil {
		return invalidConfig(err)
	}
	_, err = fmt.Fprintf(stdout, "configuration valid: %s\n", summarize(res.Config))
	return err
}
