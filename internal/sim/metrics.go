package sim

import (
	"math"
	"slices"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// Result is one strategy's outcome.
type Result struct {
	Name         string `json:"name"`
	Merged       int    `json:"merged"`
	Evicted      int    `json:"evicted"`
	BrokenMerged int    `json:"broken_merged"`
	GoodEvicted  int    `json:"good_evicted"`
	// ThroughputPerHour is merged MRs per simulated hour until the last
	// merge.
	ThroughputPerHour float64 `json:"throughput_per_hour"`
	// Time to merge, from the MR's arrival on the train to its merge.
	TTMP50Minutes float64 `json:"ttm_p50_minutes"`
	TTMP95Minutes float64 `json:"ttm_p95_minutes"`
	TTMP99Minutes float64 `json:"ttm_p99_minutes"`
	// PipelinesPerMerged counts every pipeline started, per merged MR.
	PipelinesPerMerged float64 `json:"pipelines_per_merged"`
	// WastedPipelineMinutes is CI time that decided nothing: see wasted.
	WastedPipelineMinutes float64 `json:"wasted_pipeline_minutes"`
	// Urgent splits the MRs into the urgent ones and the rest; present
	// only when the scenario has urgent MRs and the strategy is run by
	// the planner, which adds them with a priority (the peers do not).
	Urgent *UrgentResult `json:"urgent,omitempty"`
	// Lanes is what trainyard-lanes spent on its lanes and on
	// integration; present for that strategy only.
	Lanes *LanesResult `json:"lanes,omitempty"`

	// Resolved counts MRs that left the train (merged or evicted); with
	// Span it gives the rate GitLab's formula predicts.
	Resolved int `json:"-"`
	// Span is the virtual time of the last merge.
	Span time.Duration `json:"-"`
}

// UrgentResult is what urgent MRs cost the rest of the train: time to
// merge of the urgent MRs and of the others (normal), apart. The pipelines
// they cost are in Result.PipelinesPerMerged, compared with a run without
// urgent MRs or with them added as high.
type UrgentResult struct {
	// As is the priority they were added with: urgent or high.
	As string `json:"as"`
	// MRs is how many urgent MRs arrived; Merged how many merged.
	MRs    int `json:"mrs"`
	Merged int `json:"merged"`
	// Time to merge of the urgent MRs, as Result's.
	TTMP50Minutes float64 `json:"ttm_p50_minutes"`
	TTMP95Minutes float64 `json:"ttm_p95_minutes"`
	// The same for the other MRs.
	NormalMerged        int     `json:"normal_merged"`
	NormalTTMP50Minutes float64 `json:"normal_ttm_p50_minutes"`
	NormalTTMP95Minutes float64 `json:"normal_ttm_p95_minutes"`
}

// pipelineRun is what the tally knows of one pipeline.
type pipelineRun struct {
	start, end time.Duration // end < 0: still running
	sha        string
	flake      bool
	cancelled  bool
}

// tally collects one run's outcomes.
type tally struct {
	arrived      int
	merged       int
	evicted      int
	brokenMerged int
	goodEvicted  int
	lastMerge    time.Duration
	ttm          []float64 // minutes
	pipelines    map[int64]*pipelineRun
	// decisive holds the pipelines whose failure evicted a car.
	decisive map[int64]bool
	// urgent, when set, holds the urgent MRs the run added with priority
	// urgentAs, and the times to merge are also split by it.
	urgent        map[int64]bool
	urgentAs      string
	urgentArrived int
	urgentTTM     []float64 // minutes
	normalTTM     []float64 // minutes
	// landedHeads are further branch heads whose history counts as landed
	// besides the target's: the lane branches of trainyard-lanes.
	landedHeads []string
	// lanes, when set, is trainyard-lanes' own record.
	lanes *LanesResult
}

func newTally() *tally {
	return &tally{pipelines: map[int64]*pipelineRun{}, decisive: map[int64]bool{}}
}

// record counts a car that left the train; arrived is when its MR was
// added by its author, which may be before the simulator handed it to the
// planner.
func (t *tally) record(c train.Car, now, arrived time.Duration, broken bool) {
	switch c.State {
	case train.StateMerged:
		t.merge(c.MR, now, arrived, broken)
	case train.StateEvicted:
		var pipeline int64
		if c.Reason != nil {
			pipeline = c.Reason.Pipeline
		}
		t.evict(broken, pipeline)
	}
}

// merge counts mr merged at now.
func (t *tally) merge(mr int64, now, arrived time.Duration, broken bool) {
	t.merged++
	t.lastMerge = now
	t.ttm = append(t.ttm, (now - arrived).Minutes())
	if t.urgent != nil {
		if t.urgent[mr] {
			t.urgentTTM = append(t.urgentTTM, (now - arrived).Minutes())
		} else {
			t.normalTTM = append(t.normalTTM, (now - arrived).Minutes())
		}
	}
	if broken {
		t.brokenMerged++
	}
}

// evict counts an MR evicted; pipeline, when not zero, is the failure
// that decided it.
func (t *tally) evict(broken bool, pipeline int64) {
	t.evicted++
	if !broken {
		t.goodEvicted++
	}
	if pipeline != 0 {
		t.decisive[pipeline] = true
	}
}

func (t *tally) result(name string, w *World) Result {
	r := Result{
		Name: name, Merged: t.merged, Evicted: t.evicted, BrokenMerged: t.brokenMerged,
		GoodEvicted: t.goodEvicted, Resolved: t.merged + t.evicted, Span: t.lastMerge,
		WastedPipelineMinutes: t.wasted(w),
	}
	if t.merged > 0 {
		r.PipelinesPerMerged = float64(len(t.pipelines)) / float64(t.merged)
	}
	if t.lastMerge > 0 {
		r.ThroughputPerHour = float64(t.merged) / t.lastMerge.Hours()
	}
	slices.Sort(t.ttm)
	r.TTMP50Minutes = percentile(t.ttm, 0.50)
	r.TTMP95Minutes = percentile(t.ttm, 0.95)
	r.TTMP99Minutes = percentile(t.ttm, 0.99)
	r.Lanes = t.lanes
	if t.urgent != nil {
		slices.Sort(t.urgentTTM)
		slices.Sort(t.normalTTM)
		r.Urgent = &UrgentResult{
			As: t.urgentAs, MRs: t.urgentArrived, Merged: len(t.urgentTTM),
			TTMP50Minutes: percentile(t.urgentTTM, 0.50), TTMP95Minutes: percentile(t.urgentTTM, 0.95),
			NormalMerged:        len(t.normalTTM),
			NormalTTMP50Minutes: percentile(t.normalTTM, 0.50), NormalTTMP95Minutes: percentile(t.normalTTM, 0.95),
		}
	}
	return r
}

// wasted sums the minutes of pipelines that decided nothing: every
// cancelled pipeline up to its cancellation, and every finished pipeline
// whose commit never reached the target branch and whose failure evicted
// no car. Pipelines still running at the horizon are not counted.
func (t *tally) wasted(w *World) float64 {
	landed := map[string]bool{}
	for _, head := range append([]string{w.Target}, t.landedHeads...) {
		for c := w.commits[head]; c != nil && !landed[c.sha]; c = c.parent {
			landed[c.sha] = true
		}
	}
	var sum time.Duration
	for id, p := range t.pipelines {
		switch {
		case p.end < 0:
		case p.cancelled:
			sum += p.end - p.start
		case !landed[p.sha] && !t.decisive[id]:
			sum += p.end - p.start
		}
	}
	return sum.Minutes()
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}
