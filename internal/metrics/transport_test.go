package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
)

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// answering is a transport that answers every request with code, or
// fails it when code is 0.
func answering(code int) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if code == 0 {
			return nil, errors.New("connection refused")
		}
		return &http.Response{StatusCode: code, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	})
}

func byPath(r *http.Request) string { return r.Method + " " + r.URL.Path }

func TestForgeTransportCountsAndTimesEveryRequest(t *testing.T) {
	m, reg := newMetrics(t)
	ctx := context.Background()
	send := func(tr http.RoundTripper, method, url string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
	}
	send(m.ForgeTransport("gitlab", byPath, answering(200)), "GET", "https://gl.example/a")
	send(m.ForgeTransport("gitlab", byPath, answering(200)), "GET", "https://gl.example/a")
	send(m.ForgeTransport("gitlab", byPath, answering(404)), "GET", "https://gl.example/a")
	send(m.ForgeTransport("gitlab", byPath, answering(0)), "POST", "https://gl.example/b")
	send(m.ForgeTransport("github", byPath, answering(503)), "GET", "https://gh.example/a")
	want := `
# HELP trainyard_forge_requests_total HTTP requests to a forge's API, by forge, operation and status code (error when no answer came).
# TYPE trainyard_forge_requests_total counter
trainyard_forge_requests_total{code="200",forge="gitlab",op="GET /a"} 2
trainyard_forge_requests_total{code="404",forge="gitlab",op="GET /a"} 1
trainyard_forge_requests_total{code="error",forge="gitlab",op="POST /b"} 1
trainyard_forge_requests_total{code="503",forge="github",op="GET /a"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "trainyard_forge_requests_total"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		forge, op string
		n         uint64
	}{{"gitlab", "GET /a", 3}, {"gitlab", "POST /b", 1}, {"github", "GET /a", 1}} {
		if h := histogram(t, reg, "trainyard_forge_request_duration_seconds", map[string]string{"forge": tc.forge, "op": tc.op}); h.GetSampleCount() != tc.n {
			t.Errorf("duration count{%s %s} = %d, want %d", tc.forge, tc.op, h.GetSampleCount(), tc.n)
		}
	}
}

// TestForgeTransportUnderTheGitLabClient runs the real GitLab client
// through the instrumented transport: a retried request counts once per
// attempt, with its code.
func TestForgeTransportUnderTheGitLabClient(t *testing.T) {
	var mrCalls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch path := r.URL.EscapedPath(); {
		case r.Method == "GET" && path == "/api/v4/projects/acme%2Fwidgets/merge_requests/12":
			if mrCalls.Add(1) == 1 {
				w.WriteHeader(http.StatusBadGateway)
				fmt.Fprint(w, `{"message":"bad gateway"}`)
				return
			}
			fmt.Fprint(w, `{"iid":12,"state":"opened","sha":"4f2a9c1e","source_branch":"feature","target_branch":"main"}`)
		case r.Method == "POST" && path == "/api/v4/projects/acme%2Fwidgets/merge_requests/12/notes":
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"id":1,"body":"hello"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"404 Not Found"}`)
		}
	}))
	defer srv.Close()
	m, reg := newMetrics(t)
	c, err := gitlab.New(gitlab.Options{BaseURL: srv.URL, Token: "glpat-test", BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond,
		Transport: m.ForgeTransport("gitlab", gitlab.Route, nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if mr, err := c.MergeRequest(ctx, "acme/widgets", 12); err != nil || mr.HeadSHA != "4f2a9c1e" {
		t.Fatalf("MergeRequest = %+v, %v", mr, err)
	}
	if err := c.Comment(ctx, "acme/widgets", 12, "hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BranchHead(ctx, "acme/widgets", "trainyard/main/1"); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("BranchHead of a missing branch: %v", err)
	}
	want := `
# HELP trainyard_forge_requests_total HTTP requests to a forge's API, by forge, operation and status code (error when no answer came).
# TYPE trainyard_forge_requests_total counter
trainyard_forge_requests_total{code="200",forge="gitlab",op="GET /projects/:project/merge_requests/:iid"} 1
trainyard_forge_requests_total{code="502",forge="gitlab",op="GET /projects/:project/merge_requests/:iid"} 1
trainyard_forge_requests_total{code="201",forge="gitlab",op="POST /projects/:project/merge_requests/:iid/notes"} 1
trainyard_forge_requests_total{code="404",forge="gitlab",op="GET /projects/:project/repository/branches/:branch"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "trainyard_forge_requests_total"); err != nil {
		t.Fatal(err)
	}
	h := histogram(t, reg, "trainyard_forge_request_duration_seconds", map[string]string{"forge": "gitlab", "op": "GET /projects/:project/merge_requests/:iid"})
	if h.GetSampleCount() != 2 {
		t.Fatalf("%d timings of the merge request reads, want 2", h.GetSampleCount())
	}
}

// TestForgeTransportUnderTheGitHubClient: the GitHub client's refs-API
// fast-forward, which no engine.Forge method covers, is counted like any
// other request.
func TestForgeTransportUnderTheGitHubClient(t *testing.T) {
	const old, next = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch path := r.URL.EscapedPath(); {
		case r.Method == "GET" && path == "/api/v3/repos/acme/widgets/git/ref/heads/main":
			fmt.Fprintf(w, `{"ref":"refs/heads/main","object":{"type":"commit","sha":%q}}`, old)
		case r.Method == "PATCH" && path == "/api/v3/repos/acme/widgets/git/refs/heads/main":
			fmt.Fprintf(w, `{"ref":"refs/heads/main","object":{"type":"commit","sha":%q}}`, next)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"Not Found"}`)
		}
	}))
	defer srv.Close()
	m, reg := newMetrics(t)
	c, err := github.New(github.Options{BaseURL: srv.URL, Token: "ghp_test", BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond,
		Transport: m.ForgeTransport("github", github.Route, nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res, err := c.FastForward(ctx, "acme/widgets", "main", old, next); err != nil || res.Head != next {
		t.Fatalf("FastForward = %+v, %v", res, err)
	}
	if _, err := c.MergeRequest(ctx, "acme/widgets", 9); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("MergeRequest of a missing pull request: %v", err)
	}
	want := `
# HELP trainyard_forge_requests_total HTTP requests to a forge's API, by forge, operation and status code (error when no answer came).
# TYPE trainyard_forge_requests_total counter
trainyard_forge_requests_total{code="200",forge="github",op="GET /repos/:owner/:repo/git/ref/heads/:branch"} 1
trainyard_forge_requests_total{code="200",forge="github",op="PATCH /repos/:owner/:repo/git/refs/heads/:branch"} 1
trainyard_forge_requests_total{code="404",forge="github",op="GET /repos/:owner/:repo/pulls/:number"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "trainyard_forge_requests_total"); err != nil {
		t.Fatal(err)
	}
}
