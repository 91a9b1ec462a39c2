package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/demo"
)

// demoServeListen is where demo --serve listens unless told: where the
// train commands look by default.
const demoServeListen = "127.0.0.1:8080"

func newDemoCommand() *cobra.Command {
	o := demo.Defaults()
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a merge train on a local fake GitLab (or GitHub) with real git and an embedded Redis",
		Long: "Run the whole service on one machine: an embedded Redis, a GitLab- or GitHub-compatible forge with\n" +
			"simulated CI, the webhook listener, workers, sweeper, API and dashboard. Merge requests join the train\n" +
			"by /train add comments. On a terminal the train is drawn in place as it runs; otherwise each event\n" +
			"is a line.\n\n" +
			"With --serve, the service and the fake forge stay up after the train until Ctrl-C, and the demo\n" +
			"prints the dashboard's URL, the API token, the forge's control API and commands to drive them by\n" +
			"hand (see docs/playground.md).",
		Example: "  trainyard demo\n" +
			"  trainyard demo --forge github --mrs 12 --flake-rate 0.1 --retries 1\n" +
			"  trainyard demo --serve --listen 127.0.0.1:9090",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkDemoFlags(o); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f, ok := out.(*os.File); ok && liveBoard(f) {
				o.Live = true
				o.Size = func() (int, int) { return demo.TerminalSize(f.Fd()) }
			}
			if o.Serve && o.Listen == "" {
				o.Listen = demoServeListen
			}
			_, err := demo.Run(cmd.Context(), o, out)
			if errors.Is(err, demo.ErrAddressInUse) {
				return fmt.Errorf("%w: stop what listens there, or choose another address with --listen (127.0.0.1:0 takes any free port)", err)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Forge, "forge", o.Forge, "forge to run on: "+demo.ForgeGitLab+", or "+demo.ForgeGitHub+" (its pull requests, signed webhooks and Actions checks)")
	f.IntVar(&o.MRs, "mrs", o.MRs, "number of merge requests")
	f.Float64Var(&o.FailRate, "fail-rate", o.FailRate, "fraction of merge requests whose tests fail")
	f.Float64Var(&o.FlakeRate, "flake-rate", o.FlakeRate, "fraction of passing pipelines that fail anyway")
	f.IntVar(&o.Retries, "retries", o.Retries, "extra pipelines a failing car gets, so a flake can pass on retry")
	f.Float64Var(&o.ConflictRate, "conflict-rate", o.ConflictRate, "fraction of merge requests that conflict with an earlier one")
	f.IntVar(&o.MaxParallel, "max-parallel", o.MaxParallel, "cars built and tested at once")
	f.DurationVar(&o.CIDuration, "ci-duration", o.CIDuration, "how long each pipeline runs")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "seed for which merge requests are broken or conflicting and which pipelines flake")
	f.StringVar(&o.Dir, "dir", "", "keep the repositories and write pipelines.jsonl, mrs.json and summary.json here")
	f.BoolVar(&o.Serve, "serve", false, "after the train, keep Trainyard (API and dashboard) and the fake forge (with its control API) up until Ctrl-C")
	f.StringVar(&o.Listen, "listen", "", "Trainyard's address, for webhooks, API and dashboard (default "+demoServeListen+" with --serve, else a free port)")
	f.StringVar(&o.Token, "token", "", fmt.Sprintf("the API token with --serve, at least %d characters (default: a random one, printed)", config.MinSecretLen))
	return cmd
}

// checkDemoFlags refuses the flag values the demo cannot run with, as
// usage errors, before it starts anything.
func checkDemoFlags(o demo.Options) error {
	forges := []string{demo.ForgeGitLab, demo.ForgeGitHub}
	switch {
	case !slices.Contains(forges, o.Forge):
		return usagef("--forge %q: want %s", o.Forge, orList(forges))
	case o.Token != "" && utf8.RuneCountInString(o.Token) < config.MinSecretLen:
		// Not quoted: short or not, it is a secret.
		return usagef("--token: want at least %d characters, got %d", config.MinSecretLen, utf8.RuneCountInString(o.Token))
	case o.MRs < 0:
		return usagef("--mrs %d: want 0 or more", o.MRs)
	case o.MaxParallel < 1:
		return usagef("--max-parallel %d: want 1 or more", o.MaxParallel)
	case o.Retries < 0:
		return usagef("--retries %d: want 0 or more", o.Retries)
	case o.CIDuration < 0:
		return usagef("--ci-duration %s: want 0s or more", o.CIDuration)
	}
	for _, r := range []struct {
		flag string
		v    float64
	}{{"fail-rate", o.FailRate}, {"flake-rate", o.FlakeRate}, {"conflict-rate", o.ConflictRate}} {
		// Written so that NaN fails too.
		if !(r.v >= 0 && r.v <= 1) {
			return usagef("--%s %v: want a fraction from 0 to 1", r.flag, r.v)
		}
	}
	return nil
}

// liveBoard reports whether out is a terminal to draw the train on in
// place; NO_COLOR or TERM=dumb ask for plain lines.
func liveBoard(out *os.File) bool {
	_, noColour := os.LookupEnv("NO_COLOR")
	return !noColour && os.Getenv("TERM") != "dumb" && isTerminal(out)
}
