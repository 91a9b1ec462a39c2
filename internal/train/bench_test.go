package train

import (
	"fmt"
	"testing"
)

// bigTrain is a 100-car train: the first 20 cars running in a consistent
// chain, the rest queued.
func bigTrain() Train {
	tr := New(key, Settings{})
	tr.TargetHead = "T"
	base := "T"
	for mr := int64(1); mr <= 100; mr++ {
		c := queued(mr)
		c.Title = fmt.Sprintf("Change number %d", mr)
		if mr <= 20 {
			c = at(mr, StateRunning, base)
			base = c.Commit
		}
		tr.Cars = append(tr.Cars, c)
	}
	return tr
}

func BenchmarkPlan100Cars(b *testing.B) {
	tr := bigTrain()
	cases := []struct {
		name string
		obs  Observation
	}{
		{"tick", Tick{}},
		{"pipeline-passed-mid", PipelineStatus{Pipeline: pipe(10), SHA: commit(10), Status: PipelineSuccess}},
		{"pipeline-failed-front", PipelineStatus{Pipeline: pipe(1), SHA: commit(1), Status: PipelineFailed}},
		{"target-moved", TargetHead{SHA: "T2"}},
		{"added", Added{MR: 1000, HeadSHA: "H", By: "u", Event: "e"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Plan(tr, c.obs, t0)
			}
		})
	}
}
