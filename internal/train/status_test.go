package train

import (
	"reflect"
	"testing"
)

func TestCoalesceKeepsTheLastStatusOfEachMR(t *testing.T) {
	added1 := Words("Added to the merge train for `main` at position 1.")
	added2 := Words("Added to the merge train for `main` at position 2.")
	tests := []struct {
		name string
		in   Actions
		want Actions
	}{
		{"nothing to merge", Actions{BuildCar{MR: 1}, Status{MR: 1, Phase: PhaseQueued, Added: added1}},
			Actions{BuildCar{MR: 1}, Status{MR: 1, Phase: PhaseQueued, Added: added1}}},
		{"testing takes the adding's sentence",
			Actions{Status{MR: 1, Phase: PhaseQueued, Added: added1}, BuildCar{MR: 1}, Status{MR: 1, Phase: PhaseTesting}},
			Actions{BuildCar{MR: 1}, Status{MR: 1, Phase: PhaseTesting, Added: added1}}},
		{"each MR apart",
			Actions{Status{MR: 1, Phase: PhaseQueued, Added: added1}, Status{MR: 2, Phase: PhaseQueued, Added: added2},
				Status{MR: 1, Phase: PhaseMerged, Outcome: Words("Merged.")}},
			Actions{Status{MR: 2, Phase: PhaseQueued, Added: added2}, Status{MR: 1, Phase: PhaseMerged, Added: added1, Outcome: Words("Merged.")}}},
		{"a repeated build or start is done once",
			Actions{BuildCar{MR: 1, Base: "T", Build: 1}, StartPipeline{MR: 2, Commit: "C2"}, BuildCar{MR: 1, Base: "T", Build: 1},
				StartPipeline{MR: 2, Commit: "C2", MRs: []int64{2}}, BuildCar{MR: 1, Base: "T", Build: 2}},
			Actions{BuildCar{MR: 1, Base: "T", Build: 1}, StartPipeline{MR: 2, Commit: "C2"}, BuildCar{MR: 1, Base: "T", Build: 2}}},
		{"a new adding replaces the old sentence",
			Actions{Status{MR: 1, Phase: PhaseQueued, Added: added1}, Status{MR: 1, Phase: PhaseEvicted, Outcome: Words("Removed.")},
				Status{MR: 1, Phase: PhaseQueued, Added: added2}},
			Actions{Status{MR: 1, Phase: PhaseQueued, Added: added2}}},
	}
	for _, tt := range tests {
		if got := Coalesce(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %#v\nwant %#v", tt.name, got, tt.want)
		}
	}
	if !OnlyStatuses(Actions{Status{MR: 1}, Status{MR: 2}}) || OnlyStatuses(Actions{Status{MR: 1}, DeleteCarRef{MR: 1}}) {
		t.Error("OnlyStatuses is wrong")
	}
}
