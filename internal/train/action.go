package train

import (
	"slices"
	"time"
)

// Action is something the planner asks the outside world to do. Every action
// carries what makes it idempotent: doing it twice has the effect of doing it
// once (the executor checks before it acts, or the forge refuses the repeat).
type Action interface{ action() }

// BuildCar asks for the speculative commit of MR (at HeadSHA) on Base, and
// for it to be pushed to the car's ref. The result is a Built observation.
type BuildCar struct {
	MR      int64
	Base    string
	HeadSHA string
	Method  Method
	Title   string
	Source  string
	// Build numbers the car's builds, so a repeat of this exact build can
	// be told from a new one.
	Build int
	// At is the date given to the new commits (when the car was added): the
	// same car on the same base always gives the same commit, so repeating
	// a build is harmless and a passed pipeline for it can be reused.
	At time.Time
	// MRs lists every MR whose changes the commit will carry, front
	// first: a push that starts the car's pipeline names them, as
	// StartPipeline does.
	MRs []int64 `json:",omitempty"`
	// Start: the car's pipeline is to start as soon as it is built (it
	// ends its batch and a pipeline is free), so the push of the commit
	// may start it. A car built ahead of its pipeline, in the middle of
	// a batch, is pushed without: its push must start nothing.
	Start bool `json:",omitempty"`
}

// StartPipeline asks for a pipeline on the car's commit, unless one already
// runs for that exact commit. The result is a PipelineCreated observation.
type StartPipeline struct {
	MR     int64
	Commit string
	// MRs lists every MR whose changes the commit carries, front first.
	MRs []int64
	// Again: the car had a pipeline on this commit before (this is a
	// retry, or a test on its own), so the push that made the commit
	// does not start this one.
	Again bool `json:",omitempty"`
	// Pushed is when the push that starts the pipeline by itself was
	// made (Car.PushedAt); zero when no push does.
	Pushed time.Time `json:",omitzero"`
}

// JoinLane asks for the MR of Add to be added to the train of Lane's
// branch (Settings.LaneTrains). Add.Event names this request, so a
// repeat adds it once.
type JoinLane struct {
	Lane string
	Add  Added
}

// LeaveLane asks for the MR to be taken off the train of Lane's branch:
// it left another of its lanes, so it will not merge.
type LeaveLane struct {
	Lane string
	MR   int64
	// Event names this request, so a repeat acts once.
	Event string
}

// ResetLane tells the train of Lane's branch that MR, which merged into
// that branch when it passed there, left this train unmerged: the
// lane's later tests must not carry it (the edge brings it as
// LaneStale).
type ResetLane struct {
	Lane string
	MR   int64
}

// ResetBranch asks for a lane's branch to be set back to its target's
// head. The result is a TargetHead observation.
type ResetBranch struct{}

// CancelPipeline asks for a pipeline to be cancelled; its result no longer
// matters.
type CancelPipeline struct {
	MR       int64
	Pipeline int64
}

// FastForwardTarget asks for a non-forced move of the target branch from
// Expected to To. The result is a FastForwarded observation.
type FastForwardTarget struct {
	To       string
	Expected string
	MRs      []int64
}

// CloseMR asks for an MR landed by squash or rebase to be closed: the
// commits on the target are not the MR's own, so the forge cannot see it
// merged. Closing a closed MR does nothing.
type CloseMR struct {
	MR     int64
	Commit string // the target commit that carries it
}

// DeleteCarRef asks for the car's ref on the forge to be removed.
type DeleteCarRef struct{ MR int64 }

// Comment asks for a note on an MR. Key is unique to the event being told,
// so the executor can post each note once.
type Comment struct {
	MR   int64
	Key  string
	Body Text
}

// Phase is where an MR stands with its train, as the MR itself shows it.
type Phase string

const (
	PhaseQueued  Phase = "queued"
	PhaseTesting Phase = "testing"
	PhaseMerged  Phase = "merged"
	PhaseEvicted Phase = "evicted"
	PhaseRemoved Phase = "removed" // taken off by a person, not for a fault
)

// Done reports whether the MR left the train in this phase.
func (p Phase) Done() bool { return p == PhaseMerged || p == PhaseEvicted || p == PhaseRemoved }

// Status asks for the MR to show where it stands: one comment of its own,
// edited in place, and a commit status on its head. While the MR is on
// the train the executor words the rest from the train as it is when the
// status is shown. A later Status of the same MR in one outbox supersedes
// an earlier one (see Coalesce), so the forge hears of the last.
type Status struct {
	MR      int64
	HeadSHA string
	Source  string
	Phase   Phase
	// Added is the sentence of its adding (position and estimate then),
	// which the comment keeps at its top; set by the Status of an add.
	Added Text
	// Outcome is the sentence of a car that left: merged or why not.
	Outcome Text
}

// NotifyKind is what a chat notification is about.
type NotifyKind string

const (
	NotifyMerged  NotifyKind = "merged"
	NotifyEvicted NotifyKind = "evicted"
	NotifyPaused  NotifyKind = "paused"
	NotifyResumed NotifyKind = "resumed"
	// NotifyFrozen and NotifyUnfrozen: a freeze by command put on or
	// lifted; Reason is the freeze's.
	NotifyFrozen   NotifyKind = "frozen"
	NotifyUnfrozen NotifyKind = "unfrozen"
	// NotifyDraining and NotifyUndrained: draining turned on or off.
	NotifyDraining  NotifyKind = "draining"
	NotifyUndrained NotifyKind = "undrained"
)

// Notify asks for a chat notification. Cars are copies taken when the event
// happened.
type Notify struct {
	Kind   NotifyKind
	Key    string
	Cars   []Car
	Commit string
	By     string
	Reason string // a freeze's reason, as given
}

// Record asks for a car that left the train (merged or evicted) to be
// written to the train's history.
type Record struct{ Car Car }

func (BuildCar) action()          {}
func (StartPipeline) action()     {}
func (CancelPipeline) action()    {}
func (FastForwardTarget) action() {}
func (DeleteCarRef) action()      {}
func (CloseMR) action()           {}
func (Comment) action()           {}
func (Notify) action()            {}
func (Record) action()            {}
func (Status) action()            {}
func (JoinLane) action()          {}
func (LeaveLane) action()         {}
func (ResetLane) action()         {}
func (ResetBranch) action()       {}

// Wants reports whether the train still waits for the result of a: a build
// for a car no longer building on that base, a pipeline for a commit the
// car no longer has, or a fast-forward no longer pending is not wanted and
// need not be carried out. Actions without a result are always wanted.
func (t *Train) Wants(a Action) bool {
	switch a := a.(type) {
	case BuildCar:
		c := t.Car(a.MR)
		return c != nil && c.State == StateBuilding && c.Base == a.Base && c.HeadSHA == a.HeadSHA
	case StartPipeline:
		c := t.Car(a.MR)
		return c != nil && c.State == StateStarting && c.Commit == a.Commit
	case FastForwardTarget:
		return t.Pending != nil && t.Pending.To == a.To && t.Pending.Expected == a.Expected
	case JoinLane:
		// A join that failed, carried out after the MR left its lanes,
		// would have a lane test and merge an MR that left.
		k := t.InLanesIndex(a.Add.MR)
		if k < 0 {
			return false
		}
		lc := &t.InLanes[k]
		return lc.Add.HeadSHA == a.Add.HeadSHA && slices.Contains(lc.Lanes, a.Lane) && !slices.Contains(lc.Passed, a.Lane)
	}
	return true
}
