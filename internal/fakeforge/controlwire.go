package fakeforge

import "time"

// The control API's JSON, shared by the server (controlhttp.go) and its
// client (controlclient.go), so the two cannot drift apart. Field names
// are snake_case, as in the GitLab API the forge imitates.

// ControlPrefix is where the control API is served: a path no GitLab or
// GitHub route and no repository (which needs ".git/") can take.
const ControlPrefix = "/-/control"

// ControlProject is a project as the control API returns it.
type ControlProject struct {
	ID            int64  `json:"id"`
	Path          string `json:"path"`
	DefaultBranch string `json:"default_branch"`
	CloneURL      string `json:"clone_url"`
}

// ControlUser is a user as the control API returns it.
type ControlUser struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Admin    bool   `json:"admin"`
}

// ControlMember is a user's access to a project.
type ControlMember struct {
	Project  string `json:"project"`
	Username string `json:"username"`
	// Access is GitLab's level: 0 (none), 10, 20, 30, 40 or 50.
	Access int `json:"access"`
	// Role names the level: none, guest, reporter, developer, maintainer
	// or owner.
	Role string `json:"role"`
}

// ControlMR is a merge request as the control API returns it.
type ControlMR struct {
	ID             int64     `json:"id"`
	IID            int64     `json:"iid"`
	Project        string    `json:"project"`
	Title          string    `json:"title"`
	SourceBranch   string    `json:"source_branch"`
	TargetBranch   string    `json:"target_branch"`
	State          string    `json:"state"`
	Draft          bool      `json:"draft"`
	SHA            string    `json:"sha"`
	Author         string    `json:"author"`
	MergeCommitSHA string    `json:"merge_commit_sha,omitempty"`
	MergedAt       time.Time `json:"merged_at,omitzero"`
	ClosedAt       time.Time `json:"closed_at,omitzero"`
}

// ControlNote is a comment as the control API returns it.
type ControlNote struct {
	ID        int64     `json:"id"`
	Author    string    `json:"author"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// ControlPipeline is a pipeline as the control API returns it.
type ControlPipeline struct {
	ID         int64             `json:"id"`
	IID        int64             `json:"iid"`
	Project    string            `json:"project"`
	Ref        string            `json:"ref"`
	SHA        string            `json:"sha"`
	Status     string            `json:"status"`
	Source     string            `json:"source"`
	User       string            `json:"user"`
	Variables  map[string]string `json:"variables,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	StartedAt  time.Time         `json:"started_at,omitzero"`
	FinishedAt time.Time         `json:"finished_at,omitzero"`
}

// ControlPush is where a push left a branch.
type ControlPush struct {
	Project string `json:"project"`
	Branch  string `json:"branch"`
	SHA     string `json:"sha"`
}

// ControlError is the body of every answer other than success.
type ControlError struct {
	Message string `json:"message"`
}

// CreateProjectRequest creates a project.
type CreateProjectRequest struct {
	// Path is "group/name".
	Path string `json:"path"`
	// Files of the first commit on the default branch; a README if empty.
	Files map[string]string `json:"files,omitempty"`
	// Members maps usernames (created when unknown) to a role name or
	// an access level, as SetAccessRequest.Access.
	Members map[string]string `json:"members,omitempty"`
}

// CreateUserRequest creates a user, or finds the existing one.
type CreateUserRequest struct {
	Username string `json:"username"`
	// Token, when set, becomes the user's API and git token, so the user
	// can also call the GitLab or GitHub API and push over git.
	Token string `json:"token,omitempty"`
}

// SetAccessRequest sets a user's access to a project.
type SetAccessRequest struct {
	// Access is a role (none, guest, reporter, developer, maintainer,
	// owner) or its number (0, 10, 20, 30, 40, 50).
	Access string `json:"access"`
}

// OpenMRRequest opens a merge request from a new commit on Source.
type OpenMRRequest struct {
	Source string `json:"source_branch"`
	// Target defaults to the project's default branch.
	Target      string `json:"target_branch,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Author is a username, created when unknown.
	Author string `json:"author"`
	Draft  bool   `json:"draft,omitempty"`
	// Files the MR's commit adds or replaces. When empty (and neither
	// Fail nor ConflictsWith is set), one file named after the source
	// branch is added, so the MR changes something and conflicts with no
	// other.
	Files map[string]string `json:"files,omitempty"`
	// Fail adds the CI failure marker file, so every pipeline of a tree
	// holding this MR's change fails.
	Fail bool `json:"fail,omitempty"`
	// ConflictsWith is the iid of another MR of the project whose changed
	// files this MR rewrites differently, so the two cannot be merged
	// together.
	ConflictsWith int64 `json:"conflicts_with,omitempty"`
}

// CommentRequest comments on a merge request, which is how people type
// commands such as "/train add".
type CommentRequest struct {
	Author string `json:"author"`
	Body   string `json:"body"`
}

// ApproveRequest approves a merge request.
type ApproveRequest struct {
	User string `json:"user"`
}

// PushRequest pushes one commit. To a merge request's branch, Branch is
// empty and Author defaults to the MR's author.
type PushRequest struct {
	Branch  string            `json:"branch,omitempty"`
	Author  string            `json:"author,omitempty"`
	Message string            `json:"message,omitempty"`
	Files   map[string]string `json:"files,omitempty"`
	Delete  []string          `json:"delete,omitempty"`
	// Fail adds the CI failure marker file.
	Fail bool `json:"fail,omitempty"`
}

// FinishPipelineRequest ends a pipeline that has not finished.
type FinishPipelineRequest struct {
	// Status is success, failed or canceled.
	Status string `json:"status"`
}
