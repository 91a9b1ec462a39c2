// Package api holds the JSON types of Trainyard's HTTP API, version 1
// (paths under /api/v1). It imports nothing of Trainyard's, so other
// programs can use it.
//
// Field names are snake_case and stable within v1: fields may be added,
// none renamed or removed. Times are RFC 3339. Durations are whole
// seconds (see Duration), in fields whose names end in _seconds; the two
// that v1 first named without the unit are still written under their old
// names too, until v2.
package api

import (
	"encoding/json"
	"time"
)

// Car states: where an MR is on its train. Cars that left a train are
// StateMerged or StateEvicted in its history.
const (
	StateQueued   = "queued"   // waiting for the cars ahead or a place in the window
	StateBuilding = "building" // its speculative commit is being made
	StateBuilt    = "built"    // its commit exists; the pipeline waits (a paused train)
	StateStarting = "starting" // a pipeline was asked for
	StateRunning  = "running"  // its pipeline runs
	StatePassed   = "passed"   // its pipeline passed; it merges with the cars ahead
	StateFailed   = "failed"   // out of retries, held until the cars ahead pass
	StateMerged   = "merged"
	StateEvicted  = "evicted"
)

// TrainSummary is one line of the train list.
type TrainSummary struct {
	Forge   string `json:"forge"`
	Project string `json:"project"`
	Branch  string `json:"branch"`
	Paused  bool   `json:"paused"`
	// Draining: the train finishes the cars on it and takes no new ones.
	Draining bool `json:"draining"`
	// Frozen is the freeze someone put on the train; omitted when none.
	Frozen *Freeze `json:"frozen,omitempty"`
	// Hold is what holds the target branch now (a freeze, a scheduled
	// freeze period, or being outside the merge windows); omitted when
	// nothing does. Cars are still built and tested, nothing merges.
	Hold *Hold `json:"hold,omitempty"`
	// Cars is how many MRs are on the train.
	Cars int `json:"cars"`
	// Running is how many cars have a pipeline starting or running.
	Running int `json:"running"`
}

// TrainList answers GET /api/v1/trains.
type TrainList struct {
	Trains []TrainSummary `json:"trains"`
}

// Train is one train and its cars, front first.
type Train struct {
	Forge   string `json:"forge"`
	Project string `json:"project"`
	Branch  string `json:"branch"`
	Paused  bool   `json:"paused"`
	// Draining, Frozen and Hold: as in TrainSummary.
	Draining bool    `json:"draining"`
	Frozen   *Freeze `json:"frozen,omitempty"`
	Hold     *Hold   `json:"hold,omitempty"`
	// TargetHead is the last seen head commit of the target branch.
	TargetHead string `json:"target_head,omitempty"`
	// MaxParallel is the window: how many cars are tested at once.
	MaxParallel int   `json:"max_parallel"`
	Cars        []Car `json:"cars"`
	// InLanes are the MRs added to the train that are being tested in
	// their lanes' trains first (the project's lane_trains), in the order
	// they were added; omitted when none.
	InLanes []LaneCar `json:"in_lanes,omitempty"`
	// Version rises with every change of the train.
	Version int64 `json:"version"`
}

// LaneCar is an MR being tested in the trains of its lanes before it
// joins the target's train.
type LaneCar struct {
	MR      int64     `json:"mr"`
	Label   string    `json:"label,omitempty"`
	Title   string    `json:"title"`
	MRURL   string    `json:"mr_url,omitempty"`
	AddedBy string    `json:"added_by"`
	AddedAt time.Time `json:"added_at"`
	// Lanes are the lanes it is tested in; Passed those it passed in.
	Lanes  []string `json:"lanes"`
	Passed []string `json:"passed"`
}

// Hold kinds: what holds a train's target branch.
const (
	HoldFrozen      = "frozen"               // a freeze by command (/train freeze, the API, the dashboard)
	HoldFreeze      = "freeze_period"        // a configured freeze period
	HoldMergeWindow = "outside_merge_window" // outside every configured merge window
)

// Freeze is a freeze someone put on a train: it holds the target until
// it is lifted.
type Freeze struct {
	// Kind is always HoldFrozen.
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	// By is who froze the train; omitted when unknown.
	By string `json:"by,omitempty"`
}

// Hold says what keeps a train's target branch from moving now.
type Hold struct {
	// Kind is HoldFrozen, HoldFreeze or HoldMergeWindow.
	Kind string `json:"kind"`
	// Reason is the freeze's reason as given, or for HoldMergeWindow the
	// merge windows; omitted when there is none.
	Reason string `json:"reason,omitempty"`
	// Until is when the hold ends by itself; omitted for a freeze that
	// lasts until someone lifts it.
	Until time.Time `json:"until,omitzero"`
	// Sentence says the hold for people, without a final period: "the
	// merge train is frozen by alice: release 2.0 is being cut".
	Sentence string `json:"sentence"`
}

// Car is one MR on a train.
type Car struct {
	// Position is 1 for the front car.
	Position int   `json:"position"`
	MR       int64 `json:"mr"`
	// Label is how the forge writes the MR: "!12" on GitLab, "#12" on
	// GitHub.
	Label   string `json:"label,omitempty"`
	Title   string `json:"title"`
	MRURL   string `json:"mr_url,omitempty"`
	State   string `json:"state"`
	AddedBy string `json:"added_by"`
	// AddedVia is the API token the MR was added with; omitted when it
	// was added by a comment.
	AddedVia string    `json:"added_via,omitempty"`
	AddedAt  time.Time `json:"added_at"`
	// TimeOnTrain is how long ago the MR was added.
	TimeOnTrain Duration `json:"time_on_train_seconds"`
	// Pipeline is the car's current pipeline; 0 and omitted if none.
	Pipeline    int64  `json:"pipeline,omitempty"`
	PipelineURL string `json:"pipeline_url,omitempty"`
	// PipelineLabel names the pipeline as the forge's people know it:
	// "pipeline #7", or "the checks on 1a2b3c4d5e6f".
	PipelineLabel string `json:"pipeline_label,omitempty"`
	// Commit is the speculative commit: the MR merged onto the cars ahead.
	Commit string `json:"commit,omitempty"`
	// Attempts counts pipelines started for the current commit.
	Attempts int `json:"attempts"`
	// TestedWith is the MR whose pipeline tests this car in one batch with
	// it; omitted when the car has a pipeline of its own or none yet.
	TestedWith int64 `json:"tested_with,omitempty"`
	// Bisecting: a pipeline that carried the car failed, and it is being
	// tested apart from the cars behind it.
	Bisecting bool `json:"bisecting,omitempty"`
	// Priority is "urgent" or "high"; omitted for a normal car.
	Priority string `json:"priority,omitempty"`
	// DependsOn are the MRs on the train this one merges after or with
	// (Depends-On lines, or the MR it is stacked on); omitted when none.
	DependsOn []int64 `json:"depends_on,omitempty"`
	// StackedOn is the branch the MR targets on the forge when it is
	// stacked on another MR; omitted otherwise.
	StackedOn string `json:"stacked_on,omitempty"`
	// Lanes are the lanes of the train the MR's changes touch; omitted
	// when the train has none or they are not known yet.
	Lanes []string `json:"lanes,omitempty"`
	// EstimatedMerge is the expected time from now until the car merges,
	// from the train's recent pipeline durations; omitted when there is no
	// history to estimate from, the car failed, or the train is held (see
	// Train.Hold).
	EstimatedMerge *Duration `json:"estimated_merge_seconds,omitempty"`
}

// carFields is Car without its methods, so its JSON can be embedded.
type carFields Car

// carWire is a Car as v1 writes it: the fields with units in their names,
// and the same durations under the names v1 first gave them.
type carWire struct {
	carFields
	// Deprecated: time_on_train_seconds. Removed in v2.
	OldTimeOnTrain *Duration `json:"time_on_train,omitempty"`
	// Deprecated: estimated_merge_seconds. Removed in v2.
	OldEstimatedMerge *Duration `json:"estimated_merge,omitempty"`
}

// MarshalJSON writes the durations under both names.
func (c Car) MarshalJSON() ([]byte, error) {
	t := c.TimeOnTrain
	return json.Marshal(carWire{carFields: carFields(c), OldTimeOnTrain: &t, OldEstimatedMerge: c.EstimatedMerge})
}

// UnmarshalJSON reads either name, so this package also reads a server
// that wrote only the old ones.
func (c *Car) UnmarshalJSON(b []byte) error {
	var w carWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var has struct {
		TimeOnTrain *Duration `json:"time_on_train_seconds"`
	}
	if err := json.Unmarshal(b, &has); err != nil {
		return err
	}
	*c = Car(w.carFields)
	if has.TimeOnTrain == nil && w.OldTimeOnTrain != nil {
		c.TimeOnTrain = *w.OldTimeOnTrain
	}
	if c.EstimatedMerge == nil {
		c.EstimatedMerge = w.OldEstimatedMerge
	}
	return nil
}

// HistoryEntry is a car that left a train.
type HistoryEntry struct {
	MR int64 `json:"mr"`
	// Label is how the forge writes the MR: "!12" or "#12".
	Label string `json:"label,omitempty"`
	Title string `json:"title"`
	MRURL string `json:"mr_url,omitempty"`
	// State is StateMerged or StateEvicted.
	State string `json:"state"`
	// Reason is the sentence the MR was told when it left; ReasonCode is
	// why, for programs:
	// merged, pipeline_failed, new_commits, closed, retargeted,
	// merged_outside, conflict, timeout, removed or build_failed.
	Reason     string `json:"reason"`
	ReasonCode string `json:"reason_code"`
	// Commit and Pipeline are the MR's own: the commit it merged as, or
	// the commit and pipeline that failed; empty for an MR never built.
	Commit        string `json:"commit,omitempty"`
	Pipeline      int64  `json:"pipeline,omitempty"`
	PipelineURL   string `json:"pipeline_url,omitempty"`
	PipelineLabel string `json:"pipeline_label,omitempty"`
	// Base is the commit an MR that did not merge cleanly was to be
	// built on.
	Base    string `json:"base,omitempty"`
	AddedBy string `json:"added_by"`
	// AddedVia: as Car.AddedVia.
	AddedVia string    `json:"added_via,omitempty"`
	AddedAt  time.Time `json:"added_at"`
	LeftAt   time.Time `json:"left_at"`
}

// History answers GET .../history: departures, newest first.
type History struct {
	Forge   string         `json:"forge"`
	Project string         `json:"project"`
	Branch  string         `json:"branch"`
	Entries []HistoryEntry `json:"entries"`
}

// MRRequest is the optional body of the add, remove and retry calls.
type MRRequest struct {
	// User is who the forge's notes name as having asked; "api" if empty.
	User string `json:"user,omitempty"`
	// Branch, when set, is the train meant: an MR targeting another branch
	// is refused.
	Branch string `json:"branch,omitempty"`
	// Priority is "normal" (default), "urgent" (ahead of the cars not yet
	// under test, cancelling nothing) or "high" (to the front, restarting
	// the cars behind).
	Priority string `json:"priority,omitempty"`
	// Method is "merge", "squash" or "rebase"; empty: the train's method.
	Method string `json:"method,omitempty"`
}

// TrainRequest is the optional body of the pause, resume, unfreeze,
// drain and undrain calls.
type TrainRequest struct {
	// User is who asked; "api" if empty.
	User string `json:"user,omitempty"`
}

// FreezeRequest is the body of the freeze call.
type FreezeRequest struct {
	// User is who asked; "api" if empty.
	User string `json:"user,omitempty"`
	// Reason says why, for people: 1 to MaxReason characters, no control
	// characters. Required.
	Reason string `json:"reason"`
}

// MaxReason bounds a freeze's reason, in characters.
const MaxReason = 200

// MRStatus answers the add, remove and retry calls: where the MR is now.
// Project is a project the server's configuration names.
type Project struct {
	Forge   string `json:"forge"`
	Project string `json:"project"`
}

// ProjectList is the configured projects, by forge then path.
type ProjectList struct {
	Projects []Project `json:"projects"`
}

// OpenMR is an open merge request of a project, as the forge lists it.
type OpenMR struct {
	MR int64 `json:"mr"`
	// Label is how the forge writes it: "!12" or "#12".
	Label        string `json:"label,omitempty"`
	Title        string `json:"title"`
	SourceBranch string `json:"source_branch"`
	TargetBranch string `json:"target_branch"`
	Author       string `json:"author,omitempty"`
	Draft        bool   `json:"draft,omitempty"`
	WebURL       string `json:"web_url,omitempty"`
}

// OpenMRList is a project's open merge requests, the most recently
// updated first.
type OpenMRList struct {
	MergeRequests []OpenMR `json:"merge_requests"`
}

type MRStatus struct {
	Forge   string `json:"forge"`
	Project string `json:"project"`
	MR      int64  `json:"mr"`
	// Label is how the forge writes the MR: "!12" or "#12".
	Label string `json:"label,omitempty"`
	// Branch and Car are set while the MR is on a train.
	Branch string `json:"branch,omitempty"`
	Car    *Car   `json:"car,omitempty"`
	// InLanes is set instead of Car while the MR is on the train of
	// Branch but still tested in its lanes' trains.
	InLanes *LaneCar `json:"in_lanes,omitempty"`
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
}
