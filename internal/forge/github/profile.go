package github

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/trainyard/trainyard/internal/forge"
)

// Name is GitHub's name in configuration, train keys and events.
const Name = "github"

// Profile is GitHub as the rest of Trainyard sees it, with links to the
// pages of the instance at baseURL: its web address or its REST API URL
// (https://api.github.com, https://HOST/api/v3). A baseURL that is no URL
// gives no links.
func Profile(baseURL string) forge.Profile {
	p := forge.Profile{Name: Name, Title: "GitHub", Names: names{}, PipelinesBySHA: true, ProjectDepth: 2}
	if web, _, err := instanceURLs(baseURL); err == nil {
		p.Links = links{web: web}
	}
	return p
}

// names are GitHub's: #12, the checks on a commit, its repository roles.
type names struct{}

func (names) MR(number int64) string          { return "#" + strconv.FormatInt(number, 10) }
func (names) Role(l forge.AccessLevel) string { return l.Role() }
func (names) HeadRef(number int64) string     { return fmt.Sprintf("refs/pull/%d/head", number) }

// PipelineID is the id of the checks on commit sha at an attempt.
func (names) PipelineID(sha string, attempt int) (int64, error) { return pipelineID(sha, attempt) }

// Pipeline names the check set a pipeline id stands for, in plain text
// ("the checks on 1a2b3c4d5e6f"), where GitHub's own names need a call to
// GitHub (see Client.PipelineName); "pipeline #<id>" for an id that is no
// GitHub check set.
func (names) Pipeline(id int64) string {
	prefix, attempt, err := splitPipelineID(id)
	if err != nil {
		return "pipeline #" + strconv.FormatInt(id, 10)
	}
	ref := fmt.Sprintf("the checks on %.12s", prefix)
	if attempt > 1 {
		ref += fmt.Sprintf(" (attempt %d)", attempt)
	}
	return ref
}

// links are the pages of one GitHub instance.
type links struct{ web string }

func (l links) repo(project string) string { return l.web + "/" + project + "/" }

func (l links) MR(project string, number int64) string {
	return l.repo(project) + "pull/" + strconv.FormatInt(number, 10)
}

// Pipeline is the checks page of the commit the id names, by the commit
// prefix the id packs (GitHub takes an abbreviated commit in its URLs).
func (l links) Pipeline(project string, id int64) string {
	prefix, _, err := splitPipelineID(id)
	if err != nil {
		return ""
	}
	return l.repo(project) + "commit/" + prefix + "/checks"
}

func (l links) Commit(project, sha string) string { return l.repo(project) + "commit/" + sha }

func (l links) Branch(project, branch string) string {
	return l.repo(project) + "tree/" + url.PathEscape(branch)
}
