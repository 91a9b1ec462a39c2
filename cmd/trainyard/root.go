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
	conventions(root)
	return root
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
