package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trainyard/trainyard/internal/sim"
)

func newDemoCommand() *cobra.Command {
	s := sim.Script{MRs: 6, Broken: []int64{3}, Conflicts: [][2]int64{{2, 5}}, MaxParallel: 4}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a merge train on a simulated project and show what it does",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "A train of %d merge requests for main: !%v is broken, !%d and !%d conflict, %d cars tested at once.\n\n",
				s.MRs, s.Broken, s.Conflicts[0][0], s.Conflicts[0][1], s.MaxParallel)
			res, err := sim.RunScript(s, func(e sim.Event) { fmt.Fprintf(out, "%4d  %s\n", e.Step, e.Text) })
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\nDone in %d steps with %d pipelines. main is at %.8s.\n", res.Steps, res.Pipelines, res.Target)
			for _, c := range res.Departed {
				fmt.Fprintf(out, "  !%-3d %-8s %s\n", c.MR, c.State, c.Reason.Message)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&s.MRs, "mrs", s.MRs, "number of merge requests")
	cmd.Flags().IntVar(&s.MaxParallel, "max-parallel", s.MaxParallel, "cars built and tested at once")
	cmd.Flags().IntVar(&s.Retries, "retries", s.Retries, "extra pipelines for a failing car")
	return cmd
}
