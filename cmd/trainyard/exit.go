package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trainyard/trainyard/pkg/client"
)

// Exit codes, so scripts can tell a typo from a missing train from a
// server that is down without reading the message. docs/api.md lists them.
const (
	exitOK          = 0
	exitFailed      = 1 // anything else: the server refused, a conflict, a bad answer
	exitUsage       = 2 // unknown command or flag, wrong arguments, bad flag value
	exitNotFound    = 3 // the server has no such train, MR or dead letter
	exitAuth        = 4 // no token, or a token the server does not accept for this
	exitUnreachable = 5 // no answer: connection refused, DNS, timeout, TLS
)

// usageError is a mistake in how trainyard was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitCode maps what a command returned to the process's exit status.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	var ae *client.Error
	if errors.As(err, &ae) {
		switch ae.Status {
		case 401, 403:
			return exitAuth
		case 404:
			return exitNotFound
		}
		return exitFailed
	}
	// A file that could not be read is no server out of reach, although
	// its errno satisfies net.Error.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return exitFailed
	}
	var ne net.Error
	var ue2 *url.Error
	var oe *net.OpError
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) || errors.As(err, &ue2) || errors.As(err, &oe) {
		return exitUnreachable
	}
	return exitFailed
}

// conventions makes the whole command tree behave alike: flag mistakes and
// wrong arguments are usage errors, and a command that only groups others
// prints its help when called bare and refuses an unknown subcommand with
// a suggestion, at every level (cobra does the latter for the root alone
// and exits 0 with help for the rest).
func conventions(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%v (see '%s --help')", err, c.CommandPath())
	})
	cmd.SuggestionsMinimumDistance = 2
	if cmd.HasSubCommands() && cmd.Run == nil && cmd.RunE == nil {
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return c.Help()
			}
			return unknownCommand(c, args[0])
		}
	}
	if check := cmd.Args; check != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			err := check(c, args)
			var ue usageError
			switch {
			case err == nil || errors.As(err, &ue):
				return err
			case c.HasSubCommands() && len(args) > 0:
				return unknownCommand(c, args[0])
			}
			names := placeholders(c.Use)
			usage := strings.TrimSpace(c.CommandPath() + " " + strings.Join(names, " "))
			switch {
			case len(args) < len(names):
				return usagef("missing %s: usage is %s", strings.Join(names[len(args):], " and "), usage)
			case len(args) > len(names) && !strings.Contains(c.Use, "["):
				return usagef("unexpected argument %q: usage is %s", args[len(names)], usage)
			}
			return usagef("%v (see '%s --help')", err, c.CommandPath())
		}
	}
	for _, sub := range cmd.Commands() {
		conventions(sub)
	}
}

func unknownCommand(c *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, c.CommandPath())
	if s := c.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + quoteAll(s) + "?"
	}
	return usagef("%s (see '%s --help')", msg, c.CommandPath())
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, " or ")
}

// placeholders are the required arguments a command's Use line names in
// capitals ("show PROJECT BRANCH"); optional ones are in brackets.
func placeholders(use string) []string {
	var names []string
	for _, f := range strings.Fields(use)[1:] {
		if strings.HasPrefix(f, "[") {
			break
		}
		names = append(names, f)
	}
	return names
}
