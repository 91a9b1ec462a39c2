package forge

import (
	"context"
	"strconv"
	"strings"

	"github.com/trainyard/trainyard/internal/gitops"
)

// Profile is one forge as the rest of Trainyard sees it: everything that
// differs between forges and is not a call to the forge. Each forge's
// package builds its own (gitlab.Profile, github.Profile); nothing outside
// them asks which forge it is.
type Profile struct {
	// Name is the forge's name in configuration, train keys and events:
	// "gitlab".
	Name string
	// Title is its name for people: "GitLab".
	Title string
	// Names say how the forge's people write things.
	Names Names
	// Links are the forge's web pages; a zero Profile has none.
	Links Links
	// PipelinesBySHA: the forge's pipeline events carry ids of its own
	// (GitHub's check suites and workflow runs), not the pipeline ids the
	// train holds, so a car is found by the event's commit and its
	// pipeline read again.
	PipelinesBySHA bool
	// ProjectDepth is how many segments every project path has where the
	// forge fixes it (2 on GitHub: owner/name); 0 where groups nest
	// (GitLab).
	ProjectDepth int
}

// Names say how a forge's people write things.
type Names interface {
	// MR is a reference to an MR: "!12" on GitLab, "#12" on GitHub.
	MR(iid int64) string
	// Pipeline names a pipeline in plain text: "pipeline #7", or "the
	// checks on 1a2b3c4d5e6f".
	Pipeline(id int64) string
	// Role names an access level as the forge's settings do.
	Role(AccessLevel) string
	// HeadRef is the git ref holding an MR's head on the forge.
	HeadRef(iid int64) string
}

// Links are the web addresses of a forge's pages; "" means no page.
type Links interface {
	MR(project string, iid int64) string
	Pipeline(project string, id int64) string
	Commit(project, sha string) string
	Branch(project, branch string) string
}

// PipelineNamer is a forge whose pipelines are best named by asking it:
// GitHub's checks, by the checks that failed and linked to their pages.
// The text is Markdown, for a note on an MR. passed says the train saw
// the pipeline pass, which spares reading it.
type PipelineNamer interface {
	PipelineName(ctx context.Context, project string, id int64, passed bool) (string, error)
}

// Forwarder moves a target branch by a compare-and-set of the forge's
// own, such as GitHub's refs API with force off, instead of a git push.
type Forwarder interface {
	FastForward(ctx context.Context, project, branch, expectedOld, to string) (gitops.FFResult, error)
}

// Self is a forge client that knows the username it writes as, so that
// its own notes are told from copies of their hidden markers that others
// post.
type Self interface {
	Self(ctx context.Context) (string, error)
}

// PipelineIDs is a forge whose pipeline ids Trainyard makes up itself
// from the commit and the attempt, as for GitHub's check sets; such a
// forge's Names implement it.
type PipelineIDs interface {
	PipelineID(sha string, attempt int) (int64, error)
}

// Label is how an MR of a train on this forge is written; "!12" when the
// profile has no names.
func (p Profile) Label(iid int64) string {
	if p.Names == nil {
		return "!" + strconv.FormatInt(iid, 10)
	}
	return p.Names.MR(iid)
}

// PipelineLabel names a pipeline in plain text; "pipeline #7" when the
// profile has no names.
func (p Profile) PipelineLabel(id int64) string {
	if p.Names == nil {
		return "pipeline #" + strconv.FormatInt(id, 10)
	}
	return p.Names.Pipeline(id)
}

// Link gives the pages of p's forge, or none.
func (p Profile) Link() Links {
	if p.Links == nil {
		return NoLinks{}
	}
	return p.Links
}

// NoLinks is a forge without web pages, or whose address is unknown.
type NoLinks struct{}

func (NoLinks) MR(string, int64) string       { return "" }
func (NoLinks) Pipeline(string, int64) string { return "" }
func (NoLinks) Commit(string, string) string  { return "" }
func (NoLinks) Branch(string, string) string  { return "" }

// Profiles are the profiles of the forges in use, by name.
type Profiles map[string]Profile

// Of is the profile of a forge, or one with only its name: plain labels
// and no links.
func (ps Profiles) Of(name string) Profile {
	if p, ok := ps[name]; ok {
		return p
	}
	return Profile{Name: name, Title: name}
}

// SameProject tells whether two project paths name the same project:
// forges look paths up without regard to case.
func SameProject(a, b string) bool { return ProjectKey(a) == ProjectKey(b) }

// ProjectKey is a project path as lookups compare it: ASCII letters in
// lower case, every other character as it is. GitLab and GitHub paths
// are ASCII; Unicode case folding would make "ſ" (long s) the same as
// "s", and a look-alike path the same project for one check but not for
// another (a project's own webhook secret).
func ProjectKey(p string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, p)
}
