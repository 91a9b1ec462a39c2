package sim

import (
	"math"
	"time"
)

// Bound is what an oracle that knows which MRs are broken achieves under
// the same rules: it tests only good MRs, each once, in pipelines of up to
// BatchSize MRs, MaxParallel pipelines at a time.
type Bound struct {
	ThroughputPerHour float64 `json:"throughput_per_hour"`
	TTMP50Minutes     float64 `json:"ttm_p50_minutes"`
}

// OracleBound is the analytic bound for a scenario (flakes and conflicts
// aside). Every CI cycle of length T merges c = MaxParallel×BatchSize good
// MRs. With a backlog, the k-th good MR (from 0) merges at (floor(k/c)+1)·T;
// with poisson arrivals it is merged T after arriving whenever fewer than c
// good MRs arrive per T, the queueing being ignored.
func OracleBound(s Scenario) Bound {
	t := time.Duration(s.CIMean)
	c := float64(s.MaxParallel * max(s.BatchSize, 1))
	capacity := c / t.Hours()
	if s.Arrival == ArrivalPoisson {
		return Bound{ThroughputPerHour: min(capacity, s.RatePerHour*(1-s.BreakProbability)), TTMP50Minutes: t.Minutes()}
	}
	good := math.Round(float64(s.MRs) * (1 - s.BreakProbability))
	if good < 1 {
		return Bound{}
	}
	median := math.Ceil(good/2) - 1 // nearest rank, from 0
	return Bound{
		// The last of the good MRs merges after ceil(good/c) cycles.
		ThroughputPerHour: good / (math.Ceil(good/c) * t.Hours()),
		TTMP50Minutes:     (math.Floor(median/c) + 1) * t.Minutes(),
	}
}

// GitLabChangesPerCycle is the expected number of MRs a GitLab merge train
// of window w resolves (merges, or evicts the first broken one) per CI
// cycle when each MR is broken with probability p: (1-(1-p)^w)/p. Of
// those, a fraction 1-p are merges.
func GitLabChangesPerCycle(p float64, w int) float64 {
	if p <= 0 {
		return float64(w)
	}
	return (1 - math.Pow(1-p, float64(w))) / p
}
