package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/train"
)

// dashboardLink is the link the tests' engines give each MR's status.
func dashboardLink(k train.Key, mr int64) string {
	return fmt.Sprintf("https://trainyard.example/mrs/%s/%s/%d", k.Forge, url.PathEscape(k.Project), mr)
}

func withLink(c *engine.Config) { c.StatusLink = dashboardLink }

// statusNote returns the MR's status comment, failing unless there is
// exactly one.
func (e *env) statusNote(mr int64) string {
	e.t.Helper()
	var found []string
	for _, n := range e.notesOf(mr) {
		if strings.Contains(n, "<!-- trainyard:status ") {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		e.t.Fatalf("!%d has %d status comments, want 1: %q", mr, len(found), e.notesOf(mr))
	}
	return found[0]
}

func (e *env) headStatuses(mr int64) []fakeforge.CommitStatus {
	e.t.Helper()
	list, err := e.ff.CommitStatuses(project, e.mrState(mr).SHA, "trainyard")
	if err != nil {
		e.t.Fatal(err)
	}
	return list
}

// writes counts the forge's answers to requests that change something,
// by route.
func writes(ff *fakeforge.Forge) map[string]int {
	out := map[string]int{}
	for route, n := range ff.Calls() {
		if !strings.HasPrefix(route, "GET ") {
			out[route] += n
		}
	}
	return out
}

func TestStatusCommentAndCommitStatusFollowTheCar(t *testing.T) {
	t.Parallel()
	for _, push := range []bool{false, true} {
		for _, grace := range []bool{true, false} {
			t.Run(fmt.Sprintf("pipelines started by the push: %v, grace: %v", push, grace), func(t *testing.T) {
				t.Parallel()
				statusFollowsTheCar(t, push, grace)
			})
		}
	}
}

// statusFollowsTheCar runs four MRs through a train with fast CI. Within
// the status grace (the default) they merge before a commit status of
// their test is due, and get their outcome's alone; without it, each
// gets both.
func statusFollowsTheCar(t *testing.T, push, grace bool) {
	e := newEnv(t, envOptions{pushPipelines: push, config: func(c *engine.Config) {
		withLink(c)
		c.PushPipelineWait = 50 * time.Millisecond
		if !grace {
			c.StatusGrace = -1
		}
	}})
	var mrs []int64
	for i := 1; i <= 4; i++ {
		mrs = append(mrs, e.mr(i, nil))
	}
	e.addAll(mrs...)
	e.run()
	e.requireIdle()
	e.requireMerged(mrs...)
	for i, mr := range mrs {
		note := e.statusNote(mr)
		for _, want := range []string{
			fmt.Sprintf("Added to the merge train for `main` at position %d.", i+1),
			"Merged into `main` with ",
			"[Follow it on the dashboard](" + dashboardLink(e.key, mr) + ")",
		} {
			if !strings.Contains(note, want) {
				t.Errorf("!%d's status comment lacks %q:\n%s", mr, want, note)
			}
		}
		if n := len(e.notesOf(mr)); n != 1 {
			t.Errorf("!%d has %d notes, want only its status comment: %q", mr, n, e.notesOf(mr))
		}
		// GitLab moves one status along: pending or running, then success.
		st := e.headStatuses(mr)
		if len(st) != 1 || st[0].State != "success" || st[0].Ref != fmt.Sprintf("feature-%d", i+1) || st[0].TargetURL != dashboardLink(e.key, mr) {
			t.Errorf("!%d's head statuses = %+v, want one success linking its page", mr, st)
		}
	}
	// The happy path's writes per merged MR: the status comment posted
	// and edited once, the commit status set once within the grace and
	// twice without it, and one pipeline (or fewer, when batched) unless
	// the push started it.
	w := writes(e.ff)
	n := len(mrs)
	statuses := n
	if !grace {
		statuses = 2 * n
	}
	if got := w["POST /projects/{id}/merge_requests/{iid}/notes"]; got != n {
		t.Errorf("notes posted: %d, want %d; writes %v", got, n, w)
	}
	if got := w["PUT /projects/{id}/merge_requests/{iid}/notes/{note_id}"]; got != n {
		t.Errorf("notes edited: %d, want %d; writes %v", got, n, w)
	}
	if got := w["POST /projects/{id}/statuses/{sha}"]; got != statuses {
		t.Errorf("statuses set: %d, want %d; writes %v", got, statuses, w)
	}
	if got := w["POST /projects/{id}/pipeline"]; push && got != 0 || got > n {
		t.Errorf("pipelines: %d, want at most %d (none when the push starts them); writes %v", got, n, w)
	}
	total := 0
	for _, c := range w {
		total += c
	}
	if want := 2*n + statuses; push && total != want {
		t.Errorf("writes: %d, want %d; writes %v", total, want, w)
	}
}

func TestStatusOfAnEvictedMR(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{config: withLink})
	good := e.mr(1, nil)
	bad := e.mr(2, map[string]string{"mr-2/BROKEN": "tests fail\n"})
	e.addAll(good, bad)
	e.run()
	e.requireIdle()
	e.requireMerged(good)
	note := e.statusNote(bad)
	if !strings.Contains(note, "Added to the merge train for `main` at position 2.") || !strings.Contains(note, "Removed from the merge train for `main`: ") ||
		strings.Contains(note, "Merged") {
		t.Errorf("the evicted MR's status comment:\n%s", note)
	}
	// The eviction is a note of its own too, which notifies the author.
	notes := e.notesOf(bad)
	if len(notes) != 2 || !strings.HasPrefix(notes[1], "Removed from the merge train for `main`: ") {
		t.Errorf("notes of !%d = %q, want the status comment and the eviction", bad, notes)
	}
	st := e.headStatuses(bad)
	if len(st) != 1 || st[0].State != "failed" || !strings.HasPrefix(st[0].Description, "Evicted from the merge train for main") {
		t.Errorf("head statuses = %+v, want one failed", st)
	}
	// Added again, the same comment follows the new journey.
	if _, err := e.ff.PushToMR(e.ctx, project, bad, fakeforge.Commit{Message: "fix", Delete: []string{"mr-2/BROKEN"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.add(bad, "bob"); err != nil {
		t.Fatal(err)
	}
	e.run()
	e.requireIdle()
	e.requireMerged(bad)
	note = e.statusNote(bad)
	if !strings.Contains(note, "Merged into `main`") || strings.Contains(note, "Removed from") {
		t.Errorf("after the second try the status comment says:\n%s", note)
	}
	if st := e.headStatuses(bad); len(st) != 1 || st[0].State != "success" {
		t.Errorf("the new head's statuses = %+v, want one success", st)
	}
}

func TestGitHubStatusIsACheckRunForAnApp(t *testing.T) {
	t.Parallel()
	e := newGitHubEnvOn(t, train.Settings{}, fakeforge.CI{Duration: 40 * time.Millisecond},
		func(c *engine.Config, _ *github.Client) { withLink(c) }, ghEnvOptions{app: true})
	prs := []int64{e.mr(1, nil), e.mr(2, nil)}
	e.addAll(prs...)
	e.run()
	e.requireIdle()
	e.requireMerged(prs...)
	for _, pr := range prs {
		if note := e.statusNote(pr); !strings.Contains(note, "Merged into `main`") || !strings.Contains(note, dashboardLink(e.key, pr)) {
			t.Errorf("#%d's status comment:\n%s", pr, note)
		}
		st := e.headStatuses(pr)
		if len(st) != 1 || st[0].State != "success" || st[0].TargetURL != dashboardLink(e.key, pr) {
			t.Errorf("#%d's head check runs = %+v, want one that succeeded", pr, st)
		}
	}
	// A pull request seen under test costs a create and an update of each;
	// one whose checks finished within the pass that built it (a busy
	// machine, fast CI) is written once, already merged.
	w := writes(e.ff)
	if w["POST /repos/{owner}/{repo}/check-runs"] != len(prs) || w["PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}"] > len(prs) ||
		w["POST /repos/{owner}/{repo}/issues/{issue_number}/comments"] != len(prs) || w["PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}"] > len(prs) {
		t.Errorf("writes %v, want one check run created and at most once updated, one comment posted and at most once edited, per pull request", w)
	}
}

// With a token GitHub takes no check runs, and commit statuses would
// double a pull request's writes under GitHub's write limits: the status
// comment alone shows the train.
func TestGitHubStatusIsTheCommentAloneForAToken(t *testing.T) {
	t.Parallel()
	e := newGitHubEnvWith(t, train.Settings{}, fakeforge.CI{Duration: 40 * time.Millisecond}, func(c *engine.Config, _ *github.Client) { withLink(c) })
	pr := e.mr(1, nil)
	e.addAll(pr)
	e.run()
	e.requireIdle()
	e.requireMerged(pr)
	if note := e.statusNote(pr); !strings.Contains(note, "Merged into `main`") {
		t.Errorf("status comment:\n%s", note)
	}
	if st := e.headStatuses(pr); len(st) != 0 {
		t.Errorf("head statuses = %+v, want none", st)
	}
	w := writes(e.ff)
	if w["POST /repos/{owner}/{repo}/check-runs"] != 0 || w["POST /repos/{owner}/{repo}/statuses/{sha}"] != 0 ||
		w["POST /repos/{owner}/{repo}/issues/{issue_number}/comments"] != 1 || w["PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}"] > 1 {
		t.Errorf("writes %v, want the status comment posted once and edited at most once, and no status", w)
	}
}

func TestStatusCommentSaysWhereTheCarIs(t *testing.T) {
	t.Parallel()
	clock := &aheadClock{}
	e := newEnv(t, envOptions{config: withLink, ci: fakeforge.CI{Manual: true}, options: []engine.Option{engine.WithClock(clock.now)}})
	a, b := e.mr(1, nil), e.mr(2, nil)
	e.addAll(a, b)
	// Within the grace the comment says where the car is, and no commit
	// status is set yet; a sweep once it is over sets it.
	if st := e.headStatuses(b); len(st) != 0 {
		t.Errorf("head statuses within the grace = %+v, want none", st)
	}
	if err := e.eng.Sweep(e.ctx, e.key); err != nil {
		t.Fatal(err)
	}
	if st := e.headStatuses(b); len(st) != 0 {
		t.Errorf("head statuses after a sweep within the grace = %+v, want none", st)
	}
	clock.add(engine.DefaultStatusGrace)
	if err := e.eng.Sweep(e.ctx, e.key); err != nil {
		t.Fatal(err)
	}
	tr, err := e.eng.Train(e.ctx, e.key)
	if err != nil || len(tr.Cars) != 2 || tr.Cars[1].Pipeline == 0 {
		t.Fatalf("train %+v, %v: want both cars testing", tr, err)
	}
	note := e.statusNote(b)
	want := fmt.Sprintf("Position 2 of 2 on the merge train for `main`: its pipeline is running, [pipeline #%d](", tr.Cars[1].Pipeline)
	if !strings.Contains(note, "Added to the merge train for `main` at position 2.") || !strings.Contains(note, want) {
		t.Errorf("status comment of a car under test:\n%s\nwant it to hold %q", note, want)
	}
	if st := e.headStatuses(b); len(st) != 1 || st[0].State != "running" || st[0].Description != "Being tested on the merge train for main" {
		t.Errorf("head statuses = %+v, want one running", st)
	}
	finishAll(t, e, func(fakeforge.Pipeline) string { return fakeforge.PipelineSuccess })
	e.requireMerged(a, b)
	if note := e.statusNote(b); strings.Contains(note, "Position 2") || !strings.Contains(note, "Merged into `main`") {
		t.Errorf("status comment after the merge:\n%s", note)
	}
}

// flakyStatusPost fails the first post of a status comment before it
// reaches the forge, as a dropped connection would.
type flakyStatusPost struct {
	engine.Forge
	mu     sync.Mutex
	failed bool
}

func (f *flakyStatusPost) PostNote(ctx context.Context, project string, iid int64, body string) (int64, error) {
	f.mu.Lock()
	fail := !f.failed
	f.failed = true
	f.mu.Unlock()
	if fail {
		return 0, errors.New("connection reset by peer")
	}
	return f.Forge.PostNote(ctx, project, iid, body)
}

// armedStatusPost fails the first note post after arm, as a connection
// reset would; it writes as the forge client does.
type armedStatusPost struct {
	engine.Forge
	mu    sync.Mutex
	armed bool
}

func (f *armedStatusPost) arm() { f.mu.Lock(); f.armed = true; f.mu.Unlock() }

func (f *armedStatusPost) PostNote(ctx context.Context, project string, iid int64, body string) (int64, error) {
	f.mu.Lock()
	fail := f.armed
	f.armed = false
	f.mu.Unlock()
	if fail {
		return 0, errors.New("connection reset by peer")
	}
	return f.Forge.PostNote(ctx, project, iid, body)
}

func (f *armedStatusPost) Self(ctx context.Context) (string, error) {
	return f.Forge.(forge.Self).Self(ctx)
}

// The status comment's real marker is in plain sight: once the bot's
// comment is deleted and posting it again fails, a copy of the marker
// in someone else's note is still not the status comment. The bot, whose
// administrator token could edit that note, posts its own again.
func TestACopiedRealStatusMarkerIsNotTheStatusComment(t *testing.T) {
	t.Parallel()
	post := &armedStatusPost{}
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}, forge: func(f engine.Forge) engine.Forge {
		post.Forge = f
		return post
	}})
	a := e.mr(1, nil)
	e.addAll(a)
	notes, err := e.ff.Notes(project, a)
	if err != nil {
		t.Fatal(err)
	}
	var ours fakeforge.Note
	for _, n := range notes {
		if n.Author == "trainyard-bot" && strings.Contains(n.Body, "<!-- trainyard:status ") {
			ours = n
		}
	}
	at := strings.Index(ours.Body, "<!-- trainyard:status ")
	if at < 0 {
		t.Fatalf("no status comment of the bot's: %+v", notes)
	}
	marker := ours.Body[at:]
	marker = marker[:strings.Index(marker, "-->")+len("-->")]
	copied := "as the bot said " + marker
	if _, err := e.ff.AddNote(e.ctx, project, a, "rita", copied); err != nil {
		t.Fatal(err)
	}
	if err := e.ff.DeleteNote(project, a, ours.ID); err != nil {
		t.Fatal(err)
	}
	post.arm()
	p := e.carPipeline(1, "trainyard/main/1")
	if err := e.ff.FinishPipeline(e.ctx, p.ID, "success"); err != nil {
		t.Fatal(err)
	}
	// The merge's pass finds the comment gone and fails to post it; the
	// next one looks for the marker.
	if err := e.eng.RunUntilIdle(e.ctx, e.key, 15*time.Millisecond); err == nil || !strings.Contains(err.Error(), "connection reset by peer") {
		t.Fatalf("run: %v, want the failed post", err)
	}
	e.run()
	e.requireMerged(a)
	if notes, err = e.ff.Notes(project, a); err != nil {
		t.Fatal(err)
	}
	var status []string
	for _, n := range notes {
		switch {
		case n.Author == "rita" && n.Body != copied:
			t.Errorf("rita's note was changed to %q", n.Body)
		case n.Author == "trainyard-bot" && strings.Contains(n.Body, "<!-- trainyard:status "):
			status = append(status, n.Body)
		}
	}
	if len(status) != 1 || !strings.Contains(status[0], "Merged into `main` with ") {
		t.Fatalf("the bot's status comments: %q, want one that says the MR merged", status)
	}
}

// A note by someone else that copies the status comment's marker is not
// taken for the MR's status comment, whether or not the bot could edit it
// (an administrator's token can): markers are signed.
func TestACopiedStatusMarkerIsNotTheStatusComment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		bot  string
		opts envOptions
	}{
		{"administrator", "trainyard-bot", envOptions{}},
		{"maintainer", "trainyard-maintainer", envOptions{maintainerBot: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.forge = func(f engine.Forge) engine.Forge { return &flakyStatusPost{Forge: f} }
			e := newEnv(t, tc.opts)
			a := e.mr(1, nil)
			const copied = "not yours <!-- trainyard:status -->"
			if _, err := e.ff.AddNote(e.ctx, project, a, "rita", copied); err != nil {
				t.Fatal(err)
			}
			// The add's pass fails on the post; the next one looks for
			// the marker.
			if err := e.add(a, "alice"); err == nil || !strings.Contains(err.Error(), "connection reset by peer") {
				t.Fatalf("add: %v, want the failed post", err)
			}
			e.run()
			e.requireMerged(a)
			var ours []string
			notes, err := e.ff.Notes(project, a)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range notes {
				switch {
				case n.Author == "rita" && n.Body != copied:
					t.Errorf("rita's note was changed to %q", n.Body)
				case n.Author == tc.bot && strings.Contains(n.Body, "<!-- trainyard:status "):
					ours = append(ours, n.Body)
				}
			}
			if len(ours) != 1 || !strings.Contains(ours[0], "Merged into `main` with ") {
				t.Fatalf("the bot's status comments: %q, want one that says the MR merged; notes %+v", ours, notes)
			}
		})
	}
}

// The status marker, once posted, can be read and copied into a later
// note. When the bot must find its status comment again, the first note
// holding the marker is its own.
func TestACopyOfThePostedStatusMarkerIsNotTaken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}}) // an administrator's token: it could edit the copy
	a := e.mr(1, nil)
	e.addAll(a)
	mark := regexp.MustCompile(`<!-- trainyard:status [0-9a-f]+ -->`).FindString(e.statusNote(a))
	if mark == "" {
		t.Fatalf("no signed marker in %q", e.statusNote(a))
	}
	copied := "mine now " + mark
	if _, err := e.ff.AddNote(e.ctx, project, a, "rita", copied); err != nil {
		t.Fatal(err)
	}
	// As after a post whose answer was lost: the record has no note.
	name := fmt.Sprintf("status:gitlab:%s!%d", project, a)
	raw, err := e.st.Mark(e.ctx, name)
	if err != nil || raw == "" {
		t.Fatalf("status record %q, %v", raw, err)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		t.Fatal(err)
	}
	delete(rec, "note")
	rec["posting"] = true
	b, _ := json.Marshal(rec)
	if err := e.st.SetMark(e.ctx, name, string(b), time.Hour); err != nil {
		t.Fatal(err)
	}
	finishAll(t, e, func(fakeforge.Pipeline) string { return "success" })
	e.requireMerged(a)
	notes, err := e.ff.Notes(project, a)
	if err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, n := range notes {
		switch {
		case n.Author == "rita" && n.Body != copied:
			t.Errorf("rita's copy was changed to %q", n.Body)
		case n.Author == "trainyard-bot" && strings.Contains(n.Body, mark):
			ours = append(ours, n.Body)
		}
	}
	if len(ours) != 1 || !strings.Contains(ours[0], "Merged into `main` with ") {
		t.Fatalf("the bot's status comments: %q, want its first one, saying the MR merged", ours)
	}
}

// aheadClock is a wall clock a test moves on.
type aheadClock struct {
	mu    sync.Mutex
	ahead time.Duration
}

func (c *aheadClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.ahead)
}

func (c *aheadClock) add(d time.Duration) {
	c.mu.Lock()
	c.ahead += d
	c.mu.Unlock()
}

// An MR sent to its lanes' trains is shown queued at once (its status
// comment) and owes its commit status. Once the grace is over, the
// target's sweep sets it "pending", naming the target; the lane's train,
// which shows people nothing, sets none.
func TestAnMRInItsLanesIsPaidItsOwedStatus(t *testing.T) {
	t.Parallel()
	clock := &aheadClock{}
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}, config: withLink,
		options: []engine.Option{engine.WithClock(clock.now)},
		settings: train.Settings{LaneTrains: true,
			Lanes: []train.Lane{{Name: "api", Paths: []string{"services/api/**", "mr-*.txt"}}}}})
	a := e.mr(1, map[string]string{"services/api/a.go": "package api\n"})
	e.addAll(a)
	tr, err := e.eng.Train(e.ctx, e.key)
	if err != nil || len(tr.Cars) != 0 || len(tr.InLanes) != 1 {
		t.Fatalf("train %+v, %v: want the MR in its lane", tr, err)
	}
	lane := e.key
	lane.Branch = "trainyard-lanes/main/api"
	sweep := func() {
		t.Helper()
		for _, k := range []train.Key{e.key, lane} {
			if err := e.eng.Sweep(e.ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	sweep()
	clock.add(engine.DefaultStatusGrace + time.Second)
	sweep()
	sweep()
	if tr, _ := e.eng.Train(e.ctx, e.key); len(tr.InLanes) != 1 {
		t.Fatalf("the MR left its lane: %+v", tr)
	}
	if st := e.headStatuses(a); len(st) != 1 || st[0].State != "pending" || st[0].Description != "Waiting on the merge train for main" {
		t.Fatalf("head statuses of an MR in its lane past the grace = %+v, want one pending", st)
	}
}

// A sweep pays what is owed once it planned what it found: an MR it finds
// closed gets its outcome's status alone, never "running" first.
func TestASweepPaysNoStatusForACarItEvicts(t *testing.T) {
	t.Parallel()
	clock := &aheadClock{}
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}, config: withLink,
		options: []engine.Option{engine.WithClock(clock.now)}})
	a := e.mr(1, nil)
	e.addAll(a)
	if st := e.headStatuses(a); len(st) != 0 {
		t.Fatalf("statuses within the grace: %+v", st)
	}
	clock.add(engine.DefaultStatusGrace + time.Second)
	if err := e.ff.CloseMR(e.ctx, project, a, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Sweep(e.ctx, e.key); err != nil {
		t.Fatal(err)
	}
	if got := writes(e.ff)["POST /projects/{id}/statuses/{sha}"]; got != 1 {
		t.Errorf("commit statuses set for an MR the sweep found closed: %d, want 1 (its outcome alone)", got)
	}
	if st := e.headStatuses(a); len(st) != 1 || st[0].State != "failed" {
		t.Fatalf("head statuses: %+v, want its outcome", st)
	}
}
