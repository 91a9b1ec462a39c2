package notify

import (
	"fmt"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/train"
)

func TestRender(t *testing.T) {
	conflict := train.Notify{Kind: train.NotifyEvicted, Key: "e", Cars: []train.Car{{
		MR: 5, Title: "a_b [wip]",
		Reason: &train.Reason{Code: train.ReasonConflict, Message: "it does not merge cleanly onto `main`; conflicting paths: x<y>.go"},
	}}}
	linked := train.Notify{Kind: train.NotifyEvicted, Key: "e", Cars: []train.Car{
		{MR: 6, Reason: &train.Reason{Pipeline: 7, Message: "pipeline #77 failed, then pipeline #7 failed"}},
		{MR: 8, Reason: &train.Reason{Pipeline: 9, Message: "timed out"}},
	}}
	quick := train.Notify{Kind: train.NotifyMerged, Commit: "abc", Cars: []train.Car{
		{MR: 3, Title: "T", AddedAt: t0, LeftAt: t0.Add(42*time.Second + 400*time.Millisecond)},
		{MR: 4, AddedAt: t0, LeftAt: t0.Add(2 * time.Hour)},
		{MR: 5, LeftAt: t0},
	}}
	ghKey := train.Key{Forge: "github", Project: "org/repo", Branch: "rel`ease"}
	tests := []struct {
		name  string
		kind  Kind
		links Links
		key   train.Key
		event train.Notify
		want  string
	}{
		{"slack conflict without links", KindSlack, noLinks{}, appKey, conflict,
			"Removed from the merge train for `main` in group/my_app:\n• !5 a_b [wip] — it does not merge cleanly onto `main`; conflicting paths: x&lt;y&gt;.go"},
		{"mattermost conflict without links", KindMattermost, noLinks{}, appKey, conflict,
			"Removed from the merge train for `main` in group/my\\_app:\n• !5 a\\_b \\[wip\\] — it does not merge cleanly onto `main`; conflicting paths: x<y>.go"},
		{"pipeline link on the exact number, or appended", KindMattermost, links, appKey, linked,
			"Removed from the merge train for `main` in group/my\\_app:\n" +
				"• [!6](" + gl + "merge_requests/6) — pipeline #77 failed, then pipeline [#7](" + gl + "pipelines/7) failed\n" +
				"• [!8](" + gl + "merge_requests/8) — timed out (pipeline [#9](" + gl + "pipelines/9))"},
		{"github labels, seconds, hours, unknown time, no pipeline", KindSlack, noLinks{}, ghKey, quick,
			"Merged into `rel'ease` in org/repo as `abc`:\n• #3 T — 42s on the train\n• #4 — 2h on the train\n• #5"},
		{"resumed by nobody", KindSlack, noLinks{}, appKey, train.Notify{Kind: train.NotifyResumed},
			"The merge train for `main` in group/my_app was resumed."},
		{"no mentions from forge text in mattermost", KindMattermost, noLinks{}, appKey, train.Notify{Kind: train.NotifyPaused, By: "@all"},
			"The merge train for `main` in group/my\\_app was paused by @\u200ball."},
		{"slack does not act on plain @all", KindSlack, noLinks{}, appKey, train.Notify{Kind: train.NotifyPaused, By: "@all"},
			"The merge train for `main` in group/my_app was paused by @all."},
		{"unknown kind", KindMattermost, noLinks{}, appKey, train.Notify{Kind: "derailed_*"},
			"The merge train for `main` in group/my\\_app: derailed\\_\\*."},
		{"links escaped for the syntax", KindSlack, urlLinks("https://x/a|b>c"), appKey, train.Notify{Kind: train.NotifyMerged, Cars: []train.Car{{MR: 1}}},
			"Merged into `main` in group/my_app:\n• <https://x/a%7Cb%3Ec|!1>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := render(dialectFor(tc.kind), tc.links, tc.key, tc.event); got != tc.want {
				t.Errorf("render\n got: %q\nwant: %q", got, tc.want)
			}
		})
	}
}

// urlLinks links every reference to one URL.
type urlLinks string

func (u urlLinks) MR(train.Key, int64) string        { return string(u) }
func (u urlLinks) Pipeline(train.Key, int64) string  { return string(u) }
func (u urlLinks) Commit(train.Key, string) string   { return string(u) }
func (urlLinks) PipelineRef(train.Key, int64) string { return "" }

func TestLinks(t *testing.T) {
	l := LinksByForge{"gitlab": GitLabLinks{BaseURL: "https://gl.example.com/"}}
	key := train.Key{Forge: "gitlab", Project: "a/b/c", Branch: "main"}
	for _, tc := range []struct{ got, want string }{
		{l.MR(key, 12), "https://gl.example.com/a/b/c/-/merge_requests/12"},
		{l.Pipeline(key, 345), "https://gl.example.com/a/b/c/-/pipelines/345"},
		{l.Commit(key, "abc"), "https://gl.example.com/a/b/c/-/commit/abc"},
		{l.MR(train.Key{Forge: "github", Project: "o/r"}, 1), ""},
		{l.Pipeline(train.Key{Forge: "github", Project: "o/r"}, 1), ""},
		{l.Commit(train.Key{Forge: "github", Project: "o/r"}, "abc"), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("link = %q, want %q", tc.got, tc.want)
		}
	}
	l["github"] = GitHubLinks{WebURL: "https://github.com"}
	gh := train.Key{Forge: "github", Project: "o/r", Branch: "main"}
	// A GitHub pipeline id packs the commit's first 13 hex digits and an
	// attempt.
	id := int64(0x0a1b2c3d4e5f6)<<10 | 1
	for _, tc := range []struct{ got, want string }{
		{l.MR(gh, 7), "https://github.com/o/r/pull/7"},
		{l.Pipeline(gh, id), "https://github.com/o/r/commit/0a1b2c3d4e5f6/checks"},
		{l.Commit(gh, "abc"), "https://github.com/o/r/commit/abc"},
	} {
		if tc.got != tc.want {
			t.Errorf("link = %q, want %q", tc.got, tc.want)
		}
	}
}

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
	msg := fmt.Sprintf("pipeline #%d failed; it tested this merge request again, without the ones behind it, after pipeline #%d failed", again, first)
	n := train.Notify{Kind: train.NotifyEvicted, Cars: []train.Car{{MR: 4, Reason: &train.Reason{Code: train.ReasonPipelineFailed, Pipeline: again, Message: msg}}}}
	got := render(dialectFor(KindMattermost), GitHubLinks{WebURL: "https://github.com"}, key, n)
	want := "Removed from the merge train for `main` in org/repo:\n" +
		"• [#4](https://github.com/org/repo/pull/4) — [the checks on 1764773aa0db (attempt 2)](https://github.com/org/repo/commit/1764773aa0db5/checks) failed; " +
		"it tested this merge request again, without the ones behind it, after the checks on 1764773aa0db failed"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
