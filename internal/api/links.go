package api

import (
	"fmt"
	"strings"

	"github.com/trainyard/trainyard/internal/forge/github"
)

// Links gives the web addresses of a project's MRs and pipelines, and
// how its reasons should name a pipeline.
type Links interface {
	MR(project string, iid int64) string
	Pipeline(project string, id int64) string
	// PipelineRef names pipeline id in place of the planner's "pipeline
	// #<id>"; "" keeps that.
	PipelineRef(id int64) string
}

// GitLabLinks are the addresses on a GitLab instance.
type GitLabLinks struct {
	// BaseURL is the instance, e.g. https://gitlab.example.com; a trailing
	// /api/v4 is ignored, so the forge's API URL may be given.
	BaseURL string
}

// MR is <base>/<project>/-/merge_requests/<iid>.
func (l GitLabLinks) MR(project string, iid int64) string {
	return fmt.Sprintf("%s/%s/-/merge_requests/%d", l.base(), project, iid)
}

// Pipeline is <base>/<project>/-/pipelines/<id>.
func (l GitLabLinks) Pipeline(project string, id int64) string {
	return fmt.Sprintf("%s/%s/-/pipelines/%d", l.base(), project, id)
}

// PipelineRef keeps "pipeline #<id>": the id is GitLab's own.
func (GitLabLinks) PipelineRef(int64) string { return "" }

func (l GitLabLinks) base() string {
	b := strings.TrimRight(l.BaseURL, "/")
	return strings.TrimRight(strings.TrimSuffix(b, "/api/v4"), "/")
}

// links returns the forge's Links, or none.
func (s *server) links(forgeName string) Links {
	if l, ok := s.Links[forgeName]; ok && l != nil {
		return l
	}
	return noLinks{}
}

type noLinks struct{}

func (noLinks) MR(string, int64) string       { return "" }
func (noLinks) Pipeline(string, int64) string { return "" }
func (noLinks) PipelineRef(int64) string      { return "" }

// GitHubLinks are the addresses on GitHub or a GitHub Enterprise Server.
type GitHubLinks struct {
	// WebURL is the instance's web address, https://github.com or
	// https://ghe.example.com (not its API URL).
	WebURL string
}

// MR is <web>/<owner>/<repo>/pull/<number>.
func (l GitHubLinks) MR(project string, number int64) string {
	return fmt.Sprintf("%s/%s/pull/%d", strings.TrimRight(l.WebURL, "/"), project, number)
}

// Pipeline is the checks page of the commit the id names.
func (l GitHubLinks) Pipeline(project string, id int64) string {
	return github.ChecksURL(l.WebURL, project, id)
}

// PipelineRef names the commit's checks the id stands for.
func (GitHubLinks) PipelineRef(id int64) string { return github.PipelineRef(id) }
