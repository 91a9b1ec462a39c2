package fakeforge

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The control API: what tests and the demo use to act as people on the
// forge. Every change sends the webhooks GitLab would send.

// rootUser authors the commits the forge makes for itself.
const rootUser = "root"

// Project is a project as the control API reports it.
type Project struct {
	ID            int64
	Path          string
	DefaultBranch string
}

// User is a user as the control API reports it.
type User struct {
	ID       int64
	Username string
	Admin    bool
}

// MR is a merge request as the control API reports it.
type MR struct {
	ID, IID        int64
	Project        string
	Title          string
	Source, Target string
	State          string
	Draft          bool
	SHA            string
	Author         string
	MergeCommitSHA string
	MergedAt       time.Time
	ClosedAt       time.Time
}

// Note is a user's comment on an MR.
type Note struct {
	ID        int64
	Author    string
	Body      string
	CreatedAt time.Time
	// UpdatedAt is CreatedAt until the note is edited.
	UpdatedAt time.Time
}

// MRSpec describes a merge request to open.
type MRSpec struct {
	Source string
	// Target defaults to the project's default branch.
	Target      string
	Title       string
	Description string
	// Author is a username; the user is created when unknown.
	Author string
	Draft  bool
	// Commits are written on Source, which is created from Target's head
	// when it does not exist.
	Commits []Commit
	// Fork, when set, is the project (created before) whose Source
	// branch the MR comes from; the commits are written there, on the
	// fork's default branch, and never reach this project.
	Fork string
}

// GitAuthHeader is the header git needs to talk to the forge with token:
// git -c http.extraHeader="$(GitAuthHeader(token))" ...
func GitAuthHeader(token string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("oauth2:"+token))
}

// CloneURL is the HTTP clone URL of a project.
func (f *Forge) CloneURL(project string) string { return f.baseURL + "/" + project + ".git" }

// AddUser creates a user, or returns the existing one.
func (f *Forge) AddUser(username string) User {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.st.addUser(username, false, f.opts.Now())
	return User{ID: u.ID, Username: u.Username, Admin: u.Admin}
}

// AddToken gives username (created if needed) an API token.
func (f *Forge) AddToken(username, token string) User {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.st.addUser(username, false, f.opts.Now())
	f.st.tokens[token] = u.ID
	return User{ID: u.ID, Username: u.Username, Admin: u.Admin}
}

// SetAccess sets username's access level on project; NoAccess removes the
// membership.
func (f *Forge) SetAccess(project, username string, level int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(project)
	if err != nil {
		return err
	}
	u := f.st.addUser(username, false, f.opts.Now())
	if level == NoAccess {
		delete(p.members, u.ID)
		return nil
	}
	p.members[u.ID] = level
	return nil
}

// CreateProject creates a project at path ("group/name") whose default
// branch holds files in one commit. A repository left in the data dir by
// an earlier run is taken over as it is, so a restarted forge keeps its
// history (but not its MRs and pipelines, which live in memory).
func (f *Forge) CreateProject(ctx context.Context, path string, files map[string]string) (Project, error) {
	if !strings.Contains(path, "/") || strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") || strings.Contains(path, "..") {
		return Project{}, fmt.Errorf("create project %q: path must be group/name", path)
	}
	f.createMu.Lock() // one creation at a time: a path is checked, then filled
	defer f.createMu.Unlock()
	f.mu.Lock()
	if _, err := f.st.project(path); err == nil {
		f.mu.Unlock()
		return Project{}, fmt.Errorf("create project %s: already exists", path)
	}
	root := f.st.addUser(rootUser, true, f.opts.Now())
	f.st.addNamespace(path, f.opts.Now())
	p := &project{
		ID: f.st.nextID(), Path: path, DefaultBranch: DefaultBranch, Created: f.opts.Now(),
		members: map[int64]int{}, mrs: map[int64]*mergeRequest{}, heads: map[string]string{},
	}
	f.mu.Unlock()
	if err := f.initRepo(ctx, p, root, files); err != nil {
		return Project{}, fmt.Errorf("create project %s: %w", path, err)
	}
	f.mu.Lock()
	f.st.projects[p.ID] = p
	f.st.byPath[p.Path] = p
	f.mu.Unlock()
	return Project{ID: p.ID, Path: p.Path, DefaultBranch: p.DefaultBranch}, nil
}

func (f *Forge) initRepo(ctx context.Context, p *project, by *user, files map[string]string) error {
	g := f.repo(p.Path)
	if _, err := os.Stat(filepath.Join(g.dir, "HEAD")); err == nil {
		heads, err := g.heads(ctx)
		if err != nil {
			return err
		}
		if heads[p.DefaultBranch] == "" {
			return fmt.Errorf("existing repository has no %s branch", p.DefaultBranch)
		}
		p.heads = heads
		return nil
	}
	if err := g.initBare(ctx, p.DefaultBranch); err != nil {
		return err
	}
	if len(files) == 0 {
		files = map[string]string{"README.md": "# " + p.name() + "\n"}
	}
	head, err := g.writeCommits(ctx, "", []Commit{{Message: "Initial commit", Files: files}}, f.sig(by))
	if err != nil {
		return err
	}
	if err := g.updateRef(ctx, "refs/heads/"+p.DefaultBranch, head, ""); err != nil {
		return err
	}
	p.heads = map[string]string{p.DefaultBranch: head}
	return nil
}

func (f *Forge) sig(u *user) signature {
	return signature{Name: u.Name, Email: u.email(), When: f.opts.Now()}
}

// lookup resolves a project and a user (created when unknown).
func (f *Forge) lookup(projectPath, username string) (*project, *user, error) {
	if username == "" {
		return nil, nil, errors.New("username is empty")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(projectPath)
	if err != nil {
		return nil, nil, err
	}
	return p, f.st.addUser(username, false, f.opts.Now()), nil
}

// advanceLocked writes commits on branch (created at base when missing),
// moves it, and rescans. The caller holds p.gitMu.
func (f *Forge) advanceLocked(ctx context.Context, p *project, branch, base string, by *user, commits []Commit) (string, error) {
	g := f.repo(p.Path)
	ref := "refs/heads/" + branch
	old, err := g.resolve(ctx, ref)
	if err != nil {
		return "", err
	}
	head := old
	if head == "" {
		head = base
	}
	if head, err = g.writeCommits(ctx, head, commits, f.sig(by)); err != nil {
		return "", err
	}
	if head == "" {
		return "", fmt.Errorf("branch %s: %w", branch, ErrNoBranch)
	}
	if head != old {
		if err := g.updateRef(ctx, ref, head, old); err != nil {
			return "", err
		}
	}
	return head, f.rescanLocked(ctx, p, by)
}

// PushBranch pushes commits to branch as username, as a push from outside
// any MR would; the branch is created from the default branch if missing.
func (f *Forge) PushBranch(ctx context.Context, project, branch, username string, commits ...Commit) (string, error) {
	p, u, err := f.lookup(project, username)
	if err != nil {
		return "", fmt.Errorf("push %s to %s: %w", branch, project, err)
	}
	p.gitMu.Lock()
	defer p.gitMu.Unlock()
	head, err := f.advanceLocked(ctx, p, branch, p.heads[p.DefaultBranch], u, commits)
	if err != nil {
		return "", fmt.Errorf("push %s to %s: %w", branch, project, err)
	}
	return head, nil
}

// BranchHead returns the commit a branch points to.
func (f *Forge) BranchHead(ctx context.Context, project, branch string) (string, error) {
	f.mu.Lock()
	p, err := f.st.project(project)
	f.mu.Unlock()
	if err != nil {
		return "", err
	}
	sha, err := f.repo(p.Path).resolve(ctx, "refs/heads/"+branch)
	if err != nil {
		return "", fmt.Errorf("branch %s of %s: %w", branch, project, err)
	}
	if sha == "" {
		return "", fmt.Errorf("branch %s of %s: %w", branch, project, ErrNoBranch)
	}
	return sha, nil
}

// SetWebhook replaces the webhook settings. The queue size is fixed at New.
func (f *Forge) SetWebhook(w Webhook) {
	if w.Timeout <= 0 {
		w.Timeout = DefaultHookTimeout
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = w
}

// SetGitHubWebhook replaces the GitHub webhook settings.
func (f *Forge) SetGitHubWebhook(w Webhook) {
	if w.Timeout <= 0 {
		w.Timeout = DefaultHookTimeout
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ghHook = w
}

// SetFaults replaces the faults injected into API calls.
func (f *Forge) SetFaults(fl Faults) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = fl
}

// Deliveries returns every webhook delivery so far, oldest first.
func (f *Forge) Deliveries() []Delivery { return f.hooks.snapshot() }

// Replay sends delivery id again with the same Idempotency-Key, and returns
// the id of the new delivery.
func (f *Forge) Replay(id int64) (int64, error) { return f.hooks.replay(id) }

// FlushWebhooks waits until every webhook queued so far has been attempted.
func (f *Forge) FlushWebhooks(ctx context.Context) error { return f.hooks.flush(ctx) }
