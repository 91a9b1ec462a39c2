package fakeforge

import (
	"net/http"
	"slices"
	"strconv"
)

// GitHub REST handlers for check runs, commit statuses and workflow runs.

// ghCommitFor is the repository of a request that anyone may read, and
// the commit its {ref} names.
func (f *Forge) ghCommitFor(r *http.Request, u *user) (*project, string, error) {
	p, err := f.ghRepoFor(r, u, NoAccess)
	if err != nil {
		return nil, "", err
	}
	sha, err := f.ghResolve(r, p, r.PathValue("ref"))
	return p, sha, err
}

// ghListCheckRuns lists the check runs on a commit; filter=latest (the
// default) keeps the newest check run of each name in each check suite:
// a re-run's replace the attempt before, but another workflow run's, or
// another app's, hide none.
func (f *Forge) ghListCheckRuns(w http.ResponseWriter, r *http.Request, u *user) error {
	p, sha, err := f.ghCommitFor(r, u)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	latest := q.Get("filter") != "all"
	f.mu.Lock()
	defer f.mu.Unlock()
	var runs []*checkRun
	for _, c := range f.st.gh.checkRuns {
		if c.ProjectID == p.ID && c.SHA == sha && matches(q.Get("check_name"), c.Name) && matches(q.Get("status"), c.Status) {
			runs = append(runs, c)
		}
	}
	slices.SortFunc(runs, func(a, b *checkRun) int { return int(b.ID - a.ID) })
	type suiteName struct {
		suite int64
		name  string
	}
	seen := map[suiteName]bool{}
	out := []ghCheckRun{}
	for _, c := range runs {
		key := suiteName{c.SuiteID, c.Name}
		if latest && seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, f.ghCheckRunOf(p, c))
	}
	total := len(out)
	writeGH(w, http.StatusOK, ghCheckRuns{TotalCount: total, CheckRuns: ghPaginate(w, r, out)})
	return nil
}

// ghCombinedStatus combines the newest status of each context: failure if
// one failed or errored, pending if one is pending or there are none,
// success otherwise.
func (f *Forge) ghCombinedStatus(w http.ResponseWriter, r *http.Request, u *user) error {
	p, sha, err := f.ghCommitFor(r, u)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	latest := map[string]*commitStatus{}
	var order []string
	for _, s := range f.st.gh.statuses {
		if s.ProjectID == p.ID && s.SHA == sha {
			if latest[s.Context] == nil {
				order = append(order, s.Context)
			}
			latest[s.Context] = s
		}
	}
	state := "success"
	if len(order) == 0 {
		state = "pending"
	}
	statuses := []ghStatus{}
	for _, c := range order {
		s := latest[c]
		switch {
		case s.State == "failure" || s.State == "error":
			state = "failure"
		case s.State == "pending" && state == "success":
			state = "pending"
		}
		statuses = append(statuses, f.ghStatusOf(p, s))
	}
	l := f.ghURLs()
	writeGH(w, http.StatusOK, ghCombinedStatus{
		State: state, Statuses: ghPaginate(w, r, statuses), SHA: sha, TotalCount: len(statuses),
		Repository: f.ghMinimalRepoOf(p), CommitURL: l.api("repos/" + p.Path + "/commits/" + sha),
		URL: l.api("repos/" + p.Path + "/commits/" + sha + "/status"),
	})
	return nil
}

// ghListStatuses lists every status set on a commit, newest first, each
// with the user who set it: what tells a status from a forgery of it.
func (f *Forge) ghListStatuses(w http.ResponseWriter, r *http.Request, u *user) error {
	p, sha, err := f.ghCommitFor(r, u)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []ghListedStatus{}
	for i := len(f.st.gh.statuses) - 1; i >= 0; i-- {
		if s := f.st.gh.statuses[i]; s.ProjectID == p.ID && s.SHA == sha {
			out = append(out, ghListedStatus{ghStatus: f.ghStatusOf(p, s), Creator: f.ghUserOf(f.st.users[s.CreatorID])})
		}
	}
	writeGH(w, http.StatusOK, ghPaginate(w, r, out))
	return nil
}

func (f *Forge) ghCreateStatus(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.ghRepoFor(r, u, Developer)
	if err != nil {
		return err
	}
	var body struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	if err := decodeGHBody(r, &body); err != nil {
		return err
	}
	if !slices.Contains([]string{"error", "failure", "pending", "success"}, body.State) {
		return ghUnprocessable("Validation Failed", ghFieldError{Resource: "Status", Field: "state", Code: "custom"})
	}
	if body.Context == "" {
		body.Context = "default"
	}
	sha, err := f.ghResolve(r, p, r.PathValue("sha"))
	if err != nil {
		return err
	}
	f.mu.Lock()
	s := f.addStatus(p, u, sha, body.Context, body.State, body.Description, body.TargetURL)
	out, sent := f.ghStatusOf(p, s), *s
	f.mu.Unlock()
	f.sendGHStatus(r.Context(), p, sent)
	writeGH(w, http.StatusCreated, out)
	return nil
}

// ghListWorkflowRuns lists runs newest first, filtered by head_sha,
// branch, event and status as GitHub filters them.
func (f *Forge) ghListWorkflowRuns(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.ghRepoFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f.mu.Lock()
	var runs []*workflowRun
	for _, run := range f.projectWorkflowRuns(p) {
		if matches(q.Get("head_sha"), run.SHA) && matches(q.Get("branch"), run.Branch) &&
			matches(q.Get("event"), run.Event) && (matches(q.Get("status"), run.Status) || q.Get("status") == run.Conclusion) {
			runs = append(runs, run)
		}
	}
	f.mu.Unlock()
	page := ghPaginate(w, r, runs)
	out := make([]ghWorkflowRun, 0, len(page))
	for _, run := range page {
		j, err := f.ghWorkflowRunJSON(r, p, run)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	writeGH(w, http.StatusOK, ghWorkflowRuns{TotalCount: len(runs), WorkflowRuns: out})
	return nil
}

// ghWorkflowRunJSON renders a run with its head commit read from git.
func (f *Forge) ghWorkflowRunJSON(r *http.Request, p *project, run *workflowRun) (ghWorkflowRun, error) {
	f.mu.Lock()
	sha := run.SHA
	f.mu.Unlock()
	head, err := f.commit(r.Context(), p.Path, sha)
	if err != nil {
		return ghWorkflowRun{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ghWorkflowRunOf(p, run, head), nil
}

func (f *Forge) ghRunFor(r *http.Request, u *user, level int) (*project, *workflowRun, error) {
	p, err := f.ghRepoFor(r, u, level)
	if err != nil {
		return nil, nil, err
	}
	id, err := strconv.ParseInt(r.PathValue("run_id"), 10, 64)
	if err != nil {
		return nil, nil, ErrNoRun
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	run, err := f.workflowRunIn(p.Path, id)
	return p, run, err
}

func (f *Forge) ghGetWorkflowRun(w http.ResponseWriter, r *http.Request, u *user) error {
	p, run, err := f.ghRunFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	j, err := f.ghWorkflowRunJSON(r, p, run)
	if err != nil {
		return err
	}
	writeGH(w, http.StatusOK, j)
	return nil
}

// ghCancelWorkflowRun answers 202 as GitHub does, and 409 for a run that
// has finished.
func (f *Forge) ghCancelWorkflowRun(w http.ResponseWriter, r *http.Request, u *user) error {
	_, run, err := f.ghRunFor(r, u, Developer)
	if err != nil {
		return err
	}
	if !f.cancelWorkflow(run.ID) {
		return ghConflict("Cannot cancel a workflow run that is completed.")
	}
	writeGH(w, http.StatusAccepted, obj{})
	return nil
}

func (f *Forge) ghRerunFailedJobs(w http.ResponseWriter, r *http.Request, u *user) error {
	_, run, err := f.ghRunFor(r, u, Developer)
	if err != nil {
		return err
	}
	if err := f.rerunFailedJobs(run.ID); err != nil {
		return err
	}
	writeGH(w, http.StatusCreated, obj{})
	return nil
}

// ghDispatchWorkflow starts the workflow on a branch's head, named by its
// file name or id, as workflow_dispatch does; 204 as on GitHub.
func (f *Forge) ghDispatchWorkflow(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.ghRepoFor(r, u, Developer)
	if err != nil {
		return err
	}
	if id := r.PathValue("workflow_id"); id != itoa(p.ID) && ".github/workflows/"+id != f.workflowFile() {
		return &ghError{http.StatusNotFound, ghMessage{Message: "Not Found", DocumentationURL: ghDocs}}
	}
	var body struct {
		Ref    string         `json:"ref"`
		Inputs map[string]any `json:"inputs"`
	}
	if err := decodeGHBody(r, &body); err != nil {
		return err
	}
	sha, err := f.repo(p.Path).resolve(r.Context(), "refs/heads/"+body.Ref)
	if err != nil {
		return err
	}
	if sha == "" {
		return ghUnprocessable("No ref found for: " + body.Ref)
	}
	if _, err := f.startWorkflowRun(p, u, body.Ref, sha, "workflow_dispatch"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
