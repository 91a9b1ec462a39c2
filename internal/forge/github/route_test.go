package github

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestRoute(t *testing.T) {
	const api = "https://api.github.com"
	for _, tc := range []struct {
		method, url, want string
	}{
		{"GET", api + "/repos/acme/widgets/pulls/12", "GET /repos/:owner/:repo/pulls/:number"},
		{"PATCH", api + "/repos/acme/widgets/pulls/12", "PATCH /repos/:owner/:repo/pulls/:number"},
		{"POST", api + "/repos/acme/widgets/issues/12/comments", "POST /repos/:owner/:repo/issues/:number/comments"},
		{"GET", api + "/repos/acme/widgets/issues/12/comments?page=3", "GET /repos/:owner/:repo/issues/:number/comments"},
		{"GET", api + "/repos/acme/widgets/issues/comments?since=2026-01-01T00:00:00Z", "GET /repos/:owner/:repo/issues/comments"},
		{"GET", api + "/repos/acme/widgets/git/ref/heads/main", "GET /repos/:owner/:repo/git/ref/heads/:branch"},
		{"GET", api + "/repos/acme/widgets/git/ref/heads/trainyard/main/12", "GET /repos/:owner/:repo/git/ref/heads/:branch"},
		{"PATCH", api + "/repos/acme/widgets/git/refs/heads/release%2F2.0", "PATCH /repos/:owner/:repo/git/refs/heads/:branch"},
		{"GET", api + "/repos/acme/widgets/commits/4f2a9c1", "GET /repos/:owner/:repo/commits/:ref"},
		{"GET", api + "/repos/acme/widgets/commits/4f2a9c1e0b7d/check-runs?per_page=100", "GET /repos/:owner/:repo/commits/:ref/check-runs"},
		{"GET", api + "/repos/acme/widgets/commits/4f2a9c1e0b7d/status", "GET /repos/:owner/:repo/commits/:ref/status"},
		{"GET", api + "/repos/acme/widgets/actions/runs?head_sha=4f2a", "GET /repos/:owner/:repo/actions/runs"},
		{"POST", api + "/repos/acme/widgets/actions/runs/98765/cancel", "POST /repos/:owner/:repo/actions/runs/:run/cancel"},
		{"POST", api + "/repos/acme/widgets/actions/runs/98765/rerun-failed-jobs", "POST /repos/:owner/:repo/actions/runs/:run/rerun-failed-jobs"},
		{"POST", api + "/repos/acme/widgets/actions/workflows/ci.yml/dispatches", "POST /repos/:owner/:repo/actions/workflows/:workflow/dispatches"},
		{"GET", api + "/repos/acme/widgets/collaborators/alice/permission", "GET /repos/:owner/:repo/collaborators/:user/permission"},
		{"GET", api + "/user/583231", "GET /user/:id"},
		{"GET", api + "/repos/acme/widgets/rules/branches/trainyard/main/1", "GET /repos/:owner/:repo/rules/branches/:branch"},
		{"GET", api + "/repos/acme/widgets/branches/feature%2Fx/protection", "GET /repos/:owner/:repo/branches/:branch/protection"},
		{"POST", api + "/app/installations/4242/access_tokens", "POST /app/installations/:installation/access_tokens"},
		{"POST", api + "/graphql", "POST /graphql"},
		// GitHub Enterprise Server, under a path of its own or not.
		{"GET", "https://ghe.example/api/v3/repos/acme/widgets/pulls/3", "GET /repos/:owner/:repo/pulls/:number"},
		{"GET", "https://example.com/ghe/api/v3/repos/acme/widgets/pulls/3", "GET /repos/:owner/:repo/pulls/:number"},
		{"POST", "https://ghe.example/api/graphql", "POST /graphql"},
		{"POST", "https://ghe.example/api/v3/app/installations/1/access_tokens", "POST /app/installations/:installation/access_tokens"},
		// Repositories named like words, unknown endpoints: still no
		// value from the request.
		{"GET", api + "/repos/pulls/issues/pulls/1", "GET /repos/:owner/:repo/pulls/:number"},
		{"GET", api + "/repos/acme/widgets/s3cr3t/thing", "GET /repos/:owner/:repo/:id"},
		{"GET", api + "/repos/acme", "GET /repos/:id"},
		{"", api + "/", "GET /"},
	} {
		r := httptest.NewRequest(tc.method, tc.url, nil)
		if tc.method == "" {
			r.Method = ""
		}
		if got := Route(r); got != tc.want {
			t.Errorf("Route(%s %s) = %q, want %q", tc.method, tc.url, got, tc.want)
		}
	}
}

// routes records the route of every request it sees.
type routes struct {
	mu   sync.Mutex
	seen []string
}

func (rs *routes) RoundTrip(r *http.Request) (*http.Response, error) {
	rs.mu.Lock()
	rs.seen = append(rs.seen, Route(r))
	rs.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// TestTransportSeesEveryRequest: REST, GraphQL and the app's token
// requests all go through Options.Transport.
func TestTransportSeesEveryRequest(t *testing.T) {
	f, key := appForge(t, time.Hour)
	rs := &routes{}
	c := newClient(t, f, func(o *Options) {
		o.Token, o.App, o.Transport = "", &App{ID: appID, InstallationID: 7, PrivateKey: key}, rs
	})
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	if _, err := c.MergeRequest(ctx, project, mr.IID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MergeRules(ctx, project, mr.IID, ""); err != nil {
		t.Fatal(err)
	}
	base, err := f.BranchHead(ctx, project, "main")
	if err != nil {
		t.Fatal(err)
	}
	next := pushCar(t, f, car, map[string]string{"next": "1"})
	if _, err := c.FastForward(ctx, project, "main", base, next); err != nil {
		t.Fatal(err)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, want := range []string{
		"POST /app/installations/:installation/access_tokens",
		"GET /repos/:owner/:repo/pulls/:number",
		"POST /graphql",
		"GET /repos/:owner/:repo/git/ref/heads/:branch",
		"PATCH /repos/:owner/:repo/git/refs/heads/:branch",
	} {
		if !slices.Contains(rs.seen, want) {
			t.Errorf("no %s among the routes %q", want, rs.seen)
		}
	}
	if rs.seen[0] != "POST /app/installations/:installation/access_tokens" {
		t.Errorf("first request %s, want the installation token", rs.seen[0])
	}
}
