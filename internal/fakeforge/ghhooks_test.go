package fakeforge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v82/github"
)

// ghSink receives the forge's GitHub webhooks.
type ghSink struct {
	mu   sync.Mutex
	reqs []hookReq
}

func newGHSink(t *testing.T, f *Forge, secret string) *ghSink {
	t.Helper()
	s := &ghSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, hookReq{Header: r.Header.Clone(), Body: body})
		s.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	f.SetGitHubWebhook(Webhook{URL: srv.URL, Secret: secret})
	return s
}

// received flushes the forge's queue and returns every delivery so far.
func (s *ghSink) received(t *testing.T, f *Forge) []hookReq {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.FlushWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hookReq(nil), s.reqs...)
}

// await waits until a delivery of event with action has been received:
// the forge sends a run's webhooks just after the run's state changes.
func (s *ghSink) await(t *testing.T, f *Forge, event, action string) {
	t.Helper()
	waitFor(t, event+" "+action, func() bool {
		for _, r := range s.received(t, f) {
			if r.Header.Get("X-GitHub-Event") == event && strings.Contains(string(r.Body), `"action":"`+action+`"`) {
				return true
			}
		}
		return false
	})
}

// last is the newest delivery of event whose action is action ("" for
// events without one).
func last(t *testing.T, reqs []hookReq, event, action string) any {
	t.Helper()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Header.Get("X-GitHub-Event") != event {
			continue
		}
		v := decodeJSON(t, reqs[i].Body)
		if a, _ := v.(map[string]any)["action"].(string); a == action {
			return v
		}
	}
	t.Fatalf("no %s %s delivered", event, action)
	return nil
}

// Every delivery carries GitHub's headers, a signature of its exact body
// that go-github's check accepts, and a payload go-github parses.
func TestGitHubWebhooksAreSignedAndParse(t *testing.T) {
	const secret = "gh-hook-secret"
	f := ghForge(t, func(o *Options) { o.CI.Duration = time.Millisecond })
	mustProject(t, f, project1, nil)
	hooks := newGHSink(t, f, secret)
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	if _, err := f.AddNote(t.Context(), project1, mr.IID, "carol", "/train add"); err != nil {
		t.Fatal(err)
	}
	if err := f.Review(t.Context(), project1, mr.IID, "carol", ReviewApproved, ""); err != nil {
		t.Fatal(err)
	}
	pushCar(t, f, "trainyard/main/1", map[string]string{"ok": "ok"})
	hooks.await(t, f, GHEventCheckSuite, "completed")
	seen := map[string]bool{}
	ids := map[string]bool{}
	for _, r := range hooks.received(t, f) {
		kind, id := r.Header.Get("X-GitHub-Event"), r.Header.Get("X-GitHub-Delivery")
		seen[kind] = true
		if id == "" || ids[id] {
			t.Errorf("%s delivery id %q is missing or repeated", kind, id)
		}
		ids[id] = true
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(r.Body)
		if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); r.Header.Get("X-Hub-Signature-256") != want {
			t.Errorf("%s: signature %q, want %q", kind, r.Header.Get("X-Hub-Signature-256"), want)
		}
		if err := github.ValidateSignature(r.Header.Get("X-Hub-Signature-256"), r.Body, []byte(secret)); err != nil {
			t.Errorf("%s: go-github refuses the signature: %v", kind, err)
		}
		if _, err := github.ParseWebHook(kind, r.Body); err != nil {
			t.Errorf("%s: go-github cannot parse it: %v", kind, err)
		}
	}
	for _, kind := range []string{GHEventPullRequest, GHEventIssueComment, GHEventPush, GHEventWorkflowRun, GHEventCheckRun, GHEventCheckSuite, GHEventReview} {
		if !seen[kind] {
			t.Errorf("no %s delivery", kind)
		}
	}
}

// The payloads have GitHub's keys at GitHub's places, with GitHub's JSON
// types, both ways: nothing of GitHub's is missing, nothing is invented.
func TestGitHubWebhookShapesMatchGitHub(t *testing.T) {
	f := ghForge(t, func(o *Options) { o.CI.Duration = time.Millisecond })
	mustProject(t, f, project1, nil)
	hooks := newGHSink(t, f, "s")
	ctx := t.Context()
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	if _, err := f.PushToMR(ctx, project1, mr.IID, Commit{Files: map[string]string{"b": "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.AddNote(ctx, project1, mr.IID, "carol", "/train add"); err != nil {
		t.Fatal(err)
	}
	if err := f.Review(ctx, project1, mr.IID, "carol", ReviewCommented, ""); err != nil {
		t.Fatal(err)
	}
	sha := pushCar(t, f, "trainyard/main/1", map[string]string{"ok": "ok"})
	hooks.await(t, f, GHEventCheckSuite, "completed")
	if err := f.SetCommitStatus(project1, sha, "ext/ci", "success", "carol"); err != nil {
		t.Fatal(err)
	}
	if err := f.CloseMR(ctx, project1, mr.IID, "carol"); err != nil {
		t.Fatal(err)
	}
	reqs := hooks.received(t, f)
	for _, tc := range []struct {
		event, action, fixture string
		// skip: paths compared with neither side, and why.
		skip []string
	}{
		{GHEventPullRequest, "opened", "pull_request_opened.json", nil},
		{GHEventPullRequest, "synchronize", "pull_request_synchronize.json", nil},
		{GHEventPullRequest, "closed", "pull_request_closed.json", nil},
		// Atlantis captured its payload in 2018, before GitHub added
		// performed_via_github_app, pin, minimized and these repository
		// keys; its installation was cut down to an id.
		{GHEventIssueComment, "created", "issue_comment_created_on_pull_request.atlantis.json", []string{
			".comment.performed_via_github_app", ".comment.pin", ".comment.minimized", ".installation.node_id", ".repository.custom_properties", ".repository.disabled",
			".repository.is_template", ".repository.topics", ".repository.visibility", ".repository.web_commit_signoff_required"}},
		// An app's permissions are its own.
		{GHEventCheckRun, "completed", "check_run_completed_success.json", []string{".check_run.app.permissions", ".check_run.check_suite.app.permissions"}},
		{GHEventCheckSuite, "completed", "check_suite_completed.json", []string{".check_suite.app.permissions"}},
		{GHEventWorkflowRun, "completed", "workflow_run_completed.json", nil},
		{GHEventStatus, "", "status.json", nil},
		{GHEventPush, "", "push_branch_created.json", nil},
		{GHEventReview, "submitted", "pull_request_review_submitted.json", nil},
	} {
		ours := last(t, reqs, tc.event, tc.action)
		theirs := loadJSON(t, "github/"+tc.fixture)
		if d := shapeDiff("", theirs, ours, tc.skip); len(d) > 0 {
			t.Errorf("%s %s vs %s, missing here or of another type:\n%s", tc.event, tc.action, tc.fixture, strings.Join(d, "\n"))
		}
		if d := shapeDiff("", ours, theirs, tc.skip); len(d) > 0 {
			t.Errorf("%s %s vs %s, keys GitHub does not send:\n%s", tc.event, tc.action, tc.fixture, strings.Join(d, "\n"))
		}
	}
}

// A pull request from a fork names the fork as its head repository, and
// its head never reaches the base repository.
func TestForkPullRequest(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	mustProject(t, f, "mallory/widgets", nil)
	mr := mustMR(t, f, MRSpec{Source: "evil", Fork: "mallory/widgets", Author: "mallory", Commits: []Commit{{Files: map[string]string{"x": "x"}}}})
	c := ghClient(t, f, botToken)
	pr, _, err := c.PullRequests.Get(t.Context(), "acme", "widgets", int(mr.IID))
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetHead().GetRepo().GetFullName() != "mallory/widgets" || pr.GetHead().GetLabel() != "mallory:evil" || !pr.GetHead().GetRepo().GetFork() {
		t.Fatalf("head = %+v", pr.GetHead())
	}
	if pr.GetHead().GetSHA() != mr.SHA || pr.GetBase().GetRepo().GetFullName() != project1 {
		t.Fatalf("head %s base %s", pr.GetHead().GetSHA(), pr.GetBase().GetRepo().GetFullName())
	}
	if out, err := f.repo(project1).run(t.Context(), "", nil, "cat-file", "-e", mr.SHA+"^{commit}"); err == nil {
		t.Fatalf("the fork's head is in the base repository: %s", out)
	}
	if sha, _ := f.repo(project1).resolve(t.Context(), "refs/pull/1/head"); sha != "" {
		t.Fatalf("refs/pull/1/head is %s in the base repository", sha)
	}
}
