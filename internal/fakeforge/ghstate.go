package fakeforge

import (
	"errors"
	"time"
)

// GitHub records: check runs, workflow runs and commit statuses, kept
// beside the GitLab ones in state and guarded by Forge.mu too.

// ErrNoRun: the control API has no such workflow or check run.
var ErrNoRun = errors.New("run not found")

// Check run statuses and conclusions, as GitHub names them.
const (
	CheckQueued     = "queued"
	CheckInProgress = "in_progress"
	CheckCompleted  = "completed"

	ConclusionSuccess   = "success"
	ConclusionFailure   = "failure"
	ConclusionCancelled = "cancelled"
)

type checkRun struct {
	ID        int64
	ProjectID int64
	RunID     int64 // the workflow run that owns it; 0 for none
	SuiteID   int64
	Name      string
	SHA       string
	Status    string
	// Conclusion is set once Status is completed.
	Conclusion string
	Started    time.Time
	Completed  time.Time
}

type workflowRun struct {
	ID         int64
	ProjectID  int64
	SuiteID    int64
	Number     int64
	Attempt    int
	Branch     string
	SHA        string
	Event      string
	Status     string
	Conclusion string
	ActorID    int64
	Created    time.Time
	Updated    time.Time
	Started    time.Time // of the current attempt
	// jobs are the check runs of the current attempt, by name.
	jobs map[string]int64
	// stop wakes the runner of the current attempt; result is the
	// conclusion FinishWorkflowRun asked for.
	stop    chan struct{}
	stopped bool
	result  string
}

func (w *workflowRun) halt() {
	if !w.stopped {
		w.stopped = true
		close(w.stop)
	}
}

type commitStatus struct {
	ID          int64
	ProjectID   int64
	SHA         string
	Context     string
	State       string
	Description string
	TargetURL   string
	CreatorID   int64
	Created     time.Time
	Updated     time.Time
}

// ghState is the GitHub part of state.
type ghState struct {
	checkRuns    map[int64]*checkRun
	workflowRuns map[int64]*workflowRun
	statuses     []*commitStatus // oldest first
	// tokenExpiry holds when installation tokens stop working; personal
	// tokens never do.
	tokenExpiry map[string]time.Time
}

func newGHState() ghState {
	return ghState{checkRuns: map[int64]*checkRun{}, workflowRuns: map[int64]*workflowRun{}, tokenExpiry: map[string]time.Time{}}
}
