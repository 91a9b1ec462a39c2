package notify

import (
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/train"
)

func TestRender(t *testing.T) {
	conflict := train.Notify{Kind: train.NotifyEvicted, Key: "e", Cars: []train.Car{{
		MR: 5, Title: "a_b [wip]",
		Reason: &train.Reason{Code: train.ReasonConflict, Detail: train.Words("it does not merge cleanly onto `main`; conflicting paths: x<y>.go")},
	}}}
	linked := train.Notify{Kind: train.NotifyEvicted, Key: "e", Cars: []train.Car{
		{MR: 6, Reason: &train.Reason{Pipeline: 7, Detail: train.Join(train.PipelineRef(77), " failed, then ", train.PipelineRef(7), " failed")}},
		{MR: 8, Reason: &train.Reason{Pipeline: 9, Message: train.Words("Removed: timed out."), Detail: train.Words("timed out")}},
	}}
	quick := train.Notify{Kind: train.NotifyMerged, Commit: "abc", Cars: []train.Car{
		{MR: 3, Title: "T", AddedAt: t0, LeftAt: t0.Add(42*time.Second + 400*time.Millisecond)},
		{MR: 4, AddedAt: t0, LeftAt: t0.Add(2 * time.Hour)},
		{MR: 5, LeftAt: t0},
	}}
	ghKey := train.Key{Forge: "github", Project: "org/repo", Branch: "rel`ease"}
	tests := []struct {
		name     string
		kind     Kind
		profiles forge.Profiles
		key      train.Key
		event    train.Notify
		want     string
	}{
		{"slack conflict without links", KindSlack, nil, appKey, conflict,
			"Removed from the merge train for `main` in group/my_app:\n• !5 a_b [wip] — it does not merge cleanly onto `main`; conflicting paths: x&lt;y&gt;.go"},
		{"mattermost conflict without links", KindMattermost, nil, appKey, conflict,
			"Removed from the merge train for `main` in group/my\\_app:\n• !5 a\\_b \\[wip\\] — it does not merge cleanly onto `main`; conflicting paths: x<y>.go"},
		{"every pipeline named is linked", KindMattermost, profiles, appKey, linked,
			"Removed from the merge train for `main` in group/my\\_app:\n" +
				"• [!6](" + gl + "merge_requests/6) — [pipeline #77](" + gl + "pipelines/77) failed, then [pipeline #7](" + gl + "pipelines/7) failed\n" +
				"• [!8](" + gl + "merge_requests/8) — timed out"},
		{"github labels, seconds, hours, unknown time, no pipeline", KindSlack, forge.Profiles{github.Name: github.Profile("")}, ghKey, quick,
			"Merged into `rel'ease` in org/repo as <https://github.com/org/repo/commit/abc|abc>:\n• <https://github.com/org/repo/pull/3|#3> T — 42s on the train\n" +
				"• <https://github.com/org/repo/pull/4|#4> — 2h on the train\n• <https://github.com/org/repo/pull/5|#5>"},
		{"resumed by nobody", KindSlack, nil, appKey, train.Notify{Kind: train.NotifyResumed},
			"The merge train for `main` in group/my_app was resumed."},
		{"no mentions from forge text in mattermost", KindMattermost, nil, appKey, train.Notify{Kind: train.NotifyPaused, By: "@all"},
			"The merge train for `main` in group/my\\_app was paused by @\u200ball."},
		{"slack does not act on plain @all", KindSlack, nil, appKey, train.Notify{Kind: train.NotifyPaused, By: "@all"},
			"The merge train for `main` in group/my_app was paused by @all."},
		{"frozen with a reason that tries markup", KindMattermost, nil, appKey, train.Notify{Kind: train.NotifyFrozen, By: "alice", Reason: "@all *cut* [x](y)"},
			"The merge train for `main` in group/my\\_app was frozen by alice (@\u200ball \\*cut\\* \\[x\\](y)); cars are still tested, nothing merges until it is unfrozen."},
		{"draining through a token", KindSlack, nil, appKey, train.Notify{Kind: train.NotifyDraining, By: "ops"},
			"The merge train for `main` in group/my_app was set to drain by ops: it finishes its cars and takes no new one."},
		{"no mention from a reason, in code or not", KindMattermost, nil, appKey, train.Notify{Kind: train.NotifyEvicted, Cars: []train.Car{{MR: 5,
			Reason: &train.Reason{Detail: train.Words("paths: `@all`, ``a`b @channel``, then @here and ` @x")}}}},
			"Removed from the merge train for `main` in group/my\\_app:\n• !5 — paths: `@\u200ball`, ``a`b @\u200bchannel``, then @\u200bhere and ` @\u200bx"},
		{"a title is one line, without format characters", KindMattermost, nil, appKey, train.Notify{Kind: train.NotifyEvicted, Cars: []train.Car{{MR: 5,
			Title: "Fix\n# ALERT\r\nMerged into prod \u202eevil", Reason: &train.Reason{Detail: train.Words("timed out")}}}},
			"Removed from the merge train for `main` in group/my\\_app:\n• !5 Fix # ALERT Merged into prod \ufffdevil — timed out"},
		{"unknown kind", KindMattermost, nil, appKey, train.Notify{Kind: "derailed_*"},
			"The merge train for `main` in group/my\\_app: derailed\\_\\*."},
		{"links escaped for the syntax", KindSlack, forge.Profiles{gitlab.Name: {Name: gitlab.Name, Links: urlLinks("https://x/a|b>c")}}, appKey, train.Notify{Kind: train.NotifyMerged, Cars: []train.Car{{MR: 1}}},
			"Merged into `main` in group/my_app:\n• <https://x/a%7Cb%3Ec|!1>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := render(dialectFor(tc.kind), tc.profiles, tc.key, tc.event); got != tc.want {
				t.Errorf("render\n got: %q\nwant: %q", got, tc.want)
			}
		})
	}
}

// urlLinks links every reference to one URL.
type urlLinks string

func (u urlLinks) MR(string, int64) string       { return string(u) }
func (u urlLinks) Pipeline(string, int64) string { return string(u) }
func (u urlLinks) Commit(string, string) string  { return string(u) }
func (u urlLinks) Branch(string, string) string  { return string(u) }

func TestGitHubReasonsNameChecks(t *testing.T) {
	key := train.Key{Forge: "github", Project: "org/repo", Branch: "main"}
	first, err := github.PipelineID("1764773aa0db5d1b2c3e4f5a6b7c8d9e0f1a2b3c", 1)
	if err != nil {
		t.Fatal(err)
	}
	again, err := github.PipelineID("1764773aa0db5d1b2c3e4f5a6b7c8d9e0f1a2b3c", 2)
	if err != nil {
		t.Fatal(err)
	}
	why := train.Join(train.PipelineRef(again), " failed; it tested this merge request again, without the ones behind it, after ", train.PipelineRef(first), " failed")
	n := train.Notify{Kind: train.NotifyEvicted, Cars: []train.Car{{MR: 4, Reason: &train.Reason{Code: train.ReasonPipelineFailed, Pipeline: again, Detail: why}}}}
	got := render(dialectFor(KindMattermost), profiles, key, n)
	want := "Removed from the merge train for `main` in org/repo:\n" +
		"• [#4](https://github.com/org/repo/pull/4) — [the checks on 1764773aa0db (attempt 2)](https://github.com/org/repo/commit/1764773aa0db5/checks) failed; " +
		"it tested this merge request again, without the ones behind it, after [the checks on 1764773aa0db](https://github.com/org/repo/commit/1764773aa0db5/checks) failed"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
