package web_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/train"
)

// at is how the pages write a time.
func at(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

func short(sha string) string { return sha[:12] }

// TestBrowserShowsTheRunningTrain follows the links from the list of
// trains to a train and to MRs' journeys, and checks each page shows what
// the engine holds.
func TestBrowserShowsTheRunningTrain(t *testing.T) {
	needBrowser(t)
	s := newSystem(t, train.Settings{MaxParallel: 2})
	start := s.Clock.Now()
	login := s.add(mr{title: "Fix the login redirect"})
	s.Clock.Advance(time.Minute)
	s.add(mr{title: "Bump go-redis to v9.23"})
	s.Clock.Advance(10 * time.Minute)
	s.finish(login, fakeforge.PipelineSuccess)
	merged := s.Clock.Now()
	s.Clock.Advance(time.Minute)
	audit := s.add(mr{title: "Add the audit log", author: "bob"})
	s.Clock.Advance(time.Minute)
	s.add(mr{title: "Document the dashboard", author: "carol"})

	tr := s.train("")
	if got := carStates(tr); !slices.Equal(got, []string{"!2 running", "!3 running", "!4 queued"}) {
		t.Fatalf("the train is %v, want !2 and !3 running and !4 queued", got)
	}
	p := newTab(t, s)
	p.open("/")
	index := p.rows("main")
	if len(index) != 1 || len(index[0]) != 9 {
		t.Fatalf("the index lists %q, want one train in 9 columns", index)
	}
	// Forge, project, branch, cars, pipelines running, state, merged in
	// the last day, time to merge (!1 took 11 minutes), last car's estimate.
	if got, want := index[0][:8], []string{"GitLab", "group/app", "main", "3", "2", "moving", "1", "11m"}; !slices.Equal(got, want) {
		t.Errorf("the index's row is %q, want %q", got, want)
	}
	if !strings.HasPrefix(index[0][8], "about ") {
		t.Errorf("the last car merges in %q, want an estimate", index[0][8])
	}

	p.do(chromedp.Click(chromedp.CSS(`main table tbody a`)))
	p.do(chromedp.WaitVisible(chromedp.ID("cars-h")))
	if got, want := p.path(), s.trainPath(""); got != want {
		t.Fatalf("the index's link led to %s, want %s", got, want)
	}
	if got, want := p.text("h1"), "GitLab · group/app → main"; got != want {
		t.Errorf("the train's heading is %q, want %q", got, want)
	}
	pipeline := func(c train.Car) string { return s.profile.PipelineLabel(c.Pipeline) }
	// Position, MR, state, the commit it is tested on, pipeline, time on
	// the train.
	want := [][]string{
		{"1", "!2 Bump go-redis to v9.23 journey added by alice", "running", short(tr.Cars[0].Base), pipeline(tr.Cars[0]), "12m"},
		{"2", "!3 Add the audit log journey added by bob", "running", short(tr.Cars[1].Base), pipeline(tr.Cars[1]), "1m"},
		{"3", "!4 Document the dashboard journey added by carol", "queued", "—", "—", "0s"},
	}
	cars := p.rows(`section[aria-labelledby="cars-h"]`)
	if len(cars) != len(want) {
		t.Fatalf("the train page shows %d cars, want %d: %q", len(cars), len(want), cars)
	}
	for i, row := range cars {
		if len(row) != 8 || !slices.Equal(row[:6], want[i]) {
			t.Errorf("car %d is %q, want %q and two more columns", i+1, row, want[i])
		}
	}
	gone, ok := s.left(login)
	if !ok {
		t.Fatalf("!%d is not in the history", login)
	}
	history := p.rows(`section[aria-labelledby="history-h"]`)
	// A sentence's `code` spans render as code: their text, no backticks.
	plain := func(m string) string { return strings.ReplaceAll(m, "`", "") }
	wantLeft := []string{"!1 Fix the login redirect journey", "merged", plain(gone.Reason.Message.Render(s.profile.PipelineLabel)),
		pipeline(gone), at(merged)}
	if len(history) != 1 || !slices.Equal(history[0], wantLeft) {
		t.Errorf("the history is %q, want one row %q", history, wantLeft)
	}

	p.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href=%q]`, s.mrPath(audit)))))
	p.do(chromedp.WaitVisible(chromedp.CSS(".timeline")))
	if got, want := p.path(), s.mrPath(audit); got != want {
		t.Fatalf("the journey link led to %s, want %s", got, want)
	}
	journey(t, p, "!3 Add the audit log · group/app", "On the train: main, position 2, running", []string{
		"Added " + at(start.Add(12*time.Minute)) + " by bob",
		"Built " + at(start.Add(12*time.Minute)) + " commit " + short(tr.Cars[1].Commit) + " · on " + short(tr.Cars[1].Base),
		"Pipeline " + at(start.Add(12*time.Minute)) + " " + pipeline(tr.Cars[1]),
	})
	p.open(s.mrPath(login))
	journey(t, p, "!1 Fix the login redirect · group/app", "Ride, merged: main", []string{
		"Added " + at(start) + " by alice",
		"Built " + at(start) + " commit " + short(gone.Reason.Commit) + " · on " + short(gone.Base),
		"Pipeline " + at(start) + " " + pipeline(gone) + " · passed",
		"Merged " + at(merged) + " " + plain(gone.Reason.Message.Render(s.profile.PipelineLabel)),
	})
}

// journey checks an MR page with one ride.
func journey(t *testing.T, p *tab, heading, ride string, steps []string) {
	t.Helper()
	if got := p.text("h1"); got != heading {
		t.Errorf("the MR's heading is %q, want %q", got, heading)
	}
	if got := p.texts("section.ride h2"); !slices.Equal(got, []string{ride}) {
		t.Errorf("the rides are %q, want %q", got, ride)
	}
	if got := p.texts(".timeline li"); !slices.Equal(got, steps) {
		t.Errorf("the journey is\n%q, want\n%q", got, steps)
	}
}

func carStates(t train.Train) []string {
	var out []string
	for _, c := range t.Cars {
		out = append(out, fmt.Sprintf("!%d %s", c.MR, c.State))
	}
	return out
}

// TestBrowserLiveUpdate merges a car while its train's page is open: the
// page shows it within a second, without a reload.
func TestBrowserLiveUpdate(t *testing.T) {
	needBrowser(t)
	s := newSystem(t, train.Settings{MaxParallel: 2})
	first := s.add(mr{title: "Fix the login redirect"})
	s.add(mr{title: "Bump go-redis to v9.23"})
	p := newTab(t, s)
	p.open(s.trainPath(""))
	p.do(chromedp.WaitVisible(chromedp.ID("cars-h")))
	p.waitLive()
	eval[chromedp.Void](p, `window.trainyardMark = "not reloaded"`) // a reload would lose it
	if got := p.texts(`section[aria-labelledby="cars-h"] tbody th`); len(got) != 2 {
		t.Fatalf("before the merge the train shows %q, want 2 cars", got)
	}

	s.finish(first, fakeforge.PipelineSuccess)
	changed := time.Now()
	if c, ok := s.left(first); !ok || c.State != train.StateMerged {
		t.Fatalf("!%d did not merge: %+v", first, c)
	}
	ctx, cancel := context.WithDeadline(p.ctx, changed.Add(time.Second))
	defer cancel()
	err := p.waitUntil(ctx, `(() => {
		const cars = document.querySelectorAll('section[aria-labelledby="cars-h"] tbody tr');
		const left = document.querySelectorAll('section[aria-labelledby="history-h"] tbody tr');
		return cars.length === 1 && cars[0].cells[1].textContent.includes("!2 ") &&
			left.length === 1 && left[0].cells[0].textContent.includes("!1 ") && left[0].cells[1].textContent.trim() === "merged";
	})()`)
	if err != nil {
		t.Fatalf("the merge did not show within a second of it (%v); the page shows: %s", err, p.shows())
	}
	if got := eval[string](p, `window.trainyardMark || "reloaded"`); got != "not reloaded" {
		t.Errorf("the page was reloaded")
	}
	if got := p.text("footer .live"); !strings.HasPrefix(got, "Updated ") {
		t.Errorf("the page's status is %q, want Updated ...", got)
	}
}

// TestBrowserTitlesAreText puts an MR titled as a script on the train: the
// pages show the title as text, also after a live update, and run no
// script of it.
func TestBrowserTitlesAreText(t *testing.T) {
	needBrowser(t)
	s := newSystem(t, train.Settings{})
	iid := s.add(mr{title: xss})
	p := newTab(t, s)
	dialogs := p.watchDialogs()
	check := func(where string) {
		t.Helper()
		if got := eval[[]string](p, `Array.from(document.scripts, s => s.src ? new URL(s.src).pathname : "inline: " + s.text)`); !slices.Equal(got, []string{"/static/dashboard.js"}) {
			t.Errorf("%s: the scripts are %q, want only the dashboard's", where, got)
		}
		if got := dialogs(); len(got) != 0 {
			t.Errorf("%s: the page opened dialogs: %q", where, got)
		}
	}

	p.open(s.trainPath(""))
	if got, want := p.text(`section[aria-labelledby="cars-h"] tbody th`), "!1 "+xss+" journey added by alice"; got != want {
		t.Errorf("the car is %q, want %q", got, want)
	}
	check("the train page")
	p.open(s.mrPath(iid))
	if got, want := p.text("h1"), "!1 "+xss+" · group/app"; got != want {
		t.Errorf("the MR's heading is %q, want %q", got, want)
	}
	check("the MR page")

	// A live update parses the page anew and swaps it in.
	p.open(s.trainPath(""))
	p.waitLive()
	if err := s.Engine.Pause(s.Ctx, s.Key, engine.Actor{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := p.waitUntil(ctx, `document.querySelector("main .badge").textContent === "paused"`); err != nil {
		t.Fatalf("the pause did not show: %v; the page shows: %s", err, p.shows())
	}
	if got, want := p.text(`section[aria-labelledby="cars-h"] tbody th`), "!1 "+xss+" journey added by alice"; got != want {
		t.Errorf("after the live update the car is %q, want %q", got, want)
	}
	check("the train page after a live update")

	// The watch sees a dialog when there is one.
	eval[chromedp.Void](p, `alert("probe")`)
	if got := dialogs(); !slices.Equal(got, []string{"probe"}) {
		t.Errorf("the dialogs seen are %q, want only the probe's", got)
	}
}

// TestBrowserActionsNeedTheToken presses pause without signing in: the
// dashboard refuses and the train runs on. Signed in, the same button
// pauses it.
func TestBrowserActionsNeedTheToken(t *testing.T) {
	needBrowser(t)
	s := newSystem(t, train.Settings{})
	s.add(mr{title: "Fix the login redirect"})
	version := s.train("").Version
	p := newTab(t, s)
	p.open(s.trainPath(""))
	if got, want := p.text("main .actions"), "Actions Pause the train Reason Freeze the train Drain the train Actions need the API token: sign in."; got != want {
		t.Errorf("the actions read %q, want %q", got, want)
	}
	pause := chromedp.Click(chromedp.CSS(`form[action$="/pause"] button`))
	if status := p.follow(pause); status != 401 {
		t.Errorf("pressing pause without the token was answered %d, want 401", status)
	}
	if got, want := p.text("h1"), "Unauthorized"; got != want {
		t.Errorf("the page's heading is %q, want %q", got, want)
	}
	if got, want := p.text("main .error"), "sign in with an API token first"; got != want {
		t.Errorf("the refusal reads %q, want %q", got, want)
	}
	if tr := s.train(""); tr.Paused || tr.Version != version {
		t.Fatalf("the refused pause changed the train: paused %v, version %d, want %d", tr.Paused, tr.Version, version)
	}
	p.open(s.trainPath(""))
	if got := p.text("main .badge"); got != "moving" {
		t.Errorf("after the refusal the train is %q, want moving", got)
	}

	// Signed in, the same button pauses the train.
	p.do(chromedp.Click(chromedp.CSS(`main .actions a[href^="/login"]`)), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token))
	if status := p.follow(chromedp.Click(chromedp.CSS(`form.login button`))); status != 200 {
		t.Fatalf("signing in was answered %d; the page shows: %s", status, p.shows())
	}
	if got := p.path(); got != s.trainPath("") {
		t.Fatalf("signing in led to %s, want back to the train", got)
	}
	if status := p.follow(pause); status != 200 {
		t.Fatalf("pressing pause signed in was answered %d; the page shows: %s", status, p.shows())
	}
	if got := p.text("main .badge"); got != "paused" {
		t.Errorf("after pausing the train is %q, want paused", got)
	}
	if !s.train("").Paused {
		t.Error("the train is not paused")
	}
}

// TestBrowserLiveUpdateDuringARefresh holds the page's fetch of itself
// after the server rendered it, announces another change meanwhile, and
// then lets the fetch finish: the page fetches once more and shows the
// later change.
func TestBrowserLiveUpdateDuringARefresh(t *testing.T) {
	needBrowser(t)
	h := &holdRefresh{rendered: make(chan struct{}), release: make(chan struct{})}
	s := newSystem(t, train.Settings{}, h.wrap)
	s.add(mr{title: "Fix the login redirect"})
	p := newTab(t, s)
	p.open(s.trainPath(""))
	p.waitLive()
	if err := s.Engine.Pause(s.Ctx, s.Key, engine.Actor{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.rendered: // the page is fetching the paused train
	case <-time.After(stepTimeout):
		t.Fatalf("the page did not fetch itself after the pause; it shows: %s", p.shows())
	}
	// The browser reports a message of the stream just before the page's
	// handler runs, in the same task; an evaluation after the report runs
	// after the handler.
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	messages := chromedp.Events(ctx, network.EventSourceMessageReceived)
	if err := s.Engine.Resume(s.Ctx, s.Key, engine.Actor{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	for m, err := range messages {
		if err != nil {
			t.Fatalf("no event after the resume: %v", err)
		}
		if m.EventName == "train" && m.Data == s.trainPath("") {
			break
		}
	}
	// The page still shows the train from before the pause: mark it, so
	// only a page swapped in since can meet the wait below.
	eval[chromedp.Void](p, `document.querySelector("main").dataset.before = "pause"`)
	close(h.release)
	if err := p.waitUntil(ctx, `!document.querySelector("main").dataset.before &&
		document.querySelector("main .badge").textContent === "moving"`); err != nil {
		t.Fatalf("the page did not show the resume that came while it fetched: %v; it shows: %s", err, p.shows())
	}
}

// holdRefresh holds the first request of the page's script for a page,
// after rendering it, until release is closed: the answer shows the train
// as it was when the request came.
type holdRefresh struct {
	once              sync.Once
	rendered, release chan struct{}
}

func (h *holdRefresh) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held := false
		// The script's fetch, not a navigation, a stylesheet or the stream.
		if r.Header.Get("Sec-Fetch-Mode") == "cors" && r.URL.Path != "/events" {
			h.once.Do(func() { held = true })
		}
		if !held {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		close(h.rendered)
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}
