package train

import "time"

// Observation is something that happened outside the planner: a user
// command, a forge event, or the result of an action. Every observation is
// idempotent: feeding the same one twice changes nothing the second time.
type Observation interface{ observation() }

// Added: a user put an MR on the train.
type Added struct {
	MR      int64
	HeadSHA string
	Title   string
	Source  string
	By      string
	// Via names the API token a command came through; empty for a
	// comment on the forge, whose author is By.
	Via      string
	Priority Priority
	Method   Method // empty: the train's method
	// Event identifies the command that caused this, so the reply to it is
	// posted once however often the command is handled.
	Event string
	// Estimate is the expected time to merge from the front of the train
	// per window of cars (a recent pipeline duration); zero: none given.
	Estimate time.Duration
	// DependsOn are the open MRs this one depends on: each must be on the
	// train, or the add is refused.
	DependsOn []Dep
	// Stacked: the branch the MR targets, the source branch of another
	// MR it is stacked on.
	Stacked string
	// Lanes are the lanes the MR's changes touch, when read before it
	// was added: with Settings.LaneTrains it is tested in the train of
	// each of their branches first (see LaneCar).
	Lanes []string `json:",omitempty"`
}

// Removed: a user took an MR off the train.
type Removed struct {
	MR    int64
	By    string
	Via   string // as Added.Via
	Event string
}

// Retried: a user asked to try an MR again. A car on the train is rebuilt
// from scratch; an MR not on the train is added again (HeadSHA must be set).
type Retried struct {
	Added
}

// Paused stops a train from starting or merging anything; running pipelines
// go on.
type Paused struct{ By, Via string }

// Resumed undoes Paused.
type Resumed struct{ By, Via string }

// RepoFileRead: the repository's settings file was read at the target
// head Config.Commit. A refused file (Config.Error set) is told to the MR
// that brought it in, once per commit.
type RepoFileRead struct {
	Config RepoConfig
	// Name is the file's name, for the comment.
	Name string
	// Settings are the train's settings from now on; zero: unchanged.
	Settings Settings
}

// LanesFound: the MR at HeadSHA changes paths in these lanes of the
// train. It is shown on the MR's car; a car with another head, or none,
// ignores it.
type LanesFound struct {
	MR      int64
	HeadSHA string
	Lanes   []string
	// Of is the LanesDigest of the lanes they were read with.
	Of string
}

// Froze holds the train's target until Unfroze: cars are still built and
// tested, nothing merges. A freeze already in place takes the new reason.
type Froze struct{ By, Via, Reason string }

// Unfroze lifts Froze.
type Unfroze struct{ By, Via string }

// Drain turns draining on (On) or off: a draining train finishes its cars
// and refuses new ones.
type Drain struct {
	On      bool
	By, Via string
}

// Retargeted: the MR's target branch changed away from this train's.
type Retargeted struct {
	MR     int64
	Branch string
}

// HeadChanged: the MR's head moved (new commits were pushed).
type HeadChanged struct {
	MR      int64
	HeadSHA string
}

// Closed: the MR was closed, or merged by something other than this train.
type Closed struct {
	MR     int64
	Merged bool
}

// RulesUnmet: the forge's merge rules no longer allow the MR to merge (an
// approval was revoked, changes were requested, a blocking thread was
// opened). Message says why, as a clause: "it needs 1 more approval".
type RulesUnmet struct {
	MR      int64
	Message string
}

// PipelineStatus is the status of a pipeline run for exactly SHA.
type PipelineStatus struct {
	Pipeline int64
	SHA      string
	Status   PipelineState
}

// PipelineState is the forge's status of a pipeline, normalised.
type PipelineState string

const (
	PipelinePending  PipelineState = "pending"
	PipelineRunning  PipelineState = "running"
	PipelineSuccess  PipelineState = "success"
	PipelineFailed   PipelineState = "failed"
	PipelineCanceled PipelineState = "canceled"
	PipelineSkipped  PipelineState = "skipped"
)

// Done reports whether the pipeline has finished.
func (s PipelineState) Done() bool {
	return s == PipelineSuccess || s == PipelineFailed || s == PipelineCanceled || s == PipelineSkipped
}

// PipelineCreated: the pipeline asked for by StartPipeline exists.
type PipelineCreated struct {
	MR       int64
	SHA      string
	Pipeline int64
}

// PipelineFound: the forge reports a pipeline that a push of a car's
// branch started by itself, given the car pipeline's variables, by
// Trainyard (the executor checks who started it, and how). A car waiting
// for a pipeline on that commit, testing the same MRs, takes it, unless
// it had it before (a late or repeated report of an earlier attempt);
// otherwise it is read as a PipelineStatus.
type PipelineFound struct {
	MR       int64
	SHA      string
	Pipeline int64
	Status   PipelineState
	// MRs are the MRs the pipeline was told it tests, front first.
	MRs []int64
}

// PipelineRefused: the forge refused for good to start the pipeline asked
// for by StartPipeline (its CI rules filter the car branch out, say).
type PipelineRefused struct {
	MR     int64
	SHA    string
	Reason string
}

// TargetHead is the observed head of the target branch.
type TargetHead struct{ SHA string }

// Built is the result of a BuildCar action.
type Built struct {
	MR      int64
	Base    string
	HeadSHA string
	// Commit is the speculative commit; empty when Conflict or Error is set.
	Commit string
	// Conflict lists the paths that did not merge cleanly.
	Conflict []string
	// Error is a terminal reason the car cannot be built (the MR head cannot
	// be fetched, say). Transient failures are retried by the executor and
	// never reach the planner.
	Error string
	// OnPush: the push of Commit starts its pipeline by itself.
	OnPush bool
}

// FastForwarded is the result of a FastForward action.
type FastForwarded struct {
	To string
	// Expected is the head the push was to replace: which attempt at the
	// move this is the result of ("" from before it was recorded).
	Expected string
	// Rejected: the forge refused the push; Head is the head it has.
	Rejected bool
	Head     string
	// Deleted are the MRs whose car branches the push deleted as it
	// moved the target: they owe no DeleteCarRef.
	Deleted []int64 `json:",omitempty"`
}

// LanePassed: the MR at HeadSHA merged into the branch of Lane's train,
// so it passed there (Settings.LaneTrains).
type LanePassed struct {
	MR      int64
	HeadSHA string
	Lane    string
}

// LaneLeft: the MR at HeadSHA left Lane's train without passing there
// (evicted, removed or closed), for Reason.
type LaneLeft struct {
	MR      int64
	HeadSHA string
	Lane    string
	Reason  Reason
}

// LaneStale: MR, which merged into the branch of this lane's train, left
// the target's train unmerged, so the branch is set back to the
// target's head (Train.ResetDue).
type LaneStale struct{ MR int64 }

// LaneLost: the train of Lane neither holds the MR at HeadSHA nor
// recorded it leaving, and nothing for it is on its way there: what
// was sent or said between the trains was lost (an inbox's items
// expire), so the MR is sent to that lane again.
type LaneLost struct {
	MR      int64
	HeadSHA string
	Lane    string
}

// Tick lets time pass: pipelines over their timeout are evicted.
type Tick struct{}

// Resync asks the planner to repeat every action whose result it still
// waits for (builds, pipeline starts, a fast-forward), for a worker that
// took over a train after a crash. The actions are idempotent.
type Resync struct{}

func (Added) observation()           {}
func (Removed) observation()         {}
func (Retried) observation()         {}
func (Paused) observation()          {}
func (Froze) observation()           {}
func (RepoFileRead) observation()    {}
func (LanesFound) observation()      {}
func (Unfroze) observation()         {}
func (Drain) observation()           {}
func (Resumed) observation()         {}
func (HeadChanged) observation()     {}
func (Retargeted) observation()      {}
func (Closed) observation()          {}
func (RulesUnmet) observation()      {}
func (PipelineStatus) observation()  {}
func (PipelineCreated) observation() {}
func (PipelineFound) observation()   {}
func (PipelineRefused) observation() {}
func (TargetHead) observation()      {}
func (Built) observation()           {}
func (FastForwarded) observation()   {}
func (Tick) observation()            {}
func (LanePassed) observation()      {}
func (LaneLeft) observation()        {}
func (LaneStale) observation()       {}
func (LaneLost) observation()        {}
func (Resync) observation()          {}
