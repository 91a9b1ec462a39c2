package engine_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/train"
)

// runUntilRunning hands the train resyncs until its only car's pipeline
// runs, and returns the car.
func (e *env) runUntilRunning() train.Car {
	e.t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		tr, err := e.eng.Train(e.ctx, e.key)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(tr.Cars) == 1 && tr.Cars[0].State == train.StateRunning {
			return tr.Cars[0]
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the car never ran: %+v", tr.Cars)
		}
		if err := e.eng.Handle(e.ctx, e.key, train.Resync{}); err != nil && !errors.Is(err, engine.ErrBusy) {
			e.t.Fatal(err)
		}
	}
}

func TestGitLabAddWaitsForApprovals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	if err := e.ff.SetApprovalsRequired(project, 2); err != nil {
		t.Fatal(err)
	}
	a := e.mr(1, nil)
	if err := e.add(a, "alice"); !errors.Is(err, engine.ErrRefused) {
		t.Fatalf("add of an unapproved MR = %v, want a refusal", err)
	}
	e.requireNote(a, "This merge request cannot join the merge train for `main` yet: it needs 2 more approvals. Add it again once the merge rules allow it.")
	if err := e.ff.Approve(e.ctx, project, a, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Add(e.ctx, engine.Request{Forge: "gitlab", Project: project, MR: a, UserID: e.users["alice"].ID, Username: "alice", Event: "again"}); !errors.Is(err, engine.ErrRefused) {
		t.Fatalf("add with one approval of two = %v, want a refusal", err)
	}
	e.requireNote(a, "it needs 1 more approval.")
	if err := e.ff.Approve(e.ctx, project, a, "mia"); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Add(e.ctx, engine.Request{Forge: "gitlab", Project: project, MR: a, UserID: e.users["alice"].ID, Username: "alice", Event: "third"}); err != nil {
		t.Fatalf("add of an approved MR: %v", err)
	}
	e.run()
	e.requireMerged(a)
	e.checkTestedHistory()
}

// TestGitLabRevokedApprovalStopsTheMerge: the rules are read again right
// before the fast-forward; an approval revoked while the pipeline ran
// evicts the car with the forge's reason, and main does not move.
func TestGitLabRevokedApprovalStopsTheMerge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	if err := e.ff.SetApprovalsRequired(project, 1); err != nil {
		t.Fatal(err)
	}
	a := e.mr(1, nil)
	if err := e.ff.Approve(e.ctx, project, a, "bob"); err != nil {
		t.Fatal(err)
	}
	e.addAll(a)
	c := e.runUntilRunning()
	if err := e.ff.Unapprove(e.ctx, project, a, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := e.ff.FinishPipeline(e.ctx, c.Pipeline, "success"); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Handle(e.ctx, e.key, train.PipelineStatus{Pipeline: c.Pipeline, SHA: c.Commit, Status: train.PipelineSuccess}); err != nil {
		t.Fatal(err)
	}
	if h := e.head(); h != e.base {
		t.Fatalf("main moved to %.12s although !%d lost its approval", h, a)
	}
	e.requireNote(a, "Removed from the merge train for `main`: the merge rules no longer allow it to merge: it needs 1 more approval.")
	if s := e.mrState(a).State; s != "opened" {
		t.Errorf("!%d is %s, want opened", a, s)
	}
	hist, err := e.eng.History(e.ctx, e.key, 10)
	if err != nil || len(hist) != 1 || hist[0].Reason == nil || hist[0].Reason.Code != train.ReasonMergeRules {
		t.Fatalf("history %+v, %v; want !%d evicted for the merge rules", hist, err, a)
	}
	e.requireIdle()
}

// TestGitLabRulesStillCheckingAreReadAgain: GitLab's "checking" is read
// again with a bounded wait; past it the add fails to be retried later,
// and nobody is told anything yet.
func TestGitLabRulesStillCheckingAreReadAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	a, b := e.mr(1, nil), e.mr(2, nil)
	if err := e.ff.SetMergeStatus(project, a, "checking", 2); err != nil {
		t.Fatal(err)
	}
	e.addAll(a)
	if got := e.cars(); len(got) != 1 || got[0] != a {
		t.Fatalf("cars = %v, want !%d added once GitLab finished checking", got, a)
	}
	if err := e.ff.SetMergeStatus(project, b, "unchecked", 0); err != nil {
		t.Fatal(err)
	}
	notes := len(e.notesOf(b))
	if err := e.add(b, "alice"); !errors.Is(err, engine.ErrRulesPending) {
		t.Fatalf("add while GitLab keeps checking = %v, want ErrRulesPending", err)
	}
	if n := len(e.notesOf(b)); n != notes {
		t.Fatalf("%d notes posted for an add that will be retried", n-notes)
	}
}

// TestGitLabUnresolvedThreadsAndRequestedChangesRefuse names what is
// missing, each on its own.
func TestGitLabUnresolvedThreadsAndRequestedChangesRefuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	if err := e.ff.SetRequireResolvedDiscussions(project, true); err != nil {
		t.Fatal(err)
	}
	a, b := e.mr(1, nil), e.mr(2, nil)
	thread, err := e.ff.StartDiscussion(e.ctx, project, a, "bob", "Why this?")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.add(a, "alice"); !errors.Is(err, engine.ErrRefused) {
		t.Fatalf("add with an open thread = %v", err)
	}
	e.requireNote(a, "cannot join the merge train for `main` yet: it has unresolved threads.")
	if err := e.ff.RequestChanges(e.ctx, project, b, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := e.add(b, "alice"); !errors.Is(err, engine.ErrRefused) {
		t.Fatalf("add with changes requested = %v", err)
	}
	e.requireNote(b, "cannot join the merge train for `main` yet: a reviewer requested changes.")
	if err := e.ff.ResolveDiscussion(e.ctx, project, a, thread, "bob", true); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Add(e.ctx, engine.Request{Forge: "gitlab", Project: project, MR: a, UserID: e.users["alice"].ID, Username: "alice", Event: "resolved"}); err != nil {
		t.Fatalf("add once the thread is resolved: %v", err)
	}
	if got := e.cars(); len(got) != 1 || got[0] != a {
		t.Fatalf("cars = %v, want [%d]", got, a)
	}
}

// TestMergeRulesNoneMergesWhatTheForgeWouldRefuse is the unsafe setting
// doing what it says.
func TestMergeRulesNoneMergesWhatTheForgeWouldRefuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ignoreRules: true})
	if err := e.ff.SetApprovalsRequired(project, 1); err != nil {
		t.Fatal(err)
	}
	a := e.mr(1, nil)
	e.addAll(a)
	e.run()
	e.requireMerged(a)
}

func TestGitHubReviewsAreRequiredAndReadBeforeTheMerge(t *testing.T) {
	t.Parallel()
	e := newGitHubEnvWith(t, train.Settings{}, fakeforge.CI{Manual: true}, nil)
	if err := e.ff.SetBranchProtection(project, "main", fakeforge.BranchProtection{RequiredApprovingReviews: 1}); err != nil {
		t.Fatal(err)
	}
	pr := e.mr(1, nil)
	if err := e.add(pr, "alice"); !errors.Is(err, engine.ErrRefused) {
		t.Fatalf("add of an unreviewed pull request = %v, want a refusal", err)
	}
	e.requireNote(pr, "This merge request cannot join the merge train for `main` yet: it needs 1 approving review. Add it again once the merge rules allow it.")
	if err := e.ff.Review(e.ctx, project, pr, "bob", fakeforge.ReviewApproved, "LGTM"); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Add(e.ctx, engine.Request{Forge: "github", Project: project, MR: pr, UserID: e.users["alice"].ID, Username: "alice", Event: "approved"}); err != nil {
		t.Fatalf("add of an approved pull request: %v", err)
	}
	c := e.runUntilRunning()
	if err := e.ff.Review(e.ctx, project, pr, "bob", fakeforge.ReviewChangesRequested, "Wait, no."); err != nil {
		t.Fatal(err)
	}
	runs, err := e.ff.WorkflowRuns(project, c.Commit)
	if err != nil || len(runs) == 0 {
		t.Fatalf("workflow runs of %.12s: %v, %v", c.Commit, runs, err)
	}
	for _, r := range runs {
		if err := e.ff.FinishWorkflowRun(project, r.ID, "success"); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(time.Minute); len(e.cars()) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the car stayed: %v", e.cars())
		}
		if err := e.eng.Sweep(e.ctx, e.key); err != nil && !errors.Is(err, engine.ErrBusy) {
			t.Fatal(err)
		}
	}
	if h := e.head(); h != e.base {
		t.Fatalf("main moved to %.12s although changes were requested", h)
	}
	e.requireNote(pr, "Removed from the merge train for `main`: the merge rules no longer allow it to merge: @bob requested changes.")
}

// TestCommentDeliveredTwiceIsAnsweredOnce: two deliveries of one comment
// (GitLab re-sending under a new id, or a delivery and the catch-up) run
// the command once and answer once.
func TestCommentDeliveredTwiceIsAnsweredOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	a := e.mr(1, nil)
	n, err := e.ff.AddNote(e.ctx, project, a, "alice", "/train add")
	if err != nil {
		t.Fatal(err)
	}
	u := e.users["alice"]
	for _, id := range []string{"delivery-1", "delivery-2", "catch-up:1"} {
		ev := event.Event{ID: id, Forge: "gitlab", Project: project, Kind: event.KindComment, MR: a,
			User: event.User{ID: u.ID, Username: u.Username}, CommentID: n.ID, Body: n.Body}
		if err := e.eng.Dispatch(e.ctx, ev); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	added := 0
	for _, body := range e.notesOf(a) {
		added += strings.Count(body, "Added to the merge train")
	}
	if added != 1 || len(e.cars()) != 1 {
		t.Fatalf("%d replies and cars %v, want one of each; notes %q", added, e.cars(), e.notesOf(a))
	}
}

// TestStrangersGetOneFixedLine: below min_access, every command, valid or
// not, gets the same line once per merge request, and none of the
// author's words.
func TestStrangersGetOneFixedLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	a := e.mr(1, nil)
	before := len(e.notesOf(a))
	for i, body := range []string{"/train add --method `@alice` <b>x</b>", "/train frobnicate [x](http://evil)", "/train add"} {
		if err := e.comment("s"+string(rune('0'+i)), a, "rita", body); err != nil {
			t.Fatal(err)
		}
	}
	notes := e.notesOf(a)[before:]
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "Using the merge train needs developer access or higher to group/app.") {
		t.Fatalf("notes %q, want the one fixed line", notes)
	}
	for _, bad := range []string{"@alice", "evil", "<b>", "frobnicate"} {
		if strings.Contains(notes[0], bad) {
			t.Errorf("the reply repeats %q", bad)
		}
	}
	if len(e.cars()) != 0 {
		t.Fatalf("cars %v", e.cars())
	}
}

// TestPauseAndResumeByComment: a maintainer pauses and resumes the train
// of the MR's branch; a developer may not.
func TestPauseAndResumeByComment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	a, b := e.mr(1, nil), e.mr(2, nil)
	if err := e.comment("p0", a, "mia", "/train pause"); err != nil {
		t.Fatal(err)
	}
	e.requireNote(a, "There is no merge train for `main` yet.")
	e.addAll(a)
	if err := e.comment("p1", b, "alice", "/train pause"); err != nil {
		t.Fatal(err)
	}
	e.requireNote(b, "Pausing or resuming the merge train needs maintainer access or higher to group/app.")
	if tr, _ := e.eng.Train(e.ctx, e.key); tr.Paused {
		t.Fatalf("a developer paused the train")
	}
	if err := e.comment("p2", b, "mia", "/train pause"); err != nil {
		t.Fatal(err)
	}
	e.requireNote(b, "Paused the merge train for `main`: nothing new starts or merges until `/train resume`; pipelines already running go on.")
	if tr, _ := e.eng.Train(e.ctx, e.key); !tr.Paused {
		t.Fatalf("the train is not paused")
	}
	if err := e.comment("p3", b, "mia", "/train resume"); err != nil {
		t.Fatal(err)
	}
	e.requireNote(b, "Resumed the merge train for `main`.")
	if tr, _ := e.eng.Train(e.ctx, e.key); tr.Paused {
		t.Fatalf("the train is still paused")
	}
	// Once more: the train is not paused, and the reply says so rather
	// than claim a change.
	if err := e.comment("p4", b, "mia", "/train resume"); err != nil {
		t.Fatal(err)
	}
	e.requireNote(b, "The merge train for `main` is not paused; nothing changed.")
	if err := e.comment("p5", b, "mia", "/train unfreeze"); err != nil {
		t.Fatal(err)
	}
	e.requireNote(b, "The merge train for `main` is not frozen; nothing changed.")
	if tr, _ := e.eng.Train(e.ctx, e.key); tr.Paused || tr.Frozen != nil {
		t.Fatalf("train paused %v, frozen %+v after commands that change nothing", tr.Paused, tr.Frozen)
	}
}

// A pull request stacked on another's branch merges into main with it,
// so main's required reviews hold for it too, though GitHub judges it by
// the branch it targets, which requires none.
func TestGitHubStackedPullRequestMeetsTheRootsRules(t *testing.T) {
	t.Parallel()
	e := newGitHubEnvWith(t, train.Settings{}, fakeforge.CI{Manual: true}, nil)
	if err := e.ff.SetBranchProtection(project, "main", fakeforge.BranchProtection{RequiredApprovingReviews: 1}); err != nil {
		t.Fatal(err)
	}
	base := e.mr(1, nil)
	if err := e.ff.Review(e.ctx, project, base, "bob", fakeforge.ReviewApproved, "ok"); err != nil {
		t.Fatal(err)
	}
	e.addAll(base)
	m, err := e.ff.CreateMR(e.ctx, project, fakeforge.MRSpec{Source: "feature-2", Target: "feature-1", Title: "Stacked", Author: "alice",
		Commits: []fakeforge.Commit{{Message: "Stacked", Files: map[string]string{"stacked.txt": "x\n"}}}})
	if err != nil {
		t.Fatal(err)
	}
	stacked := m.IID
	if err := e.add(stacked, "alice"); !errors.Is(err, engine.ErrRefused) {
		t.Fatalf("add of the unreviewed stacked pull request: %v, want refused", err)
	}
	e.requireNote(stacked, "This merge request cannot join the merge train for `main` yet: it needs 1 approving review for `main`. Add it again once the merge rules allow it.")
	if cars := e.cars(); !slices.Equal(cars, []int64{base}) {
		t.Fatalf("cars %v, want only !%d", cars, base)
	}
	// Approved by a writer, as main asks, it joins behind the one it
	// sits on.
	if err := e.ff.Review(e.ctx, project, stacked, "bob", fakeforge.ReviewApproved, "ok"); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Add(e.ctx, engine.Request{Forge: e.key.Forge, Project: project, MR: stacked,
		UserID: e.users["alice"].ID, Username: "alice", Event: "add-again"}); err != nil {
		t.Fatal(err)
	}
	if cars := e.cars(); !slices.Equal(cars, []int64{base, stacked}) {
		t.Fatalf("cars %v, want !%d then !%d", cars, base, stacked)
	}
}

// With branch checks off (a required check that runs on pull requests
// only, such as a CLA), a pull request whose own run of that check failed
// is refused, as GitHub would refuse to merge it; once it passes there,
// the pull request joins and merges.
func TestGitHubRequiredCheckOfThePullRequestItself(t *testing.T) {
	t.Parallel()
	e := newGitHubEnvOn(t, train.Settings{}, fakeforge.CI{Duration: 40 * time.Millisecond}, nil, ghEnvOptions{client: func(o *github.Options) {
		o.IgnoreBranchChecks = true
	}})
	if err := e.ff.SetBranchProtection(project, "main", fakeforge.BranchProtection{RequiredStatusChecks: []string{"cla/check"}}); err != nil {
		t.Fatal(err)
	}
	pr := e.mr(1, nil)
	if _, err := e.ff.SetCheckRun(project, e.mrState(pr).SHA, "cla-app", "cla/check", fakeforge.CheckCompleted, fakeforge.ConclusionFailure); err != nil {
		t.Fatal(err)
	}
	if err := e.add(pr, "alice"); !errors.Is(err, engine.ErrRefused) {
		t.Fatalf("add with the required check failed on the head: %v, want refused", err)
	}
	e.requireNote(pr, "This merge request cannot join the merge train for `main` yet: its required check `cla/check` failed on its head. Add it again once the merge rules allow it.")
	if _, err := e.ff.SetCheckRun(project, e.mrState(pr).SHA, "cla-app", "cla/check", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Add(e.ctx, engine.Request{Forge: e.key.Forge, Project: project, MR: pr,
		UserID: e.users["alice"].ID, Username: "alice", Event: "add-again"}); err != nil {
		t.Fatal(err)
	}
	e.run()
	if st := e.mrState(pr).State; st != "merged" {
		t.Fatalf("!%d is %s, want merged", pr, st)
	}
}
