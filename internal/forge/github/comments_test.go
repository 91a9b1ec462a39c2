package github

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
)

// clock is the forge's time, moved by hand so that comments fall in
// distinct seconds.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) tick() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func clockedForge(t *testing.T) (*fakeforge.Forge, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	return newForge(t, func(o *fakeforge.Options) { o.Now = clk.now }), clk
}

const listComments = "GET /repos/{owner}/{repo}/issues/comments"

func TestCommentsSince(t *testing.T) {
	f, clk := clockedForge(t)
	c := newClient(t, f, nil)
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	clk.tick()
	old, err := f.AddNote(ctx, project, mr.IID, "carol", "old")
	if err != nil {
		t.Fatal(err)
	}
	since := clk.tick()
	issue, err := f.CreateIssue(ctx, project, "dan", "a bug")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.CommentOnIssue(ctx, project, issue, "dan", "/train add"); err != nil {
		t.Fatal(err)
	}
	at := clk.tick()
	added, err := f.AddNote(ctx, project, mr.IID, "carol", "/train add")
	if err != nil {
		t.Fatal(err)
	}
	carol := f.AddUser("carol")

	got, next, err := c.CommentsSince(ctx, project, since)
	if err != nil {
		t.Fatal(err)
	}
	want := []forge.Comment{{ID: added.ID, MR: mr.IID, Body: "/train add", AuthorID: carol.ID, Author: "carol", Created: at, Updated: at}}
	if !reflect.DeepEqual(got, want) || !next.Equal(at) {
		t.Fatalf("CommentsSince = %+v, next %v\nwant %+v, next %v", got, next, want, at)
	}

	// An edit brings an old comment back, after the new one.
	edited := clk.tick()
	if _, err := f.EditNote(ctx, project, mr.IID, old.ID, "/train add"); err != nil {
		t.Fatal(err)
	}
	got, next, err = c.CommentsSince(ctx, project, next)
	if err != nil || len(got) != 2 || got[0].ID != added.ID || got[1].ID != old.ID || !got[1].Updated.Equal(edited) || got[1].Created.After(at) || !next.Equal(edited) {
		t.Fatalf("after an edit: %+v, next %v, %v", got, next, err)
	}

	// Nothing before the first comment is lost either.
	all, next, err := c.CommentsSince(ctx, project, time.Time{})
	if err != nil || len(all) != 2 || !next.Equal(edited) {
		t.Fatalf("since the start: %+v, next %v, %v", all, next, err)
	}
	if _, _, err := c.CommentsSince(ctx, "acme/nope", since); err == nil {
		t.Fatal("comments of a missing repository")
	}
}

func TestCommentsSinceUnchangedCostsOneNotModified(t *testing.T) {
	f, clk := clockedForge(t)
	core, logs := observer.New(zapcore.DebugLevel)
	c := newClient(t, f, func(o *Options) { o.Logger = zap.New(core) })
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	since := clk.tick()
	if _, err := f.AddNote(ctx, project, mr.IID, "carol", "/train add"); err != nil {
		t.Fatal(err)
	}
	first, next, err := c.CommentsSince(ctx, project, since)
	if err != nil || len(first) != 1 {
		t.Fatalf("first: %+v, %v", first, err)
	}
	calls := counting(f)
	again, againNext, err := c.CommentsSince(ctx, project, since)
	if err != nil || !reflect.DeepEqual(again, first) || !againNext.Equal(next) {
		t.Fatalf("unchanged: %+v, %v, %v; want %+v, %v", again, againNext, err, first, next)
	}
	if got := calls.since(); !reflect.DeepEqual(got, map[string]int{listComments: 1}) {
		t.Fatalf("requests for an unchanged repository: %v, want one", got)
	}
	if n := logs.FilterMessage("comments not modified").Len(); n != 1 {
		t.Fatalf("%d answers 304, want 1", n)
	}

	clk.tick()
	if _, err := f.AddNote(ctx, project, mr.IID, "dan", "/train add"); err != nil {
		t.Fatal(err)
	}
	changed, _, err := c.CommentsSince(ctx, project, since)
	if err != nil || len(changed) != 2 || changed[1].Author != "dan" || logs.FilterMessage("comments not modified").Len() != 1 {
		t.Fatalf("after a new comment: %+v, %v", changed, err)
	}
}

func TestCommentsSincePages(t *testing.T) {
	f, clk := clockedForge(t)
	core, logs := observer.New(zapcore.DebugLevel)
	c := newClient(t, f, func(o *Options) { o.Logger = zap.New(core) })
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	since := clk.tick()
	for i := range 130 {
		if i%10 == 0 {
			clk.tick()
		}
		if _, err := f.AddNote(ctx, project, mr.IID, "carol", fmt.Sprint("n", i)); err != nil {
			t.Fatal(err)
		}
	}
	calls := counting(f)
	for range 2 {
		got, _, err := c.CommentsSince(ctx, project, since)
		if err != nil || len(got) != 130 {
			t.Fatalf("%d comments, %v", len(got), err)
		}
		for i, cm := range got {
			if cm.Body != fmt.Sprint("n", i) {
				t.Fatalf("comment %d is %q", i, cm.Body)
			}
		}
	}
	// Two pages each time: a first page that is full does not tell by
	// its ETag whether later pages changed.
	if got := calls.since(); got[listComments] != 4 || logs.FilterMessage("comments not modified").Len() != 0 {
		t.Fatalf("requests: %v", got)
	}
}

func TestPullNumber(t *testing.T) {
	for in, want := range map[string]int64{
		"https://github.com/acme/widgets/pull/7#issuecomment-1":   7,
		"https://ghe.example.com/acme/widgets/pull/12":            12,
		"https://github.com/acme/widgets/issues/7#issuecomment-1": 0,
		"https://github.com/acme/widgets/pull/x#issuecomment-1":   0,
		"": 0,
	} {
		if got, ok := pullNumber(in); got != want || ok != (want > 0) {
			t.Errorf("pullNumber(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
}

// A list longer than one call reads is read in turns, oldest first: each
// call's next goes on where it stopped, so a backlog of comments is
// worked through instead of failing whole on the page limit every time.
func TestCommentsSinceReadsALongListInTurns(t *testing.T) {
	f, clk := clockedForge(t)
	c := newClient(t, f, nil)
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	since := clk.tick()
	n := commentPagesPerCall*perPage + 150
	for i := range n {
		if i%10 == 0 {
			clk.tick()
		}
		if _, err := f.AddNote(ctx, project, mr.IID, "carol", fmt.Sprint("n", i)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int64]bool{}
	var last string
	for call := 0; ; call++ {
		got, next, err := c.CommentsSince(ctx, project, since)
		if err != nil {
			t.Fatalf("call %d: %v", call, err)
		}
		if call == 0 && len(got) != commentPagesPerCall*perPage {
			t.Fatalf("first call: %d comments, want %d", len(got), commentPagesPerCall*perPage)
		}
		for _, cm := range got {
			seen[cm.ID] = true
			last = cm.Body
		}
		if !next.After(since) {
			break
		}
		since = next
		if call > 5 {
			t.Fatal("the list never ends")
		}
	}
	if len(seen) != n || last != fmt.Sprint("n", n-1) {
		t.Fatalf("%d distinct comments, the last %q; want %d, the last n%d", len(seen), last, n, n-1)
	}
}
