package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trainyard/trainyard/internal/sim"
)

func newSimCommand() *cobra.Command {
	s := sim.DefaultScenario()
	var file, grid, format string
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate merge strategies on a virtual clock with the real planner",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if grid != "" {
				return runGrid(cmd, grid, format, s.Seed)
			}
			sc := s
			if file != "" {
				loaded, err := sim.LoadScenario(file, sim.DefaultScenario())
				if err != nil {
					return err
				}
				sc = overlayFlags(cmd, loaded, s)
			}
			p, err := newPrinter(cmd.OutOrStdout(), format)
			if err != nil {
				return err
			}
			rep, err := sim.Compare(sc)
			if err != nil {
				return err
			}
			return p.print(rep, func() error { return writeSimTable(cmd.OutOrStdout(), rep) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "scenario", "", "YAML scenario file; flags given too override it")
	f.StringVar(&grid, "grid", "", "YAML grid file: sweep scenarios and compare trainyard with gitlab and the best peer at each")
	f.StringVarP(&format, "output", "o", "table", "output format: table, json or yaml")
	f.StringVar(&s.Arrival, "arrival", s.Arrival, "arrivals: poisson or backlog")
	f.Float64Var(&s.RatePerHour, "rate", s.RatePerHour, "poisson arrivals per hour")
	f.IntVar(&s.MRs, "mrs", s.MRs, "number of MRs (backlog size; 0 with poisson: until the horizon)")
	f.StringVar(&s.CI, "ci", s.CI, "CI duration distribution: fixed, normal or lognormal")
	f.DurationVar((*time.Duration)(&s.CIMean), "ci-mean", time.Duration(s.CIMean), "mean CI duration")
	f.DurationVar((*time.Duration)(&s.CISpread), "ci-spread", time.Duration(s.CISpread), "standard deviation of the CI duration")
	f.Float64Var(&s.BreakProbability, "break", s.BreakProbability, "probability an MR is broken")
	f.Float64Var(&s.FlakeProbability, "flake", s.FlakeProbability, "probability any pipeline fails spuriously")
	f.Float64Var(&s.ConflictProbability, "conflict", s.ConflictProbability, "probability two nearby MRs conflict")
	f.IntVar(&s.MaxParallel, "max-parallel", s.MaxParallel, "window of the gitlab and trainyard strategies")
	f.IntVar(&s.Retries, "retries", s.Retries, "trainyard's retries of a failed pipeline")
	f.IntVar(&s.BatchSize, "batch-size", s.BatchSize, "most MRs one trainyard pipeline tests (and the bound's batch limit)")
	f.IntVar(&s.MinWindow, "min-window", s.MinWindow, "floor of the thrift strategy's adaptive window")
	f.DurationVar((*time.Duration)(&s.Horizon), "horizon", time.Duration(s.Horizon), "stop at this virtual time (0: when every MR has left)")
	f.Uint64Var(&s.Seed, "seed", s.Seed, "random seed; the same seed gives the same result")
	f.Float64Var(&s.UrgentFraction, "urgent", s.UrgentFraction, "share of the MRs that are urgent, chosen from the seed (the planner's strategies only)")
	f.StringVar(&s.UrgentAs, "urgent-as", s.UrgentAs, "priority urgent MRs are added with: urgent or high")
	f.IntVar(&s.Lanes, "lanes", s.Lanes, "lanes to split the train into for the trainyard-lanes strategy (1: no lanes, no such strategy)")
	f.Float64Var(&s.CrossLane, "cross-lane", s.CrossLane, "share of the MRs that touch two lanes, chosen from the seed (with --lanes above 1)")
	f.Float64Var(&s.LaneConflict, "lane-conflict", s.LaneConflict, "chance an integration of two or more lanes holds a cross-lane interaction (with --lanes above 1)")
	f.StringVar(&s.LanePool, "lane-pool", sim.LanePoolStatic, "how lanes share --max-parallel: static (a fixed window each) or shared (one pool; with --lanes above 1)")
	f.StringVar(&s.LaneIntegration, "lane-integration", sim.LaneIntegrationLine, "how MRs that passed their lanes reach the target: line (an integration line) or train (the target's train; with --lanes above 1)")
	return cmd
}

// gridFlags are the flags --grid takes: the file holds every other input,
// and a flag for a field an axis sweeps could only be ignored. The seed is
// never swept, and trying another is how a grid's result is checked.
func gridFlags() []string { return []string{"grid", "output", "seed"} }

func runGrid(cmd *cobra.Command, file, format string, seed uint64) error {
	var other []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if !slices.Contains(gridFlags(), f.Name) {
			other = append(other, "--"+f.Name)
		}
	})
	if len(other) > 0 {
		return usagef("--grid takes its scenarios from the file: drop %s (only -o and --seed go with it)", strings.Join(other, ", "))
	}
	p, err := newPrinter(cmd.OutOrStdout(), format)
	if err != nil {
		return err
	}
	g, err := sim.LoadGrid(file)
	if err != nil {
		return err
	}
	if cmd.Flags().Changed("seed") {
		g.Base.Seed = seed
	}
	rep, err := sim.RunGrid(cmd.Context(), g)
	if err != nil {
		return fmt.Errorf("grid %s: %w", file, err)
	}
	return p.print(rep, func() error { return sim.WriteGridTable(cmd.OutOrStdout(), rep) })
}

// overlayFlags applies the flags set on the command line over a loaded
// scenario: flags win over the file.
func overlayFlags(cmd *cobra.Command, loaded, flags sim.Scenario) sim.Scenario {
	set := map[string]func(){
		"arrival": func() { loaded.Arrival = flags.Arrival }, "rate": func() { loaded.RatePerHour = flags.RatePerHour },
		"mrs": func() { loaded.MRs = flags.MRs }, "ci": func() { loaded.CI = flags.CI },
		"ci-mean": func() { loaded.CIMean = flags.CIMean }, "ci-spread": func() { loaded.CISpread = flags.CISpread },
		"break": func() { loaded.BreakProbability = flags.BreakProbability }, "flake": func() { loaded.FlakeProbability = flags.FlakeProbability },
		"conflict": func() { loaded.ConflictProbability = flags.ConflictProbability }, "max-parallel": func() { loaded.MaxParallel = flags.MaxParallel },
		"retries": func() { loaded.Retries = flags.Retries }, "horizon": func() { loaded.Horizon = flags.Horizon },
		"batch-size": func() { loaded.BatchSize = flags.BatchSize }, "min-window": func() { loaded.MinWindow = flags.MinWindow },
		"seed":   func() { loaded.Seed = flags.Seed },
		"urgent": func() { loaded.UrgentFraction = flags.UrgentFraction }, "urgent-as": func() { loaded.UrgentAs = flags.UrgentAs },
		"lanes": func() { loaded.Lanes = flags.Lanes }, "cross-lane": func() { loaded.CrossLane = flags.CrossLane },
		"lane-conflict":    func() { loaded.LaneConflict = flags.LaneConflict },
		"lane-pool":        func() { loaded.LanePool = flags.LanePool },
		"lane-integration": func() { loaded.LaneIntegration = flags.LaneIntegration },
	}
	for name, apply := range set {
		if cmd.Flags().Changed(name) {
			apply()
		}
	}
	return loaded
}

func writeSimTable(out io.Writer, rep sim.Report) error {
	var gitlab sim.Result
	for _, r := range rep.Strategies {
		if r.Name == "gitlab" {
			gitlab = r
		}
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\tmerged\tevicted\tbroken merged\tgood evicted\tmerged/h\tvs gitlab\tvs bound\tttm p50\tvs gitlab\tvs bound\tttm p95\tttm p99\tpipelines/merged\twasted min\t")
	for _, r := range rep.Strategies {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.2f\t%s\t%s\t%.0f\t%s\t%s\t%.0f\t%.0f\t%.2f\t%.0f\t\n",
			r.Name, r.Merged, r.Evicted, r.BrokenMerged, r.GoodEvicted,
			r.ThroughputPerHour, ratio(r.ThroughputPerHour, gitlab.ThroughputPerHour), ratio(r.ThroughputPerHour, rep.Bound.ThroughputPerHour),
			r.TTMP50Minutes, ratio(r.TTMP50Minutes, gitlab.TTMP50Minutes), ratio(r.TTMP50Minutes, rep.Bound.TTMP50Minutes),
			r.TTMP95Minutes, r.TTMP99Minutes, r.PipelinesPerMerged, r.WastedPipelineMinutes)
	}
	fmt.Fprintf(tw, "bound\t\t\t\t\t%.2f\t\t\t%.0f\t\t\t\t\t\t\t\n", rep.Bound.ThroughputPerHour, rep.Bound.TTMP50Minutes)
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := writeLanesTable(out, rep); err != nil {
		return err
	}
	return writeUrgentTable(out, rep)
}

// writeLanesTable sets trainyard-lanes beside trainyard's one train and
// the bound, with what its lanes and integration line spent.
func writeLanesTable(out io.Writer, rep sim.Report) error {
	var one, lanes *sim.Result
	for i, r := range rep.Strategies {
		switch r.Name {
		case "trainyard":
			one = &rep.Strategies[i]
		case sim.LanesStrategy:
			lanes = &rep.Strategies[i]
		}
	}
	if one == nil || lanes == nil || lanes.Lanes == nil {
		return nil
	}
	l := lanes.Lanes
	windows := make([]string, len(l.Windows))
	for i, w := range l.Windows {
		windows[i] = fmt.Sprint(w)
	}
	pool := fmt.Sprintf("windows %s, and 1 pipeline for integration", strings.Join(windows, " "))
	if l.Pool == sim.LanePoolShared {
		pool = fmt.Sprintf("a shared pool of %d pipelines, 1 kept for integration; at most %d ran at once, each lane at most %s",
			rep.Scenario.MaxParallel, l.PeakPipelines, strings.Join(windows, " "))
	}
	fmt.Fprintf(out, "\nlanes: %d (%s), %d cross-lane MRs, lane conflict %g; %d lane and %d integration pipelines, %d integrations, %d interactions, %d reverts\n",
		l.Lanes, pool, l.CrossLaneMRs, rep.Scenario.LaneConflict,
		l.LanePipelines, l.IntegrationPipelines, l.Integrations, l.Interactions, l.Reverts)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\tmerged\tgood evicted\tmerged/h\tvs trainyard\tvs bound\tpipelines/merged\tvs trainyard\tttm p50\tvs trainyard\tttm p95\tvs trainyard\t")
	for _, r := range []*sim.Result{one, lanes} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%s\t%s\t%.2f\t%s\t%.0f\t%s\t%.0f\t%s\t\n", r.Name, r.Merged, r.GoodEvicted,
			r.ThroughputPerHour, ratio(r.ThroughputPerHour, one.ThroughputPerHour), ratio(r.ThroughputPerHour, rep.Bound.ThroughputPerHour),
			r.PipelinesPerMerged, ratio(r.PipelinesPerMerged, one.PipelinesPerMerged),
			r.TTMP50Minutes, ratio(r.TTMP50Minutes, one.TTMP50Minutes), r.TTMP95Minutes, ratio(r.TTMP95Minutes, one.TTMP95Minutes))
	}
	return tw.Flush()
}

// writeUrgentTable splits the times to merge of a scenario with urgent MRs
// into the urgent MRs' and the others', for the strategies that gave them
// the priority.
func writeUrgentTable(out io.Writer, rep sim.Report) error {
	var with, without []string
	for _, r := range rep.Strategies {
		if r.Urgent != nil {
			with = append(with, r.Name)
		} else {
			without = append(without, r.Name)
		}
	}
	if rep.Scenario.UrgentFraction == 0 || len(with) == 0 {
		return nil
	}
	var mrs int
	for _, r := range rep.Strategies {
		if r.Urgent != nil {
			mrs = r.Urgent.MRs
			break
		}
	}
	fmt.Fprintf(out, "\nurgent MRs: %d (%g%% of the MRs), added as %s by the planner's strategies",
		mrs, 100*rep.Scenario.UrgentFraction, rep.Scenario.UrgentAs)
	if len(without) > 0 {
		fmt.Fprintf(out, "; the peers (%s) have no priorities and treat them as normal", strings.Join(without, ", "))
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\turgent merged\tttm p50\tttm p95\tnormal merged\tttm p50\tttm p95\tpipelines/merged\t")
	for _, r := range rep.Strategies {
		if u := r.Urgent; u != nil {
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%d\t%.0f\t%.0f\t%.2f\t\n", r.Name, u.Merged, u.TTMP50Minutes, u.TTMP95Minutes,
				u.NormalMerged, u.NormalTTMP50Minutes, u.NormalTTMP95Minutes, r.PipelinesPerMerged)
		}
	}
	return tw.Flush()
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}
