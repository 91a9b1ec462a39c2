package fakeforge

import (
	"time"
)

// REST v4 response bodies, shaped like GitLab's (compare testdata/api):
// same keys, same JSON types, null where GitLab has nothing to say.

// apiTimeFormat is how the REST API writes times.
const apiTimeFormat = "2006-01-02T15:04:05.000Z"

func apiTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(apiTimeFormat)
	return &s
}

type apiUser struct {
	ID        int64  `json:"id"`
	Username  string `json:"username"`
	Name      string `json:"name"`
	State     string `json:"state"`
	Locked    bool   `json:"locked"`
	AvatarURL string `json:"avatar_url"`
	WebURL    string `json:"web_url"`
}

type apiUserDetail struct {
	apiUser
	CreatedAt *string `json:"created_at"`
	Bio       string  `json:"bio"`
	Bot       bool    `json:"bot"`
	IsAdmin   bool    `json:"is_admin"`
}

type apiMember struct {
	apiUser
	AccessLevel     int     `json:"access_level"`
	CreatedAt       *string `json:"created_at"`
	ExpiresAt       *string `json:"expires_at"`
	MembershipState string  `json:"membership_state"`
}

type apiNamespace struct {
	ID       int64   `json:"id"`
	Name     string  `json:"name"`
	Path     string  `json:"path"`
	Kind     string  `json:"kind"`
	FullPath string  `json:"full_path"`
	ParentID *int64  `json:"parent_id"`
	WebURL   string  `json:"web_url"`
	Avatar   *string `json:"avatar_url"`
}

type apiProject struct {
	ID                int64        `json:"id"`
	Description       *string      `json:"description"`
	Name              string       `json:"name"`
	NameWithNamespace string       `json:"name_with_namespace"`
	Path              string       `json:"path"`
	PathWithNamespace string       `json:"path_with_namespace"`
	CreatedAt         *string      `json:"created_at"`
	DefaultBranch     string       `json:"default_branch"`
	TagList           []string     `json:"tag_list"`
	Topics            []string     `json:"topics"`
	SSHURLToRepo      string       `json:"ssh_url_to_repo"`
	HTTPURLToRepo     string       `json:"http_url_to_repo"`
	WebURL            string       `json:"web_url"`
	ReadmeURL         *string      `json:"readme_url"`
	AvatarURL         *string      `json:"avatar_url"`
	ForksCount        int          `json:"forks_count"`
	StarCount         int          `json:"star_count"`
	LastActivityAt    *string      `json:"last_activity_at"`
	Namespace         apiNamespace `json:"namespace"`
	Visibility        string       `json:"visibility"`
	EmptyRepo         bool         `json:"empty_repo"`
	Archived          bool         `json:"archived"`
	MergeMethod       string       `json:"merge_method"`
	SquashOption      string       `json:"squash_option"`
}

type apiPipelineInfo struct {
	ID        int64   `json:"id"`
	IID       int64   `json:"iid"`
	ProjectID int64   `json:"project_id"`
	SHA       string  `json:"sha"`
	Ref       string  `json:"ref"`
	Status    string  `json:"status"`
	Source    string  `json:"source"`
	CreatedAt *string `json:"created_at"`
	UpdatedAt *string `json:"updated_at"`
	WebURL    string  `json:"web_url"`
}

type apiDetailedStatus struct {
	Icon         string  `json:"icon"`
	Text         string  `json:"text"`
	Label        string  `json:"label"`
	Group        string  `json:"group"`
	Tooltip      string  `json:"tooltip"`
	HasDetails   bool    `json:"has_details"`
	DetailsPath  string  `json:"details_path"`
	Illustration *string `json:"illustration"`
	Favicon      string  `json:"favicon"`
}

type apiPipeline struct {
	apiPipelineInfo
	Name           *string           `json:"name"`
	BeforeSHA      string            `json:"before_sha"`
	Tag            bool              `json:"tag"`
	YamlErrors     *string           `json:"yaml_errors"`
	User           apiUser           `json:"user"`
	StartedAt      *string           `json:"started_at"`
	FinishedAt     *string           `json:"finished_at"`
	CommittedAt    *string           `json:"committed_at"`
	Duration       *int64            `json:"duration"`
	QueuedDuration *int64            `json:"queued_duration"`
	Coverage       *string           `json:"coverage"`
	DetailedStatus apiDetailedStatus `json:"detailed_status"`
}

type apiTimeStats struct {
	TimeEstimate        int     `json:"time_estimate"`
	TotalTimeSpent      int     `json:"total_time_spent"`
	HumanTimeEstimate   *string `json:"human_time_estimate"`
	HumanTotalTimeSpent *string `json:"human_total_time_spent"`
}

type apiTaskStatus struct {
	Count          int `json:"count"`
	CompletedCount int `json:"completed_count"`
}

type apiReferences struct {
	Short    string `json:"short"`
	Relative string `json:"relative"`
	Full     string `json:"full"`
}

type apiDiffRefs struct {
	BaseSHA  *string `json:"base_sha"`
	HeadSHA  string  `json:"head_sha"`
	StartSHA *string `json:"start_sha"`
}

type apiMRUser struct {
	CanMerge bool `json:"can_merge"`
}

// apiMR carries every top-level key of GitLab's single merge request
// response.
type apiMR struct {
	ID                          int64            `json:"id"`
	IID                         int64            `json:"iid"`
	ProjectID                   int64            `json:"project_id"`
	Title                       string           `json:"title"`
	Description                 string           `json:"description"`
	State                       string           `json:"state"`
	CreatedAt                   *string          `json:"created_at"`
	UpdatedAt                   *string          `json:"updated_at"`
	MergedBy                    *apiUser         `json:"merged_by"`
	MergeUser                   *apiUser         `json:"merge_user"`
	MergedAt                    *string          `json:"merged_at"`
	ClosedBy                    *apiUser         `json:"closed_by"`
	ClosedAt                    *string          `json:"closed_at"`
	TargetBranch                string           `json:"target_branch"`
	SourceBranch                string           `json:"source_branch"`
	UserNotesCount              int              `json:"user_notes_count"`
	Upvotes                     int              `json:"upvotes"`
	Downvotes                   int              `json:"downvotes"`
	Author                      apiUser          `json:"author"`
	Assignee                    *apiUser         `json:"assignee"`
	Assignees                   []apiUser        `json:"assignees"`
	Reviewers                   []apiUser        `json:"reviewers"`
	SourceProjectID             int64            `json:"source_project_id"`
	TargetProjectID             int64            `json:"target_project_id"`
	Labels                      []string         `json:"labels"`
	Draft                       bool             `json:"draft"`
	WorkInProgress              bool             `json:"work_in_progress"`
	Milestone                   *struct{}        `json:"milestone"`
	MergeWhenPipelineSucceeds   bool             `json:"merge_when_pipeline_succeeds"`
	MergeStatus                 string           `json:"merge_status"`
	DetailedMergeStatus         string           `json:"detailed_merge_status"`
	SHA                         string           `json:"sha"`
	MergeCommitSHA              *string          `json:"merge_commit_sha"`
	SquashCommitSHA             *string          `json:"squash_commit_sha"`
	DiscussionLocked            *bool            `json:"discussion_locked"`
	ShouldRemoveSourceBranch    *bool            `json:"should_remove_source_branch"`
	ForceRemoveSourceBranch     bool             `json:"force_remove_source_branch"`
	Reference                   string           `json:"reference"`
	References                  apiReferences    `json:"references"`
	WebURL                      string           `json:"web_url"`
	TimeStats                   apiTimeStats     `json:"time_stats"`
	Squash                      bool             `json:"squash"`
	TaskCompletionStatus        apiTaskStatus    `json:"task_completion_status"`
	HasConflicts                bool             `json:"has_conflicts"`
	BlockingDiscussionsResolved bool             `json:"blocking_discussions_resolved"`
	Subscribed                  bool             `json:"subscribed"`
	ChangesCount                string           `json:"changes_count"`
	LatestBuildStartedAt        *string          `json:"latest_build_started_at"`
	LatestBuildFinishedAt       *string          `json:"latest_build_finished_at"`
	FirstDeployedToProductionAt *string          `json:"first_deployed_to_production_at"`
	Pipeline                    *apiPipelineInfo `json:"pipeline"`
	HeadPipeline                *apiPipeline     `json:"head_pipeline"`
	DiffRefs                    apiDiffRefs      `json:"diff_refs"`
	MergeError                  *string          `json:"merge_error"`
	User                        apiMRUser        `json:"user"`
	FirstContribution           bool             `json:"first_contribution"`
	ApprovalsBeforeMerge        *int             `json:"approvals_before_merge"`
}

type apiNote struct {
	ID           int64   `json:"id"`
	Type         *string `json:"type"`
	Body         string  `json:"body"`
	Attachment   *string `json:"attachment"`
	Author       apiUser `json:"author"`
	CreatedAt    *string `json:"created_at"`
	UpdatedAt    *string `json:"updated_at"`
	System       bool    `json:"system"`
	NoteableID   int64   `json:"noteable_id"`
	NoteableType string  `json:"noteable_type"`
	ProjectID    int64   `json:"project_id"`
	NoteableIID  int64   `json:"noteable_iid"`
	Resolvable   bool    `json:"resolvable"`
	Confidential bool    `json:"confidential"`
	Internal     bool    `json:"internal"`
}

type apiCommit struct {
	ID             string            `json:"id"`
	ShortID        string            `json:"short_id"`
	CreatedAt      *string           `json:"created_at"`
	ParentIDs      []string          `json:"parent_ids"`
	Title          string            `json:"title"`
	Message        string            `json:"message"`
	AuthorName     string            `json:"author_name"`
	AuthorEmail    string            `json:"author_email"`
	AuthoredDate   *string           `json:"authored_date"`
	CommitterName  string            `json:"committer_name"`
	CommitterEmail string            `json:"committer_email"`
	CommittedDate  *string           `json:"committed_date"`
	Trailers       map[string]string `json:"trailers"`
	WebURL         string            `json:"web_url"`
}

type apiBranch struct {
	Name               string    `json:"name"`
	Merged             bool      `json:"merged"`
	Protected          bool      `json:"protected"`
	Default            bool      `json:"default"`
	DevelopersCanPush  bool      `json:"developers_can_push"`
	DevelopersCanMerge bool      `json:"developers_can_merge"`
	CanPush            bool      `json:"can_push"`
	WebURL             string    `json:"web_url"`
	Commit             apiCommit `json:"commit"`
}

// Builders below read state: call them with f.mu held.

func (f *Forge) apiUserOf(u *user) apiUser {
	return apiUser{ID: u.ID, Username: u.Username, Name: u.Name, State: "active", AvatarURL: avatarURL(u), WebURL: f.baseURL + "/" + u.Username}
}

func (f *Forge) optAPIUser(id int64) *apiUser {
	u, ok := f.st.users[id]
	if !ok {
		return nil
	}
	a := f.apiUserOf(u)
	return &a
}

func (f *Forge) apiProjectOf(p *project) apiProject {
	u := f.projectURLs(p)
	ns := p.namespace()
	_, nsName := splitPath(ns)
	return apiProject{
		ID: p.ID, Name: p.name(), NameWithNamespace: ns + " / " + p.name(), Path: p.name(),
		PathWithNamespace: p.Path, CreatedAt: apiTime(p.Created), DefaultBranch: p.DefaultBranch,
		TagList: []string{}, Topics: []string{}, SSHURLToRepo: u.ssh(), HTTPURLToRepo: u.git(),
		WebURL: u.web(), LastActivityAt: apiTime(p.Created),
		Namespace:  apiNamespace{ID: p.ID, Name: nsName, Path: nsName, Kind: "group", FullPath: ns, WebURL: f.baseURL + "/groups/" + ns},
		Visibility: "internal", MergeMethod: "merge", SquashOption: "default_off",
	}
}

func (f *Forge) apiMROf(p *project, m *mergeRequest) apiMR {
	u := f.projectURLs(p)
	ref := "!" + itoa(m.IID)
	status := detailedMergeStatus(p, m)
	a := apiMR{
		ID: m.ID, IID: m.IID, ProjectID: p.ID, Title: m.Title, Description: m.Description, State: m.State,
		CreatedAt: apiTime(m.Created), UpdatedAt: apiTime(m.Updated), MergedAt: apiTime(m.MergedAt),
		ClosedAt: apiTime(m.ClosedAt), TargetBranch: m.Target, SourceBranch: m.Source,
		UserNotesCount: len(m.notes), Author: f.apiUserOf(f.st.users[m.AuthorID]),
		Assignees: []apiUser{}, Reviewers: []apiUser{}, SourceProjectID: p.ID, TargetProjectID: p.ID,
		Labels: []string{}, Draft: m.Draft, WorkInProgress: m.Draft, MergeStatus: mergeStatus(status),
		DetailedMergeStatus: status, SHA: m.SHA, Reference: ref,
		References: apiReferences{Short: ref, Relative: ref, Full: p.Path + ref}, WebURL: mrURL(u, m.IID),
		HasConflicts: status == "conflict", BlockingDiscussionsResolved: blockingDiscussionsResolved(p, m), ChangesCount: "1",
		DiffRefs: apiDiffRefs{HeadSHA: m.SHA}, User: apiMRUser{CanMerge: false},
	}
	if fork, ok := f.st.projects[m.ForkID]; ok {
		// An MR from a fork's branch has its source in the fork, which
		// is what tells it from an MR of this project's branch of the
		// same name.
		a.SourceProjectID = fork.ID
	}
	if m.MergedBy != 0 {
		a.MergedBy, a.MergeUser = f.optAPIUser(m.MergedBy), f.optAPIUser(m.MergedBy)
	}
	if m.ClosedBy != 0 {
		a.ClosedBy = f.optAPIUser(m.ClosedBy)
	}
	if m.MergeCommitSHA != "" {
		s := m.MergeCommitSHA
		a.MergeCommitSHA = &s
	}
	if pl := f.headPipeline(p, m); pl != nil {
		info := f.apiPipelineInfoOf(pl)
		full := f.apiPipelineOf(pl)
		a.Pipeline, a.HeadPipeline = &info, &full
	}
	return a
}

// headPipeline is the newest pipeline for the MR's head on its source
// branch, as GitLab reports with the MR.
func (f *Forge) headPipeline(p *project, m *mergeRequest) *pipeline {
	for _, pl := range f.projectPipelines(p) {
		if pl.SHA == m.SHA && pl.Ref == m.Source {
			return pl
		}
	}
	return nil
}

func (f *Forge) apiPipelineInfoOf(pl *pipeline) apiPipelineInfo {
	p := f.st.projects[pl.ProjectID]
	return apiPipelineInfo{
		ID: pl.ID, IID: pl.IID, ProjectID: pl.ProjectID, SHA: pl.SHA, Ref: pl.Ref, Status: pl.Status,
		Source: pl.Source, CreatedAt: apiTime(pl.Created), UpdatedAt: apiTime(pl.Updated),
		WebURL: f.projectURLs(p).web() + "/-/pipelines/" + itoa(pl.ID),
	}
}

func (f *Forge) apiPipelineOf(pl *pipeline) apiPipeline {
	info := f.apiPipelineInfoOf(pl)
	a := apiPipeline{
		apiPipelineInfo: info, BeforeSHA: pl.BeforeSHA, User: f.apiUserOf(f.st.users[pl.UserID]),
		StartedAt: apiTime(pl.Started), FinishedAt: apiTime(pl.Finished),
		DetailedStatus: apiDetailedStatus{
			Icon: "status_" + pl.Status, Text: detailedStatus(pl.Status), Label: detailedStatus(pl.Status),
			Group: pl.Status, Tooltip: detailedStatus(pl.Status), HasDetails: true,
			DetailsPath: "/" + f.st.projects[pl.ProjectID].Path + "/-/pipelines/" + itoa(pl.ID),
			Favicon:     "/assets/ci_favicons/favicon_status_" + pl.Status + ".png",
		},
	}
	if !pl.Started.IsZero() {
		// Whole seconds: the GitLab client decodes this into an int64.
		q := int64(pl.Started.Sub(pl.Created).Seconds())
		a.QueuedDuration = &q
	}
	if !pl.Started.IsZero() && !pl.Finished.IsZero() {
		d := int64(pl.Finished.Sub(pl.Started).Seconds())
		a.Duration = &d
	}
	return a
}

// apiResolvableNote is a note of a resolvable thread: GitLab adds the
// thread's resolution to these only.
type apiResolvableNote struct {
	apiNote
	Resolved   bool     `json:"resolved"`
	ResolvedBy *apiUser `json:"resolved_by"`
	ResolvedAt *string  `json:"resolved_at"`
}

// apiNoteOf renders n as an apiNote, or an apiResolvableNote when it is in
// a resolvable thread.
func (f *Forge) apiNoteOf(p *project, m *mergeRequest, n *note) any {
	a := apiNote{
		ID: n.ID, Body: n.Body, Author: f.apiUserOf(f.st.users[n.AuthorID]),
		CreatedAt: apiTime(n.Created), UpdatedAt: apiTime(n.Updated), System: n.System, NoteableID: m.ID,
		Internal: n.Internal, Confidential: n.Internal,
		NoteableType: "MergeRequest", ProjectID: p.ID, NoteableIID: m.IID,
	}
	t, ok := m.review.threads[n.Discussion]
	if !ok {
		return a
	}
	kind := "DiscussionNote"
	a.Type, a.Resolvable = &kind, true
	r := apiResolvableNote{apiNote: a, Resolved: t.Resolved, ResolvedAt: apiTime(t.ResolvedAt)}
	if t.Resolved {
		r.ResolvedBy = f.optAPIUser(t.ResolvedBy)
	}
	return r
}

func apiCommitOf(c commitInfo, u urls) apiCommit {
	t := apiTime(c.Time)
	return apiCommit{
		ID: c.ID, ShortID: c.ID[:8], CreatedAt: t, ParentIDs: append([]string{}, c.Parents...), Title: c.Title, Message: c.Message,
		AuthorName: c.AuthorName, AuthorEmail: c.AuthorEmail, AuthoredDate: t,
		CommitterName: c.AuthorName, CommitterEmail: c.AuthorEmail, CommittedDate: t,
		Trailers: map[string]string{}, WebURL: u.commit(c.ID),
	}
}
