package fakeforge

import "time"

// JSON of check runs, workflow runs and commit statuses, shaped like
// GitHub's.

// actionsApp is the GitHub App that owns the check runs of Actions.
func (f *Forge) actionsApp() obj {
	created := ghTimeStr(time.Date(2018, 7, 30, 9, 30, 17, 0, time.UTC))
	return obj{
		"id": actionsAppID, "slug": ActionsApp, "node_id": "MDM6QXBwMTUzNjg=", "name": "GitHub Actions",
		"description": "Automate your workflow from idea to production", "external_url": "https://help.github.com/en/actions",
		"html_url": f.ghURLs().web("apps/github-actions"), "created_at": created, "updated_at": created,
		"owner":       f.ghUserOf(&user{ID: 9919, Username: "github", Org: true}),
		"permissions": obj{"checks": "write", "contents": "write", "metadata": "read", "statuses": "write"},
		"events":      []string{"check_run", "check_suite", "push", "pull_request", "workflow_dispatch"},
	}
}

// ActionsApp is the slug of GitHub Actions, whose check runs the
// simulated workflows make.
const ActionsApp = "github-actions"

// actionsAppID is GitHub Actions' app id on github.com.
const actionsAppID = 15368

// appOf is the GitHub App that reports c: Actions, the installed app, or
// another one, numbered the first time it reports; call with f.mu held.
func (f *Forge) appOf(c *checkRun) obj {
	if c.App == "" || c.App == ActionsApp {
		return f.actionsApp()
	}
	id := f.appID(c.App)
	created := ghTimeStr(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC))
	return obj{
		"id": id, "slug": c.App, "node_id": nodeID("A", id), "name": c.App, "description": "",
		"external_url": "https://example.com/" + c.App, "html_url": f.ghURLs().web("apps/" + c.App),
		"created_at": created, "updated_at": created,
		"owner":       f.ghUserOf(&user{ID: id, Username: c.App, Org: true}),
		"permissions": obj{"checks": "write", "metadata": "read"},
		"events":      []string{"check_run", "check_suite"},
	}
}

// AppID is the id of the GitHub App whose slug is app, as its check runs
// carry it: numbered here the first time it is asked for or reports.
func (f *Forge) AppID(app string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.appID(app)
}

// appID is AppID; call with f.mu held.
func (f *Forge) appID(app string) int64 {
	if app == "" || app == ActionsApp {
		return actionsAppID
	}
	if id := f.opts.GitHub.App.ID; app == f.opts.GitHub.App.Slug && id != 0 {
		return id
	}
	id := f.st.gh.apps[app]
	if id == 0 {
		id = 900000 + int64(len(f.st.gh.apps)+1)
		f.st.gh.apps[app] = id
	}
	return id
}

type ghCheckOutput struct {
	Title            *string `json:"title"`
	Summary          *string `json:"summary"`
	Text             *string `json:"text"`
	AnnotationsCount int     `json:"annotations_count"`
	AnnotationsURL   string  `json:"annotations_url"`
}

type ghID struct {
	ID int64 `json:"id"`
}

type ghCheckRun struct {
	ID           int64         `json:"id"`
	HeadSHA      string        `json:"head_sha"`
	NodeID       string        `json:"node_id"`
	ExternalID   string        `json:"external_id"`
	URL          string        `json:"url"`
	HTMLURL      string        `json:"html_url"`
	DetailsURL   string        `json:"details_url"`
	Status       string        `json:"status"`
	Conclusion   *string       `json:"conclusion"`
	StartedAt    *string       `json:"started_at"`
	CompletedAt  *string       `json:"completed_at"`
	Output       ghCheckOutput `json:"output"`
	Name         string        `json:"name"`
	CheckSuite   ghID          `json:"check_suite"`
	App          obj           `json:"app"`
	PullRequests []obj         `json:"pull_requests"`
}

type ghCheckRuns struct {
	TotalCount int          `json:"total_count"`
	CheckRuns  []ghCheckRun `json:"check_runs"`
}

func (f *Forge) ghCheckRunOf(p *project, c *checkRun) ghCheckRun {
	l := f.ghURLs()
	web := l.web(p.Path + "/runs/" + itoa(c.ID))
	if c.RunID != 0 {
		web = l.web(p.Path + "/actions/runs/" + itoa(c.RunID) + "/job/" + itoa(c.ID))
	}
	out := ghCheckRun{
		ID: c.ID, HeadSHA: c.SHA, NodeID: nodeID("CR", c.ID), ExternalID: itoa(c.ID),
		URL: l.api("repos/" + p.Path + "/check-runs/" + itoa(c.ID)), HTMLURL: web, DetailsURL: web,
		Status: c.Status, StartedAt: ghTime(c.Started), CompletedAt: ghTime(c.Completed),
		Output: ghCheckOutput{AnnotationsURL: l.api("repos/" + p.Path + "/check-runs/" + itoa(c.ID) + "/annotations")},
		Name:   c.Name, CheckSuite: ghID{c.SuiteID}, App: f.appOf(c), PullRequests: []obj{},
	}
	if c.Conclusion != "" {
		out.Conclusion = &c.Conclusion
	}
	if c.API {
		out.ExternalID = ""
		out.Output.Title, out.Output.Summary = optString(c.Title), optString(c.Summary)
		if c.DetailsURL != "" {
			out.DetailsURL = c.DetailsURL
		}
	}
	return out
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type ghHeadCommit struct {
	ID        string     `json:"id"`
	TreeID    string     `json:"tree_id"`
	Message   string     `json:"message"`
	Timestamp string     `json:"timestamp"`
	Author    ghNameMail `json:"author"`
	Committer ghNameMail `json:"committer"`
}

type ghNameMail struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

type ghWorkflowRun struct {
	ID                 int64        `json:"id"`
	Name               string       `json:"name"`
	NodeID             string       `json:"node_id"`
	HeadBranch         string       `json:"head_branch"`
	HeadSHA            string       `json:"head_sha"`
	Path               string       `json:"path"`
	DisplayTitle       string       `json:"display_title"`
	RunNumber          int64        `json:"run_number"`
	Event              string       `json:"event"`
	Status             string       `json:"status"`
	Conclusion         *string      `json:"conclusion"`
	WorkflowID         int64        `json:"workflow_id"`
	CheckSuiteID       int64        `json:"check_suite_id"`
	CheckSuiteNodeID   string       `json:"check_suite_node_id"`
	URL                string       `json:"url"`
	HTMLURL            string       `json:"html_url"`
	PullRequests       []obj        `json:"pull_requests"`
	CreatedAt          string       `json:"created_at"`
	UpdatedAt          string       `json:"updated_at"`
	Actor              obj          `json:"actor"`
	RunAttempt         int          `json:"run_attempt"`
	RunStartedAt       string       `json:"run_started_at"`
	TriggeringActor    obj          `json:"triggering_actor"`
	JobsURL            string       `json:"jobs_url"`
	LogsURL            string       `json:"logs_url"`
	CheckSuiteURL      string       `json:"check_suite_url"`
	ArtifactsURL       string       `json:"artifacts_url"`
	CancelURL          string       `json:"cancel_url"`
	RerunURL           string       `json:"rerun_url"`
	PreviousAttemptURL *string      `json:"previous_attempt_url"`
	WorkflowURL        string       `json:"workflow_url"`
	HeadCommit         ghHeadCommit `json:"head_commit"`
	Repository         obj          `json:"repository"`
	HeadRepository     obj          `json:"head_repository"`
}

type ghWorkflowRuns struct {
	TotalCount   int             `json:"total_count"`
	WorkflowRuns []ghWorkflowRun `json:"workflow_runs"`
}

// ghWorkflowRunOf renders a run whose head commit is head; call with f.mu
// held.
func (f *Forge) ghWorkflowRunOf(p *project, run *workflowRun, head commitInfo) ghWorkflowRun {
	l := f.ghURLs()
	api := l.api("repos/" + p.Path + "/actions/runs/" + itoa(run.ID))
	actor := f.ghUserOf(f.st.users[run.ActorID])
	who := ghNameMail{Name: head.AuthorName, Email: head.AuthorEmail}
	out := ghWorkflowRun{
		ID: run.ID, Name: f.opts.GitHub.Actions.Workflow, NodeID: nodeID("WFR", run.ID), HeadBranch: run.Branch, HeadSHA: run.SHA,
		Path: f.workflowFile(), DisplayTitle: head.Title, RunNumber: run.Number, Event: run.Event, Status: run.Status,
		WorkflowID: p.ID, CheckSuiteID: run.SuiteID, CheckSuiteNodeID: nodeID("CS", run.SuiteID), URL: api,
		HTMLURL: l.web(p.Path + "/actions/runs/" + itoa(run.ID)), PullRequests: []obj{},
		CreatedAt: ghTimeStr(run.Created), UpdatedAt: ghTimeStr(run.Updated), Actor: actor, RunAttempt: run.Attempt,
		RunStartedAt: ghTimeStr(run.Started), TriggeringActor: actor, JobsURL: api + "/jobs", LogsURL: api + "/logs",
		CheckSuiteURL: l.api("repos/" + p.Path + "/check-suites/" + itoa(run.SuiteID)), ArtifactsURL: api + "/artifacts",
		CancelURL: api + "/cancel", RerunURL: api + "/rerun", WorkflowURL: l.api("repos/" + p.Path + "/actions/workflows/" + itoa(p.ID)),
		HeadCommit: ghHeadCommit{ID: head.ID, TreeID: head.Tree, Message: head.Message, Timestamp: ghTimeStr(head.Time), Author: who, Committer: who},
		Repository: f.ghMinimalRepoOf(p), HeadRepository: f.ghMinimalRepoOf(p),
	}
	if run.Conclusion != "" {
		out.Conclusion = &run.Conclusion
	}
	if run.Attempt > 1 {
		prev := api + "/attempts/" + itoa(int64(run.Attempt-1))
		out.PreviousAttemptURL = &prev
	}
	return out
}

type ghStatus struct {
	URL         string  `json:"url"`
	AvatarURL   string  `json:"avatar_url"`
	ID          int64   `json:"id"`
	NodeID      string  `json:"node_id"`
	State       string  `json:"state"`
	Description *string `json:"description"`
	TargetURL   *string `json:"target_url"`
	Context     string  `json:"context"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
}

// ghListedStatus is a status as the list of a commit's statuses gives
// it: with its creator, which the combined status leaves out.
type ghListedStatus struct {
	ghStatus
	Creator obj `json:"creator"`
}

type ghCombinedStatus struct {
	State      string     `json:"state"`
	Statuses   []ghStatus `json:"statuses"`
	SHA        string     `json:"sha"`
	TotalCount int        `json:"total_count"`
	Repository obj        `json:"repository"`
	CommitURL  string     `json:"commit_url"`
	URL        string     `json:"url"`
}

func (f *Forge) ghStatusOf(p *project, s *commitStatus) ghStatus {
	out := ghStatus{
		URL: f.ghURLs().api("repos/" + p.Path + "/statuses/" + s.SHA), AvatarURL: avatarURL(f.st.users[s.CreatorID]),
		ID: s.ID, NodeID: nodeID("SC", s.ID), State: s.State, Context: s.Context,
		CreatedAt: ghTimeStr(s.Created), UpdatedAt: ghTimeStr(s.Updated),
	}
	if s.Description != "" {
		out.Description = &s.Description
	}
	if s.TargetURL != "" {
		out.TargetURL = &s.TargetURL
	}
	return out
}

type ghInstallationToken struct {
	Token               string            `json:"token"`
	ExpiresAt           string            `json:"expires_at"`
	Permissions         map[string]string `json:"permissions"`
	RepositorySelection string            `json:"repository_selection"`
}
