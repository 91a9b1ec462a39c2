package fakeforge

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v82/github"
	gitlab "gitlab.com/gitlab-org/api/client-go"
)

func TestGitLabCommitStatusMovesAlong(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	c := client(t, f, botToken)
	set := func(state gitlab.BuildStateValue, desc string) (*gitlab.CommitStatus, error) {
		st, _, err := c.Commits.SetCommitStatus(project1, mr.SHA, &gitlab.SetCommitStatusOptions{
			State: state, Name: gitlab.Ptr("trainyard"), Ref: gitlab.Ptr("feature"),
			Description: gitlab.Ptr(desc), TargetURL: gitlab.Ptr("https://ty.example/mrs/1")})
		return st, err
	}
	first, err := set(gitlab.Pending, "waiting")
	if err != nil || first.Status != "pending" || first.Name != "trainyard" || first.Ref != "feature" || first.Author.Username != botName {
		t.Fatalf("pending: %+v, %v", first, err)
	}
	// The same state again is no move: GitLab answers 400.
	var ge *gitlab.ErrorResponse
	if _, err := set(gitlab.Pending, "again"); !errors.As(err, &ge) || ge.Response.StatusCode != http.StatusBadRequest || !strings.Contains(ge.Message, "Cannot transition status via :enqueue from :pending") {
		t.Fatalf("a repeat: %v", err)
	}
	running, err := set(gitlab.Running, "testing")
	if err != nil || running.ID != first.ID || running.StartedAt == nil {
		t.Fatalf("running: %+v, %v: want the same status moved along", running, err)
	}
	done, err := set(gitlab.Success, "merged")
	if err != nil || done.ID != first.ID || done.FinishedAt == nil {
		t.Fatalf("success: %+v, %v", done, err)
	}
	// After a final state a new status starts.
	again, err := set(gitlab.Pending, "added again")
	if err != nil || again.ID == first.ID {
		t.Fatalf("after success: %+v, %v: want a new status", again, err)
	}
	if _, _, err := c.Commits.SetCommitStatus(project1, mr.SHA, &gitlab.SetCommitStatusOptions{State: "bogus"}); !errors.As(err, &ge) || ge.Response.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad state: %v", err)
	}
	if _, resp, err := c.Commits.SetCommitStatus(project1, strings.Repeat("0", 40), &gitlab.SetCommitStatusOptions{State: gitlab.Running}); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown commit: %v", err)
	}
	list, err := f.CommitStatuses(project1, mr.SHA, "trainyard")
	if err != nil || len(list) != 2 || list[0].State != "success" || list[0].Description != "merged" || list[1].State != "pending" || list[1].TargetURL != "https://ty.example/mrs/1" {
		t.Fatalf("statuses = %+v, %v", list, err)
	}
	api, _, err := c.Commits.GetCommitStatuses(project1, mr.SHA, &gitlab.GetCommitStatusesOptions{Name: gitlab.Ptr("trainyard")})
	if err != nil || len(api) != 2 || api[1].Description != "added again" {
		t.Fatalf("listed: %+v, %v", api, err)
	}
}

func TestGitLabCommitStatusShape(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	req, _ := http.NewRequest(http.MethodPost, f.URL()+"/api/v4/projects/acme%2Fwidgets/statuses/"+mr.SHA+"?state=success&name=trainyard", nil)
	req.Header.Set("PRIVATE-TOKEN", botToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create status: %d, %v", resp.StatusCode, err)
	}
	want := loadJSON(t, "api/create_commit_status.gitlab-docs.json")
	// The docs' example predates the locked flag on users.
	skip := []string{".author.locked"}
	if d := shapeDiff("", want, got, skip); len(d) > 0 {
		t.Errorf("missing here or of another type:\n%s", strings.Join(d, "\n"))
	}
	if d := shapeDiff("", got, want, skip); len(d) > 0 {
		t.Errorf("keys GitLab does not send:\n%s", strings.Join(d, "\n"))
	}
}

func TestGitHubCheckRunsNeedAnApp(t *testing.T) {
	key, pemKey := rsaKey(t)
	f := ghForge(t, func(o *Options) { o.GitHub.App = App{ID: appID, PublicKey: &key.PublicKey, TokenTTL: time.Hour} })
	mustProject(t, f, project1, nil)
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	ctx := t.Context()
	opts := github.CreateCheckRunOptions{Name: "trainyard", HeadSHA: mr.SHA, Status: github.Ptr("in_progress"),
		DetailsURL: github.Ptr("https://ty.example/mrs/1"), Output: &github.CheckRunOutput{Title: github.Ptr("Testing"), Summary: github.Ptr("Position 1")}}
	var ge *github.ErrorResponse
	if _, _, err := ghClient(t, f, botToken).Checks.CreateCheckRun(ctx, "acme", "widgets", opts); !errors.As(err, &ge) || ge.Response.StatusCode != http.StatusForbidden {
		t.Fatalf("a personal token created a check run: %v", err)
	}
	app, _ := appClient(t, f, pemKey, DefaultInstallationID)
	run, resp, err := app.Checks.CreateCheckRun(ctx, "acme", "widgets", opts)
	if err != nil || resp.StatusCode != http.StatusCreated || run.GetStatus() != "in_progress" || run.GetDetailsURL() != "https://ty.example/mrs/1" || run.GetOutput().GetTitle() != "Testing" {
		t.Fatalf("create: %+v, %v", run, err)
	}
	if _, _, err := app.Checks.UpdateCheckRun(ctx, "acme", "widgets", run.GetID(), github.UpdateCheckRunOptions{Name: "trainyard", Status: github.Ptr("completed")}); !errors.As(err, &ge) || ge.Response.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("completed without a conclusion: %v", err)
	}
	done, _, err := app.Checks.UpdateCheckRun(ctx, "acme", "widgets", run.GetID(), github.UpdateCheckRunOptions{Name: "trainyard", Conclusion: github.Ptr("success"),
		Output: &github.CheckRunOutput{Title: github.Ptr("Merged"), Summary: github.Ptr("Merged into main")}})
	if err != nil || done.GetStatus() != "completed" || done.GetConclusion() != "success" || done.GetID() != run.GetID() {
		t.Fatalf("update: %+v, %v", done, err)
	}
	list, err := f.CommitStatuses(project1, mr.SHA, "trainyard")
	if err != nil || len(list) != 1 || list[0].State != "success" || list[0].Description != "Merged" {
		t.Fatalf("statuses = %+v, %v", list, err)
	}
}

func TestGitHubCheckRunAndCommentEditShapes(t *testing.T) {
	key, pemKey := rsaKey(t)
	f := ghForge(t, func(o *Options) { o.GitHub.App = App{ID: appID, PublicKey: &key.PublicKey, TokenTTL: time.Hour} })
	mustProject(t, f, project1, nil)
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	_, tr := appClient(t, f, pemKey, DefaultInstallationID)
	appToken, err := tr.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	body := ghSend(t, f, http.MethodPost, "/repos/acme/widgets/check-runs", appToken, http.StatusCreated,
		`{"name":"trainyard","head_sha":"`+mr.SHA+`","status":"in_progress","output":{"title":"Testing","summary":"Position 1"}}`)
	compare(t, "create check run", body, "github/create_check_run.json", []string{".check_suite", ".app.permissions", ".app.slug"})

	cm, err := f.AddNote(t.Context(), project1, mr.IID, botName, "first")
	if err != nil {
		t.Fatal(err)
	}
	body = ghSend(t, f, http.MethodPatch, "/repos/acme/widgets/issues/comments/"+itoa(cm.ID), botToken, http.StatusOK, `{"body":"second"}`)
	compare(t, "edit comment", body, "github/update_issue_comment.json", []string{".performed_via_github_app"})
	notes, _ := f.Notes(project1, mr.IID)
	if len(notes) != 1 || notes[0].Body != "second" {
		t.Fatalf("notes = %+v", notes)
	}
	// Only its author edits a comment.
	addUser(t, f, "mallory", "mallory-token", Developer)
	ghSend(t, f, http.MethodPatch, "/repos/acme/widgets/issues/comments/"+itoa(cm.ID), "mallory-token", http.StatusForbidden, `{"body":"mine"}`)
	ghSend(t, f, http.MethodPatch, "/repos/acme/widgets/issues/comments/999999", botToken, http.StatusNotFound, `{"body":"x"}`)
	ghSend(t, f, http.MethodPatch, "/repos/acme/widgets/issues/comments/"+itoa(cm.ID), botToken, http.StatusUnprocessableEntity, `{"body":""}`)
}

// ghSend makes one request of the forge's GitHub API and returns the
// body of an answer of status want.
func ghSend(t *testing.T, f *Forge, method, path, token string, want int, body string) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, f.URL()+"/api/v3"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "token "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, out, want)
	}
	return out
}

// compare holds a JSON answer to a fixture's shape both ways.
func compare(t *testing.T, what string, body []byte, fixture string, skip []string) {
	t.Helper()
	got := decodeJSON(t, body)
	want := loadJSON(t, fixture)
	if d := shapeDiff("", want, got, skip); len(d) > 0 {
		t.Errorf("%s vs %s, missing here or of another type:\n%s", what, fixture, strings.Join(d, "\n"))
	}
	if d := shapeDiff("", got, want, skip); len(d) > 0 {
		t.Errorf("%s vs %s, keys GitHub does not send:\n%s", what, fixture, strings.Join(d, "\n"))
	}
}
