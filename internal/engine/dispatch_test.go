package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

func (e *env) comment(id string, mr int64, user, body string) error {
	u := e.users[user]
	return e.eng.Dispatch(e.ctx, event.Event{ID: id, Forge: "gitlab", Project: project, Kind: event.KindComment,
		MR: mr, User: event.User{ID: u.ID, Username: u.Username}, Body: body})
}

func (e *env) cars() []int64 {
	e.t.Helper()
	tr, err := e.eng.Train(e.ctx, e.key)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []int64
	for _, c := range tr.Cars {
		out = append(out, c.MR)
	}
	return out
}

func TestDispatchCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	a, b := e.mr(1, nil), e.mr(2, nil)

	if err := e.comment("n1", a, "alice", "Looks good.\n\n/train add --method squash"); err != nil {
		t.Fatal(err)
	}
	if got := e.cars(); len(got) != 1 || got[0] != a {
		t.Fatalf("cars = %v, want [%d]", got, a)
	}
	tr, _ := e.eng.Train(e.ctx, e.key)
	if tr.Cars[0].Method != train.MethodSquash {
		t.Fatalf("method = %q, want squash", tr.Cars[0].Method)
	}
	e.requireNote(a, "Added to the merge train for `main` at position 1.")

	if err := e.comment("n2", b, "alice", "/train ad"); err != nil {
		t.Fatal(err)
	}
	e.requireNote(b, "Unknown command `/train ad`.")
	if err := e.comment("n3", b, "rita", "/train add"); err != nil {
		t.Fatal(err)
	}
	e.requireNote(b, "Using the merge train needs developer access or higher to group/app.")
	if got := e.cars(); len(got) != 1 {
		t.Fatalf("cars = %v after refused commands", got)
	}

	if err := e.comment("n4", a, "alice", "/train status"); err != nil {
		t.Fatal(err)
	}
	e.requireNote(a, "Position 1 of 1 on the merge train for `main`")

	if err := e.comment("n5", b, "alice", "/train help"); err != nil {
		t.Fatal(err)
	}
	e.requireNote(b, "`/train add [--priority urgent|high|normal] [--method merge|squash|rebase]`")

	if err := e.comment("n6", a, "alice", "/train remove"); err != nil {
		t.Fatal(err)
	}
	e.requireNote(a, "Removed from the merge train for `main`: it was removed from the train by @alice.")
	if got := e.cars(); len(got) != 0 {
		t.Fatalf("cars = %v after remove", got)
	}

	// The same delivery handled again changes nothing and says nothing new.
	before := len(e.notesOf(a))
	if err := e.comment("n6", a, "alice", "/train remove"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.notesOf(a)); n != before {
		t.Fatalf("repeated deliveries posted %d new notes", n-before)
	}
}

// carPipeline sweeps until the project has n pipelines, and returns the
// one of car branch ref.
func (e *env) carPipeline(n int, ref string) fakeforge.Pipeline {
	e.t.Helper()
	var pipelines []fakeforge.Pipeline
	for len(pipelines) < n {
		if err := e.eng.Sweep(e.ctx, e.key); err != nil {
			e.t.Fatal(err)
		}
		var err error
		if pipelines, err = e.ff.Pipelines(project); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, p := range pipelines {
		if p.Ref == ref {
			return p
		}
	}
	e.t.Fatalf("no pipeline of %s among %+v", ref, pipelines)
	return fakeforge.Pipeline{}
}

func TestDispatchForgeEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	a, b := e.mr(1, nil), e.mr(2, nil)
	other := train.Key{Forge: "gitlab", Project: project, Branch: "develop"}

	// Events about trains that do not exist create none.
	for _, ev := range []event.Event{
		{ID: "p0", Kind: event.KindPipeline, Pipeline: 5, SHA: "abc", Ref: "trainyard/develop/1", Status: train.PipelineSuccess},
		{ID: "m0", Kind: event.KindMR, MR: 1, Action: event.ActionClose, TargetBranch: "develop"},
		{ID: "h0", Kind: event.KindPush, Ref: "develop", After: "abc"},
	} {
		ev.Forge, ev.Project = "gitlab", project
		if err := e.eng.Dispatch(e.ctx, ev); err != nil {
			t.Fatalf("%s: %v", ev.ID, err)
		}
	}
	if _, err := e.st.Load(e.ctx, other); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a train for develop exists: %v", err)
	}

	e.addAll(a, b)
	// A pipeline event on a car branch reaches the car.
	p := e.carPipeline(2, "trainyard/main/1")
	if err := e.ff.FinishPipeline(e.ctx, p.ID, "success"); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Dispatch(e.ctx, event.Event{ID: "p1", Forge: "gitlab", Project: project, Kind: event.KindPipeline,
		Pipeline: p.ID, SHA: p.SHA, Ref: p.Ref, Status: train.PipelineSuccess}); err != nil {
		t.Fatal(err)
	}
	if s := e.mrState(a).State; s != "merged" {
		t.Fatalf("!%d is %s after its pipeline event, want merged", a, s)
	}

	// New commits on an MR on the train evict it.
	head, err := e.ff.PushToMR(e.ctx, project, b, fakeforge.Commit{Message: "more", Files: map[string]string{"x.txt": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Dispatch(e.ctx, event.Event{ID: "m1", Forge: "gitlab", Project: project, Kind: event.KindMR,
		MR: b, Action: event.ActionUpdate, HeadSHA: head, TargetBranch: "main"}); err != nil {
		t.Fatal(err)
	}
	e.requireNote(b, "new commits were pushed")
	if got := e.cars(); len(got) != 0 {
		t.Fatalf("cars = %v", got)
	}

	// A push to the target from outside is read back from the forge.
	c := e.mr(3, nil)
	e.addAll(c)
	outside, err := e.ff.PushBranch(e.ctx, project, "main", "alice", fakeforge.Commit{Message: "hotfix", Files: map[string]string{"hotfix": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Dispatch(e.ctx, event.Event{ID: "h1", Forge: "gitlab", Project: project, Kind: event.KindPush,
		Ref: "main", After: "0000000000000000000000000000000000000000"}); err != nil {
		t.Fatal(err)
	}
	tr, err := e.eng.Train(e.ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}
	if tr.TargetHead != outside || tr.Cars[0].Base != outside {
		t.Fatalf("target head %s, car base %s, want both %s", tr.TargetHead, tr.Cars[0].Base, outside)
	}
}

func TestEstimateFromHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	now := time.Now()
	var cars []train.Car
	for i, d := range []time.Duration{10 * time.Minute, 12 * time.Minute, 30 * time.Minute} {
		cars = append(cars, train.Car{MR: int64(100 + i), State: train.StateMerged,
			PipelineStartedAt: now.Add(-d), LeftAt: now, Reason: &train.Reason{Code: train.ReasonMerged, Message: train.Words("merged")}})
	}
	if err := e.st.AppendHistory(e.ctx, e.key, cars...); err != nil {
		t.Fatal(err)
	}
	a := e.mr(1, nil)
	e.addAll(a)
	e.requireNote(a, fmt.Sprintf("Added to the merge train for `main` at position 1. Expected to merge in about %s", "12m"))
	for _, n := range e.notesOf(a) {
		if strings.Contains(n, "Added") && !strings.Contains(n, "judging by recent pipelines") {
			t.Fatalf("note %q lacks the estimate", n)
		}
	}
}

// Commits pushed while an add waits for the train's lease reach a train
// that does not hold the MR yet, which drops them; the add reads the MR
// again once it holds the train, so the car never tests the old head.
func TestPushDuringAnAddIsNotLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	mr := e.mr(1, nil)
	if ok, err := e.st.AcquireLease(e.ctx, e.key, "someone-else", 5*time.Second); err != nil || !ok {
		t.Fatalf("take the lease: %v %v", ok, err)
	}
	added := make(chan error, 1)
	go func() { added <- e.add(mr, "alice") }()
	// The add has read the MR and waits for the lease.
	time.Sleep(300 * time.Millisecond)
	head, err := e.ff.PushToMR(e.ctx, project, mr, fakeforge.Commit{Message: "more", Files: map[string]string{"more.txt": "x\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Dispatch(e.ctx, event.Event{ID: "push-1", Forge: "gitlab", Project: project, Kind: event.KindMR,
		Action: event.ActionUpdate, MR: mr, HeadSHA: head, TargetBranch: "main"}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.ReleaseLease(e.ctx, e.key, "someone-else"); err != nil {
		t.Fatal(err)
	}
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	if got := e.cars(); len(got) != 0 {
		t.Fatalf("cars = %v, want the MR evicted for its new commits", got)
	}
	e.requireNote(mr, "Removed from the merge train for `main`: new commits were pushed")
}

// laggingForge answers the target's head as it was before the last
// fast-forward, as a lagging replica of the forge would, while stale is
// set.
type laggingForge struct {
	engine.Forge
	mu    sync.Mutex
	stale string
	reads int // of the head, stale or not
}

func (f *laggingForge) BranchHead(ctx context.Context, project, branch string) (string, error) {
	f.mu.Lock()
	stale := f.stale
	f.reads++
	f.mu.Unlock()
	if stale != "" {
		return stale, nil
	}
	return f.Forge.BranchHead(ctx, project, branch)
}

// A push event for the previous merge that arrives after the next one,
// read from a forge that still answers the old head, does not take the
// train back: the cars behind keep their base and pipelines, and nothing
// is built again.
func TestLatePushDoesNotTakeTheTrainBack(t *testing.T) {
	t.Parallel()
	lag := &laggingForge{}
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}, forge: func(f engine.Forge) engine.Forge {
		lag.Forge = f
		return lag
	}})
	a, b := e.mr(1, nil), e.mr(2, nil)
	e.addAll(a, b)
	first := e.carPipeline(2, "trainyard/main/1")
	if err := e.ff.FinishPipeline(e.ctx, first.ID, "success"); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Dispatch(e.ctx, event.Event{ID: "p1", Forge: "gitlab", Project: project, Kind: event.KindPipeline,
		Pipeline: first.ID, SHA: first.SHA, Ref: first.Ref, Status: train.PipelineSuccess}); err != nil {
		t.Fatal(err)
	}
	if s := e.mrState(a).State; s != "merged" {
		t.Fatalf("!%d is %s, want merged", a, s)
	}
	before, err := e.eng.Train(e.ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}
	if before.TargetHead != first.SHA || len(before.Cars) != 1 {
		t.Fatalf("after the merge: target head %.12s, %d cars; want %.12s and one car", before.TargetHead, len(before.Cars), first.SHA)
	}

	lag.mu.Lock()
	lag.stale = e.base
	reads := lag.reads
	lag.mu.Unlock()
	if err := e.eng.Dispatch(e.ctx, event.Event{ID: "late-push", Forge: "gitlab", Project: project, Kind: event.KindPush,
		Ref: "main", After: e.base}); err != nil {
		t.Fatal(err)
	}
	// The mirror knows the pushed head is older than the train's: the
	// event is not worth a read of the head.
	lag.mu.Lock()
	if lag.reads != reads {
		t.Errorf("the late push cost %d reads of the head, want none", lag.reads-reads)
	}
	lag.mu.Unlock()
	if err := e.eng.Sweep(e.ctx, e.key); err != nil {
		t.Fatal(err)
	}
	after, err := e.eng.Train(e.ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}
	if after.TargetHead != before.TargetHead {
		t.Fatalf("target head went from %.12s to %.12s", before.TargetHead, after.TargetHead)
	}
	if c, was := after.Cars[0], before.Cars[0]; c.Base != was.Base || c.Commit != was.Commit || c.Pipeline != was.Pipeline {
		t.Fatalf("the car behind was rebuilt: base %.12s commit %.12s pipeline %d, was %.12s %.12s %d",
			c.Base, c.Commit, c.Pipeline, was.Base, was.Commit, was.Pipeline)
	}
	if now, err := e.ff.Pipelines(project); err != nil || len(now) != 2 {
		t.Fatalf("%d pipelines after the late push (%v), want the 2 from before", len(now), err)
	}
}

// A note is posted once: the store remembers it, and after a crash
// between posting and remembering, the note's marker on the MR tells.
func TestNotesArePostedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	mr := e.mr(1, nil)
	u := e.users["alice"]
	status := func(ev string) {
		t.Helper()
		if err := e.eng.Status(e.ctx, engine.Request{Forge: "gitlab", Project: project, MR: mr,
			UserID: u.ID, Username: u.Username, Event: ev}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(mark string) int {
		n := 0
		for _, body := range e.notesOf(mr) {
			if strings.Contains(body, mark) {
				n++
			}
		}
		return n
	}
	status("s1")
	status("s1")
	if n := count("trainyard:reply:s1 "); n != 1 {
		t.Fatalf("%d notes for one reply, want 1", n)
	}
	// Crashed after posting, before remembering: the marker is found.
	status("s2")
	id := fmt.Sprintf("note:gitlab:%s!%d:reply:s2", project, mr)
	if err := e.st.SetMark(e.ctx, id, store.NotePosting, time.Hour); err != nil {
		t.Fatal(err)
	}
	status("s2")
	if n := count("trainyard:reply:s2 "); n != 1 {
		t.Fatalf("%d notes after a crash that followed the post, want 1", n)
	}
	if m, err := e.st.Mark(e.ctx, id); err != nil || m != store.NotePosted {
		t.Fatalf("mark %q, %v; want posted", m, err)
	}
	// Crashed before posting: the note is posted.
	id = fmt.Sprintf("note:gitlab:%s!%d:reply:s3", project, mr)
	if err := e.st.SetMark(e.ctx, id, store.NotePosting, time.Hour); err != nil {
		t.Fatal(err)
	}
	status("s3")
	if n := count("trainyard:reply:s3 "); n != 1 {
		t.Fatalf("%d notes after a crash before the post, want 1", n)
	}
	// A marker anyone wrote is not the bot's: its note is still posted.
	id = fmt.Sprintf("note:gitlab:%s!%d:reply:s4", project, mr)
	for _, forged := range []string{"<!-- trainyard:reply:s4 -->", "<!-- trainyard:reply:s4 0123456789abcdef -->"} {
		if _, err := e.ff.AddNote(e.ctx, project, mr, "rita", "Done, honest.\n\n"+forged); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.SetMark(e.ctx, id, store.NotePosting, time.Hour); err != nil {
		t.Fatal(err)
	}
	status("s4")
	if n := count("trainyard:reply:s4 "); n != 3 {
		t.Fatalf("%d notes with the marker after forged ones, want rita's two and the bot's", n)
	}
}

// countingForge counts the engine's reads of the forge.
type countingForge struct {
	engine.Forge
	mu    sync.Mutex
	reads int
}

func (f *countingForge) count() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
}

func (f *countingForge) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

func (f *countingForge) MergeRequest(ctx context.Context, project string, iid int64) (forge.MR, error) {
	f.count()
	return f.Forge.MergeRequest(ctx, project, iid)
}

func (f *countingForge) Pipeline(ctx context.Context, project string, id int64) (forge.Pipeline, error) {
	f.count()
	return f.Forge.Pipeline(ctx, project, id)
}

func (f *countingForge) BranchHead(ctx context.Context, project, branch string) (string, error) {
	f.count()
	return f.Forge.BranchHead(ctx, project, branch)
}

// The workers' sweep of a train reads the forge once per sweep interval,
// however many replicas queue it, and not at all for a train with no car.
func TestSweepReadsTheForgeOncePerInterval(t *testing.T) {
	t.Parallel()
	cf := &countingForge{}
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}, sweepEvery: time.Hour, forge: func(f engine.Forge) engine.Forge {
		cf.Forge = f
		return cf
	}})
	sweep := func() int {
		t.Helper()
		before := cf.total()
		if _, err := e.eng.Pass(e.ctx, engine.Job{Key: e.key, Sweep: true}); err != nil {
			t.Fatal(err)
		}
		return cf.total() - before
	}
	// A train with no car: nothing to read.
	if _, err := e.st.Save(e.ctx, train.New(e.key, train.Settings{})); err != nil {
		t.Fatal(err)
	}
	if n := sweep(); n != 0 {
		t.Fatalf("the sweep of a train with no car read the forge %d times", n)
	}
	a, b := e.mr(1, nil), e.mr(2, nil)
	e.addAll(a, b)
	// The first sweep reads both MRs, their running pipelines and the
	// head; every replica's sweep after it within the interval reads
	// nothing.
	if n := sweep(); n != 5 {
		t.Fatalf("the first sweep read the forge %d times, want 5 (2 MRs, 2 pipelines, the head)", n)
	}
	for replica := 2; replica <= 3; replica++ {
		if n := sweep(); n != 0 {
			t.Fatalf("replica %d's sweep read the forge %d times within the interval", replica, n)
		}
	}
}
