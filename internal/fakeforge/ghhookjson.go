package fakeforge

import (
	"strings"
	"time"
)

// GitHub webhook payloads, shaped like GitHub's (compare
// testdata/github): the objects they embed are the REST API's, built by
// the same functions, with the few fields webhooks add.

// Event names GitHub sends in X-GitHub-Event.
const (
	GHEventPullRequest  = "pull_request"
	GHEventIssueComment = "issue_comment"
	GHEventCheckRun     = "check_run"
	GHEventCheckSuite   = "check_suite"
	GHEventWorkflowRun  = "workflow_run"
	GHEventStatus       = "status"
	GHEventPush         = "push"
	GHEventReview       = "pull_request_review"
)

// ghInstallation is the installation a delivery is for, as an app's
// webhooks name it.
func (f *Forge) ghInstallation() obj {
	id := f.opts.GitHub.App.InstallationID
	return obj{"id": id, "node_id": nodeID("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u", id)}
}

// ghOrganization renders a repository's owner as the organization
// workflow_run events name; call with f.mu held.
func (f *Forge) ghOrganization(p *project) obj {
	owner := f.st.usersByName[p.namespace()]
	l := f.ghURLs()
	api := l.api("orgs/" + owner.Username)
	return obj{
		"login": owner.Username, "id": owner.ID, "node_id": nodeID("O", owner.ID), "url": api,
		"repos_url": api + "/repos", "events_url": api + "/events", "hooks_url": api + "/hooks",
		"issues_url": api + "/issues", "members_url": api + "/members{/member}",
		"public_members_url": api + "/public_members{/member}", "avatar_url": avatarURL(owner), "description": "",
	}
}

// ghIssueOf renders MR m as the issue an issue_comment names; call with
// f.mu held.
func (f *Forge) ghIssueOf(p *project, m *mergeRequest) obj {
	l := f.ghURLs()
	api := l.api("repos/" + p.Path + "/issues/" + itoa(m.IID))
	web := l.web(p.Path + "/pull/" + itoa(m.IID))
	state := "open"
	if m.State != StateOpened {
		state = "closed"
	}
	var body any
	if m.Description != "" {
		body = m.Description
	}
	return obj{
		"url": api, "repository_url": l.api("repos/" + p.Path), "labels_url": api + "/labels{/name}",
		"comments_url": api + "/comments", "events_url": api + "/events", "html_url": web,
		"id": m.ID, "node_id": nodeID("I", m.ID), "number": m.IID, "title": m.Title,
		"user": f.ghUserOf(f.st.users[m.AuthorID]), "labels": []obj{}, "state": state, "locked": false,
		"assignee": nil, "assignees": []obj{}, "milestone": nil, "comments": len(m.notes),
		"created_at": ghTimeStr(m.Created), "updated_at": ghTimeStr(m.Updated), "closed_at": ghTime(m.ClosedAt),
		"author_association": f.association(p, f.st.users[m.AuthorID]), "body": body,
		"pull_request": obj{"url": l.api("repos/" + p.Path + "/pulls/" + itoa(m.IID)), "html_url": web,
			"diff_url": web + ".diff", "patch_url": web + ".patch"},
	}
}

// ghSuiteBrief is a check suite as a check run embeds it.
type ghSuiteBrief struct {
	ID           int64   `json:"id"`
	NodeID       string  `json:"node_id"`
	HeadBranch   *string `json:"head_branch"`
	HeadSHA      string  `json:"head_sha"`
	Status       string  `json:"status"`
	Conclusion   *string `json:"conclusion"`
	URL          string  `json:"url"`
	Before       string  `json:"before"`
	After        string  `json:"after"`
	PullRequests []obj   `json:"pull_requests"`
	App          obj     `json:"app"`
	CreatedAt    string  `json:"created_at"`
	UpdatedAt    string  `json:"updated_at"`
}

// ghSuite is a check suite as check_suite events carry it.
type ghSuite struct {
	ghSuiteBrief
	LatestCheckRunsCount int          `json:"latest_check_runs_count"`
	CheckRunsURL         string       `json:"check_runs_url"`
	HeadCommit           ghHeadCommit `json:"head_commit"`
}

// ghHookCheckRun is a check run with its whole suite, as check_run
// events carry it.
type ghHookCheckRun struct {
	ghCheckRun
	CheckSuite ghSuiteBrief `json:"check_suite"`
}

// suiteOf is the check suite a check run belongs to: its workflow run's,
// or, for a check run posted on its own, one of its own. Call with f.mu
// held.
func (f *Forge) suiteOf(p *project, c *checkRun) ghSuiteBrief {
	status, conclusion, branch := c.Status, c.Conclusion, ""
	created, updated := c.Started, c.Completed
	if run, ok := f.st.gh.workflowRuns[c.RunID]; ok {
		status, conclusion, branch = run.Status, run.Conclusion, run.Branch
		created, updated = run.Created, run.Updated
	}
	if updated.IsZero() {
		updated = created
	}
	s := ghSuiteBrief{
		ID: c.SuiteID, NodeID: nodeID("CS", c.SuiteID), HeadSHA: c.SHA, Status: status,
		URL: f.ghURLs().api("repos/" + p.Path + "/check-suites/" + itoa(c.SuiteID)), Before: zeroSHA, After: c.SHA,
		PullRequests: []obj{}, App: hookApp(f.appOf(c)), CreatedAt: ghTimeStr(created), UpdatedAt: ghTimeStr(updated),
	}
	if branch != "" {
		s.HeadBranch = &branch
	}
	if conclusion != "" {
		s.Conclusion = &conclusion
	}
	return s
}

// ghPushRepoOf renders a repository as push events do: with the
// timestamps as Unix seconds, and the stargazers and master_branch keys
// of old. Call with f.mu held.
func (f *Forge) ghPushRepoOf(p *project) obj {
	o := f.ghRepoOf(p)
	o["created_at"], o["pushed_at"] = p.Created.Unix(), time.Now().Unix()
	o["stargazers"], o["master_branch"] = 0, p.DefaultBranch
	owner := f.st.usersByName[p.namespace()]
	o["owner"] = f.ghUserOf(owner)
	o["owner"].(obj)["name"], o["owner"].(obj)["email"] = owner.Name, owner.email()
	return o
}

type ghPushAuthor struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Username string `json:"username,omitempty"`
}

type ghPushCommit struct {
	ID        string       `json:"id"`
	TreeID    string       `json:"tree_id"`
	Distinct  bool         `json:"distinct"`
	Message   string       `json:"message"`
	Timestamp string       `json:"timestamp"`
	URL       string       `json:"url"`
	Author    ghPushAuthor `json:"author"`
	Committer ghPushAuthor `json:"committer"`
	Added     []string     `json:"added"`
	Removed   []string     `json:"removed"`
	Modified  []string     `json:"modified"`
}

func (f *Forge) ghPushCommitOf(p *project, c loggedCommit) ghPushCommit {
	who := ghPushAuthor{Name: c.AuthorName, Email: c.AuthorEmail}
	if u, ok := f.st.usersByName[strings.TrimSuffix(c.AuthorEmail, "@example.com")]; ok {
		who.Username = u.Username
	}
	return ghPushCommit{
		ID: c.ID, TreeID: c.Tree, Distinct: true, Message: c.Message, Timestamp: ghTimeStr(c.Time),
		URL: f.ghURLs().web(p.Path + "/commit/" + c.ID), Author: who, Committer: who,
		Added: orEmpty(c.added), Removed: orEmpty(c.removed), Modified: orEmpty(c.modified),
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// hookApp is an app as webhooks show it: GitHub's examples of check run
// and check suite events give no slug, which the REST API does.
func hookApp(app obj) obj {
	out := make(obj, len(app))
	for k, v := range app {
		if k != "slug" {
			out[k] = v
		}
	}
	return out
}
