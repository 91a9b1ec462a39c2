package gitlab

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

func TestRoute(t *testing.T) {
	for _, tc := range []struct {
		method, url, want string
	}{
		{"GET", "https://gitlab.example/api/v4/projects/acme%2Fwidgets/merge_requests/12", "GET /projects/:project/merge_requests/:iid"},
		{"PUT", "https://gitlab.example/api/v4/projects/7/merge_requests/12", "PUT /projects/:project/merge_requests/:iid"},
		{"GET", "https://gitlab.example/api/v4/projects/acme%2Fwidgets/merge_requests?state=opened&page=2", "GET /projects/:project/merge_requests"},
		{"POST", "https://gitlab.example/api/v4/projects/acme%2Fwidgets/merge_requests/12/notes", "POST /projects/:project/merge_requests/:iid/notes"},
		{"GET", "https://gitlab.example/api/v4/projects/acme%2Fwidgets/merge_requests/12/approvals", "GET /projects/:project/merge_requests/:iid/approvals"},
		{"GET", "https://gitlab.example/api/v4/projects/acme%2Fwidgets/members/all/42", "GET /projects/:project/members/all/:user"},
		{"GET", "https://gitlab.example/api/v4/users?username=alice", "GET /users"},
		{"POST", "https://gitlab.example/api/v4/projects/acme%2Fwidgets/pipeline", "POST /projects/:project/pipeline"},
		{"GET", "https://gitlab.example/api/v4/projects/acme%2Fwidgets/pipelines/981", "GET /projects/:project/pipelines/:pipeline"},
		{"POST", "https://gitlab.example/api/v4/projects/acme%2Fwidgets/pipelines/981/cancel", "POST /projects/:project/pipelines/:pipeline/cancel"},
		{"GET", "https://gitlab.example/api/v4/projects/acme%2Fwidgets/repository/branches/trainyard%2Fmain%2F3", "GET /projects/:project/repository/branches/:branch"},
		{"DELETE", "https://gitlab.example/api/v4/projects/acme%2Fwidgets/repository/branches/main", "DELETE /projects/:project/repository/branches/:branch"},
		// A relative URL root, an unknown endpoint: still no value from
		// the request.
		{"GET", "https://example.com/gitlab/api/v4/projects/3/merge_requests/3", "GET /projects/:project/merge_requests/:iid"},
		{"GET", "https://gitlab.example/api/v4/projects/acme%2Fwidgets/secret_thing/s3cr3t", "GET /projects/:project/:id/:id"},
		{"", "https://gitlab.example/api/v4/version", "GET /version"},
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

// TestTransportSeesEveryRequest: the client's requests go through
// Options.Transport, each with a route made only of GitLab's words and
// placeholders.
func TestTransportSeesEveryRequest(t *testing.T) {
	f := newForge(t, nil)
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	rs := &routes{}
	c := newClient(t, f, func(o *Options) { o.Transport = rs })
	ctx := context.Background()
	if _, err := c.MergeRequest(ctx, project, mr.IID); err != nil {
		t.Fatal(err)
	}
	if err := c.Comment(ctx, project, mr.IID, "hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Notes(ctx, project, mr.IID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BranchHead(ctx, project, "main"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /projects/:project/merge_requests/:iid",
		"POST /projects/:project/merge_requests/:iid/notes",
		"GET /projects/:project/merge_requests/:iid/notes",
		"GET /projects/:project/repository/branches/:branch",
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if !slices.Equal(rs.seen, want) {
		t.Fatalf("routes %q, want %q", rs.seen, want)
	}
}
