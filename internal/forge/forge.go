// Package forge holds the forge-neutral types the engine works with. Each
// forge has a client in a sub-package (gitlab, github) that returns these
// types; the engine declares the small interfaces it needs itself.
package forge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trainyard/trainyard/internal/train"
)

// ErrNotFound: the forge has no such project, MR, pipeline, branch or user.
var ErrNotFound = errors.New("not found")

// ErrRejected: the forge understood the request and refused it for good
// (a 4xx answer other than 404 and 429), so repeating it cannot help.
var ErrRejected = errors.New("rejected by the forge")

// ErrUnauthorized: the forge did not take the credentials (401: a token
// revoked, expired or mistyped). Unlike ErrRejected it is not the
// request's fault, and the same request may pass once the token is
// fixed: an event that met it is retried, then kept in the dead letters,
// never dropped.
var ErrUnauthorized = errors.New("the forge did not take the credentials")

// ErrForbidden: the forge refused the request for want of a right (403
// and not a rate limit): a token or a GitHub App missing a permission, or
// a bot account without the role. It is an ErrRejected too, so a message
// or a status the forge will not take is dropped as refused; but an event
// that met it is retried, then kept in the dead letters, as the same
// request passes once the right is granted.
var ErrForbidden = errors.New("the forge refused for want of a right")

// Refusal is an ErrRejected with the forge's own words for it, which
// people may be shown (the error itself also names URLs).
type Refusal struct {
	Said string
	Err  error
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// Said is what the forge said when it refused err's request; "" when it
// said nothing readable or did not refuse.
func Said(err error) string {
	if r, ok := errors.AsType[*Refusal](err); ok {
		return r.Said
	}
	return ""
}

// MR states, normalised to GitLab's names.
const (
	StateOpened = "opened"
	StateClosed = "closed"
	StateMerged = "merged"
	StateLocked = "locked"
)

// MR is a merge request (a pull request on GitHub).
type MR struct {
	Project      string
	IID          int64
	State        string // StateOpened, StateClosed, StateMerged or StateLocked
	Draft        bool
	SourceBranch string
	TargetBranch string
	HeadSHA      string
	Title        string
	// Description is the MR's description (a pull request's body), as
	// its author wrote it: Markdown, "" when there is none.
	Description string
	Author      string // username
	WebURL      string
}

// StackReader is a client that finds the MR a branch is proposed in,
// for MRs that depend on one another: an MR whose target is another's
// source branch is stacked on it. The engine type-asserts a forge's
// client to it, so clients and test doubles without it still serve.
type StackReader interface {
	// OpenMRFromBranch returns the open MR of project whose source
	// branch is branch, in project itself: an MR from a fork's branch
	// of the same name is not it, as the fork's branch is another
	// branch. false when there is none; when there are several (into
	// different targets), the oldest, which has the lowest iid.
	OpenMRFromBranch(ctx context.Context, project, branch string) (MR, bool, error)
}

// OpenLister is a client that lists a project's open MRs, the most
// recently updated first (at most limit, one request): what someone may
// want to add to a train. The engine type-asserts a forge's client to it.
type OpenLister interface {
	OpenMRs(ctx context.Context, project string, limit int) ([]MR, error)
}

// Pipeline is a CI run for one commit.
type Pipeline struct {
	ID         int64
	SHA        string
	Ref        string
	Status     train.PipelineState
	WebURL     string
	CreatedAt  time.Time
	FinishedAt time.Time // zero until it finishes
}

// Note is a comment on an MR.
type Note struct {
	ID     int64
	Body   string
	Author string // username
}

// AccessLevel is a user's role on a project, with GitLab's numbers.
type AccessLevel int

// Access levels. NoAccess: not a member.
const (
	NoAccess   AccessLevel = 0
	Guest      AccessLevel = 10
	Reporter   AccessLevel = 20
	Developer  AccessLevel = 30
	Maintainer AccessLevel = 40
	Owner      AccessLevel = 50
)

var levelNames = []struct {
	level AccessLevel
	name  string
}{
	{NoAccess, "none"}, {Guest, "guest"}, {Reporter, "reporter"},
	{Developer, "developer"}, {Maintainer, "maintainer"}, {Owner, "owner"},
}

// String names the level ("developer"), or gives its number if it has no
// name.
func (l AccessLevel) String() string {
	for _, n := range levelNames {
		if n.level == l {
			return n.name
		}
	}
	return strconv.Itoa(int(l))
}

// githubRoles are GitHub's repository roles, at the levels they grant.
var githubRoles = []struct {
	level AccessLevel
	name  string
}{
	{Guest, "read"}, {Reporter, "triage"}, {Developer, "write"}, {Maintainer, "maintain"}, {Owner, "admin"},
}

// Role names the level by the highest GitHub repository role it holds
// ("write" for Developer), as GitHub users know them; "none" below read.
func (l AccessLevel) Role() string {
	name := "none"
	for _, r := range githubRoles {
		if r.level <= l {
			name = r.name
		}
	}
	return name
}

// ParseAccessLevel reads a level name ("Maintainer", case-insensitive),
// one of GitLab's numbers ("40"), or a GitHub role ("write").
func ParseAccessLevel(s string) (AccessLevel, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	for _, n := range levelNames {
		if n.name == s || strconv.Itoa(int(n.level)) == s {
			return n.level, nil
		}
	}
	for _, r := range githubRoles {
		if r.name == s {
			return r.level, nil
		}
	}
	return 0, fmt.Errorf("access level %q: want one of none, guest, reporter, developer, maintainer, owner, or a GitHub role: read, triage, write, maintain, admin", s)
}

// StatusName is the name of the commit status (a check run on GitHub)
// Trainyard sets on the head of each MR on a train. The checks that
// decide whether a car passed never count it: it tells the train's own
// verdict, not CI's.
const StatusName = "trainyard"

// StatusState is what a commit status says, with GitLab's names.
type StatusState string

const (
	StatusPending  StatusState = "pending"
	StatusRunning  StatusState = "running"
	StatusSuccess  StatusState = "success"
	StatusFailed   StatusState = "failed"
	StatusCanceled StatusState = "canceled"
)

// Done reports whether the status is final.
func (s StatusState) Done() bool {
	return s == StatusSuccess || s == StatusFailed || s == StatusCanceled
}

// CommitStatus is Trainyard's status on an MR's head commit.
type CommitStatus struct {
	SHA         string
	Ref         string // the MR's source branch, which GitLab files the status under
	State       StatusState
	Description string
	TargetURL   string // where it links: the MR's page on the dashboard
	// ID is what the forge returned when the status was first set on this
	// commit (a GitHub check run's id), so that a change updates it; empty
	// for a first status.
	ID string
}

// Clip shortens s to at most n bytes without splitting a character, for
// the forges' length limits.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
