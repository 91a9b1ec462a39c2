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
	// App is the slug of the GitHub App that reports it; empty for the
	// simulated Actions.
	App string
	// API: an app created it through the check runs API, with the title
	// and details page it gave.
	API        bool
	Title      string
	Summary    string
	DetailsURL string
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

// Review states, as GitHub's REST API and GraphQL name them.
const (
	ReviewApproved         = "APPROVED"
	ReviewChangesRequested = "CHANGES_REQUESTED"
	ReviewCommented        = "COMMENTED"
	ReviewDismissed        = "DISMISSED"
)

type review struct {
	ID       int64
	AuthorID int64
	State    string
	Body     string
	// CommitID is the pull request's head when the review was given.
	CommitID  string
	Submitted time.Time
}

// reviewThread is a conversation on a pull request's diff.
type reviewThread struct {
	ID       string // a GraphQL node id, as GitHub's mutations take it
	AuthorID int64
	Body     string
	Resolved bool
	Created  time.Time
}

// issue is a plain issue: it shares its number sequence with pull
// requests, as on GitHub, and has comments but nothing else.
type issue struct {
	ID       int64
	Number   int64
	Title    string
	AuthorID int64
	Created  time.Time
	comments []*note
}

// branchKey names a branch of a project.
type branchKey struct {
	project int64
	branch  string
}

// ghState is the GitHub part of state.
type ghState struct {
	checkRuns    map[int64]*checkRun
	workflowRuns map[int64]*workflowRun
	statuses     []*commitStatus // oldest first
	// tokenExpiry holds when installation tokens stop working; personal
	// tokens never do.
	tokenExpiry map[string]time.Time
	// reviews and threads are per pull request, by MR id, oldest first.
	reviews map[int64][]*review
	threads map[int64][]*reviewThread
	// protection and rules are what branch protection and rulesets ask of
	// pull requests into a branch; rulesIDs number the rulesets.
	protection map[branchKey]BranchProtection
	rules      map[branchKey]PullRequestRule
	rulesIDs   map[branchKey]int64
	// statusRules are the checks rulesets require on a branch.
	statusRules map[branchKey][]RuleStatusCheck
	// codeOwners own every path of a project, by project id.
	codeOwners map[int64][]string
	// issues are a project's plain issues, by project id and number.
	issues map[int64]map[int64]*issue
	// apps number the GitHub Apps other than Actions and the installed
	// one that reported check runs, by slug.
	apps map[string]int64
}

func newGHState() ghState {
	return ghState{
		checkRuns: map[int64]*checkRun{}, workflowRuns: map[int64]*workflowRun{}, tokenExpiry: map[string]time.Time{},
		reviews: map[int64][]*review{}, threads: map[int64][]*reviewThread{},
		protection: map[branchKey]BranchProtection{}, rules: map[branchKey]PullRequestRule{}, rulesIDs: map[branchKey]int64{},
		statusRules: map[branchKey][]RuleStatusCheck{},
		codeOwners:  map[int64][]string{}, issues: map[int64]map[int64]*issue{}, apps: map[string]int64{},
	}
}
