package github

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// onMain is a context for the cars of main's train.
func onMain() context.Context { return forge.ForBranch(context.Background(), "main") }

func pipelineOnMain(t *testing.T, c *Client, id int64, want train.PipelineState, when string) {
	t.Helper()
	p, err := c.Pipeline(onMain(), project, id)
	if err != nil || p.Status != want {
		t.Fatalf("%s: pipeline %+v, %v; want %s", when, p, err, want)
	}
}

// A ruleset requires ext/scan of one app: with nothing configured, a car
// whose Actions runs passed waits for it. Neither another app's run of
// that name nor a trusted user's status counts, only the app the ruleset
// names does, though the configuration trusts Actions alone. Every check
// reported still counts too: a failed Actions job fails a car whose
// ext/scan passed.
func TestBranchRulesetRequiresAnAppsCheck(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	scanner := f.AppID("scanner")
	if err := f.SetBranchStatusChecks(project, "main", []fakeforge.RuleStatusCheck{{Context: "ci/test"}, {Context: "ext/scan", IntegrationID: scanner}}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, f, func(o *Options) { o.RequiredChecks, o.StatusCreators = nil, []string{"jenkins-bot"} })
	finish := func(sha, conclusion string) {
		t.Helper()
		runs, err := f.WorkflowRuns(project, sha)
		if err != nil || len(runs) != 1 {
			t.Fatalf("workflow runs: %+v, %v", runs, err)
		}
		if err := f.FinishWorkflowRun(project, runs[0].ID, conclusion); err != nil {
			t.Fatal(err)
		}
	}
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	p, err := c.CreatePipeline(onMain(), project, car, nil)
	if err != nil {
		t.Fatal(err)
	}
	finish(sha, fakeforge.ConclusionSuccess)
	pipelineOnMain(t, c, p.ID, train.PipelineRunning, "Actions passed, ext/scan missing")
	// Without the branch, as before: every check reported, all passed.
	pipelineIs(t, c, p.ID, train.PipelineSuccess, "no branch named")

	if _, err := f.SetCheckRun(project, sha, "evil-ci", "ext/scan", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCommitStatus(project, sha, "ext/scan", "success", "jenkins-bot"); err != nil {
		t.Fatal(err)
	}
	pipelineOnMain(t, c, p.ID, train.PipelineRunning, "ext/scan from another app and as a status")

	if _, err := f.SetCheckRun(project, sha, "scanner", "ext/scan", fakeforge.CheckCompleted, fakeforge.ConclusionFailure); err != nil {
		t.Fatal(err)
	}
	pipelineOnMain(t, c, p.ID, train.PipelineFailed, "the expected app failed ext/scan")
	if _, err := f.SetCheckRun(project, sha, "scanner", "ext/scan", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	pipelineOnMain(t, c, p.ID, train.PipelineSuccess, "the expected app passed ext/scan")

	other := pushCar(t, f, "trainyard/main/2", map[string]string{"x/BROKEN": "x"})
	finish(other, fakeforge.ConclusionFailure)
	if _, err := f.SetCheckRun(project, other, "scanner", "ext/scan", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	pipelineOnMain(t, c, mustID(t, other, 1), train.PipelineFailed, "ext/scan passed, an Actions job failed")

	// A project that turns the branch's checks off is back to every
	// check reported.
	off := newClient(t, f, func(o *Options) { o.RequiredChecks, o.IgnoreBranchChecks = nil, true })
	calls := counting(f)
	sha3 := pushCar(t, f, "trainyard/main/3", map[string]string{"t": "t"})
	finish(sha3, fakeforge.ConclusionSuccess)
	pipelineOnMain(t, off, mustID(t, sha3, 1), train.PipelineSuccess, "branch checks off")
	if got := calls.since()["POST /api/graphql"]; got != 0 {
		t.Fatalf("read the branch's rules %d times with branch checks off", got)
	}
}

// Classic protection's required contexts add to the configured checks;
// what a branch requires is read once, until it is five minutes old.
func TestBranchProtectionAddsRequiredChecks(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	if err := f.SetBranchProtection(project, "main", fakeforge.BranchProtection{RequiredStatusChecks: []string{"ci/test"}}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, f, func(o *Options) { o.RequiredChecks, o.CheckApps = []string{"ci/lint"}, []string{"buildkite"} })
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	if _, err := f.SetCheckRun(project, sha, "buildkite", "ci/lint", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	calls := counting(f)
	pipelineOnMain(t, c, mustID(t, sha, 1), train.PipelineRunning, "ci/lint passed, ci/test required by the branch")
	if got := calls.since()["POST /api/graphql"]; got != 1 {
		t.Fatalf("%d GraphQL queries for the branch's checks, want 1", got)
	}
	if _, err := f.SetCheckRun(project, sha, "buildkite", "ci/test", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	pipelineOnMain(t, c, mustID(t, sha, 1), train.PipelineSuccess, "both passed")
	if got := calls.since()["POST /api/graphql"]; got != 0 {
		t.Fatalf("%d GraphQL queries the second time, want 0", got)
	}
	b, ok := c.branches.get(branchKey(project, "main"))
	if !ok || !reflect.DeepEqual(b.checks, []string{"ci/test"}) {
		t.Fatalf("main's checks: %+v, %v", b, ok)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A branch whose rules cannot be read leaves cars to their configured
// checks, rather than stopping the train, and is read again later.
func TestBranchRulesUnreadable(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	if err := f.SetBranchProtection(project, "main", fakeforge.BranchProtection{RequiredStatusChecks: []string{"ci/test"}}); err != nil {
		t.Fatal(err)
	}
	var broken atomic.Bool
	broken.Store(true)
	c := newClient(t, f, func(o *Options) {
		o.RequiredChecks, o.CheckApps = []string{"ci/lint"}, []string{"buildkite"}
		// A server without the fields answers GraphQL's errors.
		o.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
			if broken.Load() && strings.HasSuffix(r.URL.Path, "/graphql") {
				body := `{"errors":[{"message":"Field 'rules' doesn't exist on type 'Ref'"}]}`
				return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
			}
			return http.DefaultTransport.RoundTrip(r)
		})
	})
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	if _, err := f.SetCheckRun(project, sha, "buildkite", "ci/lint", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	pipelineOnMain(t, c, mustID(t, sha, 1), train.PipelineSuccess, "branch unreadable: the configured checks")
	broken.Store(false)
	pipelineOnMain(t, c, mustID(t, sha, 1), train.PipelineSuccess, "within a minute of the failed read")
	c.branches.put(branchKey(project, "main"), branchRules{at: time.Now().Add(-c.branchTTL)})
	pipelineOnMain(t, c, mustID(t, sha, 1), train.PipelineRunning, "branch read again: ci/test required")
}

// Any other failure to read a branch never read is an error: the car's
// checks are read again later rather than judged without the branch's.
func TestBranchRulesFailingReadIsAnError(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	c := newClient(t, f, func(o *Options) {
		o.RequiredChecks, o.CheckApps, o.MaxWait = []string{"ci/lint"}, []string{"buildkite"}, 20*time.Millisecond
		o.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
			if strings.HasSuffix(r.URL.Path, "/graphql") {
				return &http.Response{StatusCode: http.StatusBadGateway, Header: http.Header{"Content-Type": {"text/plain"}},
					Body: io.NopCloser(strings.NewReader("bad gateway")), Request: r}, nil
			}
			return http.DefaultTransport.RoundTrip(r)
		})
	})
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	if _, err := f.SetCheckRun(project, sha, "buildkite", "ci/lint", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	if p, err := c.Pipeline(onMain(), project, mustID(t, sha, 1)); err == nil {
		t.Fatalf("pipeline %+v with the branch's rules unreadable, want an error", p)
	}
}
