package web

import (
	"slices"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// estimator predicts when cars merge. It is the API's estimator
// (internal/api, unexported there) word for word, so the dashboard and
// the API give the same estimates: cars are tested a window at a time,
// each window taking about one recent pipeline duration, and the front
// window has been under way since the front car's pipeline started.
type estimator struct {
	now       time.Time
	perWindow time.Duration
	settings  train.Settings
	front     time.Time // pipeline start of the front car; zero if none
}

func newEstimator(t train.Train, now time.Time, perWindow time.Duration) estimator {
	e := estimator{now: now, perWindow: perWindow, settings: t.Settings}
	if len(t.Cars) > 0 {
		e.front = t.Cars[0].PipelineStartedAt
	}
	return e
}

// at is car i's estimate; ok false when there is none (no merged car to
// learn from, or the car failed).
func (e estimator) at(i int, c train.Car) (eta time.Duration, ok bool) {
	if e.perWindow <= 0 || c.State == train.StateFailed {
		return 0, false
	}
	d := time.Duration(e.settings.Window(i)+1) * e.perWindow
	if !e.front.IsZero() {
		d -= min(max(0, e.now.Sub(e.front)), e.perWindow)
	}
	return max(0, d), true
}

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
