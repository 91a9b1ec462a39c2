// Package event is the normalised form of what forges tell Trainyard: the
// webhook listener turns each delivery into an Event and queues it; workers
// read Events and turn them into train observations and commands. Both
// forges map onto the same few kinds.
package event

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/trainyard/trainyard/internal/train"
)

// Kind is what an event is about.
type Kind string

const (
	// KindComment: a comment on an MR, which may hold a /train command.
	KindComment Kind = "comment"
	// KindMR: an MR changed: new commits, closed, reopened, merged, or its
	// target branch changed.
	KindMR Kind = "mr"
	// KindPipeline: a pipeline (GitLab) or check / status / workflow run
	// (GitHub) changed status for a commit.
	KindPipeline Kind = "pipeline"
	// KindPush: a branch moved.
	KindPush Kind = "push"
)

// CatchUpPrefix starts the id of an event the catch-up of missed
// commands queued, before the comment's id. No delivery may take such an
// id: comment ids are public, and a delivery that took one would keep the
// catch-up from queueing that comment.
const CatchUpPrefix = "catch-up:"

// MR actions, normalised to GitLab's names.
const (
	ActionOpen     = "open"
	ActionUpdate   = "update" // new commits, or other edits
	ActionClose    = "close"
	ActionReopen   = "reopen"
	ActionMerge    = "merge"
	ActionRetarget = "retarget" // the target branch changed
)

// User is who caused an event.
type User struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

// Event is one forge event, normalised.
type Event struct {
	// ID is the delivery's unique id (X-Gitlab-Event-UUID,
	// X-GitHub-Delivery); events are de-duplicated by it.
	ID      string `json:"id"`
	Forge   string `json:"forge"`   // "gitlab" or "github"
	Project string `json:"project"` // "group/project" or "owner/repo"
	Kind    Kind   `json:"kind"`
	User    User   `json:"user"`

	// MR is the MR (PR) the event concerns, when there is one.
	MR int64 `json:"mr,omitempty"`

	// Comment events.
	CommentID int64  `json:"comment_id,omitempty"`
	Body      string `json:"body,omitempty"`

	// MR events.
	Action       string `json:"action,omitempty"`
	HeadSHA      string `json:"head_sha,omitempty"`
	TargetBranch string `json:"target_branch,omitempty"`
	// OldTargetBranch is set when the target branch changed.
	OldTargetBranch string `json:"old_target_branch,omitempty"`

	// Pipeline events. Pipeline is the pipeline id (GitLab), or the check
	// suite / workflow run id (GitHub); SHA is the commit it ran for and Ref
	// the branch.
	Pipeline int64               `json:"pipeline,omitempty"`
	SHA      string              `json:"sha,omitempty"`
	Ref      string              `json:"ref,omitempty"`
	Status   train.PipelineState `json:"status,omitempty"`
	// What started a GitLab pipeline: its source (push, api,
	// parent_pipeline, ...), whether its ref is a tag, its parent
	// pipeline when it is a child, and the variables Trainyard gives a
	// car's pipeline (TRAINYARD*), as the webhook tells them.
	Source  string  `json:"source,omitempty"`
	Tag     bool    `json:"tag,omitempty"`
	Parent  int64   `json:"parent,omitempty"`
	CarVars CarVars `json:"car_vars,omitzero"`

	// Push events: Ref is the branch name (without refs/heads/).
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// The variables Trainyard gives a car's pipeline: the documented contract
// with a project's CI configuration.
const (
	VarTrain  = "TRAINYARD"               // "true"
	VarTarget = "TRAINYARD_TARGET_BRANCH" // the train's target branch
	VarMRs    = "TRAINYARD_MRS"           // the MRs tested, front first, comma-separated
)

// CarVars are the variables Trainyard gives a car's pipeline (VarTrain,
// VarTarget, VarMRs), as a pipeline's webhook reports them.
type CarVars struct {
	Train  string `json:"train,omitempty"`
	Target string `json:"target,omitempty"`
	MRs    string `json:"mrs,omitempty"`
}

// Validate reports an event that lacks what its kind needs.
func (e Event) Validate() error {
	switch {
	case e.ID == "":
		return fmt.Errorf("event: no delivery id")
	case e.Forge == "" || e.Project == "":
		return fmt.Errorf("event %s: no forge or project", e.ID)
	}
	switch e.Kind {
	case KindComment, KindMR:
		if e.MR <= 0 {
			return fmt.Errorf("event %s: %s event without an MR", e.ID, e.Kind)
		}
	case KindPipeline:
		if e.SHA == "" || e.Status == "" {
			return fmt.Errorf("event %s: pipeline event without sha or status", e.ID)
		}
	case KindPush:
		if e.Ref == "" {
			return fmt.Errorf("event %s: push event without a branch", e.ID)
		}
	default:
		return fmt.Errorf("event %s: unknown kind %q", e.ID, e.Kind)
	}
	return nil
}

// CommandID names the command a comment event may hold across every
// delivery of it: the forge's comment id, or the delivery's id for an
// event without one.
func (e Event) CommandID() string {
	if e.CommentID == 0 {
		return e.Forge + ":delivery:" + e.ID
	}
	return e.Forge + ":" + strings.ToLower(e.Project) + ":" + strconv.FormatInt(e.CommentID, 10)
}

// Marshal encodes an event for the queue.
func (e Event) Marshal() ([]byte, error) { return json.Marshal(e) }

// Unmarshal decodes an event from the queue.
func Unmarshal(data []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	return e, e.Validate()
}
