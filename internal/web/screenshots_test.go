package web_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/internal/api/apitest"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/train"
)

// envScreenshots names the directory TestScreenshots saves its images in.
const envScreenshots = "TRAINYARD_SCREENSHOTS"

// TestScreenshots saves the dashboard's pages as PNG images, over a train
// some way into its day, in the directory TRAINYARD_SCREENSHOTS names (a
// relative one is taken from the repository's root):
//
//	TRAINYARD_SCREENSHOTS=docs/img go test -run TestScreenshots ./internal/web/
//
// Without the variable it is skipped.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv(envScreenshots)
	if dir == "" {
		t.Skip("set " + envScreenshots + "=DIR to save the dashboard's screenshots in DIR")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(repoRoot(t), dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	needBrowser(t)
	s := newSystem(t, train.Settings{MaxParallel: 3, BatchSize: 3})
	mirror := busyDay(t, s)

	p := newTab(t, s)
	for _, shot := range []struct {
		file, path    string
		width, height int64
		whole         bool // the whole page, not only what the window shows
	}{
		{"dashboard-trains.png", "/", 1280, 320, true},
		{"dashboard-train.png", s.trainPath(""), 1280, 800, true},
		{"dashboard-mr.png", s.mrPath(mirror), 1280, 600, true},
		{"dashboard-train-phone.png", s.trainPath(""), 390, 844, false},
	} {
		p.do(chromedp.EmulateViewport(shot.width, shot.height), chromedp.Navigate(p.base+shot.path))
		p.waitLive() // and the footer says so
		capture := chromedp.CaptureScreenshot()
		if shot.whole {
			capture = chromedp.FullScreenshot(100) // 100: PNG
		}
		png := get(p, capture)
		if err := os.WriteFile(filepath.Join(dir, shot.file), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s, %d bytes", shot.file, shot.path, len(png))
	}
}

// busyDay runs a train through part of a day on the system's main branch,
// moving the clock as it goes: merges, a batch merged together, an
// eviction, a failed batch whose cars are tested one by one, a new batch
// and cars waiting; and a paused train on a release branch. It returns
// an MR that rode before and rides again.
func busyDay(t *testing.T, s *system) int64 {
	t.Helper()
	step := func(d time.Duration) { s.Clock.Advance(d) }
	webhooks := s.add(mr{title: "Retry webhook deliveries on 502", author: "alice"})
	step(2 * time.Minute)
	dryRun := s.add(mr{title: "Add a --dry-run flag to /train add", author: "bob"})
	step(time.Minute)
	mirror := s.add(mr{title: "Speed up the mirror fetch", author: "carol", broken: true})
	for _, m := range []mr{
		{title: "Show batches on the train page", author: "dave"},
		{title: "Bump go-redis to v9.23", author: "alice"},
		{title: "Cache project settings for a minute", author: "erin"},
		{title: "Document the dashboard", author: "bob"},
		{title: "Handle a renamed target branch", author: "frank", broken: true},
		{title: "Log the lease owner on takeover", author: "carol"},
	} {
		step(time.Minute)
		s.add(m)
	}
	step(7 * time.Minute)
	s.finish(webhooks, fakeforge.PipelineSuccess)
	step(3 * time.Minute)
	s.finish(mirror, fakeforge.PipelineFailed) // tested again on its own
	step(8 * time.Minute)
	s.finish(mirror, fakeforge.PipelineFailed) // its own failure: evicted behind !2
	step(2 * time.Minute)
	s.finish(dryRun, fakeforge.PipelineSuccess)
	tr := s.train("")
	step(12 * time.Minute)
	s.finish(tr.Cars[2].MR, fakeforge.PipelineSuccess) // the first batch of three
	step(3 * time.Minute)
	s.finish(tr.Cars[5].MR, fakeforge.PipelineFailed) // the second, which holds a broken MR
	// Its cars are tested one by one; the cars added meanwhile wait.
	step(time.Minute)
	if _, err := s.Forge.PushToMR(s.Ctx, apitest.Project, mirror, fakeforge.Commit{Message: "Fix the mirror test",
		Delete: []string{brokenFile(mirror)}}); err != nil {
		t.Fatal(err)
	}
	s.put(mirror, "carol") // back on the train, fixed
	for _, m := range []mr{
		{title: "Trim the event stream's keep-alives", author: "erin"},
		{title: "Fix the estimate's rounding", author: "dave"},
		{title: "Name the forge in chat notifications", author: "alice"},
		{title: "Upgrade the GitLab client", author: "frank"},
	} {
		step(time.Minute)
		s.add(m)
	}
	step(5 * time.Minute)
	s.finish(tr.Cars[3].MR, fakeforge.PipelineSuccess) // passes alone; the batch's other two still run
	step(2 * time.Minute)

	release := "release/1.0"
	if _, err := s.Forge.PushBranch(s.Ctx, apitest.Project, release, "alice", fakeforge.Commit{Message: "Release 1.0",
		Files: map[string]string{"VERSION": "1.0\n"}}); err != nil {
		t.Fatal(err)
	}
	s.add(mr{title: "Backport the webhook retry", author: "alice", target: release})
	s.settle(release)
	if err := s.Engine.Pause(s.Ctx, s.key(release), engine.Actor{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	step(4 * time.Minute)

	// The images show this story; a change in how the train moves calls
	// for another.
	want := []string{"!7 passed", "!8 running", "!9 running", "!3 built", "!10 built", "!11 running", "!12 queued", "!13 queued"}
	if got := carStates(s.train("")); !slices.Equal(got, want) {
		t.Fatalf("the train is %v, want %v", got, want)
	}
	var left []string
	for _, c := range s.history() {
		left = append(left, fmt.Sprintf("!%d %s", c.MR, c.State))
	}
	if want := []string{"!6 merged", "!5 merged", "!4 merged", "!3 evicted", "!2 merged", "!1 merged"}; !slices.Equal(left, want) {
		t.Fatalf("the history is %v, want %v", left, want)
	}
	return mirror
}

// repoRoot is the directory of go.mod above the test's.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
}
