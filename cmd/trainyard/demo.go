package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trainyard/trainyard/internal/demo"
)

func newDemoCommand() *cobra.Command {
	o := demo.Defaults()
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a merge train on a local fake GitLab with real git and an embedded Redis",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			s, err := demo.Run(cmd.Context(), o, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\n%d merged, %d evicted, %d pipelines, main at %.12s, in %.1fs:\n", s.Merged, s.Evicted, s.Pipelines, s.Head, s.Elapsed.Seconds())
			for _, m := range s.MRs {
				fmt.Fprintf(out, "  !%-3d %-8s %s\n", m.MR, m.State, m.Reason)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.MRs, "mrs", o.MRs, "number of merge requests")
	f.Float64Var(&o.FailRate, "fail-rate", o.FailRate, "fraction of merge requests whose tests fail")
	f.Float64Var(&o.ConflictRate, "conflict-rate", o.ConflictRate, "fraction of merge requests that conflict with an earlier one")
	f.IntVar(&o.MaxParallel, "max-parallel", o.MaxParallel, "cars built and tested at once")
	f.DurationVar(&o.CIDuration, "ci-duration", o.CIDuration, "how long each pipeline runs")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "seed for which merge requests are broken or conflicting")
	f.StringVar(&o.Dir, "dir", "", "keep the forge's repositories and pipeline log here")
	return cmd
}
