package demo

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// events are the lines of a plain log without their time stamps.
func events(out string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		lines = append(lines, stamp.ReplaceAllString(l, ""))
	}
	return lines
}

func newTestWriter(t *testing.T, forge string, out *bytes.Buffer) *writer {
	t.Helper()
	k, err := kitFor(forge)
	if err != nil {
		t.Fatal(err)
	}
	return newWriter(out, time.Now(), false, nil, k)
}

// withCar is a train holding car c alone.
func withCar(key train.Key, c train.Car) train.Train {
	return train.Train{Key: key, Cars: []train.Car{c}}
}

// The engine's trace reports an observation each time it is planned and
// an action each time it is carried out; the log tells each event once,
// and only what the train took.
func TestWriterTellsEachEventOnce(t *testing.T) {
	var out bytes.Buffer
	w := newTestWriter(t, ForgeGitLab, &out)
	key := train.Key{Forge: ForgeGitLab, Project: project, Branch: "main"}
	added := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	queued := train.Car{MR: 1, HeadSHA: "head1", Title: "Add one", AddedAt: added, State: train.StateQueued}
	built := queued
	built.State, built.Base, built.Commit, built.Builds = train.StateBuilt, "aaaaaaaa11", "cccccccc22", 1
	running := built
	running.State, running.Pipeline, running.Attempts = train.StateRunning, 40, 1
	retried := running
	retried.Pipeline, retried.Attempts = 41, 2
	build := train.Built{MR: 1, Base: "aaaaaaaa11", HeadSHA: "head1", Commit: "cccccccc22"}
	merged := retried
	merged.State, merged.LeftAt = train.StateMerged, added.Add(time.Minute)
	evicted := train.Car{MR: 2, State: train.StateEvicted, LeftAt: added.Add(time.Minute),
		Reason: &train.Reason{Code: train.ReasonPipelineFailed, Detail: train.Join(train.PipelineRef(42), " was canceled")}}
	twice := func(f func()) { f(); f() }

	twice(func() { w.observed(key, train.Added{MR: 1, HeadSHA: "head1", Event: "note-1"}, withCar(key, queued)) })
	// Added again by another command: the car is the same one.
	w.observed(key, train.Added{MR: 1, HeadSHA: "head1", Event: "note-2"}, withCar(key, queued))
	// The same build carried out twice (a resync asked for it again).
	twice(func() { w.observed(key, build, withCar(key, built)) })
	// A build for a base the car no longer sits on.
	w.observed(key, train.Built{MR: 1, Base: "bbbbbbbb33", HeadSHA: "head1", Commit: "dddddddd44"}, withCar(key, built))
	twice(func() {
		w.observed(key, train.PipelineCreated{MR: 1, SHA: "cccccccc22", Pipeline: 40}, withCar(key, running))
	})
	// A pipeline nobody waits for.
	w.observed(key, train.PipelineCreated{MR: 1, SHA: "cccccccc22", Pipeline: 39}, withCar(key, running))
	twice(func() {
		w.observed(key, train.PipelineStatus{Pipeline: 40, SHA: "cccccccc22", Status: train.PipelineFailed}, withCar(key, running))
	})
	w.observed(key, train.PipelineStatus{Pipeline: 40, SHA: "cccccccc22", Status: train.PipelineRunning}, withCar(key, running))
	w.observed(key, train.PipelineCreated{MR: 1, SHA: "cccccccc22", Pipeline: 41}, withCar(key, retried))
	twice(func() {
		w.observed(key, train.PipelineStatus{Pipeline: 41, SHA: "cccccccc22", Status: train.PipelineSuccess}, withCar(key, retried))
	})
	// A move that was asked for but did not happen yet tells nothing.
	w.acted(key, train.FastForwardTarget{To: "cccccccc22", Expected: "aaaaaaaa11", MRs: []int64{1}})
	twice(func() { w.observed(key, train.FastForwarded{To: "cccccccc22"}, train.Train{Key: key}) })
	twice(func() { w.acted(key, train.CancelPipeline{MR: 1, Pipeline: 40}) })
	twice(func() { w.acted(key, train.CancelPipeline{MR: 2, Pipeline: 42}) })
	twice(func() {
		w.observed(key, train.PipelineStatus{Pipeline: 42, SHA: "eeeeeeee55", Status: train.PipelineCanceled}, train.Train{Key: key})
	})
	twice(func() { w.acted(key, train.Record{Car: merged}) })
	twice(func() { w.acted(key, train.Record{Car: evicted}) })

	want := []string{
		"!1 joins the train at position 1: Add one",
		"!1 merged speculatively onto aaaaaaaa as cccccccc",
		"pipeline #40: testing cccccccc for !1",
		"pipeline #40: failed",
		"pipeline #41: testing cccccccc for !1",
		"pipeline #41: passed",
		"main moves aaaaaaaa -> cccccccc, merging !1",
		"pipeline #40 cancelled: !1 merged with the commit of a car behind it, which passed",
		"pipeline #42 cancelled: what it tested is out of date",
		"pipeline #42: cancelled",
		"!2 leaves the train: pipeline #42 was cancelled",
	}
	if got := events(out.String()); !slices.Equal(got, want) {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if w.nMerged != 1 || w.nEvicts != 1 {
		t.Errorf("counted %d merged and %d evicted, want 1 and 1", w.nMerged, w.nEvicts)
	}
}

// On GitHub a pipeline is the checks on a commit, and a new test of the
// same commit may come back under the id of the last: its end is news.
func TestWriterTellsTheEndOfAReusedPipelineAgain(t *testing.T) {
	var out bytes.Buffer
	w := newTestWriter(t, ForgeGitHub, &out)
	key := train.Key{Forge: ForgeGitHub, Project: project, Branch: "main"}
	car := train.Car{MR: 3, HeadSHA: "head3", Title: "Three", State: train.StateRunning, Base: "aaaaaaaa11",
		Commit: "cccccccc22", Builds: 1, Pipeline: 7, Attempts: 1}
	retest := car
	retest.Suspect, retest.Retested = 7, true
	created := train.PipelineCreated{MR: 3, SHA: "cccccccc22", Pipeline: 7}
	failed := train.PipelineStatus{Pipeline: 7, SHA: "cccccccc22", Status: train.PipelineFailed}

	w.observed(key, created, withCar(key, car))
	w.observed(key, failed, withCar(key, car))
	w.observed(key, failed, withCar(key, car)) // a check event repeating the result
	w.observed(key, created, withCar(key, retest))
	w.observed(key, failed, withCar(key, retest))

	pipe := w.k.pipe(7)
	want := []string{
		pipe + ": testing cccccccc for #3", pipe + ": failed",
		pipe + ": testing cccccccc for #3", pipe + ": failed",
	}
	if got := events(out.String()); !slices.Equal(got, want) {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSummarySpellsCancelled(t *testing.T) {
	var out bytes.Buffer
	w := newTestWriter(t, ForgeGitLab, &out)
	w.summary(Summary{Merged: 0, Evicted: 1, Pipelines: 2, Head: "0123456789abcdef", Elapsed: 1500 * time.Millisecond,
		MRs: []Outcome{{MR: 4, State: train.StateEvicted, Reason: train.Join(train.PipelineRef(9), " was canceled")}}})
	want := "\n0 merged, 1 evicted, 2 pipelines, main at 0123456789ab, in 1.5s:\n  !4   evicted  pipeline #9 was cancelled\n"
	if out.String() != want {
		t.Errorf("summary %q, want %q", out.String(), want)
	}
}

// trainsOf serves one train, as the router would.
type trainsOf struct{ t train.Train }

func (f trainsOf) Train(context.Context, train.Key) (train.Train, error) { return f.t, nil }

// Live, events go to the board, which is drawn again over itself; once
// the board stops, events are lines again.
func TestLiveWriterRedrawsInPlace(t *testing.T) {
	var out bytes.Buffer
	k, err := kitFor(ForgeGitLab)
	if err != nil {
		t.Fatal(err)
	}
	w := newWriter(&out, time.Now(), true, func() (int, int) { return 60, 12 }, k)
	key := train.Key{Forge: ForgeGitLab, Project: project, Branch: "main"}
	car := train.Car{MR: 1, HeadSHA: "head1", Title: "Add one", State: train.StateRunning, Commit: "cccccccc22", Pipeline: 40}
	trains := trainsOf{withCar(key, car)}

	w.line("first event")
	if out.Len() != 0 {
		t.Fatalf("a live event was written outside the board: %q", out.String())
	}
	w.redraw(context.Background(), trains, key)
	first := out.String()
	w.line("second event")
	w.redraw(context.Background(), trains, key)
	second := strings.TrimPrefix(out.String(), first)

	if !strings.HasPrefix(first, cursorHome+clearScreen) {
		t.Errorf("the first board does not clear the screen: %q", first)
	}
	if !strings.HasPrefix(second, cursorHome) || strings.Contains(second, clearScreen) {
		t.Errorf("the second board is not drawn over the first: %q", second)
	}
	for _, f := range []string{first, second} {
		if n := strings.Count(f, "\n"); n > 11 {
			t.Errorf("a board of %d lines on a terminal of 12 rows scrolls: %q", n, f)
		}
		if !strings.Contains(f, "  !1    running   #40            cccccccc  Add one"+clearLine+"\n") {
			t.Errorf("the board lacks the car: %q", f)
		}
	}
	if !strings.Contains(second, "second event"+clearLine) || !strings.Contains(second, "first event"+clearLine) {
		t.Errorf("the second board lacks the events: %q", second)
	}

	stop := w.startBoard(context.Background(), trains, key)
	stop()
	if !strings.HasPrefix(strings.TrimPrefix(out.String(), first+second), cursorHome) {
		t.Errorf("the board's last drawing is not in place: %q", out.String())
	}
	out.Reset()
	w.line("after the board")
	if got := events(out.String()); !slices.Equal(got, []string{"after the board"}) {
		t.Errorf("after the board, the log is %q", out.String())
	}
}
