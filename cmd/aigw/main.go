// Command aigw is the AI gateway: `aigw run` serves AI traffic from a
// configuration file, `aigw sim` runs simulated model servers and `aigw
// demo` runs both with a bundled example.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/aigw-dev/aigw/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := app.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "aigw:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is 0 on success, 2 for a command line that cannot be run (as
// Go's flag package and most Unix tools do) and 1 for any other failure.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, app.ErrUsage):
		return 2
	default:
		return 1
	}
}
