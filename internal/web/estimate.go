package web

import (
	"slices"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// historyRead is how much history the pages read: enough for the
// estimates, and for the day's merges of a busy train.
const historyRead = 200

// mergeStats are a train's recent merges: how many left in the last day
// and the median time from joining the train to merging, of the history
// read (so a train merging more than historyRead a day counts short).
func mergeStats(hist []train.Car, now time.Time) (lastDay int, p50 time.Duration) {
	var ds []time.Duration
	for _, c := range hist {
		if c.State != train.StateMerged {
			continue
		}
		if now.Sub(c.LeftAt) <= 24*time.Hour {
			lastDay++
		}
		if c.LeftAt.After(c.AddedAt) {
			ds = append(ds, c.LeftAt.Sub(c.AddedAt))
		}
	}
	if len(ds) == 0 {
		return lastDay, 0
	}
	slices.Sort(ds)
	return lastDay, ds[len(ds)/2]
}
