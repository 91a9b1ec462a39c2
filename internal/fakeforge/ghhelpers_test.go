package fakeforge

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-github/v82/github"
	"github.com/shurcooL/githubv4"
)

// ghClient is the real go-github client pointed at the forge's GitHub
// API, authenticated with token.
func ghClient(t testing.TB, f *Forge, token string) *github.Client {
	t.Helper()
	c, err := github.NewClient(nil).WithAuthToken(token).WithEnterpriseURLs(f.URL()+"/api/v3/", f.URL()+"/api/uploads/")
	if err != nil {
		t.Fatalf("go-github client: %v", err)
	}
	return c
}

// ghForge is a forge whose GitHub Actions run on car branches.
func ghForge(t *testing.T, mutate func(*Options)) *Forge {
	t.Helper()
	return newForge(t, func(o *Options) {
		o.GitHub.Actions = Actions{Branches: []string{"trainyard/**"}, Checks: []string{"ci/test", "ci/lint"}}
		if mutate != nil {
			mutate(o)
		}
	})
}

// waitRun waits until the workflow runs on sha reach status and returns
// them, newest first.
func waitRun(t *testing.T, f *Forge, sha, status string) []WorkflowRun {
	t.Helper()
	var runs []WorkflowRun
	waitFor(t, "workflow run "+status, func() bool {
		var err error
		runs, err = f.WorkflowRuns(project1, sha)
		if err != nil {
			t.Fatal(err)
		}
		return len(runs) > 0 && runs[0].Status == status
	})
	return runs
}

func pushCar(t *testing.T, f *Forge, branch string, files map[string]string) string {
	t.Helper()
	sha, err := f.PushBranch(context.Background(), project1, branch, "trainbot", Commit{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// gqlClient is the real GitHub GraphQL client pointed at the forge,
// authenticated with token; with preview, it asks for the merge info
// preview that mergeStateStatus needs.
func gqlClient(t testing.TB, f *Forge, token string, preview bool) *githubv4.Client {
	t.Helper()
	return githubv4.NewEnterpriseClient(f.URL()+"/api/graphql", &http.Client{Transport: headers{
		"Authorization": "Bearer " + token, "Accept": map[bool]string{true: ghMergeInfoPreview, false: "application/json"}[preview],
	}})
}

// headers is a transport that sets headers on every request.
type headers map[string]string

func (h headers) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// addUser gives username a token and level on project1.
func addUser(t *testing.T, f *Forge, username, token string, level int) {
	t.Helper()
	f.AddToken(username, token)
	if err := f.SetAccess(project1, username, level); err != nil {
		t.Fatal(err)
	}
}
