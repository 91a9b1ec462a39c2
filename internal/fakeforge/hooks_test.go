package fakeforge

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNoteHookHeadersAndPayload(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	hooks := newSink(t, f, "hook-secret")
	mr := mustMR(t, f, MRSpec{Source: "s", Title: "Title", Commits: []Commit{{Files: map[string]string{"s": "s"}}}})
	n, err := f.AddNote(context.Background(), project1, mr.IID, "carol", "/train add")
	if err != nil {
		t.Fatal(err)
	}
	evs, reqs := hooks.events(t, f, EventNote)
	if len(evs) != 1 {
		t.Fatalf("%d note events", len(evs))
	}
	h := reqs[0].Header
	if h.Get("X-Gitlab-Token") != "hook-secret" || h.Get("User-Agent") != "GitLab/"+DefaultVersion ||
		h.Get("Content-Type") != "application/json" || h.Get("X-Gitlab-Instance") != f.URL() {
		t.Fatalf("headers = %v", h)
	}
	for _, k := range []string{"X-Gitlab-Event-UUID", "X-Gitlab-Webhook-UUID", "Idempotency-Key"} {
		if !uuidRE.MatchString(h.Get(k)) {
			t.Fatalf("%s = %q, not a UUID", k, h.Get(k))
		}
	}
	ev, ok := evs[0].(*gitlab.MergeCommentEvent)
	if !ok {
		t.Fatalf("note event parsed as %T", evs[0])
	}
	carol := f.AddUser("carol")
	if ev.ObjectAttributes.Note != "/train add" || ev.ObjectAttributes.ID != n.ID || ev.ObjectAttributes.NoteableType != "MergeRequest" ||
		ev.User.Username != "carol" || ev.User.ID != carol.ID || ev.MergeRequest.IID != mr.IID ||
		ev.MergeRequest.LastCommit.ID != mr.SHA || ev.MergeRequest.SourceBranch != "s" || ev.MergeRequest.TargetBranch != "main" ||
		ev.Project.PathWithNamespace != project1 || ev.ObjectAttributes.Action != gitlab.CommentEventActionCreate {
		t.Fatalf("note event = %+v", ev)
	}
}

func TestAPINoteSendsHook(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	hooks := newSink(t, f, "")
	mr := mustMR(t, f, MRSpec{Source: "s", Commits: []Commit{{Files: map[string]string{"s": "s"}}}})
	if _, _, err := client(t, f, botToken).Notes.CreateMergeRequestNote(project1, mr.IID, &gitlab.CreateMergeRequestNoteOptions{Body: gitlab.Ptr("merged")}); err != nil {
		t.Fatal(err)
	}
	evs, _ := hooks.events(t, f, EventNote)
	if len(evs) != 1 || evs[0].(*gitlab.MergeCommentEvent).User.Username != botName {
		t.Fatalf("note events = %v", evs)
	}
}

func TestCloseSendsHook(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	hooks := newSink(t, f, "")
	mr := mustMR(t, f, MRSpec{Source: "s", Commits: []Commit{{Files: map[string]string{"s": "s"}}}})
	if err := f.CloseMR(context.Background(), project1, mr.IID, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := f.CloseMR(context.Background(), project1, mr.IID, "alice"); err == nil {
		t.Fatal("closing a closed MR succeeded")
	}
	evs, _ := hooks.events(t, f, EventMergeRequest)
	if len(evs) != 2 {
		t.Fatalf("%d MR events", len(evs))
	}
	attrs := evs[1].(*gitlab.MergeEvent).ObjectAttributes
	if attrs.Action != "close" || attrs.State != StateClosed || attrs.StateID != 2 {
		t.Fatalf("close event = %+v", attrs)
	}
}

func TestMergeButton(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	hooks := newSink(t, f, "")
	ctx := context.Background()
	mr := mustMR(t, f, MRSpec{Source: "s", Title: "S", Commits: []Commit{{Files: map[string]string{"s": "s"}}}})
	if _, err := f.PushBranch(ctx, project1, "main", "bob", Commit{Files: map[string]string{"m": "m"}}); err != nil {
		t.Fatal(err)
	}
	commit, err := f.MergeMR(ctx, project1, mr.IID, "maria")
	if err != nil {
		t.Fatal(err)
	}
	head, _ := f.BranchHead(ctx, project1, "main")
	got, _ := f.MR(project1, mr.IID)
	if head != commit || got.State != StateMerged || got.MergeCommitSHA != commit {
		t.Fatalf("after merge: main %s, MR %+v, commit %s", head, got, commit)
	}
	evs, _ := hooks.events(t, f, EventMergeRequest)
	last := evs[len(evs)-1].(*gitlab.MergeEvent)
	if len(evs) != 2 || last.ObjectAttributes.Action != "merge" || last.ObjectAttributes.MergeCommitSHA != commit || last.User.Username != "maria" {
		t.Fatalf("MR events: %d, last %+v", len(evs), last.ObjectAttributes)
	}
}

func TestDroppedAndReplayedDeliveries(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	hooks := newSink(t, f, "")
	f.SetWebhook(Webhook{URL: hooks.srv.URL, DropRate: 1})
	mr := mustMR(t, f, MRSpec{Source: "s", Commits: []Commit{{Files: map[string]string{"s": "s"}}}})
	if evs, _ := hooks.events(t, f, EventMergeRequest); len(evs) != 0 {
		t.Fatalf("%d MR events delivered with drop rate 1", len(evs))
	}
	var dropped Delivery
	for _, d := range f.Deliveries() {
		if d.Event == EventMergeRequest {
			dropped = d
		}
	}
	if !dropped.Dropped || dropped.Attempts != 0 {
		t.Fatalf("delivery = %+v", dropped)
	}

	f.SetWebhook(Webhook{URL: hooks.srv.URL})
	if _, err := f.Replay(dropped.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Replay(dropped.ID); err != nil {
		t.Fatal(err)
	}
	evs, reqs := hooks.events(t, f, EventMergeRequest)
	if len(evs) != 2 || evs[0].(*gitlab.MergeEvent).ObjectAttributes.IID != mr.IID {
		t.Fatalf("replayed events = %v", evs)
	}
	for _, r := range reqs {
		if r.Header.Get("Idempotency-Key") != dropped.IdempotencyKey || r.Header.Get("X-Gitlab-Event-UUID") != dropped.EventUUID {
			t.Fatalf("replay headers %v, want key %s", r.Header, dropped.IdempotencyKey)
		}
	}
	if reqs[0].Header.Get("X-Gitlab-Webhook-UUID") == reqs[1].Header.Get("X-Gitlab-Webhook-UUID") {
		t.Fatal("two requests share X-Gitlab-Webhook-UUID")
	}
	if _, err := f.Replay(9999); err == nil {
		t.Fatal("replay of an unknown delivery succeeded")
	}
}

func TestDuplicateDeliveries(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	hooks := newSink(t, f, "")
	f.SetWebhook(Webhook{URL: hooks.srv.URL, DuplicateRate: 1})
	mustMR(t, f, MRSpec{Source: "s", Commits: []Commit{{Files: map[string]string{"s": "s"}}}})
	_, reqs := hooks.events(t, f, EventMergeRequest)
	if len(reqs) != 2 || reqs[0].Header.Get("Idempotency-Key") != reqs[1].Header.Get("Idempotency-Key") || string(reqs[0].Body) != string(reqs[1].Body) {
		t.Fatalf("duplicate deliveries: %d", len(reqs))
	}
}

func TestNoWebhookNoDeliveries(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	mustMR(t, f, MRSpec{Source: "s", Commits: []Commit{{Files: map[string]string{"s": "s"}}}})
	if err := f.FlushWebhooks(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := f.Deliveries(); len(d) != 0 {
		t.Fatalf("%d deliveries without a webhook", len(d))
	}
}

func TestFullQueueDropsEvents(t *testing.T) {
	release, arrived := make(chan struct{}), make(chan struct{}, 10)
	blocked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer blocked.Close()
	f := newForge(t, func(o *Options) { o.Webhook = Webhook{URL: blocked.URL, QueueSize: 1} })
	defer close(release)
	mustProject(t, f, project1, nil)
	for i := range 4 {
		if _, err := f.PushBranch(context.Background(), project1, "b", "alice", Commit{Files: map[string]string{"f": strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			<-arrived // the first delivery is in flight and holds the sender
		}
	}
	full := 0
	for _, d := range f.Deliveries() {
		if d.Dropped && d.Err == "queue full" {
			full++
		}
	}
	// One delivery is in flight, one waits in the queue, the rest are lost.
	if full != 2 {
		t.Fatalf("%d deliveries dropped for a full queue, want 2: %+v", full, f.Deliveries())
	}
}

func TestPushHookListsCommitsAndChanges(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, map[string]string{"README.md": "r", "old.txt": "o"})
	hooks := newSink(t, f, "")
	ctx := context.Background()
	before, _ := f.BranchHead(ctx, project1, "main")
	commits := []Commit{
		{Message: "one", Files: map[string]string{"new.txt": "n"}},
		{Message: "two\n\nbody", Files: map[string]string{"README.md": "r2"}, Delete: []string{"old.txt"}},
	}
	for i := range 21 {
		commits = append(commits, Commit{Message: "bulk " + strconv.Itoa(i), Files: map[string]string{"bulk": strconv.Itoa(i)}})
	}
	after, err := f.PushBranch(ctx, project1, "main", "alice", commits[:2]...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.PushBranch(ctx, project1, "main", "alice", commits[2:]...); err != nil {
		t.Fatal(err)
	}
	evs, _ := hooks.events(t, f, EventPush)
	if len(evs) != 2 {
		t.Fatalf("%d push events", len(evs))
	}
	first := evs[0].(*gitlab.PushEvent)
	if first.Before != before || first.After != after || first.TotalCommitsCount != 2 || len(first.Commits) != 2 || !first.RefProtected {
		t.Fatalf("first push = %+v", first)
	}
	one, two := first.Commits[0], first.Commits[1]
	if one.Title != "one" || fmt.Sprint(one.Added) != "[new.txt]" || len(one.Modified)+len(one.Removed) != 0 ||
		two.Title != "two" || two.Message != "two\n\nbody\n" || fmt.Sprint(two.Modified) != "[README.md]" || fmt.Sprint(two.Removed) != "[old.txt]" {
		t.Fatalf("commits = %+v / %+v", one, two)
	}
	second := evs[1].(*gitlab.PushEvent)
	if second.TotalCommitsCount != 21 || len(second.Commits) != 20 || second.Commits[19].Title != "bulk 20" || second.Commits[0].Title != "bulk 1" {
		t.Fatalf("second push: total %d, %d listed", second.TotalCommitsCount, len(second.Commits))
	}
}

// DropFirst loses exactly that many deliveries after the hook is set,
// the first ones, then delivers the rest.
func TestDropFirstDeliveries(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	hooks := newSink(t, f, "")
	f.SetWebhook(Webhook{URL: hooks.srv.URL, DropFirst: 1})
	mustMR(t, f, MRSpec{Source: "a", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	second := mustMR(t, f, MRSpec{Source: "b", Commits: []Commit{{Files: map[string]string{"b": "b"}}}})
	if evs, _ := hooks.events(t, f, EventMergeRequest); len(evs) == 0 || evs[len(evs)-1].(*gitlab.MergeEvent).ObjectAttributes.IID != second.IID {
		t.Fatalf("the later MR's event was not delivered: %d MR events", len(evs))
	}
	ds := f.Deliveries()
	if len(ds) < 3 {
		t.Fatalf("%d deliveries, want at least a push and two MR events", len(ds))
	}
	for i, d := range ds {
		if d.Dropped != (i == 0) {
			t.Errorf("delivery %d (%s): dropped %v, want only the first dropped", i, d.Event, d.Dropped)
		}
	}
}
