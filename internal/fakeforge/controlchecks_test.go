package fakeforge

import (
	"net/http"
	"strings"
	"testing"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

func TestControlAPIReviewsAndCheckRuns(t *testing.T) {
	f := newControlForge(t)
	mustCall(t, f, "POST", "/projects", `{"path":"acme/widgets","members":{"alice":"developer","bob":"maintainer"}}`, 201, nil)
	var mr ControlMR
	mustCall(t, f, "POST", "/projects/acme%2Fwidgets/mrs", `{"source_branch":"feature-1","author":"alice","files":{"a":"a\n"}}`, 201, &mr)

	var reviews []ReviewAnswer
	mustCall(t, f, "POST", "/projects/acme%2Fwidgets/mrs/1/reviews", `{"user":"bob","state":"changes_requested","body":"please split it"}`, 201, &reviews)
	if len(reviews) != 1 || reviews[0].User != "bob" || reviews[0].State != "changes_requested" || reviews[0].Commit != mr.SHA {
		t.Fatalf("reviews = %+v", reviews)
	}
	mustCall(t, f, "POST", "/projects/acme%2Fwidgets/mrs/1/reviews", `{"user":"bob","state":"APPROVED"}`, 201, &reviews)
	if got, _ := f.Reviews(project1, 1); len(got) != 2 || got[1].State != ReviewApproved {
		t.Fatalf("the forge's reviews = %+v", got)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"user":"alice","state":"approved"}`, "Can not approve your own pull request"},
		{`{"user":"bob","state":"maybe"}`, `state \"maybe\": want approved, changes_requested or commented`},
	} {
		if status, body := call(t, f, controlToken, "POST", "/projects/acme%2Fwidgets/mrs/1/reviews", tc.body); status < 400 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want a refusal saying %q", tc.body, status, body, tc.want)
		}
	}

	var run CheckRunAnswer
	mustCall(t, f, "POST", "/projects/acme%2Fwidgets/commits/"+mr.SHA+"/check-runs", `{"name":"lint","status":"completed","conclusion":"failure"}`, 201, &run)
	runs, err := f.CheckRuns(project1, mr.SHA)
	if err != nil || len(runs) != 1 || runs[0].ID != run.ID || runs[0].Name != "lint" || runs[0].Conclusion != ConclusionFailure {
		t.Fatalf("check runs = %+v, %v", runs, err)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"name":"lint","status":"completed"}`, "a completed check run needs one of"},
		{`{"name":"lint","status":"queued","conclusion":"success"}`, "only a completed check run has one"},
		{`{"name":"","status":"queued"}`, "name: want 1 to 100 characters"},
		{`{"name":"lint","status":"done"}`, `status \"done\"`},
		{`{"app":"Evil CI","name":"lint","status":"queued"}`, `app \"Evil CI\": want an app slug`},
	} {
		if status, body := call(t, f, controlToken, "POST", "/projects/acme%2Fwidgets/commits/"+mr.SHA+"/check-runs", tc.body); status != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want 400 saying %q", tc.body, status, body, tc.want)
		}
	}
	if status, body := call(t, f, controlToken, "POST", "/projects/acme%2Fwidgets/commits/"+strings.Repeat("0", 40)+"/check-runs", `{"name":"x","status":"queued"}`); status != http.StatusBadRequest || !strings.Contains(body, "not in acme/widgets") {
		t.Errorf("an unknown commit: %d %s", status, body)
	}

	// Statuses set through the API show under the control API too.
	c := client(t, f, botToken)
	running := gitlab.SetCommitStatusOptions{State: gitlab.Running, Name: gitlab.Ptr("trainyard"), Description: gitlab.Ptr("testing")}
	if _, _, err := c.Commits.SetCommitStatus(project1, mr.SHA, &running); err != nil {
		t.Fatal(err)
	}
	var statuses []CommitStatus
	mustCall(t, f, "GET", "/projects/acme%2Fwidgets/commits/"+mr.SHA+"/statuses", "", 200, &statuses)
	if len(statuses) != 1 || statuses[0].Name != "trainyard" || statuses[0].State != "running" || statuses[0].Description != "testing" {
		t.Fatalf("statuses = %+v", statuses)
	}
}
