package fakeforge

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Statuses that tools other than CI set on commits: GitLab's commit
// statuses, and GitHub's check runs created through the API; and the
// edit of a GitHub comment.

// glStatus is a GitLab commit status: one per name, commit and ref
// moves from pending to running to a final state; a status set again
// after a final one starts a new one.
type glStatus struct {
	ID          int64
	ProjectID   int64
	SHA, Ref    string
	Name        string
	Status      string
	Description string
	TargetURL   string
	AuthorID    int64
	Created     time.Time
	Started     time.Time
	Finished    time.Time
}

func (s *glStatus) done() bool {
	return s.Status == "success" || s.Status == "failed" || s.Status == "canceled" || s.Status == "skipped"
}

// CommitStatus is a status set on a commit through the API: GitLab's
// commit statuses (State as GitLab names it), GitHub's check runs
// created by an app (State is the run's status, or its conclusion once
// completed) and commit statuses.
type CommitStatus struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	SHA         string `json:"sha"`
	Ref         string `json:"ref,omitempty"`
	State       string `json:"state"`
	Description string `json:"description,omitempty"`
	TargetURL   string `json:"target_url,omitempty"`
}

// CommitStatuses lists the statuses named name that were set on sha
// through the API, oldest first.
func (f *Forge) CommitStatuses(project, sha, name string) ([]CommitStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(project)
	if err != nil {
		return nil, err
	}
	var out []CommitStatus
	for _, s := range f.st.glStatuses {
		if s.ProjectID == p.ID && s.SHA == sha && s.Name == name {
			out = append(out, CommitStatus{ID: s.ID, Name: s.Name, SHA: s.SHA, Ref: s.Ref, State: s.Status, Description: s.Description, TargetURL: s.TargetURL})
		}
	}
	for _, c := range f.st.gh.checkRuns {
		if c.ProjectID == p.ID && c.SHA == sha && c.Name == name && c.API {
			state := c.Status
			if c.Conclusion != "" {
				state = c.Conclusion
			}
			out = append(out, CommitStatus{ID: c.ID, Name: c.Name, SHA: c.SHA, State: state, Description: c.Title, TargetURL: c.DetailsURL})
		}
	}
	for _, s := range f.st.gh.statuses {
		if s.ProjectID == p.ID && s.SHA == sha && s.Context == name {
			out = append(out, CommitStatus{ID: s.ID, Name: s.Context, SHA: s.SHA, State: s.State, Description: s.Description, TargetURL: s.TargetURL})
		}
	}
	slices.SortFunc(out, func(a, b CommitStatus) int { return int(a.ID - b.ID) })
	return out, nil
}

var glStatusStates = []string{"pending", "running", "success", "failed", "canceled", "skipped"}

// setCommitStatus is POST /projects/:id/statuses/:sha.
func (f *Forge) setCommitStatus(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.projectFor(r, u, Developer)
	if err != nil {
		return err
	}
	var body struct {
		State       string `json:"state"`
		Ref         string `json:"ref"`
		Name        string `json:"name"`
		Context     string `json:"context"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	state := param(r, body.State, "state")
	switch {
	case state == "":
		return badRequest("state is missing")
	case !slices.Contains(glStatusStates, state):
		return badRequest("state does not have a valid value")
	}
	name := cmp.Or(param(r, body.Name, "name"), param(r, body.Context, "context"), "default")
	sha := r.PathValue("sha")
	if _, err := f.commit(r.Context(), p.Path, sha); err != nil {
		return &apiError{http.StatusNotFound, "404 Commit Not Found"}
	}
	ref := param(r, body.Ref, "ref")
	now := f.opts.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	var s *glStatus
	for _, o := range f.st.glStatuses {
		if o.ProjectID == p.ID && o.SHA == sha && o.Name == name && o.Ref == ref && !o.done() && (s == nil || o.ID > s.ID) {
			s = o
		}
	}
	if s != nil && s.Status == state {
		// GitLab's state machine has no move from a state to itself.
		verb := map[string]string{"pending": "enqueue", "running": "run", "success": "succeed", "failed": "drop", "canceled": "cancel", "skipped": "skip"}[state]
		return badRequest(fmt.Sprintf("Cannot transition status via :%s from :%s (Reason(s): Status cannot transition via \"%s\")", verb, state, verb))
	}
	if s == nil {
		s = &glStatus{ID: f.st.nextID(), ProjectID: p.ID, SHA: sha, Ref: ref, Name: name, AuthorID: u.ID, Created: now}
		f.st.glStatuses[s.ID] = s
	}
	s.Status = state
	s.Description = param(r, body.Description, "description")
	s.TargetURL = param(r, body.TargetURL, "target_url")
	if state == "running" && s.Started.IsZero() {
		s.Started = now
	}
	if s.done() {
		s.Finished = now
	}
	writeJSON(w, http.StatusCreated, f.apiStatusOf(s))
	return nil
}

type apiCommitStatus struct {
	ID           int64    `json:"id"`
	SHA          string   `json:"sha"`
	Ref          *string  `json:"ref"`
	Status       string   `json:"status"`
	Name         string   `json:"name"`
	TargetURL    *string  `json:"target_url"`
	Description  *string  `json:"description"`
	Coverage     *float64 `json:"coverage"`
	AllowFailure bool     `json:"allow_failure"`
	CreatedAt    *string  `json:"created_at"`
	StartedAt    *string  `json:"started_at"`
	FinishedAt   *string  `json:"finished_at"`
	Author       apiUser  `json:"author"`
}

// apiStatusOf renders s; call with f.mu held.
func (f *Forge) apiStatusOf(s *glStatus) apiCommitStatus {
	out := apiCommitStatus{ID: s.ID, SHA: s.SHA, Status: s.Status, Name: s.Name,
		CreatedAt: apiTime(s.Created), StartedAt: apiTime(s.Started), FinishedAt: apiTime(s.Finished)}
	if u, ok := f.st.users[s.AuthorID]; ok {
		out.Author = f.apiUserOf(u)
	}
	for _, v := range []struct {
		from string
		to   **string
	}{{s.Ref, &out.Ref}, {s.TargetURL, &out.TargetURL}, {s.Description, &out.Description}} {
		if v.from != "" {
			*v.to = &v.from
		}
	}
	return out
}

// listCommitStatuses is GET /projects/:id/repository/commits/:sha/statuses.
func (f *Forge) listCommitStatuses(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.projectFor(r, u, Reporter)
	if err != nil {
		return err
	}
	sha := r.PathValue("sha")
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []apiCommitStatus{}
	for _, s := range f.st.glStatuses {
		if s.ProjectID == p.ID && s.SHA == sha && matches(q.Get("ref"), s.Ref) && matches(q.Get("name"), s.Name) {
			out = append(out, f.apiStatusOf(s))
		}
	}
	slices.SortFunc(out, func(a, b apiCommitStatus) int { return int(a.ID - b.ID) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ghEditComment is PATCH /repos/:owner/:repo/issues/comments/:comment_id;
// only its author (or an admin) may edit a comment.
func (f *Forge) ghEditComment(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.ghRepoFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("comment_id"), 10, 64)
	if err != nil {
		return ErrNoMR
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
	f.mu.Lock()
	var owner *mergeRequest
	var author int64
	for _, m := range p.mrs {
		if i := slices.IndexFunc(m.notes, func(n *note) bool { return n.ID == id }); i >= 0 {
			owner, author = m, m.notes[i].AuthorID
		}
	}
	f.mu.Unlock()
	switch {
	case owner == nil:
		return ErrNoMR
	case author != u.ID && !u.Admin:
		return ghForbidden()
	}
	n, _, err := f.editNote(r.Context(), p, owner.IID, id, body.Body)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeGH(w, http.StatusOK, f.ghCommentOf(p, owner, &n))
	return nil
}

// ghCheckRunBody is what the check runs API takes.
type ghCheckRunBody struct {
	Name       string  `json:"name"`
	HeadSHA    string  `json:"head_sha"`
	DetailsURL *string `json:"details_url"`
	Status     *string `json:"status"`
	Conclusion *string `json:"conclusion"`
	Output     *struct {
		Title   string `json:"title"`
		Summary string `json:"summary"`
	} `json:"output"`
}

var (
	checkStatuses    = []string{CheckQueued, CheckInProgress, CheckCompleted}
	checkConclusions = []string{ConclusionSuccess, ConclusionFailure, ConclusionCancelled, "neutral", "skipped", "timed_out", "action_required"}
)

// apply sets what b gives on c, as GitHub validates it: a conclusion
// completes the run, and a completed run needs one.
func (b ghCheckRunBody) apply(c *checkRun, now time.Time) error {
	if b.Status != nil {
		if !slices.Contains(checkStatuses, *b.Status) {
			return ghUnprocessable("Validation Failed", ghFieldError{Resource: "CheckRun", Field: "status", Code: "invalid"})
		}
		c.Status = *b.Status
	}
	if b.Conclusion != nil {
		if !slices.Contains(checkConclusions, *b.Conclusion) {
			return ghUnprocessable("Validation Failed", ghFieldError{Resource: "CheckRun", Field: "conclusion", Code: "invalid"})
		}
		c.Status, c.Conclusion, c.Completed = CheckCompleted, *b.Conclusion, now
	}
	if c.Status == CheckCompleted && c.Conclusion == "" {
		return ghUnprocessable("Validation Failed", ghFieldError{Resource: "CheckRun", Field: "conclusion", Code: "missing_field"})
	}
	if c.Status == CheckInProgress && c.Started.IsZero() {
		c.Started = now
	}
	if b.DetailsURL != nil {
		c.DetailsURL = *b.DetailsURL
	}
	if b.Output != nil {
		c.Title, c.Summary = b.Output.Title, b.Output.Summary
	}
	return nil
}

// ghCreateCheckRun is POST /repos/:owner/:repo/check-runs: only a GitHub
// App's installation may create check runs.
func (f *Forge) ghCreateCheckRun(w http.ResponseWriter, r *http.Request, u *user) error {
	if !f.installationToken(r) {
		return ghForbidden()
	}
	p, err := f.ghRepoFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	var body ghCheckRunBody
	if err := decodeGHBody(r, &body); err != nil {
		return err
	}
	if body.Name == "" || body.HeadSHA == "" {
		return ghUnprocessable("Invalid request.\n\n\"name\" and \"head_sha\" are required.")
	}
	sha, err := f.ghResolve(r, p, body.HeadSHA)
	if err != nil {
		return err
	}
	now := f.opts.Now()
	c := &checkRun{ProjectID: p.ID, Name: body.Name, SHA: sha, Status: CheckQueued, API: true, App: f.opts.GitHub.App.Slug}
	if err := body.apply(c, now); err != nil {
		return err
	}
	f.mu.Lock()
	c.ID, c.SuiteID = f.st.nextID(), f.appSuite(p, c.App, sha)
	f.st.gh.checkRuns[c.ID] = c
	out := f.ghCheckRunOf(p, c)
	f.mu.Unlock()
	f.sendGHCheckRuns("created", c.ID)
	writeGH(w, http.StatusCreated, out)
	return nil
}

// ghUpdateCheckRun is PATCH /repos/:owner/:repo/check-runs/:check_run_id.
func (f *Forge) ghUpdateCheckRun(w http.ResponseWriter, r *http.Request, u *user) error {
	if !f.installationToken(r) {
		return ghForbidden()
	}
	p, err := f.ghRepoFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("check_run_id"), 10, 64)
	if err != nil {
		return ErrNoRun
	}
	var body ghCheckRunBody
	if err := decodeGHBody(r, &body); err != nil {
		return err
	}
	f.mu.Lock()
	c, ok := f.st.gh.checkRuns[id]
	if !ok || c.ProjectID != p.ID {
		f.mu.Unlock()
		return ErrNoRun
	}
	next := *c
	if err := body.apply(&next, f.opts.Now()); err != nil {
		f.mu.Unlock()
		return err
	}
	*c = next
	out := f.ghCheckRunOf(p, c)
	f.mu.Unlock()
	action := "created"
	if next.Status == CheckCompleted {
		action = "completed"
	}
	f.sendGHCheckRuns(action, id)
	writeGH(w, http.StatusOK, out)
	return nil
}

// installationToken reports whether r carries a GitHub App
// installation's token, the only credential GitHub lets write checks.
func (f *Forge) installationToken(r *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.st.gh.tokenExpiry[requestToken(r, false)]
	return ok
}
