package notify

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// TestRouteFiltering sends events of several trains through a Notifier
// whose routes filter by forge, project, branch and event kind.
func TestRouteFiltering(t *testing.T) {
	rc := newReceiver(t)
	h := start(t, Options{Routes: []Route{
		{Forge: "gitlab", Project: "group/app", Kind: KindSlack, URL: rc.url("/app")},
		{Project: "group/app", Branches: []string{"release/*"}, Events: []train.NotifyKind{train.NotifyEvicted}, Kind: KindSlack, URL: rc.url("/release-evictions")},
		{Forge: "gitlab", Project: "other/proj", Kind: KindSlack, URL: rc.url("/other")},
		{Events: []train.NotifyKind{train.NotifyPaused, train.NotifyResumed}, Kind: KindMattermost, URL: rc.url("/pauses")},
		{Forge: "github", Kind: KindSlack, URL: rc.url("/github")},
	}})
	app := func(branch string) train.Key { return train.Key{Forge: "gitlab", Project: "group/app", Branch: branch} }
	sends := []struct {
		key train.Key
		ev  train.Notify
	}{
		{app("main"), event(train.NotifyMerged, 1)},
		{app("release/1.0"), event(train.NotifyEvicted, 2)},
		{app("main"), event(train.NotifyEvicted, 3)},
		{app("release/1.0"), event(train.NotifyMerged, 4)},
		{train.Key{Forge: "gitlab", Project: "other/proj", Branch: "main"}, event(train.NotifyPaused, 5)},
		{train.Key{Forge: "gitlab", Project: "group/app-2", Branch: "main"}, event(train.NotifyMerged, 6)},
	}
	for _, s := range sends {
		h.n.Notify(t.Context(), s.key, s.ev)
	}
	h.n.Close()
	want := map[string]int{"/app": 4, "/release-evictions": 1, "/other": 1, "/pauses": 1, "/github": 0}
	for path, n := range want {
		if got := rc.got(path); len(got) != n {
			t.Errorf("%s got %d posts, want %d: %q", path, len(got), n, got)
		}
	}
	if got := rc.got("/release-evictions"); len(got) == 1 && !strings.Contains(got[0], "`release/1.0` in group/app") {
		t.Errorf("/release-evictions got %q, want the release/1.0 eviction", got[0])
	}
}

func TestRouteMatches(t *testing.T) {
	key := train.Key{Forge: "gitlab", Project: "g/p", Branch: "release/2.x"}
	tests := []struct {
		route Route
		kind  train.NotifyKind
		want  bool
	}{
		{Route{}, train.NotifyMerged, true},
		{Route{Forge: "github"}, train.NotifyMerged, false},
		{Route{Project: "g/p"}, train.NotifyMerged, true},
		{Route{Project: "g/q"}, train.NotifyMerged, false},
		{Route{Branches: []string{"main", "release/2.x"}}, train.NotifyMerged, true},
		{Route{Branches: []string{"release/*"}}, train.NotifyMerged, true},
		{Route{Branches: []string{"release"}}, train.NotifyMerged, false},
		{Route{Branches: []string{"*"}}, train.NotifyMerged, false}, // * stops at /
		{Route{Events: []train.NotifyKind{train.NotifyEvicted}}, train.NotifyMerged, false},
		{Route{Events: []train.NotifyKind{train.NotifyEvicted, train.NotifyMerged}}, train.NotifyMerged, true},
	}
	for i, tc := range tests {
		if got := tc.route.matches(key, tc.kind); got != tc.want {
			t.Errorf("%d: %+v matches %s = %v, want %v", i, tc.route, tc.kind, got, tc.want)
		}
	}
}

func TestRouteValidate(t *testing.T) {
	ok := Route{Kind: KindSlack, URL: "https://hooks.example.com" + secretPath}
	tests := []struct {
		name string
		edit func(r *Route)
		want string // "" for valid
	}{
		{"valid", func(*Route) {}, ""},
		{"mattermost", func(r *Route) { r.Kind = KindMattermost }, ""},
		{"kind", func(r *Route) { r.Kind = "teams" }, `kind "teams" is not "slack" or "mattermost"`},
		{"no url", func(r *Route) { r.URL = "" }, "url: empty"},
		{"scheme", func(r *Route) { r.URL = "ftp://hooks.example.com" + secretPath }, "url: scheme is not http or https"},
		{"host", func(r *Route) { r.URL = "https://" + secretPath }, "url: has no host"},
		{"unparsable", func(r *Route) { r.URL = "https://h.example.com/%zz" + secretPath }, "url: does not parse"},
		{"pattern", func(r *Route) { r.Branches = []string{"release/["} }, `branch pattern "release/[" is malformed`},
		{"empty branch", func(r *Route) { r.Branches = []string{""} }, `branch pattern "" is malformed`},
		{"event", func(r *Route) { r.Events = []train.NotifyKind{"merged", "derailed"} }, `event "derailed" is not one of [merged evicted paused resumed frozen unfrozen draining undrained]`},
		{"retry_for", func(r *Route) { r.RetryFor = -time.Minute }, "retry_for -1m0s is negative"},
		{"retry_for set", func(r *Route) { r.RetryFor = 3 * time.Hour }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.edit(&r)
			err := r.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidRoute) || err.Error() != "invalid notify route: "+tc.want {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestNewNamesTheBadRoute(t *testing.T) {
	_, err := New(Options{Routes: []Route{
		{Kind: KindSlack, URL: "https://h.example.com/a"},
		{Kind: KindMattermost, URL: "gopher://h.example.com" + secretPath},
	}})
	want := "notify route mattermost#1: invalid notify route: url: scheme is not http or https"
	if err == nil || err.Error() != want || !errors.Is(err, ErrInvalidRoute) {
		t.Fatalf("New = %v, want %q", err, want)
	}
	_, err = New(Options{Routes: []Route{{Name: "ops", Kind: "irc", URL: "https://h.example.com/a"}}})
	if err == nil || !strings.HasPrefix(err.Error(), "notify route ops: ") {
		t.Fatalf("New = %v, want an error naming route ops", err)
	}
}
