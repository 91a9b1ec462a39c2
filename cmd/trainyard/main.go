// Command trainyard is the merge train service and its command-line client.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand(os.Stdout, os.Stderr).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, errorText(err))
		os.Exit(exitCode(err))
	}
}

// errorText is what a failure prints: its message may quote what the
// server answered, which may quote what a forge's users wrote. Its lines
// stay (a configuration's problems are one a line); other control
// characters do not.
func errorText(err error) string { return "trainyard: " + printable(err.Error(), true) }
