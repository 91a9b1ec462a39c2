package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/trainyard/trainyard/internal/buildinfo"
)

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "trainyard",
		Short:         "Merge trains for GitLab and GitHub",
		Long:          "Trainyard tests every merge request merged on top of the ones queued ahead of it, in parallel,\nand moves the target branch only to commits whose exact tree passed CI.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Get().Version,
	}
	// --version prints what `trainyard version` prints.
	root.SetVersionTemplate(buildinfo.Get().String() + "\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newVersionCommand(), newDemoCommand(), newFakeforgeCommand(), newServeCommand(), newSimCommand())
	root.AddCommand(newTrainCommand(), newEventsCommand(), newContextCommand(), newConfigCommand())
	// cobra adds these when it runs; added now, they follow the same
	// conventions as the rest (a typo in `completion bsh` is an error).
	root.SetHelpCommand(newHelpCommand())
	root.InitDefaultCompletionCmd()
	conventions(root)
	return root
}

// newHelpCommand is `help [command]`, which refuses a command that does
// not exist, with a suggestion, as the commands themselves do.
func newHelpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			target := c.Root()
			for _, name := range args {
				next, _, err := target.Find([]string{name})
				if err != nil || next == target {
					return unknownCommand(target, name)
				}
				target = next
			}
			return target.Help()
		},
	}
}

func newVersionCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := newPrinter(cmd.OutOrStdout(), output)
			if err != nil {
				return err
			}
			info := buildinfo.Get()
			return p.print(info, func() error {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), info.String())
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}
