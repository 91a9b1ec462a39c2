package webhook

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/train"
)

const (
	ghPRSHA       = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	ghPushSHA     = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
	ghWorkflowSHA = "3484a3fb816e0859fd6e1cea078d76385ff50625"
	zeroSHA       = "0000000000000000000000000000000000000000"
)

var codertocat = event.User{ID: 21031067, Username: "Codertocat"}

func ghPR(action string) event.Event {
	return event.Event{Forge: "github", Project: "Codertocat/Hello-World", Kind: event.KindMR, User: codertocat,
		MR: 2, Action: action, HeadSHA: ghPRSHA, TargetBranch: "master"}
}

func ghCheck(status train.PipelineState) event.Event {
	return event.Event{Forge: "github", Project: "Codertocat/Hello-World", Kind: event.KindPipeline, User: codertocat,
		MR: 2, Pipeline: 118578147, SHA: ghPRSHA, Ref: "changes", Status: status}
}

func ghWorkflow(mr int64) event.Event {
	return event.Event{Forge: "github", Project: "octo-org/octo-repo", Kind: event.KindPipeline,
		User: event.User{ID: 15669918, Username: "Codertocat"}, MR: mr, Pipeline: 289782451,
		SHA: ghWorkflowSHA, Ref: "master", Status: train.PipelineSuccess}
}

func ghPush(branch, before, after string) event.Event {
	return event.Event{Forge: "github", Project: "Codertocat/Hello-World", Kind: event.KindPush, User: codertocat,
		Ref: branch, Before: before, After: after}
}

// TestGitHubFixtures posts every GitHub fixture, signed as GitHub signs,
// and checks the exact event queued, or the answer when none is.
func TestGitHubFixtures(t *testing.T) {
	t.Parallel()
	queuedCases := []struct {
		file, kind string
		want       event.Event
	}{
		{"issue_comment_created_on_pull_request.atlantis.json", "issue_comment", event.Event{
			Forge: "github", Project: "runatlantis/atlantis-tests", Kind: event.KindComment,
			User: event.User{ID: 1034429, Username: "runatlantis"}, MR: 1, CommentID: 396926483, Body: "###comment body###"}},
		{"pull_request_opened.json", "pull_request", ghPR(event.ActionOpen)},
		{"pull_request_synchronize.json", "pull_request", ghPR(event.ActionUpdate)},
		{"pull_request_closed.json", "pull_request", ghPR(event.ActionClose)},
		{"check_suite_completed.json", "check_suite", ghCheck(train.PipelineSuccess)},
		{"check_run_completed_success.json", "check_run", ghCheck(train.PipelineSuccess)},
		{"check_run_completed_failure.json", "check_run", ghCheck(train.PipelineFailed)},
		{"status.json", "status", event.Event{Forge: "github", Project: "Codertocat/Hello-World", Kind: event.KindPipeline,
			User: codertocat, SHA: ghPushSHA, Status: train.PipelineSuccess}},
		{"workflow_run_completed.json", "workflow_run", ghWorkflow(0)},
		{"workflow_run_completed_with_pull_requests.json", "workflow_run", ghWorkflow(2)},
		{"push_branch_created.json", "push", ghPush("master", zeroSHA, ghPushSHA)},
	}
	for _, c := range queuedCases {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			d := githubDelivery(t, c.kind, fixture(t, "github/"+c.file))
			c.want.ID = d.header.Get("X-GitHub-Delivery")
			r.expectQueued(d, c.want)
		})
	}
	ignoredCases := []struct{ file, kind, reason string }{
		{"issue_comment_created.json", "issue_comment", "comment not on a pull request"},
		{"push_tag_deleted.json", "push", "push to refs/tags/simple-tag is not to a branch"},
		{"merge_group_checks_requested.json", "merge_group", "event type merge_group not used"},
	}
	for _, c := range ignoredCases {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			expectAnswer(t, r.send(githubDelivery(t, c.kind, fixture(t, "github/"+c.file))), http.StatusAccepted, "reason", c.reason)
			r.expectNothingQueued()
		})
	}
}

// TestGitHubEditedFixtures covers what no published payload shows, each
// made from a real payload with one field changed.
func TestGitHubEditedFixtures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file, kind string
		edit             func(t *testing.T, m map[string]any)
		want             event.Event
	}{
		{"train command", "issue_comment_created_on_pull_request.atlantis.json", "issue_comment",
			func(t *testing.T, m map[string]any) { obj(t, m, "comment")["body"] = "/train add" },
			event.Event{Forge: "github", Project: "runatlantis/atlantis-tests", Kind: event.KindComment,
				User: event.User{ID: 1034429, Username: "runatlantis"}, MR: 1, CommentID: 396926483, Body: "/train add"}},
		{"merged", "pull_request_closed.json", "pull_request",
			func(t *testing.T, m map[string]any) { obj(t, m, "pull_request")["merged"] = true },
			ghPR(event.ActionMerge)},
		{"reopened", "pull_request_opened.json", "pull_request",
			func(t *testing.T, m map[string]any) { m["action"] = "reopened" },
			ghPR(event.ActionReopen)},
		{"retargeted", "pull_request_opened.json", "pull_request",
			func(t *testing.T, m map[string]any) {
				m["action"] = "edited"
				m["changes"] = map[string]any{"base": map[string]any{
					"ref": map[string]any{"from": "develop"}, "sha": map[string]any{"from": ghPushSHA}}}
			},
			func() event.Event {
				ev := ghPR(event.ActionRetarget)
				ev.OldTargetBranch = "develop"
				return ev
			}()},
		{"timed out suite", "check_suite_completed.json", "check_suite",
			func(t *testing.T, m map[string]any) { obj(t, m, "check_suite")["conclusion"] = "timed_out" },
			ghCheck(train.PipelineFailed)},
		{"cancelled run", "check_run_completed_success.json", "check_run",
			func(t *testing.T, m map[string]any) { obj(t, m, "check_run")["conclusion"] = "cancelled" },
			ghCheck(train.PipelineCanceled)},
		{"pending status on one branch", "status.json", "status",
			func(t *testing.T, m map[string]any) {
				m["state"] = "pending"
				m["branches"] = m["branches"].([]any)[:1]
			},
			event.Event{Forge: "github", Project: "Codertocat/Hello-World", Kind: event.KindPipeline,
				User: codertocat, SHA: ghPushSHA, Ref: "master", Status: train.PipelinePending}},
		{"deleted branch", "push_tag_deleted.json", "push",
			func(t *testing.T, m map[string]any) { m["ref"] = "refs/heads/feature" },
			ghPush("feature", ghPushSHA, zeroSHA)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			body := edited(t, "github/"+c.file, func(m map[string]any) { c.edit(t, m) })
			d := githubDelivery(t, c.kind, body)
			c.want.ID = d.header.Get("X-GitHub-Delivery")
			r.expectQueued(d, c.want)
		})
	}
}

func TestGitHubIgnored(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	cases := []struct {
		name, file, kind string
		edit             func(m map[string]any)
		reason           string
	}{
		{"edited comment", "issue_comment_created_on_pull_request.atlantis.json", "issue_comment",
			func(m map[string]any) { m["action"] = "edited" }, `comment action "edited" not used`},
		{"deleted comment", "issue_comment_created_on_pull_request.atlantis.json", "issue_comment",
			func(m map[string]any) { m["action"] = "deleted" }, `comment action "deleted" not used`},
		{"labeled", "pull_request_opened.json", "pull_request",
			func(m map[string]any) { m["action"] = "labeled" }, `pull request action "labeled" not used`},
		{"title edit", "pull_request_opened.json", "pull_request",
			func(m map[string]any) {
				m["action"] = "edited"
				m["changes"] = map[string]any{"title": map[string]any{"from": "old"}}
			}, "pull request edit without a base change"},
		{"requested suite", "check_suite_completed.json", "check_suite",
			func(m map[string]any) { m["action"] = "requested" }, `run action "requested" not used`},
		{"in-progress workflow", "workflow_run_completed.json", "workflow_run",
			func(m map[string]any) { m["action"] = "in_progress" }, `run action "in_progress" not used`},
		{"unknown conclusion", "check_run_completed_success.json", "check_run",
			func(m map[string]any) { m["check_run"].(map[string]any)["conclusion"] = "weird" }, `conclusion "weird" not used`},
		{"unknown status state", "status.json", "status",
			func(m map[string]any) { m["state"] = "weird" }, `status state "weird" not used`},
	}
	for _, c := range cases {
		body := edited(t, "github/"+c.file, c.edit)
		expectAnswer(t, r.send(githubDelivery(t, c.kind, body)), http.StatusAccepted, "reason", c.reason)
	}
	expectAnswer(t, r.send(githubDelivery(t, "ping", []byte(`{"zen":"Keep it logically awesome."}`))),
		http.StatusAccepted, "reason", "event type ping not used")
	r.expectNothingQueued()
}

func TestGitHubConclusions(t *testing.T) {
	t.Parallel()
	want := map[string]train.PipelineState{
		"success": train.PipelineSuccess, "failure": train.PipelineFailed, "timed_out": train.PipelineFailed,
		"action_required": train.PipelineFailed, "startup_failure": train.PipelineFailed,
		"cancelled": train.PipelineCanceled, "skipped": train.PipelineSkipped,
		"neutral": train.PipelineSkipped, "stale": train.PipelineSkipped,
	}
	for in, w := range want {
		if got, ok := githubConclusion(in); !ok || got != w {
			t.Errorf("conclusion %q: %q %v, want %q", in, got, ok, w)
		}
	}
	states := map[string]train.PipelineState{
		"success": train.PipelineSuccess, "failure": train.PipelineFailed,
		"error": train.PipelineFailed, "pending": train.PipelinePending,
	}
	for in, w := range states {
		if got, ok := githubStatusState(in); !ok || got != w {
			t.Errorf("status state %q: %q %v, want %q", in, got, ok, w)
		}
	}
	if got, ok := githubConclusion(""); ok {
		t.Errorf("empty conclusion: %q, want not mapped", got)
	}
}

// TestGitHubFormDelivery: GitHub's default hook content type sends the
// JSON in a form field; the signature covers the form body.
func TestGitHubFormDelivery(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	form := []byte(url.Values{"payload": {string(fixture(t, "github/pull_request_opened.json"))}}.Encode())
	d := githubDelivery(t, "pull_request", form)
	d.header.Set("Content-Type", "application/x-www-form-urlencoded")
	want := ghPR(event.ActionOpen)
	want.ID = d.header.Get("X-GitHub-Delivery")
	r.expectQueued(d, want)

	d = githubDelivery(t, "pull_request", fixture(t, "github/pull_request_opened.json"))
	d.header.Set("Content-Type", "text/plain")
	expectAnswer(t, r.send(d), http.StatusUnsupportedMediaType, "error", "unsupported Content-Type text/plain")
	r.expectNothingQueued()
}

// TestGitHubTestVector checks the verification path against the example
// GitHub documents (testdata/SOURCES.md, "Official test vector").
func TestGitHubTestVector(t *testing.T) {
	t.Parallel()
	const (
		secret = "It's a Secret to Everybody"
		body   = "Hello, World!"
		header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	)
	if got := sign(secret, []byte(body)); got != header {
		t.Fatalf("test signer gives %s, want %s", got, header)
	}
	h, err := New(Options{GitHubSecret: secret, DisableGitLab: true, Queue: failQueue{}})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(sig, payload string) bool {
		req := httptest.NewRequest(http.MethodPost, GitHubPath, strings.NewReader(payload))
		req.Header.Set("X-Hub-Signature-256", sig)
		_, _, ok := h.verifyGitHub(req, []byte(payload))
		return ok
	}
	checks := []struct {
		name, sig, payload string
		ok                 bool
	}{
		{"documented vector", header, body, true},
		{"one byte changed", header, "Hello, World?", false},
		{"upper-case hex", "sha256=" + strings.ToUpper(header[len("sha256="):]), body, true},
		{"sha1 prefix", "sha1=" + header[len("sha256="):], body, false},
		{"no prefix", header[len("sha256="):], body, false},
		{"truncated", header[:len(header)-2], body, false},
	}
	for _, c := range checks {
		if got := verify(c.sig, c.payload); got != c.ok {
			t.Errorf("%s: verified %v, want %v", c.name, got, c.ok)
		}
	}
}

// TestGitHubTestVectorOverHTTP sends the documented vector through the
// endpoint: it passes verification, and then is not a usable event.
func TestGitHubTestVectorOverHTTP(t *testing.T) {
	t.Parallel()
	h, err := New(Options{GitHubSecret: "It's a Secret to Everybody", DisableGitLab: true, Queue: failQueue{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	d := delivery{path: GitHubPath, body: []byte("Hello, World!"), header: http.Header{}}
	d.header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	d.header.Set("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	d.header.Set("X-GitHub-Event", "ping")
	expectAnswer(t, sendTo(t, srv.URL, d), http.StatusAccepted, "reason", "event type ping not used")
	d.header.Set("X-GitHub-Event", "push")
	expectAnswer(t, sendTo(t, srv.URL, d), http.StatusBadRequest, "error",
		"malformed push payload: the payload is not a JSON object")
}
