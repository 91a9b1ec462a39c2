package fakeforge

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// GitHub REST handlers for users, repositories, pull requests and their
// comments. Pull requests are the forge's merge requests, numbered by iid.

func (f *Forge) ghCurrentUser(w http.ResponseWriter, r *http.Request, u *user) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeGH(w, http.StatusOK, f.ghUserOf(u))
	return nil
}

func (f *Forge) ghUserByID(w http.ResponseWriter, r *http.Request, _ *user) error {
	id, err := strconv.ParseInt(r.PathValue("account_id"), 10, 64)
	if err != nil {
		return ErrNoUser
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.st.users[id]
	if !ok {
		return ErrNoUser
	}
	writeGH(w, http.StatusOK, f.ghUserOf(u))
	return nil
}

func (f *Forge) ghUserByLogin(w http.ResponseWriter, r *http.Request, _ *user) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.st.usersByName[r.PathValue("username")]
	if !ok {
		return ErrNoUser
	}
	writeGH(w, http.StatusOK, f.ghUserOf(u))
	return nil
}

func (f *Forge) ghGetRepo(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.ghRepoFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeGH(w, http.StatusOK, f.ghRepoOf(p))
	return nil
}

// ghPermission answers a known user's role, "none" for one without access,
// and 404 for an unknown user, as GitHub does.
func (f *Forge) ghPermission(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.ghRepoFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	who, ok := f.st.usersByName[r.PathValue("username")]
	if !ok {
		return ErrNoUser
	}
	role, perm := ghRoleOf(f.st.access(p, who))
	writeGH(w, http.StatusOK, ghPermission{Permission: perm, RoleName: role, User: f.ghUserOf(who)})
	return nil
}

// ghPullFor resolves {owner}/{repo} and {number} (pull_number or
// issue_number): the project and the MR.
func (f *Forge) ghPullFor(r *http.Request, u *user, level int) (*project, *mergeRequest, error) {
	p, err := f.ghRepoFor(r, u, level)
	if err != nil {
		return nil, nil, err
	}
	raw := r.PathValue("pull_number")
	if raw == "" {
		raw = r.PathValue("issue_number")
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, nil, ErrNoMR
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := p.mrs[n]
	if !ok {
		return nil, nil, ErrNoMR
	}
	return p, m, nil
}

// writePull answers MR m as a pull request; its base SHA is read from git.
func (f *Forge) writePull(w http.ResponseWriter, r *http.Request, p *project, m *mergeRequest) error {
	f.mu.Lock()
	target := m.Target
	f.mu.Unlock()
	base, err := f.repo(p.Path).resolve(r.Context(), "refs/heads/"+target)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeGH(w, http.StatusOK, f.ghPullOf(p, m, base))
	return nil
}

func (f *Forge) ghGetPull(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.ghPullFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	return f.writePull(w, r, p, m)
}

// ghListPulls lists pull requests as GitHub does: state open (the
// default), closed or all; head as "owner:branch", the owner being the
// one of the repository the head branch is in, so that a fork's branch
// of the same name is told apart (GitHub ignores a head without an
// owner, and so does this); base, a branch name; sort created (the
// default) or updated, desc by default for created and asc otherwise,
// ties by number. GitHub's other sorts, popularity and long-running,
// are refused rather than answered in an order GitHub would not give.
// Each item is the pull request as GET .../pulls/{number} renders it.
func (f *Forge) ghListPulls(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.ghRepoFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	invalid := func(field string) error {
		return ghUnprocessable("Validation Failed", ghFieldError{Resource: "PullRequest", Field: field, Code: "invalid"})
	}
	state := cmp.Or(q.Get("state"), "open")
	if state != "open" && state != "closed" && state != "all" {
		return invalid("state")
	}
	by := cmp.Or(q.Get("sort"), "created")
	if by != "created" && by != "updated" {
		return invalid("sort")
	}
	desc := by == "created"
	switch q.Get("direction") {
	case "":
	case "asc":
		desc = false
	case "desc":
		desc = true
	default:
		return invalid("direction")
	}
	owner, branch, byHead := strings.Cut(q.Get("head"), ":")
	base := q.Get("base")
	f.mu.Lock()
	var pulls []*mergeRequest
	for _, m := range p.mrs {
		if (state == "open" && m.State != StateOpened) || (state == "closed" && m.State == StateOpened) ||
			(base != "" && m.Target != base) ||
			(byHead && (m.Source != branch || !strings.EqualFold(f.headOwner(p, m), owner))) {
			continue
		}
		pulls = append(pulls, m)
	}
	slices.SortFunc(pulls, func(a, b *mergeRequest) int {
		at, bt := a.Created, b.Created
		if by == "updated" {
			at, bt = a.Updated, b.Updated
		}
		c := cmp.Or(at.Compare(bt), cmp.Compare(a.IID, b.IID))
		if desc {
			return -c
		}
		return c
	})
	pulls = ghPaginate(w, r, pulls)
	bases := map[string]string{}
	for _, m := range pulls {
		bases[m.Target] = ""
	}
	f.mu.Unlock()
	// Each base's head is read from git, outside the lock, as writePull
	// does for one pull request.
	for target := range bases {
		if bases[target], err = f.repo(p.Path).resolve(r.Context(), "refs/heads/"+target); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]ghPull, 0, len(pulls))
	for _, m := range pulls {
		out = append(out, f.ghPullOf(p, m, bases[m.Target]))
	}
	writeGH(w, http.StatusOK, out)
	return nil
}

// headOwner is the owner of the repository MR m's head branch is in: p's,
// or its fork's. Call with f.mu held.
func (f *Forge) headOwner(p *project, m *mergeRequest) string {
	if fork, ok := f.st.projects[m.ForkID]; ok {
		return fork.namespace()
	}
	return p.namespace()
}

// ghUpdatePull supports the one edit a merge train makes, state=closed.
// Closing a closed pull request changes nothing, as on GitHub.
func (f *Forge) ghUpdatePull(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.ghPullFor(r, u, Developer)
	if err != nil {
		return err
	}
	var body struct {
		State string `json:"state"`
	}
	if err := decodeGHBody(r, &body); err != nil {
		return err
	}
	f.mu.Lock()
	state := m.State
	f.mu.Unlock()
	switch {
	case body.State == "closed" && state == StateOpened:
		if err := f.CloseMR(r.Context(), p.Path, m.IID, u.Username); err != nil {
			return err
		}
	case body.State == "open" && state != StateOpened:
		return ghUnprocessable("Validation Failed", ghFieldError{Resource: "PullRequest", Field: "state", Code: "invalid"})
	case body.State != "" && body.State != "open" && body.State != "closed":
		return ghUnprocessable("Validation Failed", ghFieldError{Resource: "PullRequest", Field: "state", Code: "invalid"})
	}
	return f.writePull(w, r, p, m)
}

// ghListComments lists a pull request's comments oldest first, as GitHub
// lists issue comments.
func (f *Forge) ghListComments(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.ghPullFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]ghComment, 0, len(m.notes))
	for _, n := range m.notes {
		if !n.Internal { // GitLab's alone
			out = append(out, f.ghCommentOf(p, m, n))
		}
	}
	writeGH(w, http.StatusOK, ghPaginate(w, r, out))
	return nil
}

func (f *Forge) ghCreateComment(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.ghPullFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	var body struct {
		Body string `json:"body"`
	}
	if err := decodeGHBody(r, &body); err != nil {
		return err
	}
	if err := ghCommentBody(body.Body); err != nil {
		return err
	}
	n, err := f.addNote(r.Context(), p, m.IID, u, body.Body)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeGH(w, http.StatusCreated, f.ghCommentOf(p, m, &n))
	return nil
}

// decodeGHBody reads a JSON request body; GitHub takes nothing else.
func decodeGHBody(r *http.Request, v any) error {
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return &ghError{http.StatusBadRequest, ghMessage{Message: "Problems parsing JSON", DocumentationURL: ghDocs}}
	}
	return nil
}

// writeBranch answers branch name at sha.
func (f *Forge) writeBranch(w http.ResponseWriter, r *http.Request, p *project, name, sha string) error {
	info, err := f.commit(r.Context(), p.Path, sha)
	if err != nil {
		return err
	}
	l := f.ghURLs()
	f.mu.Lock()
	defer f.mu.Unlock()
	branch := l.api("repos/" + p.Path + "/branches/" + name)
	writeGH(w, http.StatusOK, ghBranch{
		Name: name, Commit: f.ghCommitOf(p, info),
		Links:         map[string]string{"self": branch, "html": l.web(p.Path + "/tree/" + name)},
		Protected:     f.ghProtected(p, name),
		Protection:    ghProtection{Enabled: f.ghProtected(p, name), RequiredStatusChecks: ghStatusChecks{EnforcementLevel: "off", Contexts: []string{}, Checks: []obj{}}},
		ProtectionURL: branch + "/protection",
	})
	return nil
}

func (f *Forge) ghGetBranch(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.ghRepoFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	name := r.PathValue("branch")
	sha, err := f.repo(p.Path).resolve(r.Context(), "refs/heads/"+name)
	if err != nil {
		return err
	}
	if sha == "" {
		return &ghError{http.StatusNotFound, ghMessage{Message: "Branch not found", DocumentationURL: ghDocs}}
	}
	return f.writeBranch(w, r, p, name, sha)
}

// ghGetRef answers heads/<branch>; tags and other refs are not kept.
func (f *Forge) ghGetRef(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.ghRepoFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	ref := "refs/" + r.PathValue("ref")
	sha := ""
	if strings.HasPrefix(ref, "refs/heads/") {
		if sha, err = f.repo(p.Path).resolve(r.Context(), ref); err != nil {
			return err
		}
	}
	if sha == "" {
		return ErrNoBranch
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeGH(w, http.StatusOK, f.ghRefOf(p, ref, sha))
	return nil
}

// ghUpdateRef moves a branch as a push would, rescanning after: MR heads
// follow, MRs whose head reached their target merge, a car branch starts
// its workflow. Without force only a fast-forward is accepted.
func (f *Forge) ghUpdateRef(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.ghRepoFor(r, u, Developer)
	if err != nil {
		return err
	}
	var body struct {
		SHA   string `json:"sha"`
		Force bool   `json:"force"`
	}
	if err := decodeGHBody(r, &body); err != nil {
		return err
	}
	ref := "refs/" + r.PathValue("ref")
	if !strings.HasPrefix(ref, "refs/heads/") {
		return ghUnprocessable("Reference does not exist")
	}
	if err := f.moveRef(r, p, u, ref, body.SHA, body.Force); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeGH(w, http.StatusOK, f.ghRefOf(p, ref, body.SHA))
	return nil
}

func (f *Forge) moveRef(r *http.Request, p *project, u *user, ref, sha string, force bool) error {
	ctx := r.Context()
	p.gitMu.Lock()
	defer p.gitMu.Unlock()
	g := f.repo(p.Path)
	old, err := g.resolve(ctx, ref)
	if err != nil {
		return err
	}
	if old == "" {
		return ghUnprocessable("Reference does not exist")
	}
	if _, err := g.run(ctx, "", nil, "cat-file", "-e", sha+"^{commit}"); err != nil {
		return ghUnprocessable("Object does not exist")
	}
	if !force {
		ff, err := g.isAncestor(ctx, old, sha)
		if err != nil {
			return err
		}
		if !ff {
			return ghUnprocessable("Update is not a fast forward")
		}
	}
	if err := g.updateRef(ctx, ref, sha, old); err != nil {
		return fmt.Errorf("update %s: %w", ref, err)
	}
	return f.rescanLocked(ctx, p, u)
}

// ghGetCommit answers a commit by SHA, abbreviated SHA or branch; with
// the v3.sha media type, as go-github's GetCommitSHA1 asks, just its SHA.
func (f *Forge) ghGetCommit(w http.ResponseWriter, r *http.Request, u *user) error {
	p, sha, err := f.ghCommitFor(r, u)
	if err != nil {
		return err
	}
	if strings.Contains(r.Header.Get("Accept"), "application/vnd.github.v3.sha") {
		w.Header().Set("Content-Type", "application/vnd.github.v3.sha; charset=utf-8")
		w.Header().Set("ETag", `"`+sha+`"`)
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(sha))
		return nil
	}
	info, err := f.commit(r.Context(), p.Path, sha)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeGH(w, http.StatusOK, f.ghCommitOf(p, info))
	return nil
}

// ghResolve finds the commit a ref names: a branch, or a full or
// abbreviated commit id. GitHub answers 422 for neither.
func (f *Forge) ghResolve(r *http.Request, p *project, ref string) (string, error) {
	g := f.repo(p.Path)
	sha, err := g.resolve(r.Context(), "refs/heads/"+ref)
	if err != nil || sha != "" {
		return sha, err
	}
	if isHex(ref) && len(ref) >= 4 {
		out, err := g.run(r.Context(), "", nil, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
		if err == nil {
			return strings.TrimSpace(out), nil
		}
	}
	return "", ghUnprocessable("No commit found for SHA: " + ref)
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}
