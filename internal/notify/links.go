package notify

import (
	"strconv"
	"strings"

	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/train"
)

// Links gives the web addresses messages link to. An empty string means
// no link: the reference is shown as plain text.
type Links interface {
	MR(key train.Key, iid int64) string
	Pipeline(key train.Key, id int64) string
	Commit(key train.Key, sha string) string
	// PipelineRef names pipeline id in place of the planner's "pipeline
	// #<id>"; "" keeps that.
	PipelineRef(key train.Key, id int64) string
}

// GitLabLinks links to a GitLab instance's pages.
type GitLabLinks struct {
	// BaseURL is the instance's web address, "https://gitlab.example.com".
	BaseURL string
}

func (g GitLabLinks) project(key train.Key) string {
	return strings.TrimRight(g.BaseURL, "/") + "/" + key.Project + "/-/"
}

// MR is <base>/<project>/-/merge_requests/<iid>.
func (g GitLabLinks) MR(key train.Key, iid int64) string {
	return g.project(key) + "merge_requests/" + strconv.FormatInt(iid, 10)
}

// Pipeline is <base>/<project>/-/pipelines/<id>.
func (g GitLabLinks) Pipeline(key train.Key, id int64) string {
	return g.project(key) + "pipelines/" + strconv.FormatInt(id, 10)
}

// Commit is <base>/<project>/-/commit/<sha>.
func (g GitLabLinks) Commit(key train.Key, sha string) string {
	return g.project(key) + "commit/" + sha
}

// PipelineRef keeps "pipeline #<id>": the id is GitLab's own.
func (GitLabLinks) PipelineRef(train.Key, int64) string { return "" }

// GitHubLinks links to the pages of GitHub or a GitHub Enterprise Server.
type GitHubLinks struct {
	// WebURL is the instance's web address, "https://github.com".
	WebURL string
}

func (g GitHubLinks) repo(key train.Key) string {
	return strings.TrimRight(g.WebURL, "/") + "/" + key.Project + "/"
}

// MR is <web>/<owner>/<repo>/pull/<number>.
func (g GitHubLinks) MR(key train.Key, number int64) string {
	return g.repo(key) + "pull/" + strconv.FormatInt(number, 10)
}

// Pipeline is the checks page of the commit the id names.
func (g GitHubLinks) Pipeline(key train.Key, id int64) string {
	return github.ChecksURL(g.WebURL, key.Project, id)
}

// Commit is <web>/<owner>/<repo>/commit/<sha>.
func (g GitHubLinks) Commit(key train.Key, sha string) string {
	return g.repo(key) + "commit/" + sha
}

// PipelineRef names the commit's checks the id stands for.
func (GitHubLinks) PipelineRef(_ train.Key, id int64) string { return github.PipelineRef(id) }

// LinksByForge picks a forge's Links by the train's forge name; forges
// without an entry get no links.
type LinksByForge map[string]Links

func (m LinksByForge) MR(key train.Key, iid int64) string {
	if l, ok := m[key.Forge]; ok {
		return l.MR(key, iid)
	}
	return ""
}

func (m LinksByForge) Pipeline(key train.Key, id int64) string {
	if l, ok := m[key.Forge]; ok {
		return l.Pipeline(key, id)
	}
	return ""
}

func (m LinksByForge) PipelineRef(key train.Key, id int64) string {
	if l, ok := m[key.Forge]; ok {
		return l.PipelineRef(key, id)
	}
	return ""
}

func (m LinksByForge) Commit(key train.Key, sha string) string {
	if l, ok := m[key.Forge]; ok {
		return l.Commit(key, sha)
	}
	return ""
}

// noLinks is used when no Links is configured.
type noLinks struct{}

func (noLinks) MR(train.Key, int64) string          { return "" }
func (noLinks) Pipeline(train.Key, int64) string    { return "" }
func (noLinks) Commit(train.Key, string) string     { return "" }
func (noLinks) PipelineRef(train.Key, int64) string { return "" }
