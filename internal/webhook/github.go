package webhook

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v82/github"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/forge"
)

func (h *Handler) serveGitHub(w http.ResponseWriter, r *http.Request) (string, answer) {
	buf := h.bodies.get()
	defer h.bodies.put(buf)
	if a, ok := h.readBody(w, r, buf); !ok {
		return eventUnknown, a
	}
	matched, a, ok := h.verifyGitHub(r, buf.Bytes())
	if !ok {
		return eventUnknown, a
	}
	kind := github.WebHookType(r)
	if !githubUsed(kind) {
		return eventOther, ignored("event type " + boundName(kind) + " not used")
	}
	label := kind
	id := github.DeliveryID(r)
	if id == "" {
		return label, failure(http.StatusBadRequest, OutcomeBadRequest, "missing delivery id: no X-GitHub-Delivery header")
	}
	payload, a, ok := githubPayload(r, buf.Bytes())
	if !ok {
		return label, a
	}
	n, err := decodeGitHub(kind, payload)
	switch {
	case err != nil:
		return label, decodeFailure(label, err)
	case n.ignore != "":
		return label, ignored(n.ignore)
	}
	n.ev.Forge, n.ev.ID = forgeGitHub, id
	if a, ok := h.admit(h.githubKeys, matched, n.ev, "invalid "+github.SHA256SignatureHeader); !ok {
		return label, a
	}
	return label, h.enqueue(r.Context(), n.ev, label)
}

// verifyGitHub checks the SHA-256 HMAC of the raw body and returns the
// secret it was made with. The legacy SHA-1 header is not accepted:
// GitHub always sends both.
func (h *Handler) verifyGitHub(r *http.Request, body []byte) (*key, answer, bool) {
	sig := r.Header.Get(github.SHA256SignatureHeader)
	if sig == "" {
		return nil, failure(http.StatusUnauthorized, OutcomeUnauthorized, "missing "+github.SHA256SignatureHeader), false
	}
	var matched *key
	if strings.HasPrefix(sig, "sha256=") {
		matched = h.githubKeys.match(func(k *key) bool { return github.ValidateSignature(sig, body, k.secret) == nil })
	}
	if matched == nil {
		return nil, failure(http.StatusUnauthorized, OutcomeUnauthorized, "invalid "+github.SHA256SignatureHeader), false
	}
	return matched, answer{}, true
}

// githubPayload returns the JSON of a verified body: the body itself, or
// its "payload" field when the hook is set to send forms (GitHub's default).
func githubPayload(r *http.Request, body []byte) ([]byte, answer, bool) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return body, answer{}, true
	}
	media, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
		return nil, failure(http.StatusUnsupportedMediaType, OutcomeBadRequest, fmt.Sprintf("bad Content-Type: %v", err)), false
	case media == "application/json":
		return body, answer{}, true
	case media == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, failure(http.StatusBadRequest, OutcomeBadRequest, fmt.Sprintf("malformed form body: %v", err)), false
		}
		if !form.Has("payload") {
			return nil, failure(http.StatusBadRequest, OutcomeBadRequest, "form body without a payload field (is the hook's content type application/json?)"), false
		}
		return []byte(form.Get("payload")), answer{}, true
	}
	return nil, failure(http.StatusUnsupportedMediaType, OutcomeBadRequest, "unsupported Content-Type "+media), false
}

func githubUsed(kind string) bool {
	switch kind {
	case "issue_comment", "pull_request", "check_suite", "check_run", "status", "workflow_run", "push":
		return true
	}
	return false
}

func decodeGitHub(kind string, payload []byte) (normalised, error) {
	if err := jsonObject(payload); err != nil {
		return normalised{}, err
	}
	parsed, err := github.ParseWebHook(kind, payload)
	if err != nil {
		return normalised{}, err
	}
	switch e := parsed.(type) {
	case *github.IssueCommentEvent:
		return githubComment(e), nil
	case *github.PullRequestEvent:
		return githubPR(e), nil
	case *github.CheckSuiteEvent:
		s := e.GetCheckSuite()
		return githubRun(e.GetAction(), e.GetRepo(), e.GetSender(), s.GetID(), s.GetHeadSHA(), s.GetHeadBranch(), s.GetConclusion(), s.PullRequests), nil
	case *github.CheckRunEvent:
		c := e.GetCheckRun()
		if c.GetName() == forge.StatusName {
			return skip("check run %s is Trainyard's own", forge.StatusName), nil
		}
		return githubRun(e.GetAction(), e.GetRepo(), e.GetSender(), c.GetCheckSuite().GetID(), c.GetHeadSHA(), c.GetCheckSuite().GetHeadBranch(), c.GetConclusion(), c.PullRequests), nil
	case *github.WorkflowRunEvent:
		wr := e.GetWorkflowRun()
		return githubRun(e.GetAction(), e.GetRepo(), e.GetSender(), wr.GetID(), wr.GetHeadSHA(), wr.GetHeadBranch(), wr.GetConclusion(), wr.PullRequests), nil
	case *github.StatusEvent:
		return githubStatus(e), nil
	case *github.PushEvent:
		return githubPush(e), nil
	}
	return skip("event type %s not used", kind), nil
}

func githubUser(u *github.User) event.User {
	return event.User{ID: u.GetID(), Username: u.GetLogin()}
}

func githubComment(e *github.IssueCommentEvent) normalised {
	switch issue := e.GetIssue(); {
	case e.GetAction() != "created":
		return skip("comment action %q not used", e.GetAction()) // an edited command is not run again
	case issue == nil || !issue.IsPullRequest():
		return skip("comment not on a pull request")
	}
	c := e.GetComment()
	return use(event.Event{
		Kind:      event.KindComment,
		Project:   e.GetRepo().GetFullName(),
		User:      githubUser(c.GetUser()),
		MR:        int64(e.GetIssue().GetNumber()),
		CommentID: c.GetID(),
		Body:      c.GetBody(),
	})
}

func githubPR(e *github.PullRequestEvent) normalised {
	pr := e.GetPullRequest()
	ev := event.Event{
		Kind:         event.KindMR,
		Project:      e.GetRepo().GetFullName(),
		User:         githubUser(e.GetSender()),
		MR:           int64(pr.GetNumber()),
		HeadSHA:      pr.GetHead().GetSHA(),
		TargetBranch: pr.GetBase().GetRef(),
	}
	switch a := e.GetAction(); a {
	case "opened":
		ev.Action = event.ActionOpen
	case "synchronize":
		ev.Action = event.ActionUpdate
	case "reopened":
		ev.Action = event.ActionReopen
	case "closed":
		ev.Action = event.ActionClose
		if pr.GetMerged() {
			ev.Action = event.ActionMerge
		}
	case "edited":
		old := e.GetChanges().GetBase().GetRef().GetFrom()
		if old == "" || old == ev.TargetBranch {
			return skip("pull request edit without a base change")
		}
		ev.Action, ev.OldTargetBranch = event.ActionRetarget, old
	default:
		return skip("pull request action %q not used", a)
	}
	return use(ev)
}

// githubRun normalises a completed check suite, check run or workflow run.
// Pipeline is the suite's or the workflow run's id.
func githubRun(action string, repo *github.Repository, sender *github.User, id int64, sha, branch, conclusion string, prs []*github.PullRequest) normalised {
	if action != "completed" {
		return skip("run action %q not used", action)
	}
	status, ok := githubConclusion(conclusion)
	if !ok {
		return skip("conclusion %q not used", conclusion)
	}
	ev := event.Event{
		Kind:     event.KindPipeline,
		Project:  repo.GetFullName(),
		User:     githubUser(sender),
		Pipeline: id,
		SHA:      sha,
		Ref:      branch,
		Status:   status,
	}
	if len(prs) == 1 { // several: the run is not about one of them
		ev.MR = int64(prs[0].GetNumber())
	}
	return use(ev)
}

// githubStatus normalises a commit status. A status names the branches
// that contain the commit, not the one it ran for, so Ref is set only when
// there is exactly one.
func githubStatus(e *github.StatusEvent) normalised {
	if e.GetContext() == forge.StatusName {
		return skip("status %s is Trainyard's own", forge.StatusName)
	}
	status, ok := githubStatusState(e.GetState())
	if !ok {
		return skip("status state %q not used", e.GetState())
	}
	ev := event.Event{
		Kind:    event.KindPipeline,
		Project: e.GetRepo().GetFullName(),
		User:    githubUser(e.GetSender()),
		SHA:     e.GetSHA(),
		Status:  status,
	}
	if len(e.Branches) == 1 {
		ev.Ref = e.Branches[0].GetName()
	}
	return use(ev)
}

// githubPush normalises a push to a branch; a deleted branch keeps its
// all-zero After, which tells the workers it is gone.
func githubPush(e *github.PushEvent) normalised {
	branch, ok := strings.CutPrefix(e.GetRef(), branchPrefix)
	if !ok {
		return skip("push to %s is not to a branch", e.GetRef())
	}
	return use(event.Event{
		Kind:    event.KindPush,
		Project: e.GetRepo().GetFullName(),
		User:    githubUser(e.GetSender()),
		Ref:     branch,
		Before:  e.GetBefore(),
		After:   e.GetAfter(),
	})
}
