// Command aigw is the AI gateway: `aigw run` serves AI traffic from a
// configuration file, `aigw sim` runs simulated model servers and `aigw
// demo` runs both with a bundled example.
package main

import (
	"context"
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
		os.Exit(1)
	}
}
