package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/command"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
	v1 "github.com/trainyard/trainyard/pkg/api"
)

func TestBearer(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer abc": "abc", "bearer abc": "abc", "  Bearer   abc  ": "abc",
		"": "", "Bearer": "", "Bearer ": "", "Basic abc": "", "abc": "",
	} {
		got, ok := Bearer(header)
		if got != want || ok != (want != "") {
			t.Errorf("Bearer(%q) = %q, %v; want %q", header, got, ok, want)
		}
	}
}

func TestTokenEqual(t *testing.T) {
	if !TokenEqual("secret", "secret") {
		t.Error("equal tokens differ")
	}
	for _, got := range []string{"", "secre", "secret2", "Secret"} {
		if TokenEqual(got, "secret") {
			t.Errorf("%q matches secret", got)
		}
	}
}

// The configuration accepts GitLab's web address or its API URL; the
// API's links must be pages either way.
func TestGitLabLinksWithOrWithoutAPIPath(t *testing.T) {
	for _, base := range []string{"https://gitlab.example.com", "https://gitlab.example.com/", "https://gitlab.example.com/api/v4", "https://gitlab.example.com/api/v4/"} {
		s := &server{Options: Options{Now: time.Now, Profiles: forge.Profiles{"gitlab": gitlab.Profile(base)}}}
		key := train.Key{Forge: "gitlab", Project: "group/sub/app", Branch: "main"}
		c := s.carOf(key, 0, train.Car{MR: 12, Pipeline: 345}, nil)
		if c.MRURL != "https://gitlab.example.com/group/sub/app/-/merge_requests/12" || c.Label != "!12" {
			t.Errorf("%s: MR %s at %s", base, c.Label, c.MRURL)
		}
		if c.PipelineURL != "https://gitlab.example.com/group/sub/app/-/pipelines/345" || c.PipelineLabel != "pipeline #345" {
			t.Errorf("%s: %s at %s", base, c.PipelineLabel, c.PipelineURL)
		}
	}
}

func TestGitHubLinks(t *testing.T) {
	s := &server{Options: Options{Now: time.Now, Profiles: forge.Profiles{"github": github.Profile("https://ghe.example.com/api/v3")}}}
	key := train.Key{Forge: "github", Project: "acme/widgets", Branch: "main"}
	// A pipeline id packs the commit's first 13 hex digits and an attempt.
	id := int64(0x0a1b2c3d4e5f6)<<10 | 2
	c := s.carOf(key, 0, train.Car{MR: 12, Pipeline: id}, nil)
	if c.MRURL != "https://ghe.example.com/acme/widgets/pull/12" || c.Label != "#12" {
		t.Errorf("MR %s at %s", c.Label, c.MRURL)
	}
	if c.PipelineURL != "https://ghe.example.com/acme/widgets/commit/0a1b2c3d4e5f6/checks" {
		t.Errorf("pipeline link %s", c.PipelineURL)
	}
}

func TestResponse(t *testing.T) {
	wrapped := func(err error) error {
		return &call{"train main of group/app on gitlab", fmt.Errorf("handle: %w", err)}
	}
	cases := []struct {
		err    error
		status int
		msg    string
	}{
		{wrapped(forge.ErrNotFound), 404, "train main of group/app on gitlab not found"},
		{wrapped(store.ErrNotFound), 404, "train main of group/app on gitlab not found"},
		{wrapped(engine.ErrBusy), 503, "train main of group/app on gitlab is busy; try again"},
		{&call{"merge request !3 of g/a", fmt.Errorf("!3 of g/a: %w", engine.ErrRulesPending)}, 503,
			"merge request !3 of g/a: the forge is still checking whether it may merge; try again"},
		{&call{"merge request !3 of g/a", fmt.Errorf("!3 of g/a: %w: It is closed.", engine.ErrRefused)}, 409, "merge request !3 of g/a refused: It is closed."},
		{&call{"dead letter 1-0", fmt.Errorf("requeue dead letter 1-0: %w: FULL", store.ErrFull)}, 503,
			"dead letter 1-0: the event queue is full; try again once it drains"},
		{wrapped(errors.New("dial tcp 10.0.0.7:6379: connection refused")), 500, "internal error"},
		{fmt.Errorf("list trains: %w", context.Canceled), 503, "request cancelled or timed out"},
		{badRequest("limit: bad"), 400, "limit: bad"},
		{methodNotAllowed("GET"), 405, "method not allowed; use GET"},
	}
	for _, c := range cases {
		status, msg := response(c.err)
		if status != c.status || msg != c.msg {
			t.Errorf("response(%v) = %d %q, want %d %q", c.err, status, msg, c.status, c.msg)
		}
	}
}

func TestEstimator(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	// Two pipelines of batches of up to two: the first two cars in the
	// first window, then four a window.
	e := train.Estimate{Now: now, PerWindow: 10 * time.Minute, Settings: train.Settings{MaxParallel: 2, BatchSize: 2}, Front: now.Add(-3 * time.Minute)}
	running := train.Car{State: train.StateRunning}
	for i, want := range []time.Duration{7 * time.Minute, 7 * time.Minute, 17 * time.Minute, 17 * time.Minute, 17 * time.Minute, 17 * time.Minute, 27 * time.Minute} {
		got := etaAt(e, i, running)
		if got == nil || got.Std() != want {
			t.Errorf("car %d: estimate %v, want %v", i, got, want)
		}
	}
	if got := etaAt(e, 0, train.Car{State: train.StateFailed}); got != nil {
		t.Errorf("failed car estimate %v, want none", *got)
	}
	late := train.Estimate{Now: now, PerWindow: 10 * time.Minute, Settings: train.Settings{MaxParallel: 1, BatchSize: 1}, Front: now.Add(-time.Hour)}
	if got := etaAt(late, 0, running); got == nil || *got != 0 {
		t.Errorf("overdue front car estimate %v, want 0", got)
	}
	if got := etaAt(late, 1, running); got == nil || got.Std() != 10*time.Minute {
		t.Errorf("second car behind an overdue one: %v, want 10m", got)
	}
	if got := etaAt(train.Estimate{Now: now, Settings: train.Settings{MaxParallel: 1}}, 0, running); got != nil {
		t.Errorf("estimate without history %v, want none", *got)
	}
}

func TestTrainShowsBatchesAndBisection(t *testing.T) {
	s := &server{Options: Options{Now: func() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) }}}
	tr := train.Train{Key: train.Key{Forge: "gitlab", Project: "g/a", Branch: "main"}, Cars: []train.Car{
		{MR: 1, State: train.StateBuilt, Commit: "C1"},
		{MR: 2, State: train.StateRunning, Commit: "C2", Pipeline: 7},
		{MR: 3, State: train.StateRunning, Commit: "C3", Pipeline: 8, Suspect: 5},
		{MR: 4, State: train.StateQueued},
	}}
	out := s.trainOf(tr, 0)
	for i, want := range []struct {
		with      int64
		bisecting bool
	}{{2, false}, {0, false}, {0, true}, {0, false}} {
		if c := out.Cars[i]; c.TestedWith != want.with || c.Bisecting != want.bisecting {
			t.Errorf("!%d: tested_with %d, bisecting %v; want %d, %v", c.MR, c.TestedWith, c.Bisecting, want.with, want.bisecting)
		}
	}
}

// The MRs in their lanes' trains are shown in the order they were added,
// with the lanes they passed in.
func TestTrainShowsTheMRsInTheirLanes(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &server{Options: Options{Now: func() time.Time { return now }, Profiles: forge.Profiles{"gitlab": gitlab.Profile("https://gitlab.example.com")}}}
	tr := train.Train{Key: train.Key{Forge: "gitlab", Project: "g/a", Branch: "main"}, InLanes: []train.LaneCar{
		{Add: train.Added{MR: 5, Title: "API change", By: "alice"}, Lanes: []string{"api"}, Since: now.Add(-time.Minute)},
		{Add: train.Added{MR: 6, Title: "Both", By: "bob"}, Lanes: []string{"api", "web"}, Passed: []string{"web"}, Since: now},
	}}
	raw, err := json.Marshal(s.trainOf(tr, 0).InLanes)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"mr":5,"label":"!5","title":"API change","mr_url":"https://gitlab.example.com/g/a/-/merge_requests/5","added_by":"alice","added_at":"2025-03-01T11:59:00Z","lanes":["api"],"passed":[]},` +
		`{"mr":6,"label":"!6","title":"Both","mr_url":"https://gitlab.example.com/g/a/-/merge_requests/6","added_by":"bob","added_at":"2025-03-01T12:00:00Z","lanes":["api","web"],"passed":["web"]}]`
	if string(raw) != want {
		t.Errorf("in_lanes\n got %s\nwant %s", raw, want)
	}
	if out := s.trainOf(train.Train{Key: tr.Key}, 0); out.InLanes != nil {
		t.Errorf("in_lanes of a train without any: %+v", out.InLanes)
	}
}

func TestGitHubHistoryNamesChecks(t *testing.T) {
	s := &server{Options: Options{Profiles: forge.Profiles{"github": github.Profile("https://github.com")}}}
	id, err := github.PipelineID("1764773aa0db5d1b2c3e4f5a6b7c8d9e0f1a2b3c", 1)
	if err != nil {
		t.Fatal(err)
	}
	key := train.Key{Forge: "github", Project: "org/repo", Branch: "main"}
	h := s.historyOf(key, train.Car{MR: 3, State: train.StateMerged,
		Reason: &train.Reason{Code: train.ReasonMerged, Pipeline: id, Message: train.Join("Merged into `main` with abc, tested by ", train.PipelineRef(id), ".")}})
	if want := "Merged into `main` with abc, tested by the checks on 1764773aa0db."; h.Reason != want || h.Pipeline != id || h.Label != "#3" {
		t.Errorf("reason %q (pipeline %d), want %q", h.Reason, h.Pipeline, want)
	}
}

// A conflict is recorded with the base the MR was to be built on, never
// as a commit of its own; its history says the sentence the MR was told.
func TestConflictHistoryHasNoCommitOfItsOwn(t *testing.T) {
	s := &server{Options: Options{Profiles: forge.Profiles{"gitlab": gitlab.Profile("https://gitlab.example.com")}}}
	key := train.Key{Forge: "gitlab", Project: "g/a", Branch: "main"}
	said := "Removed from the merge train for `main`: it does not merge cleanly onto `main`; conflicting paths: a.go."
	for _, r := range []train.Reason{
		{Code: train.ReasonConflict, Message: train.Words(said), Base: "base1"},
		{Code: train.ReasonConflict, Message: train.Words(said), Commit: "base1"}, // written before Base
	} {
		h := s.historyOf(key, train.Car{MR: 4, State: train.StateEvicted, Reason: &r})
		if h.Commit != "" || h.Pipeline != 0 || h.Reason != said {
			t.Errorf("%+v: history commit %q pipeline %d reason %q", r, h.Commit, h.Pipeline, h.Reason)
		}
	}
}

// A held train's cars have no estimate: nothing merges until the hold
// ends, which the train's hold says instead.
func TestHeldTrainHasNoEstimates(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &server{Options: Options{Now: func() time.Time { return now }}}
	tr := train.Train{Key: train.Key{Forge: "gitlab", Project: "g/a", Branch: "main"}, Settings: train.Settings{MaxParallel: 2}.WithDefaults(),
		Cars: []train.Car{{MR: 1, State: train.StateRunning, Pipeline: 7, PipelineStartedAt: now.Add(-time.Minute)}}}
	if out := s.trainOf(tr, 10*time.Minute); out.Hold != nil || out.Cars[0].EstimatedMerge == nil || out.Cars[0].EstimatedMerge.Std() != 9*time.Minute {
		t.Fatalf("open train: hold %+v, estimate %v; want none and 9m", out.Hold, out.Cars[0].EstimatedMerge)
	}
	tr.Frozen = &train.Hold{Kind: train.HoldFrozen, Reason: "release", By: "ops"}
	out := s.trainOf(tr, 10*time.Minute)
	if out.Hold == nil || out.Hold.Kind != "frozen" || out.Hold.Sentence != "the merge train is frozen by ops: release" || !out.Hold.Until.IsZero() ||
		out.Frozen == nil || *out.Frozen != (v1.Freeze{Kind: "frozen", Reason: "release", By: "ops"}) {
		t.Fatalf("frozen train: hold %+v, frozen %+v", out.Hold, out.Frozen)
	}
	if out.Cars[0].EstimatedMerge != nil {
		t.Errorf("frozen train: estimate %v, want none", *out.Cars[0].EstimatedMerge)
	}
	tr.Frozen = nil
	tr.Settings.Schedule.Windows = []train.MergeWindow{{Days: 1 << time.Monday, From: 9 * time.Hour, Until: 17 * time.Hour, Spec: "Mon 09:00-17:00 UTC"}}
	out = s.trainOf(tr, 10*time.Minute) // a Saturday
	want := v1.Hold{Kind: "outside_merge_window", Reason: "Mon 09:00-17:00 UTC", Until: time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC),
		Sentence: "the target branch is outside its merge windows (Mon 09:00-17:00 UTC) until 2025-03-03 09:00 UTC"}
	if out.Hold == nil || *out.Hold != want || out.Frozen != nil || out.Cars[0].EstimatedMerge != nil {
		t.Fatalf("outside the windows: hold %+v, frozen %+v, estimate %v; want hold %+v", out.Hold, out.Frozen, out.Cars[0].EstimatedMerge, want)
	}
	if sum := s.summaryOf(tr); sum.Hold == nil || *sum.Hold != want {
		t.Fatalf("summary hold %+v, want %+v", sum.Hold, want)
	}
}

// The API takes as long a reason as a /train freeze comment does.
func TestReasonLimitIsTheCommentsLimit(t *testing.T) {
	if v1.MaxReason != command.MaxReason {
		t.Fatalf("the API takes reasons of up to %d characters, comments %d", v1.MaxReason, command.MaxReason)
	}
	if got, err := CheckReason("  release 2.0 \u00e9 "); err != nil || got != "release 2.0 \u00e9" {
		t.Fatalf("CheckReason = %q, %v", got, err)
	}
}

// A project path must have the depth its forge gives every project: a
// GitHub repository is owner/name; GitLab nests groups.
func TestProjectPathDepth(t *testing.T) {
	s := &server{Options: Options{Profiles: forge.Profiles{"github": github.Profile("https://github.com"), "gitlab": gitlab.Profile("https://gitlab.example.com")}}}
	for _, tc := range []struct {
		forge, project, err string
	}{
		{"github", "acme/widgets", ""},
		{"github", "acme/widgets/extra", `project: want a GitHub project path of 2 segments, got "acme/widgets/extra"`},
		{"github", "acme", `project: want a GitHub project path of 2 segments, got "acme"`},
		{"gitlab", "group/sub/app", ""},
		{"gitlab", "group//app", `project: want a project path such as group%2Fapp, got "group//app"`},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.SetPathValue("project", tc.project)
		_, err := s.projectOf(r, tc.forge)
		if got := fmt.Sprint(err); (tc.err == "" && err != nil) || (tc.err != "" && got != tc.err) {
			t.Errorf("%s %q: %v, want %q", tc.forge, tc.project, err, tc.err)
		}
	}
}
