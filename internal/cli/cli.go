// Package cli parses the command lines of the aigw commands, the same way
// for each: flags may come before or after the positional arguments ("aigw
// run cfg.yaml --admin-port 1999"), "--" ends the flags, -h and --help print
// the command's usage on stdout, and every command-line mistake is an error
// wrapping [ErrUsage] (exit status 2).
//
// It imports only the standard library, so every command package may use it.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// ErrUsage marks a command line that cannot be run: an unknown flag or
// command, a bad flag value, a missing or unexpected argument.
var ErrUsage = errors.New("usage error")

// ErrHelp is returned by [Parse] after it printed the usage for -h or
// --help; the command then ends successfully.
var ErrHelp = flag.ErrHelp

// Usagef returns an error wrapping [ErrUsage] with the formatted message.
func Usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// Parse parses args into fs and returns the positional arguments, in order.
// Flags may follow positional arguments; "--" makes every later argument
// positional. head is printed before the flag defaults in the usage, which
// goes to stdout for -h and --help (Parse then returns [ErrHelp]). Other
// parse errors wrap [ErrUsage] and name `<fs.Name()> -h`; nothing is printed
// for them, the caller reports the error.
//
// Go's flag package stops at the first positional argument, so Parse first
// separates the flags from the positionals: a flag that is not boolean and
// has no "=value" takes the next argument as its value, as the flag package
// does. Anything else starting with "-" (except "-" itself) is handed to
// the flag package, which reports what it does not know.
func Parse(fs *flag.FlagSet, head string, args []string, stdout io.Writer) ([]string, error) {
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	flags, positional := split(fs, args)
	err := fs.Parse(flags)
	switch {
	case errors.Is(err, flag.ErrHelp):
		PrintUsage(stdout, fs, head)
		return nil, ErrHelp
	case err != nil:
		return nil, fmt.Errorf("%w: %w (see '%s -h')", ErrUsage, err, fs.Name())
	}
	// fs consumed every flag: split left each value with its flag.
	return append(positional, fs.Args()...), nil
}

// PrintUsage writes head, then the defaults of fs's flags, to w.
func PrintUsage(w io.Writer, fs *flag.FlagSet, head string) {
	fmt.Fprint(w, head)
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
}

// split separates the flag arguments (with their values) from the
// positional ones.
func split(fs *flag.FlagSet, args []string) (flags, positional []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(positional, args[i+1:]...)
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimPrefix(a[1:], "-")
		if strings.Contains(name, "=") || i+1 == len(args) {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBool(f) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, positional
}

// isBool reports whether f takes no value, as the flag package decides.
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
