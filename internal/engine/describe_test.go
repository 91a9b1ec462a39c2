package engine

import (
	"testing"

	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/train"
)

func TestDescribeSaysHowEachCarIsTested(t *testing.T) {
	e := &Engine{cfg: Config{Profile: github.Profile("")}}
	tr := train.Train{Cars: []train.Car{
		{MR: 1, State: train.StateBuilt, Commit: "C1"},
		{MR: 2, State: train.StateRunning, Commit: "C2", Pipeline: 7},
		{MR: 3, State: train.StateFailed, Suspect: 9, Witness: &train.Witness{Pipeline: 10, SHA: "W"}},
		{MR: 4, State: train.StateRunning, Suspect: 9},
		{MR: 5, State: train.StateBuilt, Commit: "C5"},
	}}
	want := []string{
		"tested in one batch with the merge requests up to #2, by that one's pipeline",
		"its pipeline is running",
		"its pipeline failed; the pipeline behind it, which carries it too, will tell whether the failure is its own",
		"a pipeline that carried it failed; it is being tested again without the merge requests behind it",
		"its merged commit is being built",
	}
	for i, w := range want {
		if got := e.describe(tr, i); got != w {
			t.Errorf("car %d: %q, want %q", i+1, got, w)
		}
	}
}
