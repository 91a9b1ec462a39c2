package fakeforge

import (
	"encoding/base64"
	"strings"
	"time"
)

// GitHub REST v3 bodies, shaped like GitHub's (compare testdata/github):
// same keys, same JSON types, null where GitHub has nothing to say. Users
// and repositories are mostly URL templates, so they are built from
// tables; everything else is a struct.

// ghTimeFormat is how GitHub writes times.
const ghTimeFormat = "2006-01-02T15:04:05Z"

func ghTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(ghTimeFormat)
	return &s
}

func ghTimeStr(t time.Time) string { return t.UTC().Format(ghTimeFormat) }

// nodeID makes a GraphQL-style global id, unique per kind and id.
func nodeID(kind string, id int64) string {
	return kind + "_" + base64.RawURLEncoding.EncodeToString([]byte(kind+":"+itoa(id)))
}

// ghURLs derives GitHub's URLs from the forge's base URL.
type ghURLs struct{ base string }

func (u ghURLs) api(path string) string { return u.base + ghPrefix + "/" + path }
func (u ghURLs) web(path string) string { return u.base + "/" + path }

func (f *Forge) ghURLs() ghURLs { return ghURLs{base: f.baseURL} }

// obj is a JSON object built from a table.
type obj = map[string]any

// ghUserOf renders a user as GitHub does everywhere a user appears.
func (f *Forge) ghUserOf(u *user) obj {
	if u == nil {
		return nil
	}
	l := f.ghURLs()
	api := l.api("users/" + u.Username)
	typ := "User"
	switch {
	case u.Org:
		typ = "Organization"
	case strings.HasSuffix(u.Username, "[bot]"):
		typ = "Bot"
	}
	o := obj{
		"login": u.Username, "id": u.ID, "node_id": nodeID("U", u.ID), "avatar_url": avatarURL(u),
		"gravatar_id": "", "url": api, "html_url": l.web(u.Username), "type": typ, "site_admin": u.Admin,
	}
	for key, suffix := range map[string]string{
		"followers_url": "/followers", "following_url": "/following{/other_user}", "gists_url": "/gists{/gist_id}",
		"starred_url": "/starred{/owner}{/repo}", "subscriptions_url": "/subscriptions", "organizations_url": "/orgs",
		"repos_url": "/repos", "events_url": "/events{/privacy}", "received_events_url": "/received_events",
	} {
		o[key] = api + suffix
	}
	return o
}

// repoTemplates are the URL templates of a repository, relative to its
// API URL.
var repoTemplates = map[string]string{
	"archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}", "blobs_url": "/git/blobs{/sha}",
	"branches_url": "/branches{/branch}", "collaborators_url": "/collaborators{/collaborator}",
	"comments_url": "/comments{/number}", "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
	"contents_url": "/contents/{+path}", "contributors_url": "/contributors", "deployments_url": "/deployments",
	"downloads_url": "/downloads", "events_url": "/events", "forks_url": "/forks", "git_commits_url": "/git/commits{/sha}",
	"git_refs_url": "/git/refs{/sha}", "git_tags_url": "/git/tags{/sha}", "hooks_url": "/hooks",
	"issue_comment_url": "/issues/comments{/number}", "issue_events_url": "/issues/events{/number}",
	"issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}", "labels_url": "/labels{/name}",
	"languages_url": "/languages", "merges_url": "/merges", "milestones_url": "/milestones{/number}",
	"notifications_url": "/notifications{?since,all,participating}", "pulls_url": "/pulls{/number}",
	"releases_url": "/releases{/id}", "stargazers_url": "/stargazers", "statuses_url": "/statuses/{sha}",
	"subscribers_url": "/subscribers", "subscription_url": "/subscription", "tags_url": "/tags",
	"teams_url": "/teams", "trees_url": "/git/trees{/sha}",
}

// ghMinimalRepoOf renders a repository as GitHub does inside workflow
// runs and combined statuses; call with f.mu held.
func (f *Forge) ghMinimalRepoOf(p *project) obj {
	l := f.ghURLs()
	api := l.api("repos/" + p.Path)
	o := obj{
		"id": p.ID, "node_id": nodeID("R", p.ID), "name": p.name(), "full_name": p.Path, "private": false,
		"owner": f.ghUserOf(f.st.usersByName[p.namespace()]), "html_url": l.web(p.Path),
		"description": nil, "fork": false, "url": api,
	}
	for key, suffix := range repoTemplates {
		o[key] = api + suffix
	}
	return o
}

// ghRepoOf renders a repository in full, as GET /repos/{owner}/{repo}
// and pull requests do; call with f.mu held.
func (f *Forge) ghRepoOf(p *project) obj {
	o := f.ghMinimalRepoOf(p)
	u := f.projectURLs(p)
	created := ghTimeStr(p.Created)
	for k, v := range map[string]any{
		"created_at": created, "updated_at": created, "pushed_at": created, "git_url": "git" + strings.TrimPrefix(u.git(), "http"),
		"ssh_url": u.ssh(), "clone_url": u.git(), "svn_url": u.web(), "homepage": nil, "size": 0,
		"stargazers_count": 0, "watchers_count": 0, "language": nil, "has_issues": true, "has_projects": true,
		"has_downloads": true, "has_wiki": true, "has_pages": false, "forks_count": 0, "mirror_url": nil,
		"archived": false, "disabled": false, "open_issues_count": 0, "license": nil, "is_template": false,
		"web_commit_signoff_required": false, "topics": []string{}, "visibility": "public", "forks": 0,
		"open_issues": 0, "watchers": 0, "default_branch": p.DefaultBranch, "custom_properties": obj{},
	} {
		o[k] = v
	}
	return o
}

type ghHref struct {
	Href string `json:"href"`
}

type ghPullRef struct {
	Label string `json:"label"`
	Ref   string `json:"ref"`
	SHA   string `json:"sha"`
	User  obj    `json:"user"`
	Repo  obj    `json:"repo"`
}

type ghPull struct {
	URL                 string            `json:"url"`
	ID                  int64             `json:"id"`
	NodeID              string            `json:"node_id"`
	HTMLURL             string            `json:"html_url"`
	DiffURL             string            `json:"diff_url"`
	PatchURL            string            `json:"patch_url"`
	IssueURL            string            `json:"issue_url"`
	Number              int64             `json:"number"`
	State               string            `json:"state"`
	Locked              bool              `json:"locked"`
	Title               string            `json:"title"`
	User                obj               `json:"user"`
	Body                *string           `json:"body"`
	CreatedAt           string            `json:"created_at"`
	UpdatedAt           string            `json:"updated_at"`
	ClosedAt            *string           `json:"closed_at"`
	MergedAt            *string           `json:"merged_at"`
	MergeCommitSHA      *string           `json:"merge_commit_sha"`
	Assignee            obj               `json:"assignee"`
	Assignees           []obj             `json:"assignees"`
	RequestedReviewers  []obj             `json:"requested_reviewers"`
	RequestedTeams      []obj             `json:"requested_teams"`
	Labels              []obj             `json:"labels"`
	Milestone           obj               `json:"milestone"`
	Draft               bool              `json:"draft"`
	CommitsURL          string            `json:"commits_url"`
	ReviewCommentsURL   string            `json:"review_comments_url"`
	ReviewCommentURL    string            `json:"review_comment_url"`
	CommentsURL         string            `json:"comments_url"`
	StatusesURL         string            `json:"statuses_url"`
	Head                ghPullRef         `json:"head"`
	Base                ghPullRef         `json:"base"`
	Links               map[string]ghHref `json:"_links"`
	AuthorAssociation   string            `json:"author_association"`
	AutoMerge           obj               `json:"auto_merge"`
	ActiveLockReason    *string           `json:"active_lock_reason"`
	Merged              bool              `json:"merged"`
	Mergeable           *bool             `json:"mergeable"`
	Rebaseable          *bool             `json:"rebaseable"`
	MergeableState      string            `json:"mergeable_state"`
	MergedBy            obj               `json:"merged_by"`
	Comments            int               `json:"comments"`
	ReviewComments      int               `json:"review_comments"`
	MaintainerCanModify bool              `json:"maintainer_can_modify"`
	Commits             int               `json:"commits"`
	Additions           int               `json:"additions"`
	Deletions           int               `json:"deletions"`
	ChangedFiles        int               `json:"changed_files"`
}

// ghPullOf renders MR m as a pull request whose base branch is at base;
// call with f.mu held.
func (f *Forge) ghPullOf(p *project, m *mergeRequest, base string) ghPull {
	l := f.ghURLs()
	api := l.api("repos/" + p.Path + "/pulls/" + itoa(m.IID))
	issue := l.api("repos/" + p.Path + "/issues/" + itoa(m.IID))
	web := l.web(p.Path + "/pull/" + itoa(m.IID))
	repo := f.ghRepoOf(p)
	author := f.st.users[m.AuthorID]
	owner := p.namespace()
	pr := ghPull{
		URL: api, ID: m.ID, NodeID: nodeID("PR", m.ID), HTMLURL: web, DiffURL: web + ".diff", PatchURL: web + ".patch",
		IssueURL: issue, Number: m.IID, State: "open", Title: m.Title, User: f.ghUserOf(author),
		CreatedAt: ghTimeStr(m.Created), UpdatedAt: ghTimeStr(m.Updated), ClosedAt: ghTime(m.ClosedAt), MergedAt: ghTime(m.MergedAt),
		Assignees: []obj{}, RequestedReviewers: []obj{}, RequestedTeams: []obj{}, Labels: []obj{}, Draft: m.Draft,
		CommitsURL: api + "/commits", ReviewCommentsURL: api + "/comments", ReviewCommentURL: l.api("repos/" + p.Path + "/pulls/comments{/number}"),
		CommentsURL: issue + "/comments", StatusesURL: l.api("repos/" + p.Path + "/statuses/" + m.SHA),
		Head: f.ghHeadRefOf(p, m, owner, repo),
		Base: ghPullRef{Label: owner + ":" + m.Target, Ref: m.Target, SHA: base, User: repo["owner"].(obj), Repo: repo},
		Links: map[string]ghHref{
			"self": {api}, "html": {web}, "issue": {issue}, "comments": {issue + "/comments"},
			"review_comments": {api + "/comments"}, "review_comment": {l.api("repos/" + p.Path + "/pulls/comments{/number}")},
			"commits": {api + "/commits"}, "statuses": {l.api("repos/" + p.Path + "/statuses/" + m.SHA)},
		},
		AuthorAssociation: f.association(p, author), MergeableState: "unknown", Comments: len(m.notes),
	}
	if m.Description != "" {
		pr.Body = &m.Description
	}
	if m.MergeCommitSHA != "" {
		pr.MergeCommitSHA = &m.MergeCommitSHA
	}
	switch m.State {
	case StateOpened:
		yes := true
		pr.Mergeable, pr.Rebaseable, pr.MergeableState = &yes, &yes, "clean"
	case StateMerged:
		pr.State, pr.Merged, pr.ClosedAt = "closed", true, ghTime(m.MergedAt)
		pr.MergedBy = f.ghUserOf(f.st.users[m.MergedBy])
	default:
		pr.State = "closed"
	}
	return pr
}

// ghHeadRefOf is the head of MR m: a branch of p, or of the fork it
// comes from. Call with f.mu held.
func (f *Forge) ghHeadRefOf(p *project, m *mergeRequest, owner string, repo obj) ghPullRef {
	author := f.ghUserOf(f.st.users[m.AuthorID])
	if fork, ok := f.st.projects[m.ForkID]; ok {
		owner, repo = fork.namespace(), f.ghRepoOf(fork)
		repo["fork"] = true
	}
	return ghPullRef{Label: owner + ":" + m.Source, Ref: m.Source, SHA: m.SHA, User: author, Repo: repo}
}

// association is what GitHub calls a user's relation to a repository.
func (f *Forge) association(p *project, u *user) string {
	switch {
	case u == nil:
		return "NONE"
	case u.Username == p.namespace():
		return "OWNER"
	case p.members[u.ID] > NoAccess:
		return "COLLABORATOR"
	}
	return "NONE"
}

type ghComment struct {
	ID                int64   `json:"id"`
	NodeID            string  `json:"node_id"`
	URL               string  `json:"url"`
	HTMLURL           string  `json:"html_url"`
	Body              string  `json:"body"`
	User              obj     `json:"user"`
	CreatedAt         string  `json:"created_at"`
	UpdatedAt         string  `json:"updated_at"`
	IssueURL          string  `json:"issue_url"`
	AuthorAssociation string  `json:"author_association"`
	PerformedViaApp   *string `json:"performed_via_github_app"`
	// Pin and Minimized are null unless someone pinned or hid it.
	Pin       *obj `json:"pin"`
	Minimized *obj `json:"minimized"`
}

// ghCommentOf renders note n on MR m; call with f.mu held.
func (f *Forge) ghCommentOf(p *project, m *mergeRequest, n *note) ghComment {
	return f.ghIssueCommentOf(p, "pull", m.IID, n)
}

// ghIssueCommentOf renders note n on issue number, whose web page is
// under pull/ for a pull request and issues/ for a plain issue; call with
// f.mu held.
func (f *Forge) ghIssueCommentOf(p *project, page string, number int64, n *note) ghComment {
	l := f.ghURLs()
	author := f.st.users[n.AuthorID]
	updated := n.Updated
	if updated.IsZero() {
		updated = n.Created
	}
	return ghComment{
		ID: n.ID, NodeID: nodeID("IC", n.ID), URL: l.api("repos/" + p.Path + "/issues/comments/" + itoa(n.ID)),
		HTMLURL: l.web(p.Path+"/"+page+"/"+itoa(number)) + "#issuecomment-" + itoa(n.ID), Body: n.Body,
		User: f.ghUserOf(author), CreatedAt: ghTimeStr(n.Created), UpdatedAt: ghTimeStr(updated),
		IssueURL: l.api("repos/" + p.Path + "/issues/" + itoa(number)), AuthorAssociation: f.association(p, author),
	}
}

type ghGitActor struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Date  string `json:"date"`
}

type ghTree struct {
	SHA string `json:"sha"`
	URL string `json:"url"`
}

type ghVerification struct {
	Verified  bool    `json:"verified"`
	Reason    string  `json:"reason"`
	Signature *string `json:"signature"`
	Payload   *string `json:"payload"`
}

type ghGitCommit struct {
	Author       ghGitActor     `json:"author"`
	Committer    ghGitActor     `json:"committer"`
	Message      string         `json:"message"`
	Tree         ghTree         `json:"tree"`
	URL          string         `json:"url"`
	CommentCount int            `json:"comment_count"`
	Verification ghVerification `json:"verification"`
}

type ghParent struct {
	SHA     string `json:"sha"`
	URL     string `json:"url"`
	HTMLURL string `json:"html_url"`
}

type ghCommit struct {
	SHA         string      `json:"sha"`
	NodeID      string      `json:"node_id"`
	Commit      ghGitCommit `json:"commit"`
	URL         string      `json:"url"`
	HTMLURL     string      `json:"html_url"`
	CommentsURL string      `json:"comments_url"`
	Author      obj         `json:"author"`
	Committer   obj         `json:"committer"`
	Parents     []ghParent  `json:"parents"`
}

// ghCommitOf renders a commit; its author is a forge user when the
// commit's email is one's. Call with f.mu held.
func (f *Forge) ghCommitOf(p *project, c commitInfo) ghCommit {
	l := f.ghURLs()
	api := l.api("repos/" + p.Path + "/commits/" + c.ID)
	who := ghGitActor{Name: c.AuthorName, Email: c.AuthorEmail, Date: ghTimeStr(c.Time)}
	author := f.st.usersByName[strings.TrimSuffix(c.AuthorEmail, "@example.com")]
	out := ghCommit{
		SHA: c.ID, NodeID: "C_" + c.ID, URL: api, HTMLURL: l.web(p.Path + "/commit/" + c.ID), CommentsURL: api + "/comments",
		Commit: ghGitCommit{
			Author: who, Committer: who, Message: strings.TrimSuffix(c.Message, "\n"),
			Tree: ghTree{SHA: c.Tree, URL: l.api("repos/" + p.Path + "/git/trees/" + c.Tree)},
			URL:  l.api("repos/" + p.Path + "/git/commits/" + c.ID), Verification: ghVerification{Reason: "unsigned"},
		},
		Author: f.ghUserOf(author), Committer: f.ghUserOf(author), Parents: []ghParent{},
	}
	for _, parent := range c.Parents {
		out.Parents = append(out.Parents, ghParent{SHA: parent, URL: l.api("repos/" + p.Path + "/commits/" + parent), HTMLURL: l.web(p.Path + "/commit/" + parent)})
	}
	return out
}

type ghStatusChecks struct {
	EnforcementLevel string   `json:"enforcement_level"`
	Contexts         []string `json:"contexts"`
	Checks           []obj    `json:"checks"`
}

type ghProtection struct {
	Enabled              bool           `json:"enabled"`
	RequiredStatusChecks ghStatusChecks `json:"required_status_checks"`
}

type ghBranch struct {
	Name          string            `json:"name"`
	Commit        ghCommit          `json:"commit"`
	Links         map[string]string `json:"_links"`
	Protected     bool              `json:"protected"`
	Protection    ghProtection      `json:"protection"`
	ProtectionURL string            `json:"protection_url"`
}

type ghObject struct {
	Type string `json:"type"`
	SHA  string `json:"sha"`
	URL  string `json:"url"`
}

type ghRef struct {
	Ref    string   `json:"ref"`
	NodeID string   `json:"node_id"`
	URL    string   `json:"url"`
	Object ghObject `json:"object"`
}

func (f *Forge) ghRefOf(p *project, ref, sha string) ghRef {
	l := f.ghURLs()
	return ghRef{
		Ref: ref, NodeID: "REF_" + base64.RawURLEncoding.EncodeToString([]byte(p.Path+":"+ref)),
		URL:    l.api("repos/" + p.Path + "/git/" + ref),
		Object: ghObject{Type: "commit", SHA: sha, URL: l.api("repos/" + p.Path + "/git/commits/" + sha)},
	}
}

type ghPermission struct {
	Permission string `json:"permission"`
	RoleName   string `json:"role_name"`
	User       obj    `json:"user"`
}

// ghRoles maps access levels to GitHub's repository roles, and the older
// permission names that fold maintain into write and triage into read.
var ghRoles = []struct {
	level            int
	role, permission string
}{
	{Owner, "admin", "admin"}, {Maintainer, "maintain", "write"}, {Developer, "write", "write"},
	{Reporter, "triage", "read"}, {Guest, "read", "read"}, {NoAccess, "none", "none"},
}

func ghRoleOf(level int) (role, permission string) {
	for _, r := range ghRoles {
		if level >= r.level {
			return r.role, r.permission
		}
	}
	return "none", "none"
}
