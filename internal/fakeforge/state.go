package fakeforge

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Access levels, as GitLab numbers them.
const (
	NoAccess   = 0
	Guest      = 10
	Reporter   = 20
	Developer  = 30
	Maintainer = 40
	Owner      = 50
)

// MR states, as GitLab names them.
const (
	StateOpened = "opened"
	StateClosed = "closed"
	StateMerged = "merged"
)

// Errors the control API returns; the REST API maps them to 404.
var (
	ErrNoProject  = errors.New("project not found")
	ErrNoMR       = errors.New("merge request not found")
	ErrNoUser     = errors.New("user not found")
	ErrNoPipeline = errors.New("pipeline not found")
	ErrNoBranch   = errors.New("branch not found")
)

type user struct {
	ID       int64
	Username string
	Name     string
	Admin    bool
	// Org marks a project namespace, which GitHub shows as an
	// organisation owning the repository.
	Org     bool
	Created time.Time
}

func (u *user) email() string { return u.Username + "@example.com" }

type project struct {
	ID            int64
	Path          string // "group/name"
	DefaultBranch string
	Created       time.Time
	members       map[int64]int // user id → access level
	mrs           map[int64]*mergeRequest
	nextMRIID     int64
	nextPipeIID   int64
	nextRunNumber int64
	// rules are the project's merge settings; see glrules.go.
	rules mergeSettings
	// heads is the last scanned branch → commit map, owned by the holder of
	// gitMu; it tells what a push changed.
	heads map[string]string
	// gitMu serialises ref changes the forge makes and the rescans that
	// follow every push.
	gitMu sync.Mutex
	// pendingPush is, per branch, the push request naming it whose move
	// no rescan has handled yet: two pushes may land before either
	// rescans, and the first rescan sees both moves. Guarded by the
	// forge's mu.
	pendingPush map[string]*pushRequest
}

func (p *project) name() string {
	_, n := splitPath(p.Path)
	return n
}

func (p *project) namespace() string {
	ns, _ := splitPath(p.Path)
	return ns
}

func splitPath(path string) (string, string) {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i], path[i+1:]
		}
	}
	return "", path
}

type mergeRequest struct {
	ID, IID        int64
	Title          string
	Description    string
	Source, Target string
	AuthorID       int64
	State          string
	Draft          bool
	SHA            string
	// ForkID is the project the source branch lives in; 0 for this one.
	ForkID         int64
	MergeCommitSHA string
	Created        time.Time
	Updated        time.Time
	MergedAt       time.Time
	MergedBy       int64
	ClosedAt       time.Time
	ClosedBy       int64
	// notes are the users' notes, threads' included; system holds the
	// notes GitLab writes itself ("approved this merge request"), which
	// GitLab counts and hooks apart.
	notes  []*note
	system []*note
	review glReview
}

type note struct {
	ID       int64
	Body     string
	AuthorID int64
	Created  time.Time
	// Updated moves when the note is edited.
	Updated time.Time
	System  bool
	// Internal notes are seen by project members only, and sent as
	// Confidential Note Hooks.
	Internal bool
	// Discussion is the id of the discussion the note is in: its own for
	// a note that starts none.
	Discussion string
}

type variable struct{ Key, Value, Type string }

type pipeline struct {
	ID, IID   int64
	ProjectID int64
	Ref, SHA  string
	BeforeSHA string
	Source    string
	Status    string
	UserID    int64
	Variables []variable
	Created   time.Time
	Updated   time.Time
	Started   time.Time
	Finished  time.Time
	// stop is closed when the pipeline is cancelled or finished by hand, to
	// wake its runner.
	stop    chan struct{}
	stopped bool
	// result is the status FinishPipeline asked for.
	result string
}

// halt wakes the pipeline's runner; call with Forge.mu held.
func (p *pipeline) halt() {
	if !p.stopped {
		p.stopped = true
		close(p.stop)
	}
}

func (p *pipeline) done() bool {
	switch p.Status {
	case "success", "failed", "canceled", "skipped":
		return true
	}
	return false
}

// state is every record the forge keeps; Forge.mu guards it.
type state struct {
	users       map[int64]*user
	usersByName map[string]*user
	tokens      map[string]int64
	projects    map[int64]*project
	byPath      map[string]*project
	pipelines   map[int64]*pipeline
	glStatuses  map[int64]*glStatus
	gh          ghState
	lastID      int64 // one sequence for users, projects, MRs, notes and pipelines keeps ids unique
}

func newState() state {
	return state{
		users:       map[int64]*user{},
		usersByName: map[string]*user{},
		tokens:      map[string]int64{},
		projects:    map[int64]*project{},
		byPath:      map[string]*project{},
		pipelines:   map[int64]*pipeline{},
		glStatuses:  map[int64]*glStatus{},
		gh:          newGHState(),
	}
}

func (s *state) nextID() int64 {
	s.lastID++
	return s.lastID
}

func (s *state) addUser(name string, admin bool, now time.Time) *user {
	if u, ok := s.usersByName[name]; ok {
		u.Admin = u.Admin || admin
		return u
	}
	u := &user{ID: s.nextID(), Username: name, Name: displayName(name), Admin: admin, Created: now}
	s.users[u.ID] = u
	s.usersByName[name] = u
	return u
}

// addNamespace makes sure the owner of a project path exists as a user, as
// GitHub has every repository owned by a user or an organisation.
func (s *state) addNamespace(path string, now time.Time) {
	ns, _ := splitPath(path)
	if _, ok := s.usersByName[ns]; !ok && ns != "" {
		s.addUser(ns, false, now).Org = true
	}
}

func displayName(username string) string {
	if username == "" {
		return ""
	}
	b := []byte(username)
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b)
}

// project finds a project by numeric id or full path, as the REST API
// accepts either.
func (s *state) project(idOrPath string) (*project, error) {
	if id, err := strconv.ParseInt(idOrPath, 10, 64); err == nil {
		if p, ok := s.projects[id]; ok {
			return p, nil
		}
	}
	if p, ok := s.byPath[idOrPath]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("project %s: %w", idOrPath, ErrNoProject)
}

func (s *state) mr(projectPath string, iid int64) (*project, *mergeRequest, error) {
	p, err := s.project(projectPath)
	if err != nil {
		return nil, nil, err
	}
	m, ok := p.mrs[iid]
	if !ok {
		return p, nil, fmt.Errorf("project %s !%d: %w", p.Path, iid, ErrNoMR)
	}
	return p, m, nil
}

// access is u's level on p; administrators act as owners everywhere.
func (s *state) access(p *project, u *user) int {
	if u.Admin {
		return Owner
	}
	return p.members[u.ID]
}

// sortedMRs returns p's MRs, newest first as GitLab lists them.
func (p *project) sortedMRs() []*mergeRequest {
	out := make([]*mergeRequest, 0, len(p.mrs))
	for _, m := range p.mrs {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IID > out[j].IID })
	return out
}
