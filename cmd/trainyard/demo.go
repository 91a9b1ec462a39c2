package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/trainyard/trainyard/internal/demo"
)

func newDemoCommand() *cobra.Command {
	o := demo.Defaults()
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a merge train on a local fake GitLab (or GitHub) with real git and an embedded Redis",
		Long: "Run the whole service on one machine: an embedded Redis, a GitLab- or GitHub-compatible forge with\n" +
			"simulated CI, the webhook listener, workers, sweeper and API. Merge requests join the train by\n" +
			"/train add comments.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			_, noColour := os.LookupEnv("NO_COLOR")
			o.Live = !noColour && isTerminal(out)
			_, err := demo.Run(cmd.Context(), o, out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Forge, "forge", o.Forge, "forge to run on: gitlab, or github (its pull requests, signed webhooks and Actions checks)")
	f.IntVar(&o.MRs, "mrs", o.MRs, "number of merge requests")
	f.Float64Var(&o.FailRate, "fail-rate", o.FailRate, "fraction of merge requests whose tests fail")
	f.Float64Var(&o.FlakeRate, "flake-rate", o.FlakeRate, "fraction of passing pipelines that fail anyway")
	f.IntVar(&o.Retries, "retries", o.Retries, "extra pipelines a failing car gets, so a flake can pass on retry")
	f.Float64Var(&o.ConflictRate, "conflict-rate", o.ConflictRate, "fraction of merge requests that conflict with an earlier one")
	f.IntVar(&o.MaxParallel, "max-parallel", o.MaxParallel, "cars built and tested at once")
	f.DurationVar(&o.CIDuration, "ci-duration", o.CIDuration, "how long each pipeline runs")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "seed for which merge requests are broken or conflicting and which pipelines flake")
	f.StringVar(&o.Dir, "dir", "", "keep the repositories and write pipelines.jsonl, mrs.json and summary.json here")
	f.StringVar(&o.Serve, "serve", "", "after the train finishes, keep the API up on this address until Ctrl-C")
	return cmd
}
