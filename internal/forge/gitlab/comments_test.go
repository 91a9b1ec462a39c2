package gitlab

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
)

// tick is a forge clock that moves on by step at every reading, so that
// each change has its own time. Steps under a second also put many
// changes in one second, the most the GitLab client's updated_after can
// tell apart.
type tick struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *tick) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

var clockStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newTickForge(t *testing.T) *fakeforge.Forge {
	t.Helper()
	clock := &tick{t: clockStart, step: time.Millisecond}
	return newForge(t, func(o *fakeforge.Options) { o.Now = clock.now })
}

// commentCalls counts the requests CommentsSince makes, by what they
// list.
func commentCalls(f *fakeforge.Forge) (mrs, notes int) {
	c := f.Calls()
	return c["GET /projects/{id}/merge_requests"], c["GET /projects/{id}/merge_requests/{iid}/notes"]
}

// since calls CommentsSince and checks how many requests of each kind it
// took.
func since(t *testing.T, f *fakeforge.Forge, c *Client, from time.Time, wantMRPages, wantNotePages int) ([]forge.Comment, time.Time) {
	t.Helper()
	m0, n0 := commentCalls(f)
	got, next, err := c.CommentsSince(context.Background(), project, from)
	if err != nil {
		t.Fatalf("CommentsSince: %v", err)
	}
	m1, n1 := commentCalls(f)
	if m1-m0 != wantMRPages || n1-n0 != wantNotePages {
		t.Fatalf("CommentsSince listed MRs %d times and notes %d times, want %d and %d", m1-m0, n1-n0, wantMRPages, wantNotePages)
	}
	return got, next
}

func bodies(comments []forge.Comment) string {
	var out []string
	for _, c := range comments {
		out = append(out, fmt.Sprintf("!%d %s: %s", c.MR, c.Author, c.Body))
	}
	return fmt.Sprintf("%q", out)
}

// updatedAt is MR iid's updated_at as the API reports it.
func updatedAt(t *testing.T, c *Client, iid int64) time.Time {
	t.Helper()
	mr, _, err := c.gl.MergeRequests.GetMergeRequest(project, iid, nil)
	if err != nil {
		t.Fatal(err)
	}
	return *mr.UpdatedAt
}

func TestCommentsSince(t *testing.T) {
	f := newTickForge(t)
	c := newClient(t, f, nil)
	ctx := context.Background()
	carol := f.AddUser("carol")
	a := openMR(t, f, "a", map[string]string{"a": "a"})
	b := openMR(t, f, "b", map[string]string{"b": "b"})
	closed := openMR(t, f, "c", map[string]string{"c": "c"})
	quiet := openMR(t, f, "quiet", map[string]string{"q": "q"})
	add := func(iid int64, who, body string) fakeforge.Note {
		t.Helper()
		n, err := f.AddNote(ctx, project, iid, who, body)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := add(a.IID, "carol", "/train add")
	bobs := add(b.IID, "bob", "/train add")
	add(closed.IID, "dave", "/train add")
	if err := f.CloseMR(ctx, project, closed.IID, "dave"); err != nil {
		t.Fatal(err)
	}
	// A system note, which is no comment.
	if err := f.Approve(ctx, project, a.IID, "erin"); err != nil {
		t.Fatal(err)
	}

	// updated_after goes out in whole seconds: in the same second as
	// since, quiet comes back from the list, and the client must drop it.
	from := updatedAt(t, c, quiet.IID).Add(time.Millisecond)
	if !from.Truncate(time.Second).Equal(clockStart) || !updatedAt(t, c, a.IID).Before(from.Add(time.Second).Truncate(time.Second)) {
		t.Fatalf("the setup spans more than a second: since %v", from)
	}
	got, next := since(t, f, c, from, 1, 2)
	want := `["!1 carol: /train add" "!2 bob: /train add"]`
	if bodies(got) != want {
		t.Fatalf("comments %s\nwant %s", bodies(got), want)
	}
	if g := got[0]; g.ID != first.ID || g.AuthorID != carol.ID || !g.Created.Equal(first.CreatedAt) || !g.Updated.Equal(first.CreatedAt) {
		t.Fatalf("comment %+v, want note %+v by user %d", g, first, carol.ID)
	}
	if wantNext := updatedAt(t, c, a.IID).Add(time.Millisecond); !next.Equal(wantNext) {
		t.Fatalf("next = %v, want just after the approval's touch of !1, %v", next, wantNext)
	}

	// Nothing changed: one request.
	got, again := since(t, f, c, next, 1, 0)
	if len(got) != 0 || !again.Equal(next) {
		t.Fatalf("with nothing new: %s, next %v (was %v)", bodies(got), again, next)
	}
	if got, after := since(t, f, c, next.Add(time.Hour), 1, 0); len(got) != 0 || !after.Equal(next.Add(time.Hour)) {
		t.Fatalf("since the future: %s, next %v", bodies(got), after)
	}

	// An edit brings its note back; an older note of the same MR does not.
	add(b.IID, "bob", "older")
	if got, next = since(t, f, c, next, 1, 1); bodies(got) != `["!2 bob: older"]` {
		t.Fatalf("a new note: %s", bodies(got))
	}
	if err := f.Approve(ctx, project, b.IID, "erin"); err != nil {
		t.Fatal(err)
	}
	if got, next = since(t, f, c, next, 1, 1); len(got) != 0 {
		t.Fatalf("an approval: %s", bodies(got))
	}
	edited, err := f.EditNote(ctx, project, b.IID, bobs.ID, "/train add please")
	if err != nil {
		t.Fatal(err)
	}
	fresh := add(a.IID, "carol", "/train status")
	got, next = since(t, f, c, next, 1, 2)
	want = `["!2 bob: /train add please" "!1 carol: /train status"]`
	if bodies(got) != want {
		t.Fatalf("after an edit and a note: %s\nwant %s", bodies(got), want)
	}
	if g := got[0]; !g.Created.Equal(bobs.CreatedAt) || !g.Updated.Equal(edited.UpdatedAt) || !g.Updated.After(g.Created) {
		t.Fatalf("edited comment %+v", g)
	}
	if want := fresh.CreatedAt.Add(time.Millisecond); !next.Equal(want) {
		t.Fatalf("next = %v, want just after the newest note, %v", next, want)
	}
}

func TestCommentsSincePages(t *testing.T) {
	f := newTickForge(t)
	c := newClient(t, f, nil)
	ctx := context.Background()
	mr := openMR(t, f, "busy", map[string]string{"b": "b"})
	var notes []fakeforge.Note
	for i := range 150 {
		n, err := f.AddNote(ctx, project, mr.IID, "carol", fmt.Sprintf("note %d", i))
		if err != nil {
			t.Fatal(err)
		}
		notes = append(notes, n)
	}
	got, _ := since(t, f, c, clockStart, 1, 2)
	if len(got) != 150 || got[0].Body != "note 0" || got[149].Body != "note 149" {
		t.Fatalf("%d comments, %s ... ", len(got), bodies(got[:min(len(got), 3)]))
	}
	// Newest first, the read stops at the first older note: one page.
	got, _ = since(t, f, c, notes[120].CreatedAt, 1, 1)
	if len(got) != 30 || got[0].ID != notes[120].ID || got[29].ID != notes[149].ID {
		t.Fatalf("since note 120: %d comments, %s ...", len(got), bodies(got[:min(len(got), 3)]))
	}
}

func TestCommentsSinceManyMRs(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 105 merge requests")
	}
	f := newTickForge(t)
	c := newClient(t, f, nil)
	ctx := context.Background()
	var iids []int64
	for i := range 105 {
		mr := openMR(t, f, fmt.Sprintf("f%d", i), map[string]string{"f": fmt.Sprint(i)})
		iids = append(iids, mr.IID)
	}
	// Touch them in reverse, so that the oldest update is the newest MR.
	start := updatedAt(t, c, iids[len(iids)-1])
	for _, iid := range slices.Backward(iids) {
		if _, err := f.AddNote(ctx, project, iid, "carol", fmt.Sprintf("on !%d", iid)); err != nil {
			t.Fatal(err)
		}
	}
	got, next := since(t, f, c, start, 2, 105)
	if len(got) != 105 || got[0].MR != iids[104] || got[104].MR != iids[0] {
		t.Fatalf("%d comments, first on !%d", len(got), got[0].MR)
	}
	if want := updatedAt(t, c, iids[0]).Add(time.Millisecond); !next.Equal(want) {
		t.Fatalf("next = %v, want %v", next, want)
	}
}
