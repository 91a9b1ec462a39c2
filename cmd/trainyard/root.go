package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "trainyard",
		Short:         "Merge trains for GitLab and GitHub",
		Long:          "Trainyard tests every merge request merged on top of the ones queued ahead of it, in parallel,\nand moves the target branch only to commits whose exact tree passed CI.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newVersionCommand(), newDemoCommand(), newFakeforgeCommand(), newServeCommand(), newSimCommand())
	root.AddCommand(newTrainCommand(), newEventsCommand())
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "trainyard", version)
			return err
		},
	}
}
