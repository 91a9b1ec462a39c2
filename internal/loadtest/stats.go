package loadtest

import (
	"slices"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
)

// Percentile is the q-th quantile (0..1) of ds by the nearest-rank
// method; 0 when ds is empty.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// latencies pairs every target push with the time its commit was known
// to have passed, as since tells it (false: not known), and returns the
// time from then to the push. The planner moves the target to the
// furthest passed car as soon as it passes, so this is the service's own
// delay. A push whose commit has no such time (none is expected) is
// counted in unmatched.
func latencies(moves []fakeforge.BranchMoved, since func(project, sha string) (time.Time, bool)) (out []time.Duration, unmatched int) {
	for _, m := range moves {
		at, ok := since(m.Project, m.New)
		if !ok || at.After(m.At) {
			unmatched++
			continue
		}
		out = append(out, m.At.Sub(at))
	}
	return out, unmatched
}

// passedAt is, from the forge's pipeline log, when the last pipeline that
// passed each commit finished: when the forge queued its success webhook.
func passedAt(log []fakeforge.PipelineRecord) func(project, sha string) (time.Time, bool) {
	passed := map[[2]string]time.Time{}
	for _, rec := range log {
		k := [2]string{rec.Project, rec.SHA}
		if rec.Status == fakeforge.PipelineSuccess && rec.FinishedAt.After(passed[k]) {
			passed[k] = rec.FinishedAt
		}
	}
	return func(project, sha string) (time.Time, bool) {
		t, ok := passed[[2]string{project, sha}]
		return t, ok
	}
}
