package main

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/fakeforge"
)

// These tests run `trainyard serve` against the fake forge and a real
// Redis, and check what must hold at the boundary with a forge and its
// users: every delivery queued once, no command lost, merge rules kept.

// addUser gives the rig's project a member at level.
func (r *rig) addUser(name string, level int) {
	r.t.Helper()
	r.users[name] = r.ff.AddUser(name)
	if err := r.ff.SetAccess(e2eProject, name, level); err != nil {
		r.t.Fatal(err)
	}
}

// streamEvents reads every event on the rig's event stream.
func (r *rig) streamEvents() []event.Event {
	r.t.Helper()
	opts, err := redis.ParseURL(r.redis)
	if err != nil {
		r.t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	msgs, err := rdb.XRange(context.Background(), r.prefix+":events", "-", "+").Result()
	if err != nil {
		r.t.Fatal(err)
	}
	out := make([]event.Event, 0, len(msgs))
	for _, m := range msgs {
		data, _ := m.Values["data"].(string)
		ev, err := event.Unmarshal([]byte(data))
		if err != nil {
			r.t.Fatalf("stream entry %s: %v", m.ID, err)
		}
		out = append(out, ev)
	}
	return out
}

// TestServeKilledDuringABurstQueuesEachDeliveryOnce: serve is killed with
// SIGKILL while 1,000 comment deliveries arrive, restarted, and the forge
// re-sends all 1,000 with their delivery ids, as GitLab's "resend" does.
// Each delivery must be queued at most once, each comment queued, and
// each answered exactly once.
func TestServeKilledDuringABurstQueuesEachDeliveryOnce(t *testing.T) {
	t.Parallel()
	const total, perMR = 1000, 25
	r := newRig(t, fakeforge.CI{Manual: true})
	addr := freeAddr(t)
	var mrs []int64
	for i := 1; i <= total/perMR; i++ {
		mrs = append(mrs, r.openMR(i, false))
	}
	p := r.serve(addr)
	r.hookTo(addr, 0)
	notes := make([]int64, 0, total)
	ours := map[int64]bool{}
	for i := range total {
		n, err := r.ff.AddNote(r.ctx, e2eProject, mrs[i%len(mrs)], "alice", "/train help")
		if err != nil {
			t.Fatal(err)
		}
		notes = append(notes, n.ID)
		ours[n.ID] = true
	}
	// The burst's deliveries, not those of the bot's own replies.
	burst := func(d fakeforge.Delivery) bool {
		var hook struct {
			Attrs struct {
				ID int64 `json:"id"`
			} `json:"object_attributes"`
		}
		return d.Event == "Note Hook" && json.Unmarshal(d.Body, &hook) == nil && ours[hook.Attrs.ID]
	}
	r.waitFor("a third of the burst to reach serve", time.Minute, func() bool {
		answered := 0
		for _, d := range r.ff.Deliveries() {
			if d.Status != 0 && burst(d) {
				answered++
			}
		}
		return answered >= total/3
	})
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	if err := r.ff.FlushWebhooks(r.ctx); err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, d := range r.ff.Deliveries() {
		if burst(d) && d.Status != 202 {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("every delivery got through before the kill: the test tested nothing")
	}
	r.serve(addr)
	sent := map[string]bool{}
	for _, d := range r.ff.Deliveries() {
		if !burst(d) || sent[d.IdempotencyKey] {
			continue
		}
		sent[d.IdempotencyKey] = true
		if _, err := r.ff.Replay(d.ID); err != nil {
			t.Fatal(err)
		}
	}
	if len(sent) != total {
		t.Fatalf("%d note deliveries, want %d", len(sent), total)
	}
	r.waitFor("every comment to be answered", 3*time.Minute, func() bool {
		for _, mr := range mrs {
			if r.countNotes(mr, "trainyard:reply:note:") < perMR {
				return false
			}
		}
		return true
	})
	// Whatever is still in flight lands within a few sweeps.
	time.Sleep(2 * time.Second)
	for _, mr := range mrs {
		if n := r.countNotes(mr, "trainyard:reply:note:"); n != perMR {
			t.Errorf("!%d has %d replies for %d comments", mr, n, perMR)
		}
	}
	for _, id := range notes {
		mark := fmt.Sprintf("trainyard:reply:note:%d ", id)
		found := 0
		for _, mr := range mrs {
			found += r.countNotes(mr, mark)
		}
		if found != 1 {
			t.Errorf("comment %d answered %d times", id, found)
		}
	}
	// Each delivery is queued at most once. One that is not was beaten by
	// the catch-up of commands no webhook brought, which ran first after
	// the restart (it finds the deliveries the kill refused): its comment
	// is queued by the catch-up instead, and answered once all the same.
	byDelivery, byComment := map[string]int{}, map[int64]int{}
	for _, ev := range r.streamEvents() {
		if sent[ev.ID] {
			byDelivery[ev.ID]++
		}
		if ours[ev.CommentID] {
			byComment[ev.CommentID]++
		}
	}
	for key := range sent {
		if byDelivery[key] > 1 {
			t.Errorf("delivery %s queued %d times", key, byDelivery[key])
		}
	}
	for _, id := range notes {
		if byComment[id] == 0 {
			t.Errorf("comment %d never queued", id)
		}
	}
}

// TestServeCatchesUpOnCommandsPostedWhileDown: a /train add posted while
// serve is down, whose webhook is lost for good, is found by the first
// sweep after serve is back and answered once.
func TestServeCatchesUpOnCommandsPostedWhileDown(t *testing.T) {
	t.Parallel()
	for _, forgeName := range []string{"gitlab", "github"} {
		t.Run(forgeName, func(t *testing.T) {
			t.Parallel()
			var r *rig
			if forgeName == "gitlab" {
				r = newRig(t, fakeforge.CI{})
			} else {
				r = newGitHubRig(t, ghRigOptions{ci: fakeforge.CI{Duration: 100 * time.Millisecond}})
			}
			r.sweep = "1s"
			addr := freeAddr(t)
			if forgeName == "gitlab" {
				r.hookTo(addr, 0)
			} else {
				r.hookGitHubTo(addr)
			}
			a, b := r.openMR(1, false), r.openMR(2, false)
			p := r.serve(addr)
			r.note(a, "alice", "/train add")
			r.waitFor("the first MR to merge", time.Minute, func() bool { return r.settled([]int64{a}, nil) })
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-p.done
			r.note(b, "alice", "Now, please.\n\n/train add")
			if err := r.ff.FlushWebhooks(r.ctx); err != nil {
				t.Fatal(err)
			}
			r.serve(addr)
			r.waitFor("the command posted while serve was down to be acted on", time.Minute, func() bool {
				return r.settled([]int64{a, b}, nil)
			})
			if n := r.countNotes(b, "Added to the merge train"); n != 1 {
				t.Fatalf("!%d was answered %d times", b, n)
			}
		})
	}
}

// TestServeHonoursGitLabMergeRules: an MR without the approvals the
// project requires is refused with what is missing; one whose approval is
// revoked while its pipeline runs is evicted before the merge, and main
// does not move.
func TestServeHonoursGitLabMergeRules(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{Manual: true})
	r.addUser("bob", fakeforge.Developer)
	if err := r.ff.SetApprovalsRequired(e2eProject, 1); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	r.hookTo(addr, 0)
	r.serve(addr)
	mr := r.openMR(1, false)
	r.note(mr, "alice", "/train add")
	r.waitFor("the refusal", time.Minute, func() bool {
		return r.hasNote(mr, "This merge request cannot join the merge train for `main` yet: it needs 1 more approval.")
	})
	if err := r.ff.Approve(r.ctx, e2eProject, mr, "bob"); err != nil {
		t.Fatal(err)
	}
	r.note(mr, "alice", "/train add")
	r.waitFor("the pipeline to start", time.Minute, func() bool {
		ps, err := r.ff.Pipelines(e2eProject)
		return err == nil && len(ps) == 1 && ps[0].Status == "running"
	})
	if err := r.ff.Unapprove(r.ctx, e2eProject, mr, "bob"); err != nil {
		t.Fatal(err)
	}
	ps, _ := r.ff.Pipelines(e2eProject)
	if err := r.ff.FinishPipeline(r.ctx, ps[0].ID, "success"); err != nil {
		t.Fatal(err)
	}
	r.waitFor("the eviction", time.Minute, func() bool {
		return r.hasNote(mr, "Removed from the merge train for `main`: the merge rules no longer allow it to merge: it needs 1 more approval.")
	})
	if h := r.head(); h != r.base {
		t.Fatalf("main moved to %.12s", h)
	}
	if s := r.state(mr); s != "opened" {
		t.Fatalf("!%d is %s", mr, s)
	}
}

// TestServeHonoursGitHubMergeRules is the same on GitHub, with branch
// protection requiring a review and a reviewer requesting changes while
// the checks run.
func TestServeHonoursGitHubMergeRules(t *testing.T) {
	t.Parallel()
	r := newGitHubRig(t, ghRigOptions{ci: fakeforge.CI{Manual: true}})
	r.addUser("bob", fakeforge.Developer)
	if err := r.ff.SetBranchProtection(e2eProject, "main", fakeforge.BranchProtection{RequiredApprovingReviews: 1}); err != nil {
		t.Fatal(err)
	}
	r.serveGitHub()
	pr := r.openMR(1, false)
	r.note(pr, "alice", "/train add")
	r.waitFor("the refusal", time.Minute, func() bool {
		return r.hasNote(pr, "This merge request cannot join the merge train for `main` yet: it needs 1 approving review.")
	})
	if err := r.ff.Review(r.ctx, e2eProject, pr, "bob", fakeforge.ReviewApproved, "Good."); err != nil {
		t.Fatal(err)
	}
	r.note(pr, "alice", "/train add")
	var runs []fakeforge.WorkflowRun
	r.waitFor("the checks to start", time.Minute, func() bool {
		var err error
		runs, err = r.ff.WorkflowRuns(e2eProject, "")
		return err == nil && len(runs) > 0
	})
	if err := r.ff.Review(r.ctx, e2eProject, pr, "bob", fakeforge.ReviewChangesRequested, "On second thought, no."); err != nil {
		t.Fatal(err)
	}
	for _, run := range runs {
		if err := r.ff.FinishWorkflowRun(e2eProject, run.ID, fakeforge.ConclusionSuccess); err != nil {
			t.Fatal(err)
		}
	}
	r.waitFor("the eviction", time.Minute, func() bool {
		return r.hasNote(pr, "Removed from the merge train for `main`: the merge rules no longer allow it to merge: @bob requested changes.")
	})
	if h := r.head(); h != r.base {
		t.Fatalf("main moved to %.12s", h)
	}
}

// TestServeIgnoresHiddenCommands: commands the forge shows as code, or
// hides in HTML, are not run; the command after them is.
func TestServeIgnoresHiddenCommands(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{})
	addr := freeAddr(t)
	r.hookTo(addr, 0)
	r.serve(addr)
	hidden := []string{
		"Run this:\n\n    /train add",
		"Run this:\n\n\t/train add",
		"<pre>\n/train add\n</pre>",
		"<!--\n/train add\n-->",
		"<details>\n\n/train add\n\n</details>",
	}
	mr := r.openMR(1, false)
	for _, body := range hidden {
		r.note(mr, "alice", body)
	}
	other := r.openMR(2, false)
	r.note(other, "alice", "/train add")
	r.waitFor("the visible command to be acted on", time.Minute, func() bool { return r.settled([]int64{other}, nil) })
	if n := r.countNotes(mr, "trainyard:"); n != 0 {
		t.Fatalf("!%d got %d replies to hidden commands", mr, n)
	}
	if s := r.state(mr); s != "opened" {
		t.Fatalf("!%d is %s", mr, s)
	}
}
