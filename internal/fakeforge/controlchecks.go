package fakeforge

import (
	"errors"
	"net/http"
	"slices"
	"strings"
)

// Control endpoints for what other people and tools do on GitHub: review
// a pull request, report a check run on a commit, and the statuses set
// on a commit through the API (Trainyard's own among them).

// ReviewRequest submits a review of a pull request as User. State is
// approved, changes_requested or commented.
type ReviewRequest struct {
	User  string `json:"user"`
	State string `json:"state"`
	Body  string `json:"body,omitempty"`
}

// CheckRunRequest reports a check run on a commit outside the simulated
// workflow, as the GitHub App whose slug is App does: github-actions
// when empty. Status is queued, in_progress or completed; a completed
// run needs a Conclusion (success, failure, cancelled, neutral, skipped,
// timed_out or action_required).
type CheckRunRequest struct {
	App        string `json:"app,omitempty"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	Conclusion string `json:"conclusion,omitempty"`
}

// CheckRunAnswer is the id of the check run made.
type CheckRunAnswer struct {
	ID int64 `json:"id"`
}

var reviewStates = map[string]string{
	"approved": ReviewApproved, "changes_requested": ReviewChangesRequested, "commented": ReviewCommented,
}

func (c *control) review(r *http.Request) (int, any, error) {
	p, m, err := c.mr(r)
	if err != nil {
		return 0, nil, err
	}
	var req ReviewRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := validUsername("user", req.User); err != nil {
		return 0, nil, err
	}
	state, ok := reviewStates[strings.ToLower(req.State)]
	if !ok {
		return 0, nil, badInput("state %q: want approved, changes_requested or commented", req.State)
	}
	if err := c.f.Review(r.Context(), p.Path, m.IID, req.User, state, req.Body); err != nil {
		var ge *ghError
		if errors.As(err, &ge) && len(ge.body.Errors) > 0 {
			return 0, nil, conflict("%v", ge.body.Errors[0])
		}
		return 0, nil, err
	}
	reviews, err := c.f.Reviews(p.Path, m.IID)
	if err != nil {
		return 0, nil, err
	}
	out := make([]ReviewAnswer, len(reviews))
	for i, rv := range reviews {
		out[i] = ReviewAnswer{ID: rv.ID, User: rv.Author, State: strings.ToLower(rv.State), Body: rv.Body, Commit: rv.CommitID}
	}
	return http.StatusCreated, out, nil
}

// ReviewAnswer is one review of the pull request, oldest first.
type ReviewAnswer struct {
	ID     int64  `json:"id"`
	User   string `json:"user"`
	State  string `json:"state"`
	Body   string `json:"body,omitempty"`
	Commit string `json:"commit"`
}

func (c *control) checkRun(r *http.Request) (int, any, error) {
	p, err := c.project(r)
	if err != nil {
		return 0, nil, err
	}
	var req CheckRunRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	sha := r.PathValue("sha")
	switch {
	case req.App != "" && !validSlug(req.App):
		return 0, nil, badInput("app %q: want an app slug of lower-case letters, digits and hyphens, at most 34 characters", req.App)
	case req.Name == "" || len(req.Name) > 100:
		return 0, nil, badInput("name: want 1 to 100 characters, got %d", len(req.Name))
	case !slices.Contains(checkStatuses, req.Status):
		return 0, nil, badInput("status %q: want queued, in_progress or completed", req.Status)
	case req.Status == CheckCompleted && !slices.Contains(checkConclusions, req.Conclusion):
		return 0, nil, badInput("conclusion %q: a completed check run needs one of %s", req.Conclusion, strings.Join(checkConclusions, ", "))
	case req.Status != CheckCompleted && req.Conclusion != "":
		return 0, nil, badInput("conclusion %q: only a completed check run has one", req.Conclusion)
	case len(sha) != 40 || !isHex(sha):
		return 0, nil, badInput("commit %q: want a full commit id", sha)
	}
	if _, err := c.f.commit(r.Context(), p.Path, sha); err != nil {
		return 0, nil, badInput("commit %s: not in %s", sha, p.Path)
	}
	id, err := c.f.SetCheckRun(p.Path, sha, req.App, req.Name, req.Status, req.Conclusion)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, CheckRunAnswer{ID: id}, nil
}

func (c *control) commitStatuses(r *http.Request) (int, any, error) {
	p, err := c.project(r)
	if err != nil {
		return 0, nil, err
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "trainyard"
	}
	list, err := c.f.CommitStatuses(p.Path, r.PathValue("sha"), name)
	if err != nil {
		return 0, nil, err
	}
	if list == nil {
		list = []CommitStatus{}
	}
	return http.StatusOK, list, nil
}

// validSlug reports whether s can be a GitHub App's slug.
func validSlug(s string) bool {
	if s == "" || len(s) > 34 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}
