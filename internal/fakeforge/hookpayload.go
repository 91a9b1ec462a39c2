package fakeforge

import (
	"strings"
	"time"
)

// Webhook payloads, shaped like GitLab's (compare testdata/webhooks). Only
// fields GitLab really sends are here; the GitLab Go client's webhook
// parser reads them.

// Event names GitLab sends in X-Gitlab-Event.
const (
	EventPush         = "Push Hook"
	EventMergeRequest = "Merge Request Hook"
	EventNote         = "Note Hook"
	EventInternalNote = "Confidential Note Hook"
	EventPipeline     = "Pipeline Hook"
)

// hookTime is the timestamp format of GitLab's hook attributes.
const hookTime = "2006-01-02 15:04:05 UTC"

func fmtHookTime(t time.Time) string { return t.UTC().Format(hookTime) }

func optHookTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := fmtHookTime(t)
	return &s
}

type hookUser struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Username  string `json:"username"`
	AvatarURL string `json:"avatar_url"`
	Email     string `json:"email"`
}

type hookProject struct {
	ID                int64   `json:"id"`
	Name              string  `json:"name"`
	Description       string  `json:"description"`
	WebURL            string  `json:"web_url"`
	AvatarURL         *string `json:"avatar_url"`
	GitSSHURL         string  `json:"git_ssh_url"`
	GitHTTPURL        string  `json:"git_http_url"`
	Namespace         string  `json:"namespace"`
	VisibilityLevel   int     `json:"visibility_level"`
	PathWithNamespace string  `json:"path_with_namespace"`
	DefaultBranch     string  `json:"default_branch"`
	CIConfigPath      *string `json:"ci_config_path"`
	Homepage          string  `json:"homepage"`
	URL               string  `json:"url"`
	SSHURL            string  `json:"ssh_url"`
	HTTPURL           string  `json:"http_url"`
}

type hookRepository struct {
	Name            string `json:"name"`
	URL             string `json:"url"`
	Description     string `json:"description"`
	Homepage        string `json:"homepage"`
	GitHTTPURL      string `json:"git_http_url"`
	GitSSHURL       string `json:"git_ssh_url"`
	VisibilityLevel int    `json:"visibility_level"`
}

type hookAuthor struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

type hookCommit struct {
	ID        string     `json:"id"`
	Message   string     `json:"message"`
	Title     string     `json:"title"`
	Timestamp string     `json:"timestamp"`
	URL       string     `json:"url"`
	Author    hookAuthor `json:"author"`
}

type pushCommit struct {
	hookCommit
	Added    []string `json:"added"`
	Modified []string `json:"modified"`
	Removed  []string `json:"removed"`
}

type pushHook struct {
	ObjectKind        string         `json:"object_kind"`
	EventName         string         `json:"event_name"`
	Before            string         `json:"before"`
	After             string         `json:"after"`
	Ref               string         `json:"ref"`
	RefProtected      bool           `json:"ref_protected"`
	CheckoutSHA       *string        `json:"checkout_sha"`
	UserID            int64          `json:"user_id"`
	UserName          string         `json:"user_name"`
	UserUsername      string         `json:"user_username"`
	UserEmail         string         `json:"user_email"`
	UserAvatar        string         `json:"user_avatar"`
	ProjectID         int64          `json:"project_id"`
	Project           hookProject    `json:"project"`
	Commits           []pushCommit   `json:"commits"`
	TotalCommitsCount int            `json:"total_commits_count"`
	Repository        hookRepository `json:"repository"`
}

type hookChange struct {
	Previous any `json:"previous"`
	Current  any `json:"current"`
}

// hookMR is MergeRequest#hook_attrs: the object_attributes of a merge
// request event and the merge_request of a note event.
type hookMR struct {
	ID                          int64       `json:"id"`
	IID                         int64       `json:"iid"`
	TargetBranch                string      `json:"target_branch"`
	SourceBranch                string      `json:"source_branch"`
	SourceProjectID             int64       `json:"source_project_id"`
	AuthorID                    int64       `json:"author_id"`
	AssigneeIDs                 []int64     `json:"assignee_ids"`
	AssigneeID                  *int64      `json:"assignee_id"`
	ReviewerIDs                 []int64     `json:"reviewer_ids"`
	Title                       string      `json:"title"`
	CreatedAt                   string      `json:"created_at"`
	UpdatedAt                   string      `json:"updated_at"`
	PreparedAt                  string      `json:"prepared_at"`
	UpdatedByID                 *int64      `json:"updated_by_id"`
	LastEditedAt                *string     `json:"last_edited_at"`
	LastEditedByID              *int64      `json:"last_edited_by_id"`
	MilestoneID                 *int64      `json:"milestone_id"`
	StateID                     int         `json:"state_id"`
	State                       string      `json:"state"`
	BlockingDiscussionsResolved bool        `json:"blocking_discussions_resolved"`
	WorkInProgress              bool        `json:"work_in_progress"`
	Draft                       bool        `json:"draft"`
	FirstContribution           bool        `json:"first_contribution"`
	MergeStatus                 string      `json:"merge_status"`
	TargetProjectID             int64       `json:"target_project_id"`
	Description                 string      `json:"description"`
	HeadPipelineID              *int64      `json:"head_pipeline_id"`
	MergeCommitSHA              *string     `json:"merge_commit_sha"`
	MergeError                  *string     `json:"merge_error"`
	MergeParams                 mergeParams `json:"merge_params"`
	Position                    int         `json:"position"`
	Assignee                    *hookUser   `json:"assignee"`
	MergeUserID                 *int64      `json:"merge_user_id"`
	MergeWhenPipelineSucceeds   bool        `json:"merge_when_pipeline_succeeds"`
	TimeEstimate                int64       `json:"time_estimate"`
	TotalTimeSpent              int64       `json:"total_time_spent"`
	TimeChange                  int64       `json:"time_change"`
	HumanTotalTimeSpent         *string     `json:"human_total_time_spent"`
	HumanTimeChange             *string     `json:"human_time_change"`
	HumanTimeEstimate           *string     `json:"human_time_estimate"`
	URL                         string      `json:"url"`
	Source                      hookProject `json:"source"`
	Target                      hookProject `json:"target"`
	LastCommit                  hookCommit  `json:"last_commit"`
	Labels                      []any       `json:"labels"`
	Action                      string      `json:"action,omitempty"`
	OldRev                      string      `json:"oldrev,omitempty"`
	DetailedMergeStatus         string      `json:"detailed_merge_status"`
}

// mergeParams keeps GitLab's string form of the flag.
type mergeParams struct {
	ForceRemoveSourceBranch string `json:"force_remove_source_branch"`
}

type mrHook struct {
	ObjectKind       string                `json:"object_kind"`
	EventType        string                `json:"event_type"`
	User             hookUser              `json:"user"`
	Project          hookProject           `json:"project"`
	Repository       hookRepository        `json:"repository"`
	ObjectAttributes hookMR                `json:"object_attributes"`
	Labels           []any                 `json:"labels"`
	Changes          map[string]hookChange `json:"changes"`
	Assignees        []hookUser            `json:"assignees"`
	Reviewers        []hookUser            `json:"reviewers"`
}

type noteAttrs struct {
	ID           int64   `json:"id"`
	Note         string  `json:"note"`
	NoteableType string  `json:"noteable_type"`
	AuthorID     int64   `json:"author_id"`
	CreatedAt    string  `json:"created_at"`
	UpdatedAt    string  `json:"updated_at"`
	ProjectID    int64   `json:"project_id"`
	Attachment   *string `json:"attachment"`
	LineCode     *string `json:"line_code"`
	CommitID     string  `json:"commit_id"`
	NoteableID   int64   `json:"noteable_id"`
	System       bool    `json:"system"`
	Internal     bool    `json:"internal,omitempty"` // only on internal notes: not in the public examples
	StDiff       *string `json:"st_diff"`
	Action       string  `json:"action"`
	URL          string  `json:"url"`
}

type noteHook struct {
	ObjectKind       string         `json:"object_kind"`
	EventType        string         `json:"event_type"`
	User             hookUser       `json:"user"`
	ProjectID        int64          `json:"project_id"`
	Project          hookProject    `json:"project"`
	Repository       hookRepository `json:"repository"`
	ObjectAttributes noteAttrs      `json:"object_attributes"`
	MergeRequest     hookMR         `json:"merge_request"`
}

type hookVariable struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type pipelineAttrs struct {
	ID             int64          `json:"id"`
	IID            int64          `json:"iid"`
	Name           *string        `json:"name"`
	Ref            string         `json:"ref"`
	Tag            bool           `json:"tag"`
	SHA            string         `json:"sha"`
	BeforeSHA      string         `json:"before_sha"`
	Source         string         `json:"source"`
	Status         string         `json:"status"`
	DetailedStatus string         `json:"detailed_status"`
	Stages         []string       `json:"stages"`
	CreatedAt      string         `json:"created_at"`
	FinishedAt     *string        `json:"finished_at"`
	Duration       *int64         `json:"duration"`
	QueuedDuration *int64         `json:"queued_duration"`
	Variables      []hookVariable `json:"variables"`
	URL            string         `json:"url"`
}

type hookBuild struct {
	ID             int64     `json:"id"`
	Stage          string    `json:"stage"`
	Name           string    `json:"name"`
	Status         string    `json:"status"`
	CreatedAt      string    `json:"created_at"`
	StartedAt      *string   `json:"started_at"`
	FinishedAt     *string   `json:"finished_at"`
	Duration       *float64  `json:"duration"`
	QueuedDuration *float64  `json:"queued_duration"`
	FailureReason  *string   `json:"failure_reason"`
	When           string    `json:"when"`
	Manual         bool      `json:"manual"`
	AllowFailure   bool      `json:"allow_failure"`
	User           hookUser  `json:"user"`
	Runner         *struct{} `json:"runner"`
	ArtifactsFile  artifacts `json:"artifacts_file"`
	Environment    *struct{} `json:"environment"`
}

type artifacts struct {
	Filename *string `json:"filename"`
	Size     *int64  `json:"size"`
}

type pipelineHook struct {
	ObjectKind       string        `json:"object_kind"`
	ObjectAttributes pipelineAttrs `json:"object_attributes"`
	// MergeRequest is null: the forge runs branch pipelines only.
	MergeRequest *struct{}   `json:"merge_request"`
	User         hookUser    `json:"user"`
	Project      hookProject `json:"project"`
	Commit       hookCommit  `json:"commit"`
	Builds       []hookBuild `json:"builds"`
}

// urls derives every URL of a project from the forge's base URL.
type urls struct{ base, path string }

func (u urls) web() string { return u.base + "/" + u.path }
func (u urls) git() string { return u.web() + ".git" }
func (u urls) ssh() string {
	return "git@" + strings.TrimPrefix(strings.TrimPrefix(u.base, "http://"), "https://") + ":" + u.path + ".git"
}
func (u urls) commit(sha string) string { return u.web() + "/-/commit/" + sha }

func (f *Forge) projectURLs(p *project) urls { return urls{base: f.baseURL, path: p.Path} }

// hookProjectOf and the other builders read state: call them with f.mu held.
func (f *Forge) hookProjectOf(p *project) hookProject {
	u := f.projectURLs(p)
	return hookProject{
		ID: p.ID, Name: p.name(), WebURL: u.web(), GitSSHURL: u.ssh(), GitHTTPURL: u.git(),
		Namespace: p.namespace(), VisibilityLevel: 10, PathWithNamespace: p.Path,
		DefaultBranch: p.DefaultBranch, Homepage: u.web(), URL: u.git(), SSHURL: u.ssh(), HTTPURL: u.git(),
	}
}

func (f *Forge) hookRepositoryOf(p *project) hookRepository {
	u := f.projectURLs(p)
	return hookRepository{Name: p.name(), URL: u.git(), Homepage: u.web(), GitHTTPURL: u.git(), GitSSHURL: u.ssh(), VisibilityLevel: 10}
}

func hookUserOf(u *user) hookUser {
	return hookUser{ID: u.ID, Name: u.Name, Username: u.Username, AvatarURL: avatarURL(u), Email: u.email()}
}

func avatarURL(u *user) string {
	return "https://www.gravatar.com/avatar/" + u.Username + "?s=80&d=identicon"
}

func hookCommitOf(c commitInfo, u urls) hookCommit {
	return hookCommit{
		ID: c.ID, Message: c.Message, Title: c.Title, Timestamp: c.Time.Format(time.RFC3339),
		URL: u.commit(c.ID), Author: hookAuthor{Name: c.AuthorName, Email: c.AuthorEmail},
	}
}

// mrStateID is GitLab's numeric merge request state.
func mrStateID(state string) int {
	switch state {
	case StateClosed:
		return 2
	case StateMerged:
		return 3
	}
	return 1
}

func (f *Forge) hookMROf(p *project, m *mergeRequest, last commitInfo) hookMR {
	u := f.projectURLs(p)
	status := detailedMergeStatus(p, m)
	h := hookMR{
		ID: m.ID, IID: m.IID, TargetBranch: m.Target, SourceBranch: m.Source,
		SourceProjectID: p.ID, TargetProjectID: p.ID, AuthorID: m.AuthorID,
		AssigneeIDs: []int64{}, ReviewerIDs: []int64{}, Title: m.Title,
		CreatedAt: fmtHookTime(m.Created), UpdatedAt: fmtHookTime(m.Updated), PreparedAt: fmtHookTime(m.Created),
		MergeParams: mergeParams{ForceRemoveSourceBranch: "0"}, StateID: mrStateID(m.State), State: m.State,
		BlockingDiscussionsResolved: blockingDiscussionsResolved(p, m), WorkInProgress: m.Draft, Draft: m.Draft,
		Description: m.Description, URL: mrURL(u, m.IID),
		Source: f.hookProjectOf(p), Target: f.hookProjectOf(p),
		LastCommit: hookCommitOf(last, u), Labels: []any{},
		DetailedMergeStatus: status, MergeStatus: mergeStatus(status),
	}
	if m.MergeCommitSHA != "" {
		s := m.MergeCommitSHA
		h.MergeCommitSHA = &s
	}
	if m.MergedBy != 0 {
		id := m.MergedBy
		h.MergeUserID = &id
	}
	return h
}

func mrURL(u urls, iid int64) string {
	return u.web() + "/-/merge_requests/" + itoa(iid)
}
