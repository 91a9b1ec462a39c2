package gitlab

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/trainyard/trainyard/internal/forge"
)

// Name is GitLab's name in configuration, train keys and events.
const Name = "gitlab"

// Profile is GitLab as the rest of Trainyard sees it, with links to the
// pages of the instance at baseURL: its web address or its API URL (a
// trailing /api/v4 is dropped). A baseURL that is no URL gives no links.
func Profile(baseURL string) forge.Profile {
	p := forge.Profile{Name: Name, Title: "GitLab", Names: names{}}
	if web, err := instanceURL(baseURL); err == nil {
		p.Links = links{web: web}
	}
	return p
}

// names are GitLab's: !12, pipeline #7, its role names.
type names struct{}

func (names) MR(iid int64) string             { return "!" + strconv.FormatInt(iid, 10) }
func (names) Pipeline(id int64) string        { return "pipeline #" + strconv.FormatInt(id, 10) }
func (names) Role(l forge.AccessLevel) string { return l.String() }
func (names) HeadRef(iid int64) string        { return fmt.Sprintf("refs/merge-requests/%d/head", iid) }

// links are the pages of one GitLab instance.
type links struct{ web string }

func (l links) project(project string) string { return l.web + "/" + project + "/-/" }

func (l links) MR(project string, iid int64) string {
	return l.project(project) + "merge_requests/" + strconv.FormatInt(iid, 10)
}

func (l links) Pipeline(project string, id int64) string {
	return l.project(project) + "pipelines/" + strconv.FormatInt(id, 10)
}

func (l links) Commit(project, sha string) string { return l.project(project) + "commit/" + sha }

func (l links) Branch(project, branch string) string {
	return l.project(project) + "tree/" + url.PathEscape(branch)
}
