package main

import (
	"fmt"

	"github.com/spf13/cobra"

	apiserver "github.com/trainyard/trainyard/internal/api"
	"github.com/trainyard/trainyard/pkg/api"
)

func newEventsCommand() *cobra.Command {
	// The train commands' options; dead letters are of every forge, and
	// setup wants one named, so it gets the default.
	o := &trainOptions{forge: "gitlab"}
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Inspect and requeue the events a Trainyard server gave up on",
		Long: "Inspect and requeue the events a Trainyard server gave up on.\n\n" +
			"The server and token are found as for `trainyard train` (see its help).\n" +
			"Every events command needs the token: events hold the text of comments.",
		Example: "  trainyard events dead\n" +
			"  trainyard events dead show 1741003200000-0\n" +
			"  trainyard events dead requeue 1741003200000-0",
	}
	clientFlags(cmd, o)
	dead := newDeadListCommand(o, "dead", "List the events the workers gave up on, newest first")
	dead.AddCommand(
		newDeadListCommand(o, "list", "List the events the workers gave up on, newest first"),
		newDeadShowCommand(o), newDeadRequeueCommand(o),
	)
	cmd.AddCommand(dead)
	return cmd
}

// clientFlags adds the flags that say which server to ask and how to
// print its answers.
func clientFlags(cmd *cobra.Command, o *trainOptions) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.server, "server", "", "server URL (default $TRAINYARD_SERVER, else the context's, else "+defaultServer+")")
	pf.StringVar(&o.token, "token", "", "API token (default $TRAINYARD_TOKEN, else the context's)")
	pf.StringVar(&o.context, "context", "", "context of the client config to use (default $TRAINYARD_CONTEXT, else its current_context)")
	pf.StringVarP(&o.output, "output", "o", "table", "output format: table, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formatsOf(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("context", completeContexts)
}

// newDeadListCommand is "dead" itself and its "list".
func newDeadListCommand(o *trainOptions, use, short string) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLimit(limit, apiserver.MaxDeadLetters); err != nil {
				return err
			}
			c, p, err := o.setup(cmd)
			if err != nil {
				return err
			}
			dls, err := c.DeadLetters(cmd.Context(), limit)
			if err != nil {
				return err
			}
			return p.print(api.DeadLetterList{DeadLetters: dls}, func() error { return p.deadLetters(dls) })
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, fmt.Sprintf("how many to show (at most %d)", apiserver.MaxDeadLetters))
	return cmd
}

func newDeadShowCommand(o *trainOptions) *cobra.Command {
	return &cobra.Command{
		Use:               "show ID",
		Short:             "Show a dead letter with its event",
		ValidArgsFunction: o.completeDead,
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := o.setup(cmd)
			if err != nil {
				return err
			}
			d, err := c.DeadLetter(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return p.print(d, func() error { return p.deadLetter(d) })
		},
	}
}

func newDeadRequeueCommand(o *trainOptions) *cobra.Command {
	return &cobra.Command{
		Use:               "requeue ID",
		ValidArgsFunction: o.completeDead,
		Short:             "Put a dead letter's event back on the event stream, to be handled again from scratch",
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := o.setup(cmd)
			if err != nil {
				return err
			}
			rq, err := c.Requeue(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return p.print(rq, func() error { return p.requeued(rq) })
		},
	}
}
