package train

import (
	"slices"
	"time"
)

// HistoryForEstimate is how many history entries an estimate needs to read:
// enough to find EstimateSample merged cars in a train that also evicts.
const (
	HistoryForEstimate = 50
	EstimateSample     = 20
)

// Window is the 0-based CI cycle in which the car at position i (0-based)
// is expected to be tested: the first MaxParallel cars get a pipeline
// each, and the cars behind them wait in batches of up to BatchSize, a
// full window of batches per cycle.
func (s Settings) Window(i int) int {
	s = s.WithDefaults()
	if i < s.MaxParallel {
		return 0
	}
	return 1 + (i-s.MaxParallel)/(s.MaxParallel*s.BatchSize)
}

// PipelineDuration is what estimates of time to merge are made of: the
// median time from pipeline start to merge of the newest EstimateSample
// merged cars in hist (newest first), or zero when none has a pipeline.
func PipelineDuration(hist []Car) time.Duration {
	var ds []time.Duration
	for _, c := range hist {
		if c.State == StateMerged && !c.PipelineStartedAt.IsZero() && c.LeftAt.After(c.PipelineStartedAt) {
			ds = append(ds, c.LeftAt.Sub(c.PipelineStartedAt))
		}
		if len(ds) == EstimateSample {
			break
		}
	}
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}
