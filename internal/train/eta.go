package train

import "time"

// Estimate predicts when cars merge the way the engine tells users on
// adding, for every view of the train (API, dashboard): cars are tested a
// window at a time, each window taking about one recent pipeline duration
// (PerWindow), and the front window has been under way since the front
// car's pipeline started (Front; zero if none).
type Estimate struct {
	Now       time.Time
	PerWindow time.Duration
	Settings  Settings
	Front     time.Time
}

// EstimateFor is the estimate of t's cars at now, given a recent pipeline
// duration.
func EstimateFor(t Train, now time.Time, perWindow time.Duration) Estimate {
	e := Estimate{Now: now, PerWindow: perWindow, Settings: t.Settings}
	if len(t.Cars) > 0 {
		e.Front = t.Cars[0].PipelineStartedAt
	}
	return e
}

// At is car c's estimate at position i; ok is false when there is none (no
// merged car to learn from, or the car failed).
func (e Estimate) At(i int, c Car) (eta time.Duration, ok bool) {
	if e.PerWindow <= 0 || c.State == StateFailed {
		return 0, false
	}
	d := time.Duration(e.Settings.Window(i)+1) * e.PerWindow
	if !e.Front.IsZero() {
		d -= min(max(0, e.Now.Sub(e.Front)), e.PerWindow)
	}
	return max(0, d), true
}
